// entidb/detail/snapshot_registry.hpp — which snapshot sequences are still open.
//
// The writer prunes versions no open snapshot can see; it asks this registry for the
// oldest open sequence. Registration is one short mutex hold per transaction start/end.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <set>

namespace entidb {
inline namespace v1 {
namespace detail {

class snapshot_registry {
public:
    using handle = std::multiset<std::uint64_t>::iterator;

    // Registers a snapshot of the latest published sequence. Reading the sequence under
    // the same lock the writer's oldest() takes closes the window in which the writer
    // could prune versions of a sequence a reader has read but not yet registered.
    handle add(const std::atomic<std::uint64_t>& latest) {
        std::lock_guard lock(mutex_);
        return open_.insert(latest.load(std::memory_order_acquire));
    }
    void remove(handle h) {
        std::lock_guard lock(mutex_);
        open_.erase(h);
    }
    // The oldest open snapshot, or `latest` when none is open.
    [[nodiscard]] std::uint64_t oldest(std::uint64_t latest) const {
        std::lock_guard lock(mutex_);
        return open_.empty() ? latest : std::min(*open_.begin(), latest);
    }

private:
    mutable std::mutex mutex_;
    std::multiset<std::uint64_t> open_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
