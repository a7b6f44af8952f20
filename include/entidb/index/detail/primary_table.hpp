// entidb/index/detail/primary_table.hpp — one collection's part of the primary index
// (index/primary_index.hpp): entity id → newest version's record location, plus the older
// versions open snapshots still need.
//
// Layout, per collection (docs/indexes.md, "Memory"): a flat array of 40-byte slots sorted
// by id, each holding one key's newest version; a small ordered map of the keys added since
// the array was last rebuilt (detail/chunked_map.hpp: sorted chunks, no node per key); and
// a side map of the older versions open snapshots still need (empty unless a reader holds a
// snapshot older than a write). When the ids are spread evenly (random ids, or ids counted
// up from any start), the array is *spread*: one slot in five is a gap, and each key sits
// at or a few slots after the place its id predicts, so a lookup goes straight to its slot
// (one cache miss, about 50 bytes per live entity). Otherwise the array is dense and a
// guide table over the ids' first distinguishing bits narrows a lookup to a few adjacent
// slots (two cache misses, about 42-46 bytes per live entity). Commit sequences must not
// exceed primary_index::max_sequence: the tombstone flag shares their word.
//
// Opening a database streams every record through apply() in commit order with no reader
// open. While a collection is empty and its writes come that way, apply() only appends; the
// first read sorts the appended slots once (a bulk build), which is much cheaper than
// inserting them one by one and never holds two copies of the array.
//
// Thread-safety: none. primary_index serialises every call (shared lock for lookups,
// exclusive for the writer).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../../detail/chunked_map.hpp"
#include "../../detail/flat_array.hpp"
#include "../../detail/prefetch.hpp"
#include "../../entity_id.hpp"
#include "../../segment/record_location.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {

// An entity id as two big-endian words: comparing them is comparing the ids' bytes
// (memcmp order), in two integer compares. Only == and < are defined, written out so that
// they inline into the search and sort loops.
struct id_key {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    friend constexpr bool operator==(const id_key&, const id_key&) noexcept = default;
    friend constexpr bool operator<(const id_key& a, const id_key& b) noexcept {
        return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
    }
};

[[nodiscard]] inline id_key key_of(const entity_id& id) noexcept {
    const auto& b = id.bytes();
    id_key k;
    for (std::size_t i = 0; i < 8; ++i) {
        k.hi = k.hi << 8 | b[i];
        k.lo = k.lo << 8 | b[i + 8];
    }
    return k;
}

[[nodiscard]] inline entity_id id_of(const id_key& k) noexcept {
    std::array<byte, entity_id::size> b{};
    for (std::size_t i = 0; i < 8; ++i) {
        b[i] = static_cast<byte>(k.hi >> (56 - 8 * i));
        b[i + 8] = static_cast<byte>(k.lo >> (56 - 8 * i));
    }
    return entity_id(b);
}

// The 64 bits of `k` starting `from` bits below its top (from < 128; bits past the end are 0).
[[nodiscard]] constexpr std::uint64_t bits_from(const id_key& k, unsigned from) noexcept {
    if (from == 0) return k.hi;
    if (from < 64) return k.hi << from | k.lo >> (64 - from);
    return k.lo << (from - 64);
}

// The high 64 bits of a * b.
[[nodiscard]] inline std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) noexcept {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(a) * b) >> 64);
}

