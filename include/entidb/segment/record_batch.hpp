// entidb/segment/record_batch.hpp — the segment records of one commit, encoded together.
//
// The one place segment records are framed (format/segment_record.hpp) for appending, and
// the one way they are appended: back to back in one reused buffer, then
// segment_set::append_many (one write when they fit the active segment, else record by
// record, rotating where a single append would). Commits apply their write set through
// it, recovery a replayed transaction, restore a bounded run of a backup's entities.
//
// Thread-safety: one batch per writer (the engine's applier, or recovery/restore before
// the database is shared).
#pragma once

#include <cstdint>
#include <vector>

#include "../bytes.hpp"
#include "../detail/reused_buffer.hpp"
#include "../entity_id.hpp"
#include "../format/segment_record.hpp"
#include "record_location.hpp"
#include "segment_set.hpp"

namespace entidb {
inline namespace v1 {

class record_batch {
public:
    // Which entity a record of the batch is for, in the order they were added.
    struct key {
        std::uint32_t collection;
        entity_id id;
        bool tombstone;
    };

    // Empties the batch for the records of commit `sequence` (capacity kept).
    void start(std::uint64_t sequence) noexcept {
        sequence_ = sequence;
        bytes_.clear();
        lengths_.clear();
        keys_.clear();
    }

    // Encodes one record (a tombstone has no payload; `encrypted`: the payload is sealed,
    // flag 0x02). Throws errc::too_large for a record too large for a segment (nothing added).
    void add(std::uint32_t collection, const entity_id& id, bool tombstone, bytes_view payload,
             bool encrypted = false) {
        const auto before = bytes_.size();
        const std::uint8_t flags = tombstone ? format::flag_tombstone : encrypted ? format::flag_encrypted : 0;
        format::encode(format::segment_record{.collection_id = collection,
                                              .id = id,
                                              .flags = flags,
                                              .sequence = sequence_,
                                              .payload = payload},
                       bytes_);
        lengths_.push_back(static_cast<std::uint32_t>(bytes_.size() - before));
        keys_.push_back({collection, id, tombstone});
    }

    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
    [[nodiscard]] std::size_t size() const noexcept { return lengths_.size(); }
    [[nodiscard]] std::size_t byte_size() const noexcept { return bytes_.size(); }
    [[nodiscard]] const std::vector<key>& keys() const noexcept { return keys_; }

    // Appends the batch to `segments` and returns where each record went, in order (an
    // empty batch appends nothing). A large batch's buffer is given back afterwards.
    template <segment_factory Factory>
    std::vector<record_location> append_to(segment_set<Factory>& segments) {
        if (lengths_.empty()) return {};
        auto locations = segments.append_many(bytes_, lengths_, sequence_);
        detail::release_if_large(bytes_);
        return locations;
    }

private:
    std::uint64_t sequence_ = 0;
    byte_buffer bytes_;
    std::vector<std::uint32_t> lengths_;
    std::vector<key> keys_;
};

}  // namespace v1
}  // namespace entidb
