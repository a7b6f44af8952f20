// entidb/core/compaction.hpp — compaction and its journal (the COMPACTION file).
//
// The MANIFEST lists no segments (SPEC.md §3): the segments are whatever
// SEGMENTS/seg-NNNNNN.dat files exist, the highest-numbered being the active one. So a
// compaction is made current by a journal, `<db>/COMPACTION` (format/compaction_state.hpp):
//
//   1. checkpoint: the WAL is empty, the active segment is new and empty, every other
//      segment is sealed; the index is pruned to the versions readers see: of each entity,
//      for each open snapshot's sequence and the latest one, the newest version at or below
//      it (a version between two snapshots that neither sees goes, like one below them all)
//   2. stream every sealed segment; keep a record if the index holds it (the newest version
//      of its entity, or an older one an open snapshot reads) or if it is a tombstone of an
//      entity the index no longer has and is within the retention (or of the newest commit,
//      so the segments still reach the MANIFEST's checkpoint); drop the rest
//   3. write the kept records, in their order, into SEGMENTS/seg-NNNNNN.dat.compact files
//      numbered above the active segment, plus an empty one above them (the next active
//      segment); flush each; fsync SEGMENTS/
//   4. durable_replace COMPACTION {horizon, publish: new numbers, remove: old numbers} —
//      the commit point: a crash before it leaves the old files (open deletes the
//      temporaries); after it, open finishes steps 5–7 from the journal
//   5. install the new segments in memory (the old ones are retired, still readable) and
//      move every index version to its copy (readers see either copy: same bytes)
//   6. rename the temporaries into place, delete the old files, fsync SEGMENTS/
//   7. rewrite COMPACTION with empty lists (it keeps the history horizon)
// The redo (steps 6–7 at open) is idempotent: a published number is renamed if its
// temporary still exists (else its final file must), a removed one is deleted if present.
// Tombstones are dropped only together with every older version of their entity (all
// sealed segments are merged, the active one is empty), and the old files are deleted
// before the database is used, so a dropped tombstone never lets an old put reappear.
//
// This is the path of a journaled factory (segment_file_protocol: it declares
// `journaled = true` and has the protocol's members, segment/factory.hpp); any other factory
// keeps its segments in memory or cannot rotate, and a rotating one compacts by creating the
// new segments directly. basic_database refuses a durable rotating factory that is not
// journaled, so that second path never holds durable data.
//
// Retired segment files stay open until no snapshot registered before the swap is open
// (snapshot_registry::mark / segment_set::reclaim): unlinked files keep their disk space
// until then.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "../compaction.hpp"
#include "../error.hpp"
#include "../format/compaction_state.hpp"
#include "../format/segment_record.hpp"
#include "../segment/factory.hpp"
#include "../segment/file_factory.hpp"
#include "../storage/filesystem.hpp"
#include "engine.hpp"
#include "segment_outputs.hpp"
#include "../format/record_scanner.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

inline constexpr std::string_view compaction_file_name = "COMPACTION";

[[nodiscard]] inline std::filesystem::path compaction_file(const std::filesystem::path& dir) {
    return dir / std::string(compaction_file_name);
}

// The COMPACTION file of `dir`, if there is one.
[[nodiscard]] inline std::optional<format::compaction_state> read_compaction_state(const std::filesystem::path& dir) {
    const auto path = compaction_file(dir);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        if (ec) fail_at(errc::io_error, {.path = path.string(), .sys_errno = ec.value()}, "cannot stat");
        return std::nullopt;
    }
    return format::decode_compaction_state(read_file(path), path.string());
}

inline void write_compaction_state(const std::filesystem::path& dir, const format::compaction_state& s) {
    durable_replace(compaction_file(dir), format::encode(s));
}

