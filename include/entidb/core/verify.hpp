// entidb/core/verify.hpp — the checks of entidb::verify (verify.hpp has the list) on an
// engine built over a directory and never recovered: the MANIFEST's consistency, a dry
// recovery (every record checked, nothing truncated or replayed), every live entity read
// back, and every secondary index rebuilt and compared with a scan.
//
// Thread-safety: one call owns its engine; the directory's LOCK is taken shared by the open.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../cbor/reader.hpp"
#include "../config.hpp"
#include "../error.hpp"
#include "../verify_result.hpp"
#include "engine.hpp"
#include "open.hpp"
#include "recovery.hpp"

namespace entidb {
inline namespace v1 {
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

// Whether every id of the sorted `wanted` is in the sorted `found`.
[[nodiscard]] inline bool includes(const std::vector<entity_id>& found, const std::vector<entity_id>& wanted) {
    return std::includes(found.begin(), found.end(), wanted.begin(), wanted.end());
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
            // A text index keeps words, not texts: each entity must be found by the words of
            // its own text (and the document count must match, below).
            if (ix->searchable() ? !includes(ix->find(key, open_ended - 1), ids) : ix->live_holders(key) != ids)
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


// Steps 1-6 of verify.hpp over the directory at `path`, opened as `cfg` says (read-only
// for verify) but never recovered: recovery runs dry, so nothing is truncated or replayed.
template <typename Traits>
[[nodiscard]] verify_result verify_directory(const std::filesystem::path& path, const config& cfg,
                                             std::size_t max_problems, typename Traits::environment env) {
    verify_result out;
    problem_list problems(out, std::max<std::size_t>(max_problems, 1));
    std::shared_ptr<engine<Traits>> e;
    try {
        auto parts = open_directory<Traits>(path, cfg, env);
        finish_published_segments(path, cfg, parts);  // read-only: refused while a migration is unfinished
        e = engine_over<Traits>(path, cfg, std::move(parts));
    } catch (const error& err) {
        if (!is_finding(err)) throw;
        problems.add(err);
        return out;
    }
    const auto manifest_path = (path / "MANIFEST").string();
    check_manifest_consistency(e->manifest(), manifest_path, problems);

    recovery<Traits> check(*e, /*dry_run=*/true);
    try {
        check.run();
    } catch (const error& err) {
        if (!is_finding(err)) throw;
        problems.add(err);
        return out;
    }
    out.segment_records = e->report().segment_records;
    out.wal_records = e->report().wal_records;
    out.segments = e->segments().segments().size();
    if (check.segment_cut()) out.segment_torn_at = check.segment_cut();
    if (!check.wal_recycled() && check.wal_end() < e->wal().size()) out.wal_torn_at = check.wal_end();
    out.pending_compaction = check.pending_compaction();
    out.stray_temporaries = check.stray_temporaries();

    const auto next_id = e->manifest().next_collection_id;
    if (const auto stray = e->index().first_collection_not_below(next_id))
        problems.add({.path = manifest_path}, "segment records name collection id {}, which the MANIFEST does not know",
                     *stray);
    for (std::uint32_t c = 1; c < next_id && !problems.full(); ++c) {
        std::optional<entity_id> last;
        while (auto next = e->index().next_live(c, last ? &*last : nullptr, no_readers)) {
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
                else if (is_finding(err))
                    problems.add(err);
                else
                    throw;
            }
            ++out.entities_checked;
            if (problems.full()) break;
        }
    }
    if (!problems.full()) check_secondary_indexes(*e, out, problems);
    return out;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
