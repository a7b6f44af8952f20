// entidb/index/detail/primary_table.hpp — one collection's part of the primary index
// (index/primary_index.hpp): entity id → newest version's record location, plus the older
// versions open snapshots still need.
//
// Layout, per collection (docs/indexes.md, "Memory"): a sorted array of 40-byte slots, each
// holding one key's newest version, laid out for lookups (index/detail/slot_array.hpp:
// spread, about 50 bytes per live entity and one cache miss a lookup, or dense and guided,
// about 42-46 bytes and two misses); a small ordered map of the keys added since the array
// was last laid out (detail/chunked_map.hpp: sorted chunks, no node per key); and a side
// map of the older versions open snapshots still need (empty unless a reader holds a
// snapshot older than a write). Commit sequences must not exceed primary_index::max_sequence:
// the tombstone flag shares their word.
//
// Merges fold the recent keys into a new array laid out beside the live one (merged(), a
// read of the table that may run beside readers), which install() then swaps in: readers
// never wait for a merge, only for the swap.
//
// Opening a database streams every record through apply() in commit order with no reader
// open. While a collection is empty and its writes come that way, apply() only appends; the
// first read sorts the appended slots once (a bulk build), which is much cheaper than
// inserting them one by one and never holds two copies of the array.
//
// Thread-safety: none. primary_index serialises every change and takes the shared side of
// its gate for lookups.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../../entity_id.hpp"
#include "../../segment/record_location.hpp"
#include "slot_array.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// How many put records in each segment are no longer the newest version of their key
// (replaced, deleted, written again elsewhere, or older than what the index already held).
// A segment with none holds only versions that are still current, so a scan in storage
// order takes every put record in it that its snapshot can see without asking the index
// (storage_range, txn/snapshot.hpp). Tombstone records are never counted: scans skip them.
class superseded_counts {
public:
    void note(const packed_version& v) {
        if (!v.tombstone() && !v.erased()) ++by_segment_[v.segment];
    }
    void note(const entity_version& v) {
        if (!v.tombstone) ++by_segment_[v.location.segment];
    }
    [[nodiscard]] std::uint64_t of(std::uint32_t segment) const {
        const auto it = by_segment_.find(segment);
        return it == by_segment_.end() ? 0 : it->second;
    }

    // Every segment's count, and setting one (the persisted index: primary_index_file.hpp).
    [[nodiscard]] const std::unordered_map<std::uint32_t, std::uint64_t>& all() const noexcept { return by_segment_; }
    void set(std::uint32_t segment, std::uint64_t count) { by_segment_[segment] = count; }

private:
    std::unordered_map<std::uint32_t, std::uint64_t> by_segment_;
};

// Order of a bulk build: by key, then by sequence (a key's last write sorts last).
struct build_order {
    [[nodiscard]] bool operator()(const index_slot& a, const index_slot& b) const noexcept {
        if (a.key == b.key) return a.v.seq_tomb < b.v.seq_tomb;
        return a.key < b.key;
    }
};

// Sorts in build order. Up to `passes` radix passes, each on the byte below the bits every
// key in the range shares, cut random ids into buckets small enough to sort in cache;
// std::sort finishes each. Ids with long common prefixes cost no more than std::sort.
inline void sort_for_build(index_slot* a, std::size_t n, int passes) {
    if (n <= 256 || passes == 0) {
        std::sort(a, a + n, build_order{});
        return;
    }
    id_key lo = a[0].key, hi = a[0].key;
    for (std::size_t i = 1; i < n; ++i) {
        lo = std::min(lo, a[i].key);
        hi = std::max(hi, a[i].key);
    }
    const unsigned from = common_prefix(lo, hi);
    if (from + 8 > 128) {
        std::sort(a, a + n, build_order{});
        return;
    }
    const auto digit = [from](const index_slot& s) { return static_cast<std::size_t>(bits_from(s.key, from) >> 56); };
    std::array<std::size_t, 257> start{};
    for (std::size_t i = 0; i < n; ++i) ++start[digit(a[i]) + 1];
    for (std::size_t b = 0; b < 256; ++b) start[b + 1] += start[b];
    std::array<std::size_t, 256> next{};
    std::copy_n(start.begin(), 256, next.begin());
    for (std::size_t b = 0; b < 256; ++b)
        while (next[b] < start[b + 1]) {  // carry each misplaced slot round its cycle to its bucket
            index_slot s = a[next[b]];
            for (std::size_t d = digit(s); d != b; d = digit(s)) std::swap(s, a[next[d]++]);
            a[next[b]++] = s;
        }
    for (std::size_t b = 0; b < 256; ++b) sort_for_build(a + start[b], start[b + 1] - start[b], passes - 1);
}


