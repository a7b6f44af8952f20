// entidb/core/recovery.hpp — what open does before a database is shared (SPEC.md §5).
//
// 1. Stream every segment record into the primary index (one record in memory at a time).
//    A bad record in a sealed segment is corruption. A bad record in the active segment is
//    a torn tail only if the WAL still covers it — the records before it in that segment
//    are newer than the last checkpoint, or it is the segment's first record and the
//    sealed segments reach the checkpoint — and is then truncated; otherwise corruption.
// 2. Stream the WAL (wal/reader.hpp). A record that does not decode ends the log if
//    nothing valid follows it (torn tail: truncated); if a valid record follows, it is
//    corruption (file and offset named, nothing repaired). Committed transactions are
//    applied exactly once, each with one batch of segment records (the commits' path):
//    a transaction older than the newest segment sequence is already there, a newer one is
//    applied, and the one at that sequence is checked record by record (a crash may have
//    applied part of it). Aborted and unfinished transactions are dropped.
// 3. Nothing is truncated or replayed until every check has passed, so an open that fails
//    leaves the directory as it found it.
// 1a. Where a primary index file covers the segments (core/index_file.hpp), the index is
//    mapped from it and step 1 streams only the segment bytes past what it covers. A file
//    that fails a check is left unused (the report says why) and step 1 streams everything.
//    A dry run (verify) and an open that must finish a compaction never use one.
// 0. Before all that, which files make the database: after a crash during a compaction
//    its COMPACTION journal names them (core/compaction.hpp); the checks run on that set,
//    and only once they pass does open finish the compaction (rename, delete) — a dry run
//    (verify) only reads it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "../format/segment_record.hpp"
#include "../wal/reader.hpp"
#include "compaction.hpp"
#include "engine.hpp"
#include "index_file.hpp"
#include "../format/record_scanner.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

inline constexpr std::uint64_t no_readers = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint64_t max_segment_record = std::numeric_limits<std::uint32_t>::max();

template <typename Traits>
class recovery {
public:
    // `dry_run`: check everything, change nothing (no truncation, no replay). verify
    // uses it; the index then reflects the segments only.
    explicit recovery(engine<Traits>& e, bool dry_run = false)
        : e_(e), checkpoint_(e.manifest().checkpoint_seq), dry_run_(dry_run) {}

    void run() {
        open_segments();
        e_.mutable_index().hold_merges();
        load_segments();
        scan_wal(false);  // every check first: nothing changes unless the whole directory passes
        if (dry_run_) {
            e_.mutable_index().release_merges();
            return;
        }
        if (!e_.cfg().read_only) finish_interrupted_compaction();
        if (segment_cut_) {
            auto& seg = *e_.segments().segments().back().backend;
            e_.report().segment_bytes_truncated += seg.size() - *segment_cut_;
            seg.truncate(*segment_cut_);
        }
        if (wal_end_ < e_.wal().size()) cut_wal();
        // Replayed records go to a new segment: in memory for a read-only open (no copy of
        // the active segment's file bytes is needed).
        if (e_.cfg().read_only) e_.segments().seal_before_next_append();
        if (wal_max_seq_ > file_covered_) scan_wal(true);  // else every commit is in the index file's bytes
        e_.mutable_index().release_merges();
        e_.set_recovered_state(std::max({checkpoint_.value_or(0), segment_max_, wal_max_seq_}), max_txid_ + 1);
    }

    // Set by a dry run: where the active segment's torn tail starts, and where the WAL ends
    // (a recycled log's lap: what follows it is no torn tail).
    [[nodiscard]] std::optional<std::uint64_t> segment_cut() const noexcept { return segment_cut_; }
    [[nodiscard]] std::uint64_t wal_end() const noexcept { return wal_end_; }
    [[nodiscard]] bool wal_recycled() const noexcept { return wal_recycled_; }
    // The journal of a compaction interrupted by a crash (a dry run leaves it; open finishes
    // it), and temporaries no journal names (left by a compaction that never became
    // current; open deletes them).
    [[nodiscard]] const std::optional<format::compaction_state>& pending_compaction() const noexcept {
        return pending_;
    }
    [[nodiscard]] const std::vector<std::uint32_t>& stray_temporaries() const noexcept { return stray_; }

private:
    // Which files make the database: normally every SEGMENTS/seg-NNNNNN.dat; after a crash
    // during a compaction, what its COMPACTION journal says (core/compaction.hpp).
    void open_segments() {
        if constexpr (segment_file_protocol<typename Traits::segment_factory>) {
            if (const auto& dir = e_.directory()) {
                auto& f = e_.segments().factory();
                const auto state = read_compaction_state(*dir);
                if (state) e_.set_history_horizon(state->history_horizon);
                if (state && state->pending()) {
                    pending_ = state;
                    e_.segments().open_from(open_journaled_segments(f, *state, *dir));
                } else {
                    e_.segments().open_existing();
                }
                for (const auto n : f.temporaries())
                    if (!pending_ || !std::binary_search(pending_->publish.begin(), pending_->publish.end(), n))
                        stray_.push_back(n);
                return;
            }
        }
        e_.segments().open_existing();
    }

