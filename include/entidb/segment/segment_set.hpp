// entidb/segment/segment_set.hpp — the numbered segments of one database.
//
// Segments 1..N: every one but the highest is sealed (flushed when it was sealed, never
// written again); the highest is active and takes appends. `append` rotates before a
// record would push the active segment past `max_segment_size` — seal (flush) the active
// one, then ask the factory for the next; a factory that cannot rotate gives
// errc::rotation_unsupported and nothing is written. Reads go to any segment by location.
//
// Thread-safety: appends, rotation and flushes come from the single writer. `read` may run
// concurrently with them: the segment table is guarded by a shared mutex and backends
// are never destroyed while the set lives.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "../error.hpp"
#include "../format/segment_record.hpp"
#include "../index/primary_index.hpp"
#include "factory.hpp"

namespace entidb {
inline namespace v1 {

template <segment_factory Factory>
class segment_set {
public:
    using backend_type = typename Factory::backend_type;

    struct segment {
        std::uint32_t number;
        std::unique_ptr<backend_type> backend;
        std::uint64_t max_sequence = 0;  // newest commit sequence the segment holds
    };

    // What a concurrent reader may walk: segment numbers, backends and newest sequences.
    struct table_entry {
        std::uint32_t number;
        const backend_type* backend;
        std::uint64_t max_sequence;
    };

    segment_set(Factory factory, std::uint64_t max_segment_size)
        : factory_(std::move(factory)), max_segment_size_(max_segment_size) {}

    // Opens every existing segment; creates segment 1 when there is none.
    void open_existing() {
        for (const auto n : factory_.existing()) segments_.push_back({n, factory_.open(n), 0});
        if (segments_.empty()) segments_.push_back({1, factory_.create(1), 0});
    }

    [[nodiscard]] Factory& factory() noexcept { return factory_; }
    [[nodiscard]] const std::vector<segment>& segments() const noexcept { return segments_; }
    [[nodiscard]] segment& active() noexcept { return segments_.back(); }

    // Appends one encoded record (a whole segment record) of commit `sequence` and returns
    // where it went.
    record_location append(bytes_view record, std::uint64_t sequence) {
        if (record.size() > std::numeric_limits<std::uint32_t>::max())
            fail(errc::too_large, "segment record of {} bytes", record.size());
        auto& seg = active();
        if (seg.backend->size() > 0 && (seal_first_ || seg.backend->size() + record.size() > max_segment_size_))
            rotate();
        seal_first_ = false;
        auto& target = active();
        const auto offset = target.backend->append(record);
        note_sequence(target.number, sequence);
        return {target.number, static_cast<std::uint32_t>(record.size()), offset};
    }

    // The next append starts a new segment (if the factory can rotate): recovery asks for
    // this when the active segment holds checkpointed records (as files written by other
    // implementations may), so that again only WAL-covered records are ever appended
    // after them.
    void seal_before_next_append() noexcept { seal_first_ = Factory::rotates; }

    // Seals the active segment and starts the next one.
    void rotate() {
        const auto next = active().number + 1;
        if constexpr (!Factory::rotates) {
            fail(errc::rotation_unsupported,
                 "segment {} is full and the segment factory cannot make segment {}: use a rotating factory "
                 "(file_segment_factory) or raise max_segment_size",
                 active().number, next);
        } else {
            active().backend->flush();  // a sealed segment is fully durable
            auto backend = factory_.create(next);
            std::unique_lock lock(mutex_);
            segments_.push_back({next, std::move(backend), 0});
        }
    }

    // Makes every appended byte durable (only the active segment can have unflushed bytes).
    void flush() { active().backend->flush(); }

    // Reads the whole record at `loc` into `out` (resized).
    void read(const record_location& loc, byte_buffer& out) const {
        const backend_type* b = find(loc.segment);
        out.resize(loc.length);
        b->read_at(loc.offset, out);
    }

    // Segment `number` holds a record of commit `sequence` (recovery, append).
    void note_sequence(std::uint32_t number, std::uint64_t sequence) {
        std::unique_lock lock(mutex_);
        for (auto it = segments_.rbegin(); it != segments_.rend(); ++it)  // usually the active one
            if (it->number == number) {
                it->max_sequence = std::max(it->max_sequence, sequence);
                return;
            }
    }

    [[nodiscard]] std::vector<table_entry> table() const {
        std::shared_lock lock(mutex_);
        std::vector<table_entry> out;
        for (const auto& s : segments_) out.push_back({s.number, s.backend.get(), s.max_sequence});
        return out;
    }

    [[nodiscard]] const backend_type* find(std::uint32_t number) const {
        std::shared_lock lock(mutex_);
        for (const auto& s : segments_)
            if (s.number == number) return s.backend.get();
        fail(errc::corruption, "no segment {} for a record the index points to", number);
    }

private:
    Factory factory_;
    std::uint64_t max_segment_size_;
    mutable std::shared_mutex mutex_;  // guards the table against concurrent readers
    std::vector<segment> segments_;
    bool seal_first_ = false;
};

}  // namespace v1
}  // namespace entidb
