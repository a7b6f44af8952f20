// entidb/detail/snapshot_registry.hpp — which snapshot sequences are still open.
//
// The writer prunes versions no open snapshot can see; it asks this registry for the
// oldest open sequence (commits) or for every open sequence (compaction). Registration is
// one short mutex hold per transaction start/end.
// Each registration also gets a ticket (a counter): compaction retires old segment files
// at a `mark()` and destroys them once no snapshot registered before the mark is open
// (`any_before(mark)`), because only those may still hold a location in an old file.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <map>
#include <vector>

namespace entidb {
inline namespace v1 {
namespace detail {

class snapshot_registry {
public:
    using handle = std::multimap<std::uint64_t, std::uint64_t>::iterator;  // → {sequence, ticket}

    // Registers a snapshot of the latest published sequence. Reading the sequence under
    // the same lock the writer's oldest() takes closes the window in which the writer
    // could prune versions of a sequence a reader has read but not yet registered.
    handle add(const std::atomic<std::uint64_t>& latest) {
        std::lock_guard lock(mutex_);
        return open_.emplace(latest.load(std::memory_order_acquire), next_ticket_++);
    }
    void remove(handle h) {
        std::lock_guard lock(mutex_);
        open_.erase(h);
    }
    // The oldest open snapshot, or `latest` when none is open.
    [[nodiscard]] std::uint64_t oldest(std::uint64_t latest) const {
        std::lock_guard lock(mutex_);
        return open_.empty() ? latest : std::min(open_.begin()->first, latest);
    }

    // The sequences readers read, ascending, each once: every open snapshot's, and
    // `latest` (the current state, which new snapshots read). Compaction keeps, of each
    // entity, the newest version at or below each of them and nothing else.
    [[nodiscard]] std::vector<std::uint64_t> readers(std::uint64_t latest) const {
        std::vector<std::uint64_t> out;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [sequence, _] : open_)
                if (out.empty() || out.back() != sequence) out.push_back(sequence);
        }
        if (out.empty() || out.back() < latest) out.push_back(latest);
        return out;
    }

    // Every snapshot registered before this call has a ticket below the mark.
    [[nodiscard]] std::uint64_t mark() {
        std::lock_guard lock(mutex_);
        return next_ticket_;
    }
    // True while a snapshot registered before `mark` is still open.
    [[nodiscard]] bool any_before(std::uint64_t mark) const {
        std::lock_guard lock(mutex_);
        return std::any_of(open_.begin(), open_.end(), [&](const auto& s) { return s.second < mark; });
    }

private:
    mutable std::mutex mutex_;
    std::multimap<std::uint64_t, std::uint64_t> open_;  // sequence → ticket
    std::uint64_t next_ticket_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