    // The only change open makes before its own checks complete: an interrupted
    // compaction's redo, after every check passed (idempotent; see core/compaction.hpp).
    void finish_interrupted_compaction() {
        if constexpr (segment_file_protocol<typename Traits::segment_factory>) {
            if (!pending_ && stray_.empty()) return;
            finish_compaction(e_.segments().factory(), *e_.directory(),
                              pending_.value_or(format::compaction_state{}), stray_);
            e_.report().compaction_finished = pending_.has_value();
            e_.report().temporaries_removed += stray_.size();
        }
    }

    // ---- segments ----

    void load_segments() {
        auto& segs = e_.segments().segments();
        const auto covered = use_index_file();
        std::uint64_t sealed_max = 0;
        for (std::size_t i = 0; i < segs.size(); ++i) {
            const auto c = std::find_if(covered.begin(), covered.end(),
                                        [&](const auto& s) { return s.number == segs[i].number; });
            load_segment(segs[i], i + 1 == segs.size(), sealed_max, c == covered.end() ? nullptr : &*c);
            if (i + 1 < segs.size()) sealed_max = segment_max_;
        }
        if (checkpoint_ && active_has_checkpointed_) e_.segments().seal_before_next_append();
        if (checkpoint_ && segment_max_ < *checkpoint_)
            fail_at(errc::corruption, {.path = e_.segment_path(segs.back().number)},
                    "the segments end at sequence {} but the MANIFEST records a checkpoint at {}", segment_max_,
                    *checkpoint_);
    }

    // The segments' coverage by the index file the index was mapped from (none if it was
    // not: no file, or one that failed a check, which the report then names).
    std::vector<segment_coverage> use_index_file() {
        if constexpr (segment_file_protocol<typename Traits::segment_factory>) {
            const auto& dir = e_.directory();
            if (dry_run_ || pending_ || !dir) return {};
            const auto path = *dir / primary_index_file_name;
            try {
                if (!path_exists(path)) return {};
                const auto table = e_.segments().table();
                auto image = read_primary_index_file(
                    path, [&](const std::vector<segment_coverage>& covered) { return coverage_mismatch(covered, table); });
                for (const auto& c : image.segments) {
                    if (c.size == 0) continue;
                    e_.segments().note_sequence(c.number, c.min_sequence);
                    e_.segments().note_sequence(c.number, c.max_sequence);
                    segment_max_ = std::max(segment_max_, c.max_sequence);
                }
                // Written with every commit up to this one applied, whole, in the bytes covered.
                file_covered_ = image.covered_sequence;
                *image.on_damage = [&e = e_](const error& x) { e.index_file_damaged(x); };
                e_.mutable_index().adopt(std::move(image.tables), image.superseded);
                e_.index_file_loaded(image.entries);
                e_.report().primary_index_from_file = true;
                return std::move(image.segments);
            } catch (const error& x) {
                e_.report().primary_index_file_problem = x.what();
            }
        }
        return {};
    }

    template <typename Segment>
    void load_segment(const Segment& seg, bool active, std::uint64_t sealed_max, const segment_coverage* covered_part) {
        const auto number = seg.number;
        auto& backend = *seg.backend;
        const std::uint64_t from = covered_part ? covered_part->size : 0;
        segment_scanner<std::remove_cvref_t<decltype(backend)>> scanner(backend, e_.cfg().read_chunk_bytes,
                                                                       max_segment_record, from);
        std::optional<std::uint64_t> last_seq;
        if (from > 0) {  // the records the index file covers, as if scanned
            last_seq = covered_part->max_sequence;
            if (active && checkpoint_ && covered_part->min_sequence <= *checkpoint_) active_has_checkpointed_ = true;
        }
        while (auto step = scanner.next()) {
            const auto& d = step->decoded;
            if (d.status == format::decode_status::ok) {
                const auto& r = d.record;
                // Never hand out ciphertext as if it were the entity, nor take a plain record
                // into an encrypted database.
                if (r.encrypted() != engine<Traits>::encrypts && !r.tombstone())
                    fail_at(engine<Traits>::encrypts ? errc::corruption : errc::bad_key,
                            {.path = e_.segment_path(number), .offset = step->offset}, "{}",
                            engine<Traits>::encrypts ? "an unencrypted record in an encrypted database"
                                                     : "an encrypted segment record (flag 0x02): the database was "
                                                       "written with a key; open it with that key");
                e_.mutable_index().apply(
                    r.collection_id, r.id,
                    {.sequence = r.sequence,
                     .location = {number, static_cast<std::uint32_t>(d.size), step->offset},
                     .tombstone = r.tombstone()},
                    no_readers);
                segment_max_ = std::max(segment_max_, r.sequence);
                e_.segments().note_sequence(number, r.sequence);
                last_seq = r.sequence;
                if (active && checkpoint_ && r.sequence <= *checkpoint_) active_has_checkpointed_ = true;
                ++e_.report().segment_records;
                continue;
            }
            const bool covered = !checkpoint_ || (last_seq ? *last_seq > *checkpoint_ : sealed_max >= *checkpoint_);
            if (active && valid_record_follows(backend, step->offset, d.size))
                fail_at(errc::corruption, {.path = e_.segment_path(number), .offset = step->offset},
                        "bad segment record ({}) followed by a valid record: damage, not a torn tail",
                        describe_problem(d));
            if (!active || !covered)
                fail_at(errc::corruption, {.path = e_.segment_path(number), .offset = step->offset},
                        "bad segment record ({}){}", describe_problem(d),
                        active ? "; the WAL does not cover it (it may hold checkpointed data)" : " in a sealed segment");
            segment_cut_ = step->offset;  // WAL-covered torn tail: cut once every check passed
            break;
        }
    }