// One collection's keys, unsynchronised (primary_index locks). Invariant: a key has at most
// one slot across `base_` and `recent_`, so a lookup that finds it in `base_` is done, and
// writing a key that has a slot (even an erased one) updates the slot in place.
class primary_table {
public:
    explicit primary_table(std::uint32_t collection) : collection_(collection) {}

    [[nodiscard]] std::uint32_t collection() const noexcept { return collection_; }
    [[nodiscard]] bool empty() const noexcept { return base_.live() == 0 && recent_.empty(); }

    // How lookups find a slot in the array (tests, docs/indexes.md "Memory").
    using layout = slot_array::layout;
    [[nodiscard]] layout lookup_layout() const noexcept { return base_.lookup_layout(); }

    // Appends the write if it can be part of a bulk build: the table was empty when the
    // build began, no snapshot can need the version it replaces (v.sequence <= oldest), and
    // (sequence, key) strictly increases, as when open replays the segments. Then a key's
    // last write is its newest version and a deleted key simply disappears, as if each
    // write had been applied. Returns false, changing nothing, otherwise.
    bool try_build(const id_key& k, const entity_version& v, std::uint64_t oldest) {
        if (v.sequence > oldest) return false;
        const bool in_order = v.sequence > last_sequence_ || (v.sequence == last_sequence_ && last_key_ < k);
        if (building_ ? !in_order : !(base_.empty() && recent_.empty() && older_.empty())) return false;
        building_ = true;
        last_sequence_ = v.sequence;
        last_key_ = k;
        base_.unlaid().push_back({k, packed_version::of(v)});
        return true;
    }

