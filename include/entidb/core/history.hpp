// entidb/core/history.hpp — the persisted history that changes_since reads.
//
// Every applied operation stays in the segment files until a compaction drops it, so the
// history after a sequence is read back from the segments, in storage order (which is
// commit order for the records of one sequence and later). The history horizon is the
// sequence at or below which records may be gone (compacted away, or never present in a
// restored database); it is kept in the COMPACTION file, and asking for history below it
// is errc::invalid_argument.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../change_feed.hpp"
#include "../detail/snapshot_registry.hpp"
#include "../error.hpp"
#include "catalog.hpp"
#include "segment_cursor.hpp"
#include "write_set.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// Registers a snapshot for the life of a scope (changes_since reads files directly).
class snapshot_guard {
public:
    snapshot_guard(snapshot_registry& r, const std::atomic<std::uint64_t>& latest) : r_(r), h_(r.add(latest)) {}
    snapshot_guard(const snapshot_guard&) = delete;
    snapshot_guard& operator=(const snapshot_guard&) = delete;
    ~snapshot_guard() { r_.remove(h_); }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return h_->first; }

private:
    snapshot_registry& r_;
    snapshot_registry::handle h_;
};

class history {
public:
    // changes_since(after) needs after >= this.
    [[nodiscard]] std::uint64_t horizon() const noexcept { return horizon_.load(std::memory_order_acquire); }
    void set_horizon(std::uint64_t h) noexcept { horizon_.store(h, std::memory_order_release); }

    // errc::invalid_argument when `after` is below the horizon: the caller resynchronises
    // from a snapshot.
    void check_reachable(std::uint64_t after) const {
        if (const auto h = horizon(); after < h)
            fail(errc::invalid_argument,
                 "the change history up to sequence {} was compacted away; changes_since needs a sequence >= {} "
                 "(read a snapshot, then follow the changes from its sequence)",
                 h, h);
    }

    // The segments of `table` that may hold a record above `after` (the others are skipped
    // unread).
    template <typename Table>
    [[nodiscard]] static Table segments_after(Table table, std::uint64_t after) {
        std::erase_if(table, [&](const auto& seg) { return seg.max_sequence <= after; });
        return table;
    }

    // The operations `records` holds with a sequence in (after, upto], in commit order, at
    // most `limit` of them. A record repeated for the same sequence (a commit applied again
    // by recovery after a crash) is emitted once. `open(record, out)` gives a put's entity
    // bytes (payload_codec::open: an encrypted database's are sealed).
    template <typename Factory, typename Open>
    [[nodiscard]] static std::vector<change> read(segment_cursor<Factory>& records, std::uint64_t after,
                                                  std::uint64_t upto, std::size_t limit, const catalog& cat,
                                                  const Open& open) {
        std::vector<change> out;
        std::uint64_t last_seq = after;
        std::vector<entity_key> at_last_seq;  // keys already emitted for last_seq (duplicate records)
        while (const auto* r = records.next()) {
            if (r->sequence <= after || r->sequence > upto || r->sequence < last_seq) continue;
            const entity_key key{r->collection_id, r->id};
            if (r->sequence == last_seq && std::find(at_last_seq.begin(), at_last_seq.end(), key) != at_last_seq.end())
                continue;
            if (r->sequence != last_seq) at_last_seq.clear();
            last_seq = r->sequence;
            at_last_seq.push_back(key);
            byte_buffer payload;
            if (!r->tombstone()) open(*r, payload);
            out.push_back({r->sequence, cat.name_of(r->collection_id), r->id,
                           r->tombstone() ? change_kind::remove : change_kind::put, std::move(payload)});
            if (out.size() >= limit) return out;
        }
        return out;
    }

private:
    std::atomic<std::uint64_t> horizon_{0};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