    // A complete record with a bad checksum says how long it is: if a valid record starts
    // right after it, the bad one is damage in the middle of the file, not a torn tail.
    template <typename Backend>
    bool valid_record_follows(const Backend& backend, std::uint64_t offset, std::uint64_t size) const {
        if (size == 0 || offset + size >= backend.size()) return false;
        segment_scanner<Backend> probe(backend, e_.cfg().read_chunk_bytes, max_segment_record, offset + size);
        const auto step = probe.next();
        return step && step->decoded.status == format::decode_status::ok;
    }

    // ---- WAL ----

    // A torn tail is the normal result of a crash: it is cut. What follows a recycled
    // log's lap stays in the file, to be overwritten (and is no torn tail).
    void cut_wal() {
        auto& wal = e_.wal();
        if constexpr (recyclable_backend<std::remove_cvref_t<decltype(wal)>>) {
            if (wal_recycled_) return wal.set_end(wal_end_);
        }
        e_.report().wal_bytes_truncated += wal.size() - wal_end_;
        wal.truncate(wal_end_);
        wal.flush();
    }

    // Pass 1 (apply == false) checks the log and finds its end; pass 2 replays up to it.
    void scan_wal(bool apply) {
        ::entidb::wal::reader log(e_.wal(), e_.cfg().read_chunk_bytes, e_.wal_path(), apply, checkpoint_.value_or(0));
        while (const auto t = log.next())
            if (apply) apply_committed(*t);
        if (apply) return;
        e_.report().wal_records += log.records();
        wal_recycled_ = log.recycled();
        wal_end_ = log.end();
        wal_max_seq_ = log.max_sequence();
        max_txid_ = log.max_txid();
    }

    // Pass 2: a committed transaction's operations that the segments do not hold yet,
    // appended as one batch.
    void apply_committed(const ::entidb::wal::transaction& t) {
        const auto seq = t.sequence;
        if (seq < segment_max_) return;  // applied: a newer commit already reached the segments
        if (seq <= file_covered_) return;  // applied whole: the index file was written after it
        const bool partial = seq == segment_max_;
        auto& batch = e_.start_batch(seq);
        for (const auto& op : t.ops)
            if (!partial || !(already_applied(op, seq) || batched(batch, op)))
                // An encrypted database's WAL holds the sealed bytes the segment record takes.
                batch.add(op.collection, op.id, op.tombstone, op.payload, engine<Traits>::encrypts);
        e_.apply_batch(no_readers);
        e_.report().records_replayed += batch.size();
        if (batch.size() > 0) ++e_.report().transactions_replayed;
        segment_max_ = std::max(segment_max_, seq);
    }

    // A key the batch already writes at this sequence counts as applied, as it would once
    // the batch is in the index (a transaction writing one key twice).
    static bool batched(const record_batch& batch, const ::entidb::wal::operation& op) {
        return std::any_of(batch.keys().begin(), batch.keys().end(),
                           [&](const auto& k) { return k.collection == op.collection && k.id == op.id; });
    }

    bool already_applied(const ::entidb::wal::operation& op, std::uint64_t seq) const {
        const auto v = e_.index().find(op.collection, op.id, no_readers);
        if (op.tombstone) return !v || v->tombstone || v->sequence >= seq;
        return v && v->sequence >= seq;
    }

    engine<Traits>& e_;
    std::optional<std::uint64_t> checkpoint_;
    std::uint64_t segment_max_ = 0;
    std::uint64_t wal_max_seq_ = 0;
    std::uint64_t file_covered_ = 0;  // commits the index file used holds whole (0: none used)
    std::uint64_t max_txid_ = 0;
    bool dry_run_;
    bool active_has_checkpointed_ = false;
    std::optional<std::uint64_t> segment_cut_;
    std::uint64_t wal_end_ = 0;
    bool wal_recycled_ = false;
    std::optional<format::compaction_state> pending_;
    std::vector<std::uint32_t> stray_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
