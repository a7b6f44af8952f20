// entidb/index/primary_index.hpp — (collection, entity id) → where each version lives.
//
// Payloads stay on disk: an entry holds record locations, never payload bytes, so memory
// grows with the number of live entities, not their size. Each key keeps its versions
// newest first; a reader with snapshot S sees the newest version whose sequence is <= S
// (MVCC by commit sequence). Versions older than the oldest open snapshot's are pruned when
// a key is written; a compaction prunes to exactly the versions readers see (prune_all).
// Tombstones are versions too, until no snapshot can see what they hide.
//
// The table of one collection — the sorted slot array and its layout, the recent keys and
// the older versions — is index/detail/primary_table.hpp; this header is the locked front
// end over one table per collection: the gate readers share, the writer mutex every change
// takes, the merges, and the bulk build that the first read finishes.
//
// Thread-safety: internally synchronised. Every change (commits, recovery, compaction, a
// bulk build's end) holds `writer_`, so changes are serial. Lookups take the shared side of
// the gate for one lookup; a change takes its exclusive side only while it writes a few
// slots. A merge lays the new array out under `writer_` alone — readers go on reading the
// live one meanwhile, since nothing changes it — and takes the gate exclusively only to swap
// the arrays (O(1)); the replaced array is freed after the gate is released. So a reader
// waits at most for one commit's slot updates or a swap, never for a merge or a free. No
// reader ever holds the gate while doing I/O.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "../detail/build_lock.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../segment/record_location.hpp"
#include "detail/primary_table.hpp"