// floor(2^64 * numerator / (range + 1)), or nullopt when that does not fit in 64 bits.
[[nodiscard]] inline std::optional<std::uint64_t> scale_factor(std::uint64_t numerator, std::uint64_t range) noexcept {
    __extension__ using u128 = unsigned __int128;
    if (range == std::numeric_limits<std::uint64_t>::max()) return numerator;
    const u128 f = (static_cast<u128>(numerator) << 64) / (static_cast<u128>(range) + 1);
    if (f > std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
    return static_cast<std::uint64_t>(f);
}

// How many leading bits `a` and `b` share (128 when equal).
[[nodiscard]] constexpr unsigned common_prefix(const id_key& a, const id_key& b) noexcept {
    if (a.hi != b.hi) return static_cast<unsigned>(std::countl_zero(a.hi ^ b.hi));
    return 64 + static_cast<unsigned>(std::countl_zero(a.lo ^ b.lo));
}

// Ids may be caller-chosen (sequential, mostly zero), so both words are mixed.
struct id_key_hash {
    [[nodiscard]] std::size_t operator()(const id_key& k) const noexcept {
        std::uint64_t x = k.hi ^ (k.lo * 0x9E3779B97F4A7C15ull);
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93ull;
        x ^= x >> 32;
        return static_cast<std::size_t>(x);
    }
};

// A key's newest version in 24 bytes: the tombstone flag is the low bit of the sequence
// word, and the all-ones word marks a slot whose key was erased (kept until the next merge
// so that erasing never moves the array).
struct packed_version {
    static constexpr std::uint64_t erased_mark = ~std::uint64_t{0};

    std::uint64_t seq_tomb = 0;  // sequence << 1 | tombstone
    std::uint64_t offset = 0;
    std::uint32_t segment = 0;
    std::uint32_t length = 0;

    [[nodiscard]] static packed_version of(const entity_version& v) noexcept {
        return {v.sequence << 1 | (v.tombstone ? 1u : 0u), v.location.offset, v.location.segment, v.location.length};
    }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return seq_tomb >> 1; }
    [[nodiscard]] bool tombstone() const noexcept { return (seq_tomb & 1) != 0; }
    [[nodiscard]] bool erased() const noexcept { return seq_tomb == erased_mark; }
    [[nodiscard]] record_location location() const noexcept { return {segment, length, offset}; }
    [[nodiscard]] entity_version unpack() const noexcept { return {sequence(), location(), tombstone()}; }
    void move_to(const record_location& to) noexcept {
        segment = to.segment;
        length = to.length;
        offset = to.offset;
    }
};

