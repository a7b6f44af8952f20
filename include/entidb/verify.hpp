// entidb/verify.hpp — check a database directory without changing it.
//
// `verify_report(path)` takes the LOCK and checks, in this order, collecting the first
// problems found (at most `max_problems`), each with its file and byte offset where there is
// one:
//   1. the MANIFEST: it decodes (magic, versions, ranges, sorting), every index names a
//      collection the MANIFEST lists, no two indexes share a collection and field path;
//   2. the COMPACTION journal, if any: it decodes, and after a crash during a compaction
//      every segment it publishes exists (the next open finishes that compaction; the
//      checks below run on the segments it describes);
//   3. every segment and WAL record, through the same checks as open (every checksum,
//      structure, torn tail vs corruption), truncating and replaying nothing;
//   4. every record names a collection the MANIFEST knows;
//   5. every live entity reads back (checksum, key) and is canonical CBOR;
//   6. every secondary index, built by the same code as on open, holds exactly the keys a
//      scan of its collection computes (and a unique index no key twice).
// A problem in 1–3 stops the check (open would refuse the directory); later ones are
// collected and the check goes on. A torn tail — the normal result of a crash, which the
// next open truncates — is not a problem; it is reported in the result, as are a pending
// compaction and stray compaction temporaries. Steps 4–6 see the segments only (committed
// transactions still only in the WAL are checked as WAL records).
// It opens the directory read-only (shared lock; runs beside read-only opens, not beside
// a writer). Errors thrown (not collected): errc::not_found (no database), errc::locked,
// errc::io_error, errc::invalid_argument (not a database directory).
//
// `verify(path)` runs the same checks and throws the first problem as an entidb::error
// (errc::corruption, or errc::unsupported_version for a version this build cannot read).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cbor/reader.hpp"
#include "database.hpp"
#include "core/compaction.hpp"