namespace entidb {
inline namespace v1 {

class primary_index {
public:
    // The largest commit sequence the index holds (the tombstone flag shares its word).
    static constexpr std::uint64_t max_sequence = (std::uint64_t{1} << 63) - 2;

    // Records `v` as the newest version of the key, keeping older versions only while a
    // snapshot at or above `oldest_snapshot` may still need them. A version whose sequence
    // is not above the newest held one is ignored (replay is idempotent), except that an
    // equal sequence moves the location (the same record written twice).
    // Errors: errc::corruption if v.sequence exceeds max_sequence (nothing is changed).
    void apply(std::uint32_t collection, const entity_id& id, const entity_version& v,
               std::uint64_t oldest_snapshot) {
        if (v.sequence > max_sequence)
            fail(errc::corruption, "commit sequence {} of entity {} is beyond the largest the index holds ({})",
                 v.sequence, id.to_hex(), max_sequence);
        const auto k = detail::key_of(id);
        const std::lock_guard changing(writer_);
        detail::primary_table* t = nullptr;
        {
            const std::unique_lock lock(mutex_);
            t = &table_for(collection);
            if (t->try_build(k, v, oldest_snapshot)) {
                building_ = true;
                ++applied_;
                return;
            }
            t->finish_build(superseded_);
            t->apply(k, v, oldest_snapshot, superseded_);
        }
        ++applied_;
        if (!merges_held_ && t->merge_due()) merge_beside(*t);
    }

    // Open applies the records a mapped index file does not cover with merges held, and
    // then merges once (release_merges): no reader is there to be served meanwhile, and one
    // merge of the file's array is much cheaper than one per 1/16 of growth.
    void hold_merges() {
        const std::lock_guard changing(writer_);
        merges_held_ = true;
    }
    void release_merges() {
        const std::lock_guard changing(writer_);
        merges_held_ = false;
        for (auto& t : tables_)
            if (t.merge_due()) merge_beside(t);
    }

    // Starts loading what apply() for this key will read first, so that a writer applying
    // many keys overlaps their cache misses. A hint with no effect on the contents. Under
    // the shared lock: a reader may be finishing a bulk build meanwhile.
    void prefetch(std::uint32_t collection, const entity_id& id) const noexcept {
        const std::shared_lock lock(mutex_);
        if (building_) return;  // the array is unsorted until the build finishes
        if (const auto* t = table_of(collection)) t->prefetch(detail::key_of(id));
    }

    // The version visible at `snapshot`, if any (a tombstone is returned as such).
    [[nodiscard]] std::optional<entity_version> find(std::uint32_t collection, const entity_id& id,
                                                     std::uint64_t snapshot) const {
        const auto lock = read_lock();
        const auto* t = table_of(collection);
        return t ? t->find(detail::key_of(id), snapshot) : std::nullopt;
    }

    // The first live entity strictly after `after` (or from the start when `after` is
    // null) in id order, as seen at `snapshot`. One short lock per step: a scan never
    // blocks the writer for longer than one lookup.
    [[nodiscard]] std::optional<std::pair<entity_id, entity_version>> next_live(
        std::uint32_t collection, const entity_id* after, std::uint64_t snapshot) const {
        std::optional<std::pair<entity_id, entity_version>> out;
        visit_live(collection, after, snapshot, [&](const entity_id& id, const entity_version& v) {
            out.emplace(id, v);
            return false;
        });
        return out;
    }

    // The same for up to `max` entities at once, into `out` (cleared; its capacity is
    // reused): scans take the lock and find their place once per batch, not per entity.
    void next_live_batch(std::uint32_t collection, const entity_id* after, std::uint64_t snapshot,
                         std::vector<std::pair<entity_id, entity_version>>& out, std::size_t max) const {
        out.clear();
        visit_live(collection, after, snapshot, [&](const entity_id& id, const entity_version& v) {
            out.emplace_back(id, v);
            return out.size() < max;
        });
    }

    // Drops every version no reader sees, keeping for each of `readers` (the sequences of
    // the open snapshots and the latest state, ascending; not empty) the newest version at
    // or below it, and no tombstone that hides nothing kept (compaction keeps exactly what
    // the index holds).
    void prune_all(const std::vector<std::uint64_t>& readers) {
        const std::lock_guard changing(writer_);
        {
            const std::unique_lock lock(mutex_);
            finish_builds();
            for (auto& t : tables_) t.prune_all(readers);
        }
        for (auto& t : tables_)
            if (t.merge_due(true)) merge_beside(t);
    }

    // The smallest collection id >= `bound` that has entries (stray ids, for verify).
    [[nodiscard]] std::optional<std::uint32_t> first_collection_not_below(std::uint32_t bound) const {
        const auto lock = read_lock();
        for (auto it = first_table_not_below(bound); it != tables_.end(); ++it)
            if (!it->empty()) return it->collection();
        return std::nullopt;
    }

    // ---- compaction (core/compaction.hpp), under the writer lock ----

    // True if some version of the key lives exactly at `loc` (compaction keeps it).
    [[nodiscard]] bool holds(std::uint32_t collection, const entity_id& id, const record_location& loc) const {
        const auto lock = read_lock();
        const auto* t = table_of(collection);
        return t && t->holds(detail::key_of(id), loc);
    }

    // How many versions the index holds, over every key (tombstones included).
    [[nodiscard]] std::uint64_t version_count() const {
        const auto lock = read_lock();
        std::uint64_t n = 0;
        for (const auto& t : tables_) n += t.version_count();
        return n;
    }

    // Moves the key's version of commit `sequence` to `to` (a copy of the same record in a
    // compacted segment). A reader sees either location, both hold the same bytes. Returns
    // false if there is no such version.
    bool relocate(std::uint32_t collection, const entity_id& id, std::uint64_t sequence, const record_location& to) {
        const std::lock_guard changing(writer_);
        const std::unique_lock lock(mutex_);
        finish_builds();
        auto* t = table_of(collection);
        return t && t->relocate(detail::key_of(id), sequence, to, superseded_);
    }

    // superseded_counts::of for each of `segments`, into `out` (storage-order scans).
    void superseded(const std::vector<std::uint32_t>& segments, std::vector<std::uint64_t>& out) const {
        const auto lock = read_lock();
        out.clear();
        for (const auto s : segments) out.push_back(superseded_.of(s));
    }

    // How lookups in the collection find their slot (docs/indexes.md, "Memory"; tests).
    [[nodiscard]] detail::primary_table::layout lookup_layout(std::uint32_t collection) const {
        const auto lock = read_lock();
        const auto* t = table_of(collection);
        return t ? t->lookup_layout() : detail::primary_table::layout::bisected;
    }

    // Heap bytes the index holds, by capacity (docs/indexes.md, "Memory"; tests and tools).
    [[nodiscard]] std::size_t memory_bytes() const {
        const auto lock = read_lock();
        std::size_t n = tables_.capacity() * sizeof(detail::primary_table);
        for (const auto& t : tables_) n += t.memory_bytes();
        return n;
    }

    // ---- the persisted index (index/primary_index_file.hpp) ----

    // One collection's newest versions, as the image passes them.
    struct image_table {
        std::uint32_t collection;
        const detail::slot_array* slots;
    };

    // Calls f(tables, superseded) with every non-empty table laid out as one array and the
    // superseded counts, holding off every change meanwhile (not readers). Tables with keys
    // waiting beside their array are merged into a temporary copy for it.
    template <typename F>
    void with_image(F&& f) const {
        const std::lock_guard changing(writer_);
        const_cast<primary_index*>(this)->finish_builds_as_change();
        std::vector<detail::slot_array> scratch(tables_.size());
        std::vector<image_table> tables;
        for (std::size_t i = 0; i < tables_.size(); ++i)
            if (!tables_[i].empty()) tables.push_back({tables_[i].collection(), &tables_[i].image(scratch[i])});
        f(tables, superseded_.all());
    }

    // Takes `tables` (ascending collection ids) and `superseded` as the index's whole
    // contents. Only on an empty index, before it is shared (open).
    void adopt(std::vector<std::pair<std::uint32_t, detail::slot_array>>&& tables,
               const std::vector<std::pair<std::uint32_t, std::uint64_t>>& superseded) {
        const std::lock_guard changing(writer_);
        const std::unique_lock lock(mutex_);
        tables_.clear();
        for (auto& [c, a] : tables) tables_.push_back(detail::primary_table::adopted(c, std::move(a)));
        for (const auto& [segment, count] : superseded) superseded_.set(segment, count);
        applied_ = 0;
    }

    // Changes applied since open or the last image was taken (mark_imaged): when a new
    // image is worth writing (core/index_file.hpp).
    [[nodiscard]] std::uint64_t applied_since_image() const {
        const std::lock_guard changing(writer_);
        return applied_;
    }
    void mark_imaged() {
        const std::lock_guard changing(writer_);
        applied_ = 0;
    }

    // Tests: `f` runs in every merge after the new array is laid out and before it is
    // swapped in (readers must not be waiting then). Set before the index is shared.
    void on_merge_built(std::function<void()> f) { on_merge_built_ = std::move(f); }

private:
    template <typename F>
    void visit_live(std::uint32_t collection, const entity_id* after, std::uint64_t snapshot, F&& f) const {
        const auto from = after ? std::optional{detail::key_of(*after)} : std::nullopt;
        const auto lock = read_lock();
        if (const auto* t = table_of(collection))
            t->visit_live(from ? &*from : nullptr, snapshot,
                          [&](const detail::id_key& k, const entity_version& v) { return f(detail::id_of(k), v); });
    }

    // Folds the table's recent keys and erased slots into a new array laid out beside the
    // live one, then swaps it in. The caller holds writer_ (so nothing changes the table
    // while it is read) and not the gate.
    void merge_beside(detail::primary_table& t) {
        auto next = t.merged();
        if (on_merge_built_) on_merge_built_();
        detail::primary_table::retired old;
        {
            const std::unique_lock lock(mutex_);
            old = t.install(std::move(next));
        }
    }  // `old` is freed here, readers already on the new array

    // A shared lock on an index with no bulk build pending. The first read after a build
    // finishes it as a change (writer_, then the gate exclusively); only open builds, before
    // the database is shared.
    [[nodiscard]] std::shared_lock<detail::shared_gate> read_lock() const {
        // Only an index that apply() wrote to builds, so this is not a const object.
        return detail::shared_lock_built(mutex_, writer_, [&] { return building_; },
                                         [&] { const_cast<primary_index*>(this)->finish_builds(); });
    }

    // finish_builds() for a caller that holds writer_ but not the gate.
    void finish_builds_as_change() {
        if (!building_) return;
        const std::unique_lock lock(mutex_);
        finish_builds();
    }

    void finish_builds() {
        for (auto& t : tables_) t.finish_build(superseded_);
        building_ = false;
    }

    [[nodiscard]] std::vector<detail::primary_table>::const_iterator first_table_not_below(std::uint32_t c) const {
        return std::ranges::lower_bound(tables_, c, {}, &detail::primary_table::collection);
    }
    [[nodiscard]] const detail::primary_table* table_of(std::uint32_t c) const {
        const auto it = first_table_not_below(c);
        return it != tables_.end() && it->collection() == c ? &*it : nullptr;
    }
    [[nodiscard]] detail::primary_table* table_of(std::uint32_t c) {
        return const_cast<detail::primary_table*>(std::as_const(*this).table_of(c));
    }
    detail::primary_table& table_for(std::uint32_t c) {
        const auto it = first_table_not_below(c);
        if (it != tables_.end() && it->collection() == c) return tables_[static_cast<std::size_t>(it - tables_.begin())];
        return *tables_.emplace(it, c);
    }

    mutable std::mutex writer_;  // held by every change, before the gate
    mutable detail::shared_gate mutex_;
    std::vector<detail::primary_table> tables_;  // sorted by collection id
    detail::superseded_counts superseded_;
    bool building_ = false;                      // some table has a bulk build pending
    std::function<void()> on_merge_built_;       // tests only
    std::uint64_t applied_ = 0;                  // changes since open or the last image (writer_)
    bool merges_held_ = false;                   // hold_merges (writer_)
};

}  // namespace v1
}  // namespace entidb