    // Sorts the appended writes and keeps each key's last one, unless that deleted it.
    void finish_build(superseded_counts& superseded) {
        if (!building_) return;
        building_ = false;
        auto& slots = base_.unlaid();
        sort_for_build(slots.data(), slots.size(), 2);
        std::size_t out = 0;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            if (i + 1 < slots.size() && slots[i + 1].key == slots[i].key) {
                superseded.note(slots[i].v);
                continue;
            }
            if (!slots[i].v.tombstone()) slots[out++] = slots[i];
        }
        slots.resize(out);
        slots.shrink_to_fit();
        base_.lay_out(recent_keys{});
    }

    void apply(const id_key& k, const entity_version& v, std::uint64_t oldest, superseded_counts& superseded) {
        const auto cur = held(k);
        if (cur.v != nullptr && !cur.v->erased()) {
            if (v.sequence < cur.v->sequence()) {  // replayed: already superseded
                superseded.note(v);
                return;
            }
            if (!(cur.v->location() == v.location)) superseded.note(*cur.v);
            if (v.sequence == cur.v->sequence())
                *cur.v = packed_version::of(v);  // the same commit's record, found elsewhere
            else
                push_newest(k, cur, v, oldest);
            return;
        }
        if (v.tombstone && v.sequence <= oldest) return;  // a deletion of nothing any snapshot sees
        if (cur.v != nullptr) {  // an erased slot comes back in place
            *cur.v = packed_version::of(v);
            base_.note_restored();
            return;
        }
        recent_.insert(k, packed_version::of(v));
    }

    // Whether the recent keys or the erased slots have grown enough to fold them into a new
    // array (amortised: about 16 slot moves per key the merge folds in), or, with
    // `any_erased`, whether any slot is erased (compaction's prune gives all that back).
    [[nodiscard]] bool merge_due(bool any_erased = false) const noexcept {
        if (recent_.size() > std::max<std::size_t>(1024, base_.size() / 16)) return true;
        const std::size_t erased = base_.erased();
        return any_erased ? erased > 0 : erased > (base_.live() + erased) / 2;
    }

    // The array a merge installs: the live slots and the recent keys, laid out. Only reads
    // the table, so it runs beside readers; nothing may change the table meanwhile.
    [[nodiscard]] slot_array merged() const {
        auto next = base_.live_copy(recent_.size());
        next.lay_out(recent_);
        return next;
    }

    // What install() replaced, to be freed after the lock is released.
    struct retired {
        slot_array base;
        recent_keys recent;
    };

    // Puts `next` (from merged(), with nothing changed since) in place of the array and the
    // recent keys. O(1): the caller holds readers off only for this.
    [[nodiscard]] retired install(slot_array&& next) noexcept {
        retired old{std::move(base_), std::move(recent_)};
        base_ = std::move(next);
        recent_ = recent_keys{};
        return old;
    }

    // Starts loading the memory a lookup of `k` reads first (a hint: changes nothing).
    void prefetch(const id_key& k) const noexcept { base_.prefetch(k); }

    // ---- the persisted index (index/primary_index_file.hpp) ----

    // The table's newest versions as one laid-out array: the array itself while no keys
    // wait beside it, else `scratch`, filled with merged(). Older versions are left out:
    // they serve snapshots of this process only.
    [[nodiscard]] const slot_array& image(slot_array& scratch) const {
        base_.check_all();  // a mapped array's slots are written as they are: only checked ones
        if (recent_.empty()) return base_;
        scratch = merged();
        return scratch;
    }

    // A table holding `base` (a persisted image) and nothing else.
    [[nodiscard]] static primary_table adopted(std::uint32_t collection, slot_array&& base) {
        primary_table t(collection);
        t.base_ = std::move(base);
        return t;
    }

    [[nodiscard]] std::optional<entity_version> find(const id_key& k, std::uint64_t snapshot) const {
        const auto* cur = held(k).v;
        if (cur == nullptr || cur->erased()) return std::nullopt;
        return visible(k, *cur, snapshot);
    }

    // Calls f(key, version) for the keys after `after` (all keys when null) live at
    // `snapshot`, in key order, walking `base_` and `recent_` together, until f returns false.
    template <typename F>
    void visit_live(const id_key* after, std::uint64_t snapshot, F&& f) const {
        std::size_t i = 0;
        auto r = recent_.begin();
        if (after != nullptr) {
            i = base_.lower_bound(*after);
            if (i < base_.size() && base_[i].key == *after) ++i;
            r = recent_.upper_bound(*after);
        }
        while (i < base_.size() || r != recent_.end()) {
            const id_key* k = nullptr;
            const packed_version* cur = nullptr;
            // A mapped array's blocks are checked as the walk enters them (the first one's by lower_bound).
            if (i % checked_blocks::block == 0 && i < base_.size()) base_.check_slots(i);
            if (i < base_.size() && (r == recent_.end() || base_[i].key < r->first)) {
                k = &base_[i].key;
                cur = &base_[i++].v;
            } else {
                k = &r->first;
                cur = &(r++)->second;
            }
            if (cur->erased()) continue;
            if (auto v = visible(*k, *cur, snapshot); v && !v->tombstone && !f(*k, *v)) return;
        }
    }

    // Keeps the versions some reader sees: for each of `readers` (the sequences read, in
    // ascending order, the latest state among them) the newest version at or below it,
    // except tombstones that hide nothing kept (a key left with a tombstone alone goes; its
    // slot is marked erased until the next merge, which merge_due(true) asks for).
    void prune_all(const std::vector<std::uint64_t>& readers) {
        for (auto it = older_.begin(); it != older_.end();) {
            keep_seen(it->second, held(it->first).v->sequence(), readers);
            it = it->second.empty() ? older_.erase(it) : std::next(it);
        }
        // A key that kept older versions has a put some reader sees: it stays.
        const auto lone_tombstone = [this](const id_key& k, const packed_version& v) {
            return !v.erased() && v.tombstone() && !older_.contains(k);
        };
        base_.check_all();
        for (auto& s : base_)
            if (lone_tombstone(s.key, s.v)) {
                s.v.seq_tomb = packed_version::erased_mark;
                base_.note_erased();
            }
        recent_.erase_if(lone_tombstone);
    }

    [[nodiscard]] bool holds(const id_key& k, const record_location& loc) const {
        const auto* cur = held(k).v;
        if (cur == nullptr || cur->erased()) return false;
        if (cur->location() == loc) return true;
        const auto* versions = older_of(k);
        return versions != nullptr &&
               std::any_of(versions->begin(), versions->end(), [&](const auto& v) { return v.location == loc; });
    }

    [[nodiscard]] std::uint64_t version_count() const {
        std::uint64_t n = base_.live() + recent_.size();
        for (const auto& [_, versions] : older_) n += versions.size();
        return n;
    }

    // The old segment goes with the compaction; an older version moved into a new one
    // counts there as superseded.
    bool relocate(const id_key& k, std::uint64_t sequence, const record_location& to, superseded_counts& superseded) {
        auto* cur = held(k).v;
        if (cur == nullptr || cur->erased()) return false;
        if (cur->sequence() == sequence) {
            cur->move_to(to);
            return true;
        }
        if (const auto it = older_.find(k); it != older_.end())
            for (auto& v : it->second)
                if (v.sequence == sequence) {
                    v.location = to;
                    superseded.note(v);
                    return true;
                }
        return false;
    }

    // Heap bytes held, counted by capacity; the hash of older versions is estimated at its
    // element size plus the libstdc++ node header.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        constexpr std::size_t hash_node = 2 * sizeof(void*);
        std::size_t n = base_.memory_bytes() + recent_.memory_bytes() + older_.bucket_count() * sizeof(void*);
        for (const auto& [_, versions] : older_)
            n += sizeof(decltype(older_)::value_type) + hash_node + versions.capacity() * sizeof(entity_version);
        return n;
    }

