// entidb/change_feed.hpp — committed operations, in commit order (SPEC.md §7).
//
// Two ways to follow a database:
//  - subscribe(callback): the callback runs on the thread that applies the commit — the
//    thread that led the flush covering it, which may be another committer of the same
//    group (docs/transactions.md, "Group commit") — after the commit is durable and
//    visible and before its commit() returns, once per operation, in commit order (one
//    group is applied at a time, so callbacks never interleave). It must not open a write
//    transaction on the same database (that would deadlock); an exception it throws is
//    swallowed and counted (statistics::change_callback_failures) — it can never turn a
//    durable commit into a failure.
//  - changes_since(sequence) on a database: reads the persisted history from the segment
//    files (every version keeps its commit sequence), so polling continues across
//    restarts.
// Aborted or failed transactions never appear: both paths see only applied commits.
//
// Thread-safety: subscribe/unsubscribe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bytes.hpp"
#include "entity_id.hpp"

namespace entidb {
inline namespace v1 {

enum class change_kind : std::uint8_t { put, remove };

struct change {
    std::uint64_t sequence = 0;
    std::string collection;
    entity_id id;
    change_kind kind = change_kind::put;
    byte_buffer payload;  // canonical CBOR; empty for a remove
};

using change_callback = std::function<void(const change&)>;

class change_feed_hub {
public:
    std::uint64_t subscribe(change_callback cb) {
        std::lock_guard lock(mutex_);
        subscribers_.push_back({++next_token_, std::move(cb)});
        return next_token_;
    }
    bool unsubscribe(std::uint64_t token) {
        std::lock_guard lock(mutex_);
        return std::erase_if(subscribers_, [&](const auto& s) { return s.token == token; }) > 0;
    }
    [[nodiscard]] std::uint64_t callback_failures() const noexcept { return failures_.load(); }

    // Called by the engine after a commit is published. `ops` maps (collection id, id)
    // to {tombstone, payload}; `names` turns a collection id into its name.
    template <typename Ops, typename Names>
    void publish(const Ops& ops, std::uint64_t sequence, const Names& names) noexcept {
        std::vector<subscriber> subs;
        {
            std::lock_guard lock(mutex_);
            if (subscribers_.empty()) return;
            subs = subscribers_;
        }
        for (const auto& [key, op] : ops) {
            change c;
            try {
                c = {sequence, names.name_of(key.first), key.second, op.tombstone ? change_kind::remove : change_kind::put,
                     op.tombstone ? byte_buffer{} : byte_buffer(op.payload.begin(), op.payload.end())};
            } catch (...) {
                failures_.fetch_add(1);
                continue;
            }
            for (const auto& s : subs) {
                try {
                    s.callback(c);
                } catch (...) {
                    failures_.fetch_add(1);
                }
            }
        }
    }

private:
    struct subscriber {
        std::uint64_t token;
        change_callback callback;
    };
    std::mutex mutex_;
    std::vector<subscriber> subscribers_;
    std::uint64_t next_token_ = 0;
    std::atomic<std::uint64_t> failures_{0};
};

}  // namespace v1
}  // namespace entidb