struct index_slot {
    id_key key;
    packed_version v;
};
static_assert(sizeof(index_slot) == 40, "an index slot is 40 bytes: the memory budget counts on it");

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
    [[nodiscard]] bool empty() const noexcept { return base_.size() == erased_ + gaps_ && recent_.empty(); }

    // How lookups find a slot in the array (tests, docs/indexes.md "Memory").
    enum class layout { bisected, guided, spread };
    [[nodiscard]] layout lookup_layout() const noexcept {
        return spread_ ? layout::spread : guide_.empty() ? layout::bisected : layout::guided;
    }

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
        base_.push_back({k, packed_version::of(v)});
        return true;
    }

    // Sorts the appended writes and keeps each key's last one, unless that deleted it.
    void finish_build(superseded_counts& superseded) {
        if (!building_) return;
        building_ = false;
        sort_for_build(base_.data(), base_.size(), 2);
        std::size_t out = 0;
        for (std::size_t i = 0; i < base_.size(); ++i) {
            if (i + 1 < base_.size() && base_[i + 1].key == base_[i].key) {
                superseded.note(base_[i].v);
                continue;
            }
            if (!base_[i].v.tombstone()) base_[out++] = base_[i];
        }
        base_.resize(out);
        base_.shrink_to_fit();
        relayout();
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
            --erased_;
            return;
        }
        recent_.insert(k, packed_version::of(v));
        if (recent_.size() > std::max<std::size_t>(1024, base_.size() / 16)) merge_recent();
    }

    // Starts loading the memory a lookup of `k` reads first (a hint: changes nothing).
    void prefetch(const id_key& k) const noexcept {
        if (base_.empty() || !(base_[0].key < k) || !(k < base_[base_.size() - 1].key)) return;
        if (spread_) prefetch_for_read(&base_[home_of(k)]);
        else if (!guide_.empty()) prefetch_for_read(&guide_[bucket_of(k)]);
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
            i = lower_bound(*after);
            if (i < base_.size() && base_[i].key == *after) ++i;
            r = recent_.upper_bound(*after);
        }
        while (i < base_.size() || r != recent_.end()) {
            const id_key* k = nullptr;
            const packed_version* cur = nullptr;
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
    // except tombstones that hide nothing kept (a key left with a tombstone alone goes).
    void prune_all(const std::vector<std::uint64_t>& readers) {
        for (auto it = older_.begin(); it != older_.end();) {
            keep_seen(it->second, held(it->first).v->sequence(), readers);
            it = it->second.empty() ? older_.erase(it) : std::next(it);
        }
        // A key that kept older versions has a put some reader sees: it stays.
        const auto lone_tombstone = [this](const id_key& k, const packed_version& v) {
            return !v.erased() && v.tombstone() && !older_.contains(k);
        };
        for (auto& s : base_)
            if (lone_tombstone(s.key, s.v)) {
                s.v.seq_tomb = packed_version::erased_mark;
                ++erased_;
            }
        recent_.erase_if(lone_tombstone);
        if (erased_ > 0) drop_erased();
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
        std::uint64_t n = base_.size() - erased_ - gaps_ + recent_.size();
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
        std::size_t n = base_.capacity() * sizeof(index_slot) + guide_.capacity() * sizeof(std::uint32_t) +
                        recent_.memory_bytes() +
                        older_.bucket_count() * sizeof(void*);
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
        if (const auto i = lower_bound(k); i < base_.size() && base_[i].key == k) return {&base_[i].v, true};
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
            cur.v->seq_tomb = packed_version::erased_mark;
            if (++erased_ > (base_.size() - gaps_) / 2) drop_erased();  // bounded waste, amortised O(1)
        }
    }

    // Index of the first slot in `base_` whose key is not below `k`. In a spread array that
    // slot is the key's home or a few slots after it. Otherwise the guide narrows the search
    // to one bucket of a few adjacent slots; keys that share long prefixes fill few buckets,
    // and a bucket of many slots is bisected, so the worst case stays O(log n).
    [[nodiscard]] std::size_t lower_bound(const id_key& k) const noexcept {
        const std::size_t n = base_.size();
        if (n == 0 || !(base_[0].key < k)) return 0;
        if (base_[n - 1].key < k) return n;
        if (spread_) {  // no slot before k's home holds a key >= k, and base_[n - 1] does
            std::size_t i = home_of(k);
            while (base_[i].key < k) ++i;
            return i;
        }
        std::size_t lo = 1, hi = n - 1;  // base_[0] < k <= base_[n - 1]
        if (!guide_.empty()) {
            const std::size_t b = bucket_of(k);
            lo = std::max<std::size_t>(lo, guide_[b]);
            hi = std::min<std::size_t>(hi, guide_[b + 1]);
        }
        while (hi - lo > 8) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (base_[mid].key < k) lo = mid + 1;
            else hi = mid;
        }
        while (lo < hi && base_[lo].key < k) ++lo;  // a few adjacent slots: a scan beats bisecting
        return lo;
    }

    // The guide's bucket for a key between the first and last in `base_` (those share the
    // first guide_from_ bits, so the next guide_bits_ bits order the buckets).
    [[nodiscard]] std::size_t bucket_of(const id_key& k) const noexcept {
        return static_cast<std::size_t>(bits_from(k, guide_from_) >> (64 - guide_bits_));
    }

    // ---- the spread layout ----
    // A spread array maps the ids between its first and last key linearly onto
    // `spread_capacity(n)` slots: a key's home is where its id falls on that line, and each
    // key sits at its home or, when keys before it took that place, in the next free slot.
    // Gaps hold the key before them, marked erased, so the array stays sorted and scans and
    // bisection skip them like erased slots; a key always sits at or after its home, never
    // before, which is what lets a lookup start there.
    static constexpr std::size_t spread_block = 64;  // positions are recomputed per block
    static constexpr std::size_t max_displacement = 64;  // a lookup scans at most this many slots
    [[nodiscard]] static constexpr std::size_t spread_capacity(std::size_t n) noexcept { return n + n / 4; }

    [[nodiscard]] std::size_t home_of(const id_key& k) const noexcept {
        return static_cast<std::size_t>(mul_high(bits_from(k, spread_from_) - spread_low_, spread_scale_));
    }

    // The slots of the dense, sorted base_[0, from) and the entries of recent_ together,
    // largest key first: the merges fill base_ from the back, in place.
    class merged_backwards {
    public:
        merged_backwards(const primary_table& t, std::size_t from) : t_(t), from_(from), r_(t.recent_.rbegin()) {}
        [[nodiscard]] bool recent_left() const noexcept { return r_ != t_.recent_.rend(); }
        // The next slot; the caller takes no more than there are.
        [[nodiscard]] index_slot take() noexcept {
            if (recent_left() && (from_ == 0 || t_.base_[from_ - 1].key < r_->first)) {
                const index_slot s{r_->first, r_->second};
                ++r_;
                return s;
            }
            return t_.base_[--from_];
        }

    private:
        const primary_table& t_;
        std::size_t from_;
        chunked_map<id_key, packed_version>::const_reverse_iterator r_;
    };

    // Calls f(slot) for the slots of the dense, sorted base_ and the entries of recent_
    // together, in key order, while f returns true; returns whether it got to the end.
    template <typename F>
    bool for_each_merged(F&& f) const {
        std::size_t i = 0;
        auto r = recent_.begin();
        while (i < base_.size() || r != recent_.end()) {
            const bool from_base = r == recent_.end() || (i < base_.size() && base_[i].key < r->first);
            const index_slot s = from_base ? base_[i++] : index_slot{r->first, r->second};
            if (!from_base) ++r;
            if (!f(s)) return false;
        }
        return true;
    }

    // Lays the dense, sorted base_ and recent_ out spread in base_, recent_ still to be
    // cleared; false, changing nothing, when the keys are too unevenly spread for that (some
    // key would sit over max_displacement slots past its home).
    bool spread_out() {
        const std::size_t n = base_.size(), total = n + recent_.size();
        if (total < 64 || total > std::numeric_limits<std::uint32_t>::max()) return false;
        const id_key& first_key = n == 0 || (!recent_.empty() && recent_.begin()->first < base_[0].key)
                                      ? recent_.begin()->first
                                      : base_[0].key;
        const id_key& last_key = n == 0 || (!recent_.empty() && base_[n - 1].key < recent_.rbegin()->first)
                                     ? recent_.rbegin()->first
                                     : base_[n - 1].key;
        spread_from_ = common_prefix(first_key, last_key);
        spread_low_ = bits_from(first_key, spread_from_);
        const auto scale = scale_factor(spread_capacity(total), bits_from(last_key, spread_from_) - spread_low_);
        if (!scale) return false;
        spread_scale_ = *scale;
        // Slot of key i: max(home(i), slot of key i - 1 + 1). Recorded once per block, so the
        // back-to-front move below can recompute each block's slots without a slot per key.
        std::vector<std::size_t> block_start((total + spread_block - 1) / spread_block);
        std::size_t next = 0;  // the first slot after the keys placed so far
        std::size_t i = 0;
        const bool even = for_each_merged([&](const index_slot& s) {
            if (i++ % spread_block == 0) block_start[(i - 1) / spread_block] = next;
            const std::size_t home = home_of(s.key);
            if (next > home + max_displacement) return false;
            next = std::max(home, next) + 1;
            return true;
        });
        if (!even) return false;
        base_.resize(next);
        // Back to front, a block at a time: the block's keys are taken from the backs of
        // base_ and recent_ first, then written to their slots. A key's slot is at or after
        // its place in the merged order, which is at or after its index in base_, so nothing
        // not yet taken is overwritten.
        merged_backwards in(*this, n);
        std::array<index_slot, spread_block> keys{};
        std::array<std::size_t, spread_block> slot{};
        std::size_t end = next;  // the first slot after the current key's gaps
        for (std::size_t b = block_start.size(); b-- > 0;) {
            const std::size_t first = b * spread_block, last = std::min(total, first + spread_block);
            for (std::size_t k = last; k-- > first;) keys[k - first] = in.take();
            std::size_t at = block_start[b];
            for (std::size_t k = first; k < last; ++k)
                at = (slot[k - first] = std::max(home_of(keys[k - first].key), at)) + 1;
            for (std::size_t k = last; k-- > first;) {
                const index_slot s = keys[k - first];
                const std::size_t to = slot[k - first];
                base_[to] = s;
                for (std::size_t g = to + 1; g < end; ++g) base_[g] = {s.key, {.seq_tomb = packed_version::erased_mark}};
                end = to;
            }
        }
        gaps_ = next - total;
        spread_ = true;
        return true;
    }

    // Folds recent_ into the dense, sorted base_ and lays the array out for lookups:
    // spread where the ids allow, else dense and guided.
    void relayout() {
        flat_array<std::uint32_t>().swap(guide_);  // until it is rebuilt, lookups bisect
        spread_ = false;
        gaps_ = 0;
        if (!spread_out()) {
            merge_dense();
            rebuild_guide();
        }
        recent_.clear();
        // Many keys erased (densify keeps the capacity): give the memory back.
        if (base_.capacity() > base_.size() + base_.size() / 8) base_.shrink_to_fit();
    }

    // guide_[b] is the first slot in bucket b or later: one entry per 1 to 2 slots (2-4 bytes
    // per entity; sparser guides measured slower, as buckets then span more cache lines),
    // rebuilt whenever `base_` is laid out dense.
    void rebuild_guide() {
        const std::size_t n = base_.size();
        if (n < 64 || n > std::numeric_limits<std::uint32_t>::max()) return;
        flat_array<std::uint32_t> guide;
        guide_from_ = common_prefix(base_[0].key, base_[n - 1].key);
        guide_bits_ = std::min(static_cast<unsigned>(std::bit_width(n)) - 1, 128 - guide_from_);
        const std::size_t buckets = std::size_t{1} << guide_bits_;
        guide.resize(buckets + 1);
        std::size_t i = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
            while (i < n && bucket_of(base_[i].key) < b) ++i;
            guide[b] = static_cast<std::uint32_t>(i);
        }
        guide[buckets] = static_cast<std::uint32_t>(n);
        guide.swap(guide_);
    }

    // Rebuilds the array without erased slots and gaps (recent_ folded in on the way).
    void drop_erased() {
        densify();
        relayout();
    }

    // Drops erased slots and gaps: base_ is dense and sorted (and unlaid: lookups bisect).
    // Its capacity stays: the array is laid out again at once, usually larger.
    void densify() {
        std::size_t out = 0;
        for (const auto& s : base_)
            if (!s.v.erased()) base_[out++] = s;
        base_.resize(out);
        erased_ = 0;
        gaps_ = 0;
        spread_ = false;
        flat_array<std::uint32_t>().swap(guide_);
    }

    // Folds recent_ into base_ in place, from the back (the dense layout's merge). Once
    // recent_ is used up, the rest of base_ is already in place.
    void merge_dense() {
        const std::size_t n = base_.size();
        base_.resize(n + recent_.size());
        merged_backwards in(*this, n);
        for (std::size_t out = base_.size(); in.recent_left();) base_[--out] = in.take();
    }

    // Folds `recent_` into `base_` (amortised over the keys `recent_` collected: about 16
    // slot moves each to densify the array and as many to merge and spread it, in one pass).
    void merge_recent() {
        if (erased_ > 0 || gaps_ > 0) densify();
        relayout();
    }

    std::uint32_t collection_;
    flat_array<index_slot> base_;      // sorted by key, unique; unsorted while building_
    std::size_t erased_ = 0;           // slots of base_ whose key was erased
    std::size_t gaps_ = 0;             // slots of a spread base_ that hold no key (also marked erased)
    bool spread_ = false;              // base_ is spread: lookups start at the key's home
    unsigned spread_from_ = 0;         // home_of: the id bits from here on, less spread_low_,
    std::uint64_t spread_low_ = 0;     // times spread_scale_ / 2^64
    std::uint64_t spread_scale_ = 0;
    flat_array<std::uint32_t> guide_;  // empty and not spread_: binary search over all of base_
    unsigned guide_from_ = 0;
    unsigned guide_bits_ = 0;
    chunked_map<id_key, packed_version> recent_;  // keys not in base_, added since the last merge
    std::unordered_map<id_key, std::vector<entity_version>, id_key_hash> older_;  // below the newest, newest first
    bool building_ = false;
    std::uint64_t last_sequence_ = 0;  // of the last write appended while building_
    id_key last_key_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