// The segments an interrupted compaction's journal says make the database, opened without
// changing anything: every final file it does not remove, and each published one from its
// temporary if that still exists (else from its final name).
template <segment_file_protocol Factory>
[[nodiscard]] std::vector<typename segment_set<Factory>::segment> open_journaled_segments(
    Factory& f, const format::compaction_state& s, const std::filesystem::path& dir) {
    std::vector<typename segment_set<Factory>::segment> out;
    const auto listed = [](const std::vector<std::uint32_t>& v, std::uint32_t n) {
        return std::binary_search(v.begin(), v.end(), n);
    };
    for (const auto n : f.existing())
        if (!listed(s.remove, n) && !(listed(s.publish, n) && f.has_temporary(n))) out.push_back({n, f.open(n), 0});
    for (const auto n : s.publish) {
        if (f.has_temporary(n))
            out.push_back({n, f.open_temporary(n), 0});
        else if (!f.has(n))
            fail_at(errc::corruption, {.path = compaction_file(dir).string()},
                    "COMPACTION publishes segment {} but neither {} nor {} exists", n, segment_file_name(n),
                    temporary_segment_file_name(n));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
    if (out.empty() || out.back().number != s.publish.back())
        fail_at(errc::corruption, {.path = compaction_file(dir).string()},
                "COMPACTION publishes segment {} as the active one but a higher segment exists",
                s.publish.empty() ? 0 : s.publish.back());
    return out;
}

// Steps 6–7: idempotent. `stray` temporaries (no journal names them) are removed too.
template <segment_file_protocol Factory>
void finish_compaction(Factory& f, const std::filesystem::path& dir, const format::compaction_state& s,
                       const std::vector<std::uint32_t>& stray) {
    for (const auto n : s.publish)
        if (f.has_temporary(n)) f.publish_temporary(n);
    for (const auto n : s.remove) f.remove(n);
    for (const auto n : stray) f.remove_temporary(n);
    f.sync();
    if (s.pending()) write_compaction_state(dir, {.history_horizon = s.history_horizon, .publish = {}, .remove = {}});
}

template <typename Traits>
class compactor {
    using factory_type = typename Traits::segment_factory;
    using set_type = segment_set<factory_type>;
    using segment = typename set_type::segment;
    static constexpr bool files = segment_file_protocol<factory_type>;  // journaled (see above)

public:
    compactor(engine<Traits>& e, const compact_options& opt) : e_(e), opt_(opt) {}

    // Holding the writer lock.
    compaction_report run() {
        if constexpr (!factory_type::rotates) {
            fail(errc::rotation_unsupported,
                 "compaction writes new segments and this segment factory cannot make more than one: use a "
                 "rotating factory (file_segment_factory)");
        } else {
            e_.ensure_writable();
            if constexpr (files)
                if (!e_.directory())
                    fail(errc::invalid_argument,
                         "compaction of file segments needs a database opened with entidb::open (its directory holds "
                         "the COMPACTION journal)");
            e_.reclaim_retired();
            e_.checkpoint();
            e_.mutable_index().prune_all(e_.snapshots().readers(e_.last_sequence()));
            step(compaction_step::checkpointed);
            report_.sequence = e_.last_sequence();
            report_.history_horizon = e_.history_horizon();
            const auto& table = e_.segments().segments();
            if (table.size() < 2) return report_;  // nothing sealed: nothing to merge
            write_outputs();
            const auto journal = commit_point();
            make_current(journal);
            e_.reclaim_retired();
            return report_;
        }
    }

private:
    void step(compaction_step s) {
        if (opt_.on_step) opt_.on_step(s);
    }

    // Steps 2–3.
    void write_outputs() {
        auto& set = e_.segments();
        const auto& table = set.segments();
        const auto& index = e_.index();
        const std::uint64_t last = e_.last_sequence();
        const std::uint64_t keep_above = last > opt_.tombstone_retention ? last - opt_.tombstone_retention : 0;
        std::uint64_t merge_max = 0;
        for (std::size_t i = 0; i + 1 < table.size(); ++i) merge_max = std::max(merge_max, table[i].max_sequence);
        if (table.back().backend->size() != 0)
            fail(errc::invalid_argument, "compaction needs an empty active segment after its checkpoint");
        std::uint64_t held = 0;
        std::uint64_t dropped_max = 0;
        out_.emplace(e_);  // removes stale temporaries
        try {
            for (std::size_t i = 0; i + 1 < table.size(); ++i) {
                const auto& seg = table[i];
                report_.bytes_before += seg.backend->size();
                segment_scanner<typename factory_type::backend_type> scan(
                    *seg.backend, e_.cfg().read_chunk_bytes, std::numeric_limits<std::uint32_t>::max());
                while (auto s = scan.next()) {
                    const auto& d = s->decoded;
                    if (d.status != format::decode_status::ok)
                        fail_at(errc::corruption, {.path = e_.segment_path(seg.number), .offset = s->offset},
                                "bad record in a sealed segment while compacting ({})", d.problem);
                    const auto& r = d.record;
                    const record_location loc{seg.number, static_cast<std::uint32_t>(d.size), s->offset};
                    const bool in_index = index.holds(r.collection_id, r.id, loc);
                    const bool keep =
                        in_index || (r.tombstone() && (r.sequence > keep_above || r.sequence == merge_max) &&
                                     !index.find(r.collection_id, r.id, latest_snapshot));
                    if (!keep) {
                        ++report_.records_dropped;
                        if (r.tombstone()) ++report_.tombstones_dropped;
                        dropped_max = std::max(dropped_max, r.sequence);
                        continue;
                    }
                    held += in_index ? 1 : 0;
                    ++report_.records_kept;
                    if (r.tombstone()) ++report_.tombstones_kept;
                    out_->append(r);
                }
            }
            if (const auto versions = index.version_count(); held != versions)
                fail(errc::corruption,
                     "the index holds {} versions but only {} of them were found in the sealed segments; nothing "
                     "was compacted",
                     versions, held);
            out_->finish();  // plus the next active segment: empty, above every output
        } catch (...) {
            out_->abandon();
            throw;
        }
        kept_in_index_ = held;
        report_.segments_before = table.size();
        report_.segments_after = out_->numbers().size();
        report_.bytes_after = out_->bytes();
        report_.bytes_reclaimed = report_.bytes_before > report_.bytes_after ? report_.bytes_before - report_.bytes_after : 0;
        report_.history_horizon = std::max(e_.history_horizon(), dropped_max);
        try {
            step(compaction_step::outputs_written);
        } catch (...) {
            out_->abandon();
            throw;
        }
    }

    // Step 4.
    format::compaction_state commit_point() {
        format::compaction_state journal{.history_horizon = report_.history_horizon, .publish = {}, .remove = {}};
        journal.publish = out_->numbers();
        for (const auto& s : e_.segments().segments()) journal.remove.push_back(s.number);
        if constexpr (files) {
            try {
                write_compaction_state(*e_.directory(), journal);
            } catch (const error& err) {
                if (err.value() == errc::outcome_unknown) {
                    // The journal may be durable: the temporaries must stay for the redo.
                    out_->keep();
                    e_.poison(fmt::format("compaction: the journal may or may not be durable ({}); reopen to finish "
                                          "or discard it",
                                          err.what()));
                } else {
                    out_->abandon();
                }
                throw;
            }
            out_->keep();  // named by the journal: the redo needs them
            try {
                step(compaction_step::journal_written);
            } catch (...) {
                // The old files are all still there and the table still reads them.
                e_.poison("compaction: stopped after its journal was written; reopen to finish it");
                throw;
            }
        }
        out_->keep();
        return journal;
    }

    // Steps 5–7; any failure poisons the engine (the reopen finishes from the journal).
    void make_current(const format::compaction_state& journal) {
        try {
            install();
            if constexpr (files) {
                auto& f = e_.segments().factory();
                for (const auto n : journal.publish) f.publish_temporary(n);
                step(compaction_step::published);
                for (const auto n : journal.remove) f.remove(n);
                f.sync();
                step(compaction_step::old_removed);
                write_compaction_state(*e_.directory(),
                                       {.history_horizon = journal.history_horizon, .publish = {}, .remove = {}});
            }
            step(compaction_step::finished);
        } catch (const std::exception& err) {
            e_.poison(fmt::format("compaction could not finish ({}); reopen to finish it", err.what()));
            throw;
        }
    }

    // Step 5: the new segments become the table; the index moves to the copies.
    void install() {
        auto& set = e_.segments();
        set.install(out_->take());
        auto& index = e_.mutable_index();
        std::uint64_t moved = 0;
        const auto& table = set.segments();
        for (std::size_t i = 0; i + 1 < table.size(); ++i) {
            const auto& seg = table[i];
            segment_scanner<typename factory_type::backend_type> scan(*seg.backend, e_.cfg().read_chunk_bytes,
                                                                      std::numeric_limits<std::uint32_t>::max());
            while (auto s = scan.next()) {
                const auto& d = s->decoded;
                if (d.status != format::decode_status::ok) {
                    e_.keep_retired_until_close();
                    fail_at(errc::corruption, {.path = e_.segment_path(seg.number), .offset = s->offset},
                            "a compacted segment does not read back ({})", d.problem);
                }
                const auto& r = d.record;
                if (index.relocate(r.collection_id, r.id, r.sequence,
                                   {seg.number, static_cast<std::uint32_t>(d.size), s->offset}))
                    ++moved;
            }
        }
        if (moved != kept_in_index_) {
            e_.keep_retired_until_close();
            fail(errc::corruption, "compaction moved {} index entries, expected {}", moved, kept_in_index_);
        }
        e_.set_history_horizon(report_.history_horizon);
        set.set_retired_mark(e_.snapshots().mark());
    }

    engine<Traits>& e_;
    const compact_options& opt_;
    compaction_report report_;
    std::optional<segment_outputs<Traits>> out_;
    std::uint64_t kept_in_index_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