private:
    // Where a key's newest version is held, if anywhere.
    struct held_version {
        packed_version* v = nullptr;
        bool in_base = false;
    };

    [[nodiscard]] held_version held(const id_key& k) {
        if (const auto i = base_.lower_bound(k); i < base_.size() && base_[i].key == k) return {&base_[i].v, true};
        return {recent_.find(k), false};
    }
    [[nodiscard]] held_version held(const id_key& k) const { return const_cast<primary_table*>(this)->held(k); }

    [[nodiscard]] const std::vector<entity_version>* older_of(const id_key& k) const {
        if (older_.empty()) return nullptr;  // the usual case: no snapshot holds history
        const auto it = older_.find(k);
        return it == older_.end() ? nullptr : &it->second;
    }

    // The version a reader at `snapshot` sees, given the key's newest.
    [[nodiscard]] std::optional<entity_version> visible(const id_key& k, const packed_version& newest,
                                                        std::uint64_t snapshot) const {
        if (newest.sequence() <= snapshot) return newest.unpack();
        if (const auto* versions = older_of(k))
            for (const auto& v : *versions)
                if (v.sequence <= snapshot) return v;
        return std::nullopt;
    }

    // Of a key's older versions (newest first, below a newest of sequence `newest`), keeps
    // those a reader sees: a version is read by the readers at or above its sequence and
    // below the next newer version's. The oldest kept ones go while they are tombstones:
    // with nothing older kept, a reader sees the key absent without them.
    static void keep_seen(std::vector<entity_version>& newest_first, std::uint64_t newest,
                          const std::vector<std::uint64_t>& readers) {
        std::size_t out = 0;
        std::uint64_t next_newer = newest;
        for (const auto& v : newest_first) {
            const auto r = std::lower_bound(readers.begin(), readers.end(), v.sequence);
            if (r != readers.end() && *r < next_newer) newest_first[out++] = v;
            next_newer = v.sequence;
        }
        while (out > 0 && newest_first[out - 1].tombstone) --out;
        newest_first.resize(out);
    }

    // Keeps every version newer than the oldest snapshot plus the one that snapshot sees.
    static void prune(std::vector<entity_version>& newest_first, std::uint64_t oldest) {
        for (std::size_t i = 0; i < newest_first.size(); ++i)
            if (newest_first[i].sequence <= oldest) {
                newest_first.resize(i + 1);
                return;
            }
    }

    // `v` (newer than the key's newest) becomes the newest; the version it replaces is kept
    // while a snapshot at or above `oldest` may still read it.
    void push_newest(const id_key& k, held_version cur, const entity_version& v, std::uint64_t oldest) {
        if (v.sequence > oldest) {
            auto& versions = older_[k];
            versions.insert(versions.begin(), cur.v->unpack());
            prune(versions, oldest);
            *cur.v = packed_version::of(v);
            return;
        }
        if (!older_.empty()) older_.erase(k);  // every snapshot sees `v`
        if (!v.tombstone) {
            *cur.v = packed_version::of(v);
        } else if (!cur.in_base) {
            recent_.erase(k);  // a lone deletion no snapshot needs: the key goes
        } else {
            cur.v->seq_tomb = packed_version::erased_mark;  // merge_due() bounds the waste
            base_.note_erased();
        }
    }

    std::uint32_t collection_;
    slot_array base_;                  // unsorted while building_
    recent_keys recent_;               // keys not in base_, added since the last merge
    std::unordered_map<id_key, std::vector<entity_version>, id_key_hash> older_;  // below the newest, newest first
    bool building_ = false;
    std::uint64_t last_sequence_ = 0;  // of the last write appended while building_
    id_key last_key_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
