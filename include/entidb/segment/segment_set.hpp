// entidb/segment/segment_set.hpp — the numbered segments of one database.
//
// Segments 1..N: every one but the highest is sealed (flushed when it was sealed, never
// written again); the highest is active and takes appends. `append` rotates before a
// record would push the active segment past `max_segment_size` — seal (flush) the active
// one, then ask the factory for the next. A factory that cannot rotate has one segment,
// which takes every record: the records appended are those of commits already durable in
// the WAL, and refusing one would lose an acknowledged commit (or make the database
// unopenable when recovery replays it). The engine keeps that segment within
// max_segment_size by refusing a commit that does not fit before its WAL append
// (errc::rotation_unsupported). Reads go to any segment by location.
//
// Compaction replaces the whole table at once (`install`): the old segments are retired,
// not destroyed — `read` still finds them, since a reader may hold a location in one —
// until `reclaim` is told that no such reader can remain (core/compaction.hpp). Segment
// numbers are never reused while the set lives, so a location names one record for good;
// the numbers on disk may have gaps.
//
// Thread-safety: appends, rotation, flushes, install and reclaim come from the single
// writer. `read` may run concurrently with them: the segment table is guarded by a shared
// mutex and a backend is destroyed only by `reclaim`, once no reader can reach it.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "../detail/shared_gate.hpp"
#include "../error.hpp"
#include "../format/segment_record.hpp"
#include "record_location.hpp"
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
        std::uint64_t min_sequence = 0;  // oldest (0: none noted yet)
    };

    // What a concurrent reader may walk: segment numbers, backends and newest sequences.
    struct table_entry {
        std::uint32_t number;
        const backend_type* backend;
        std::uint64_t max_sequence;
        std::uint64_t min_sequence;
    };

    segment_set(Factory factory, std::uint64_t max_segment_size)
        : factory_(std::move(factory)), max_segment_size_(max_segment_size) {}

    // Opens every existing segment; creates segment 1 when there is none.
    void open_existing() {
        for (const auto n : factory_.existing()) segments_.push_back({n, factory_.open(n), 0});
        if (segments_.empty()) segments_.push_back({1, factory_.create(1), 0});
    }

    // Takes segments opened by the caller (ascending numbers, at least one): recovery does
    // this when an interrupted compaction's journal says which files make the database.
    void open_from(std::vector<segment> opened) {
        if (opened.empty()) fail(errc::invalid_argument, "a segment set needs at least one segment");
        segments_ = std::move(opened);
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
        if (Factory::rotates && seg.backend->size() > 0 &&
            (seal_first_ || seg.backend->size() + record.size() > max_segment_size_))
            rotate();
        seal_first_ = false;
        auto& target = active();
        const auto offset = target.backend->append(record);
        note_sequence(target.number, sequence);
        return {target.number, static_cast<std::uint32_t>(record.size()), offset};
    }

    // Appends the consecutive encoded records of commit `sequence` that `lengths` splits
    // `records` into, and returns where each went: one write when they all fit the active
    // segment, else record by record, rotating where append() would.
    std::vector<record_location> append_many(bytes_view records, std::span<const std::uint32_t> lengths,
                                             std::uint64_t sequence) {
        std::vector<record_location> out;
        out.reserve(lengths.size());
        const auto size = active().backend->size();
        if (Factory::rotates && ((size > 0 && seal_first_) || size + records.size() > max_segment_size_)) {
            std::size_t at = 0;
            for (const auto n : lengths) {
                out.push_back(append(records.subspan(at, n), sequence));
                at += n;
            }
            return out;
        }
        seal_first_ = false;
        auto& target = active();
        std::uint64_t offset = target.backend->append(records);
        for (const auto n : lengths) {
            out.push_back({target.number, n, offset});
            offset += n;
        }
        note_sequence(target.number, sequence);
        return out;
    }

    // The next append starts a new segment (if the factory can rotate): recovery asks for
    // this when the active segment holds checkpointed records (as files written by other
    // implementations may), so that again only WAL-covered records are ever appended
    // after them.
    void seal_before_next_append() noexcept { seal_first_ = Factory::rotates; }

    // Seals the active segment and starts the next one (errc::rotation_unsupported for a
    // factory that cannot rotate: append never asks it to).
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

    static constexpr bool viewable = mappable_backend<backend_type>;

    // The whole record at `loc`, valid while the segment is not reclaimed (a snapshot
    // that may hold `loc` keeps it: reclaim()).
    [[nodiscard]] bytes_view view(const record_location& loc) const
        requires viewable
    {
        return find(loc.segment)->view_at(loc.offset, loc.length);
    }

    // Views of the records at `location_of(0..n-1)`, appended to `out`, under one table
    // lock (scans). A location that cannot be viewed gets an empty view: read() it to
    // raise its error when the caller reaches it.
    template <typename LocationOf>
    void view_each(std::size_t n, LocationOf location_of, std::vector<bytes_view>& out) const
        requires viewable
    {
        std::shared_lock lock(mutex_);
        const backend_type* b = nullptr;
        std::uint32_t number = 0;  // of b
        for (std::size_t i = 0; i < n; ++i) {
            const record_location loc = location_of(i);
            try {
                if (b == nullptr || number != loc.segment) {
                    b = find_locked(loc.segment);
                    number = loc.segment;
                }
                out.push_back(b->view_at(loc.offset, loc.length));
            } catch (const error&) {
                b = nullptr;
                out.emplace_back();
            }
        }
    }

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
                if (it->min_sequence == 0 || sequence < it->min_sequence) it->min_sequence = sequence;
                return;
            }
    }

    [[nodiscard]] std::vector<table_entry> table() const {
        std::shared_lock lock(mutex_);
        std::vector<table_entry> out;
        for (const auto& s : segments_) out.push_back({s.number, s.backend.get(), s.max_sequence, s.min_sequence});
        return out;
    }

    [[nodiscard]] const backend_type* find(std::uint32_t number) const {
        std::shared_lock lock(mutex_);
        return find_locked(number);
    }

    // ---- compaction (the writer) ----

    // Makes `next` the table (ascending numbers, the last one active, none reused) and
    // retires every current segment: still readable, destroyed by reclaim() once their
    // mark() has passed. Until then the retired ones carry an unset mark.
    void install(std::vector<segment> next) {
        if (next.empty()) fail(errc::invalid_argument, "a segment set needs at least one segment");
        std::unique_lock lock(mutex_);
        retired_.reserve(retired_.size() + segments_.size());
        for (auto& s : segments_) retired_.push_back({std::move(s), unset_mark});
        segments_ = std::move(next);
        seal_first_ = false;
    }
    // Stamps the segments retired since the last call with `mark` (see snapshot_registry).
    void set_retired_mark(std::uint64_t mark) {
        std::unique_lock lock(mutex_);
        for (auto& r : retired_)
            if (r.mark == unset_mark) r.mark = mark;
    }
    // Destroys the retired segments whose mark `done(mark)` says no reader can still need.
    void reclaim(const std::function<bool(std::uint64_t)>& done) {
        if (retired_.empty()) return;  // only the writer changes retired_
        std::vector<segment> dead;     // destroyed outside the lock
        {
            std::unique_lock lock(mutex_);
            for (auto it = retired_.begin(); it != retired_.end();) {
                if (it->mark != unset_mark && done(it->mark)) {
                    dead.push_back(std::move(it->seg));
                    it = retired_.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }
    [[nodiscard]] std::size_t retired_count() const {
        std::shared_lock lock(mutex_);
        return retired_.size();
    }

private:
    [[nodiscard]] const backend_type* find_locked(std::uint32_t number) const {
        for (const auto& s : segments_)
            if (s.number == number) return s.backend.get();
        for (const auto& r : retired_)
            if (r.seg.number == number) return r.seg.backend.get();
        fail(errc::corruption, "no segment {} for a record the index points to", number);
    }

    static constexpr std::uint64_t unset_mark = std::numeric_limits<std::uint64_t>::max();
    struct retired_segment {
        segment seg;
        std::uint64_t mark;
    };

    Factory factory_;
    std::uint64_t max_segment_size_;
    mutable detail::shared_gate mutex_;  // guards the table against concurrent readers
    std::vector<segment> segments_;
    std::vector<retired_segment> retired_;  // replaced by a compaction, still readable
    bool seal_first_ = false;
};

}  // namespace v1
}  // namespace entidb