namespace entidb {
inline namespace v1 {

struct verify_problem {
    errc code = errc::corruption;
    std::string message;  // what is wrong, with the file and offset (as entidb::error::what())
    std::string detail;   // the same without the code and the location
    std::string path;     // the file concerned, if any
    std::optional<std::uint64_t> offset;
};

struct verify_result {
    std::uint64_t segment_records = 0;
    std::uint64_t wal_records = 0;
    std::uint64_t entities_checked = 0;
    std::uint64_t segments = 0;
    std::uint64_t indexes_checked = 0;
    std::uint64_t index_entries_checked = 0;
    std::optional<std::uint64_t> wal_torn_at;      // the next open truncates the WAL here
    std::optional<std::uint64_t> segment_torn_at;  // ... and the active segment here
    std::optional<format::compaction_state> pending_compaction;  // ... and finishes this compaction
    std::vector<std::uint32_t> stray_temporaries;  // ... and deletes these seg-NNNNNN.dat.compact files
    std::vector<verify_problem> problems;          // the first problems found; empty when all is well
    bool more_problems = false;                    // problems beyond max_problems were not recorded

    [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
};

namespace detail {

class problem_list {
public:
    problem_list(verify_result& r, std::size_t max) : r_(r), max_(max) {}

    void add(const error& e) {
        if (r_.problems.size() >= max_) {
            r_.more_problems = true;
            return;
        }
        r_.problems.push_back({e.value(), e.what(), e.detail(), e.path(), e.offset()});
    }
    template <typename... Args>
    void add(error_context ctx, fmt::format_string<Args...> f, Args&&... args) {
        add(error(errc::corruption, fmt::format(f, std::forward<Args>(args)...), std::move(ctx)));
    }
    [[nodiscard]] bool full() const noexcept { return r_.more_problems; }

private:
    verify_result& r_;
    std::size_t max_;
};

[[nodiscard]] inline bool is_finding(const error& e) noexcept {
    return e.value() == errc::corruption || e.value() == errc::unsupported_version;
}

inline void check_manifest_consistency(const format::manifest& m, const std::string& path, problem_list& out) {
    std::set<std::uint32_t> ids;
    for (const auto& c : m.collections) ids.insert(c.id);
    std::set<std::pair<std::uint32_t, std::vector<std::string>>> fields;
    for (const auto& ix : m.indexes) {
        if (!ids.contains(ix.collection_id))
            out.add({.path = path}, "MANIFEST: index {} names collection id {}, which no collection has", ix.id,
                    ix.collection_id);
        if (!fields.emplace(ix.collection_id, ix.path).second)
            out.add({.path = path}, "MANIFEST: index {} repeats the field path '{}' of an earlier index of collection {}",
                    ix.id, join_path(ix.path), ix.collection_id);
    }
}

// Step 6: the engine builds the indexes the way open does; a scan computes what they must hold.
template <typename Traits>
void check_secondary_indexes(engine<Traits>& e, verify_result& r, problem_list& out) {
    const auto manifest_path = (*e.directory() / "MANIFEST").string();
    try {
        e.build_indexes();
    } catch (const error& err) {
        out.add({.path = manifest_path}, "secondary indexes cannot be built as open builds them: {}", err.detail());
        return;
    }
    const auto cat = e.catalog_snapshot();
    for (const auto& ix : cat->indexes()) {
        const auto& def = ix->definition();
        const auto what = fmt::format("index {} on '{}' of collection '{}'", def.id, join_path(def.path),
                                      cat->name_of(def.collection_id));
        std::map<index_key, std::vector<entity_id>> expected;
        std::uint64_t total = 0;
        std::optional<entity_id> last;
        while (auto next = e.index().next_live(def.collection_id, last ? &*last : nullptr, no_readers)) {
            last = next->first;
            byte_buffer bytes;
            try {
                bytes = e.read_payload(def.collection_id, next->first, next->second);
            } catch (const error&) {
                continue;  // reported by step 5
            }
            if (const auto key = ix->key_of(bytes)) {
                expected[*key].push_back(next->first);
                ++total;
            }
        }
        ++r.indexes_checked;
        for (const auto& [key, ids] : expected) {
            if (def.unique && ids.size() > 1)
                out.add({.path = manifest_path}, "unique {} holds one key for entities {} and {}", what,
                        ids[0].to_hex(), ids[1].to_hex());
            if (ix->live_holders(key) != ids)
                out.add({.path = manifest_path}, "{} does not hold the entities a scan finds for one of its keys "
                                                 "(first: {})",
                        what, ids.front().to_hex());
            r.index_entries_checked += ids.size();
            if (out.full()) return;
        }
        if (const auto held = ix->entry_count(open_ended - 1); held != total)
            out.add({.path = manifest_path}, "{} holds {} entries, a scan computes {}", what, held, total);
    }
}

}  // namespace detail

[[nodiscard]] inline verify_result verify_report(const std::filesystem::path& path, config cfg = {},
                                                 std::size_t max_problems = 16) {
    cfg.read_only = true;  // writes nothing, and works where the user may only read
    verify_result out;
    detail::problem_list problems(out, std::max<std::size_t>(max_problems, 1));
    file_storage::environment env;
    std::shared_ptr<detail::engine<file_storage>> e;
    try {
        e = detail::engine_over<file_storage>(path, cfg, detail::open_directory<file_storage>(path, cfg, env));
    } catch (const error& err) {
        if (!detail::is_finding(err)) throw;
        problems.add(err);
        return out;
    }
    const auto manifest_path = (path / "MANIFEST").string();
    detail::check_manifest_consistency(e->manifest(), manifest_path, problems);

    detail::recovery<file_storage> check(*e, /*dry_run=*/true);
    try {
        check.run();
    } catch (const error& err) {
        if (!detail::is_finding(err)) throw;
        problems.add(err);
        return out;
    }
    out.segment_records = e->report().segment_records;
    out.wal_records = e->report().wal_records;
    out.segments = e->segments().segments().size();
    if (check.segment_cut()) out.segment_torn_at = check.segment_cut();
    if (check.wal_end() < e->wal().size()) out.wal_torn_at = check.wal_end();
    out.pending_compaction = check.pending_compaction();
    out.stray_temporaries = check.stray_temporaries();

    const auto next_id = e->manifest().next_collection_id;
    if (const auto stray = e->index().first_collection_not_below(next_id))
        problems.add({.path = manifest_path}, "segment records name collection id {}, which the MANIFEST does not know",
                     *stray);
    for (std::uint32_t c = 1; c < next_id && !problems.full(); ++c) {
        std::optional<entity_id> last;
        while (auto next = e->index().next_live(c, last ? &*last : nullptr, detail::no_readers)) {
            last = next->first;
            const error_context where{.path = e->segment_path(next->second.location.segment),
                                      .offset = next->second.location.offset};
            try {
                const auto bytes = e->read_payload(c, next->first, next->second);
                cbor::validate(bytes);
            } catch (const error& err) {
                if (err.value() == errc::invalid_cbor || err.value() == errc::non_canonical)
                    problems.add(where, "entity {} holds bytes that are not canonical CBOR: {}", next->first.to_hex(),
                                 err.detail());
                else if (detail::is_finding(err))
                    problems.add(err);
                else
                    throw;
            }
            ++out.entities_checked;
            if (problems.full()) break;
        }
    }
    if (!problems.full()) detail::check_secondary_indexes(*e, out, problems);
    return out;
}

[[nodiscard]] inline verify_result verify(const std::filesystem::path& path, config cfg = {}) {
    auto r = verify_report(path, std::move(cfg));
    if (!r.ok()) {
        const auto& p = r.problems.front();
        const auto more = r.problems.size() - 1;
        throw error(p.code,
                    more == 0 ? p.detail
                              : fmt::format("{} (and {}{} more problem{})", p.detail, more, r.more_problems ? "+" : "",
                                            more == 1 && !r.more_problems ? "" : "s"),
                    {.path = p.path, .offset = p.offset});
    }
    return r;
}

}  // namespace v1
}  // namespace entidb
