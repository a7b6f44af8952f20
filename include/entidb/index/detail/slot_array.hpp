// entidb/index/detail/slot_array.hpp — the sorted array of slots at the heart of the
// primary index (index/detail/primary_table.hpp), and how lookups find a key in it.
//
// A slot is 40 bytes: a key (the entity id as two words) and its newest version. The array
// is sorted by key and laid out for lookups (docs/indexes.md, "Memory"): *spread* when the
// ids are spread evenly (random ids, or ids counted up from any start) — one slot in five
// is a gap and each key sits at or a few slots after the place its id predicts, so a lookup
// goes straight to its slot (one cache miss) — else dense, with a guide table over the ids'
// first distinguishing bits that narrows a lookup to a few adjacent slots (two misses).
//
// An array is laid out once, in place, and then only read, except that a slot's version
// may be updated or marked erased where it stands. Merges never change a live array: they
// lay a new one out beside it (primary_table::merged) and the index swaps it in.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "../../detail/checked_blocks.hpp"
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

// Keys added since the array was laid out, which the next layout folds in.
using recent_keys = chunked_map<id_key, packed_version>;

// A sorted array of unique keys' slots, laid out for lookups. Slots whose key was erased
// (and the gaps of a spread array, which are marked the same way) stay until the next
// layout, so that erasing never moves the array.
class slot_array {
public:
    enum class layout { bisected, guided, spread };

    [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
    [[nodiscard]] bool empty() const noexcept { return slots_.empty(); }
    [[nodiscard]] index_slot& operator[](std::size_t i) noexcept { return slots_[i]; }
    [[nodiscard]] const index_slot& operator[](std::size_t i) const noexcept { return slots_[i]; }
    [[nodiscard]] index_slot* begin() noexcept { return slots_.begin(); }
    [[nodiscard]] index_slot* end() noexcept { return slots_.end(); }
    [[nodiscard]] const index_slot* begin() const noexcept { return slots_.begin(); }
    [[nodiscard]] const index_slot* end() const noexcept { return slots_.end(); }

    // Slots that hold a key (not erased, not a gap).
    [[nodiscard]] std::size_t live() const noexcept { return slots_.size() - erased_ - gaps_; }
    [[nodiscard]] std::size_t erased() const noexcept { return erased_; }
    [[nodiscard]] std::size_t gaps() const noexcept { return gaps_; }
    // The slot's key was erased / comes back in place.
    void note_erased() noexcept { ++erased_; }
    void note_restored() noexcept { --erased_; }

    [[nodiscard]] layout lookup_layout() const noexcept {
        return spread_ ? layout::spread : guide_.empty() ? layout::bisected : layout::guided;
    }

    // The unsorted slots of a bulk build (primary_table::try_build): appended, then sorted
    // and laid out by lay_out().
    [[nodiscard]] flat_array<index_slot>& unlaid() noexcept { return slots_; }

    // Index of the first slot whose key is not below `k`. In a spread array that slot is the
    // key's home or a few slots after it. Otherwise the guide narrows the search to one
    // bucket of a few adjacent slots; keys that share long prefixes fill few buckets, and a
    // bucket of many slots is bisected, so the worst case stays O(log n). A mapped copy's
    // blocks are checked as the search first reaches them (errc::corruption if damaged).
    [[nodiscard]] std::size_t lower_bound(const id_key& k) const {
        const std::size_t n = slots_.size();
        if (n == 0 || !(slots_[0].key < k)) return 0;  // the first and last blocks were checked at adopt()
        if (slots_[n - 1].key < k) return n;
        if (spread_) {  // no slot before k's home holds a key >= k, and slots_[n - 1] does
            std::size_t i = home_of(k);
            check_slots(i);
            while (slots_[i].key < k)
                if (++i % checked_blocks::block == 0) check_slots(i);
            return i;
        }
        std::size_t lo = 1, hi = n - 1;  // slots_[0] < k <= slots_[n - 1]
        if (!guide_.empty()) {
            const std::size_t b = bucket_of(k);
            if (guide_check_) guide_check_->ensure(b, b + 2);
            lo = std::max<std::size_t>(lo, guide_[b]);
            hi = std::min<std::size_t>(hi, guide_[b + 1]);
        }
        if (slot_check_) slot_check_->ensure(lo, hi + 1);
        while (hi - lo > 8) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (slots_[mid].key < k) lo = mid + 1;
            else hi = mid;
        }
        while (lo < hi && slots_[lo].key < k) ++lo;  // a few adjacent slots: a scan beats bisecting
        return lo;
    }

    // Checks the block of a mapped copy that holds slot i (a walk in key order calls it for
    // each slot it reads; a bit test once the block passed). Nothing for arrays in memory.
    void check_slots(std::size_t i) const {
        if (slot_check_) slot_check_->ensure(i);
    }
    // Blocks of a mapped copy's slots that passed their check (0 for arrays in memory).
    [[nodiscard]] std::size_t blocks_checked() const noexcept { return slot_check_ ? slot_check_->passed_count() : 0; }
    // Checks every block of a mapped copy: before reading or changing all of its slots.
    void check_all() const {
        if (slot_check_) slot_check_->ensure_all();
        if (guide_check_) guide_check_->ensure_all();
    }

    // Starts loading the memory a lookup of `k` reads first (a hint: changes nothing).
    void prefetch(const id_key& k) const noexcept {
        if (slots_.empty() || !(slots_[0].key < k) || !(k < slots_[slots_.size() - 1].key)) return;
        if (spread_) prefetch_for_read(&slots_[home_of(k)]);
        else if (!guide_.empty()) prefetch_for_read(&guide_[bucket_of(k)]);
    }

    // A dense, sorted copy of the live slots, with room to lay `added` more out beside them
    // (the start of a merge: this array stays as it is).
    [[nodiscard]] slot_array live_copy(std::size_t added) const {
        check_all();
        slot_array out;
        out.slots_.reserve(spread_capacity(live() + added) + max_displacement + 1);
        for (const auto& s : slots_)
            if (!s.v.erased()) out.slots_.push_back(s);
        return out;
    }

    // Folds `recent` (keys not in this array) into this dense, sorted array and lays it out
    // for lookups: spread where the ids allow, else dense and guided. In place: never two
    // copies of the array.
    void lay_out(const recent_keys& recent) {
        check_all();  // a bulk build's or a merge's array, in memory (nothing to check), as a rule
        flat_array<std::uint32_t>().swap(guide_);  // until it is rebuilt, lookups bisect
        spread_ = false;
        gaps_ = 0;
        erased_ = 0;
        if (!spread_out(recent)) {
            merge_dense(recent);
            rebuild_guide();
        }
        // Many keys erased: give the memory back.
        if (slots_.capacity() > slots_.size() + slots_.size() / 8) slots_.shrink_to_fit();
    }

    // Heap bytes held, by capacity.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return slots_.capacity() * sizeof(index_slot) + guide_.capacity() * sizeof(std::uint32_t);
    }

    // ---- persisted copies (index/primary_index_file.hpp) ----

    // What a copy of the array records besides its slots and guide.
    struct layout_params {
        std::uint64_t erased = 0;
        std::uint64_t gaps = 0;
        std::uint32_t spread = 0;  // 0 or 1
        std::uint32_t spread_from = 0;
        std::uint64_t spread_low = 0;
        std::uint64_t spread_scale = 0;
        std::uint32_t guide_from = 0;
        std::uint32_t guide_bits = 0;
    };
    [[nodiscard]] layout_params params() const noexcept {
        return {erased_, gaps_, spread_ ? 1u : 0u, spread_from_, spread_low_, spread_scale_, guide_from_, guide_bits_};
    }
    [[nodiscard]] const flat_array<index_slot>& slots() const noexcept { return slots_; }
    [[nodiscard]] const flat_array<std::uint32_t>& guide() const noexcept { return guide_; }

    // The array over `slots` and `guide`, laid out as `p` says. Their blocks are checked
    // by `slot_check` and `guide_check` before anything reads them: that the slots are
    // sorted by key, unique, with as many marked erased as `p.erased + p.gaps` sums over
    // the blocks, the guide non-decreasing and each entry at most the slot count (the caller
    // made the checks; the first and last slots' blocks are checked here, may throw). Null,
    // with the reason in `problem`, if lookups over them could leave the arrays: a copy is
    // trusted only as far as it is checked.
    [[nodiscard]] static std::optional<slot_array> adopt(flat_array<index_slot>&& slots,
                                                         flat_array<std::uint32_t>&& guide, const layout_params& p,
                                                         std::unique_ptr<checked_blocks> slot_check,
                                                         std::unique_ptr<checked_blocks> guide_check,
                                                         const char*& problem) {
        slot_array a;
        a.slots_ = std::move(slots);
        a.guide_ = std::move(guide);
        a.slot_check_ = std::move(slot_check);
        a.guide_check_ = std::move(guide_check);
        if (!a.slots_.empty()) {
            a.check_slots(0);
            a.check_slots(a.slots_.size() - 1);
        }
        a.erased_ = p.erased;
        a.gaps_ = p.gaps;
        a.spread_ = p.spread == 1;
        a.spread_from_ = p.spread_from;
        a.spread_low_ = p.spread_low;
        a.spread_scale_ = p.spread_scale;
        a.guide_from_ = p.guide_from;
        a.guide_bits_ = p.guide_bits;
        problem = a.layout_problem(p.spread);
        if (problem != nullptr) return std::nullopt;
        return a;
    }

private:
    // Why lookups over this array could leave it, or null. Only the first and last slots
    // are read (a lookup's search stays between them), so pages of a mapped copy that no
    // lookup needs stay unread.
    [[nodiscard]] const char* layout_problem(std::uint32_t spread) const noexcept {
        const std::size_t n = slots_.size();
        if (spread > 1) return "unknown layout";
        if (erased_ + gaps_ > n) return "more erased slots than slots";
        if (spread_ && !guide_.empty()) return "a spread array with a guide";
        if (n == 0) return spread_ || !guide_.empty() ? "an empty array laid out" : nullptr;
        const id_key& first = slots_[0].key;
        const id_key& last = slots_[n - 1].key;
        if (spread_) {
            // Keys between the first and the last share their first spread_from_ bits, so
            // home_of grows with the key and is largest for the last one.
            if (spread_from_ > common_prefix(first, last) || spread_from_ >= 128) return "spread line out of range";
            if (spread_low_ > bits_from(first, spread_from_)) return "spread line out of range";
            if (home_of(last) >= n) return "spread line out of range";
            return nullptr;
        }
        if (guide_.empty()) return nullptr;
        if (guide_from_ >= 128 || guide_bits_ == 0 || guide_bits_ > 40 ||
            guide_.size() != (std::size_t{1} << guide_bits_) + 1)
            return "guide out of range";
        return nullptr;
    }

public:

private:
    // The guide's bucket for a key between the first and last slot (those share the first
    // guide_from_ bits, so the next guide_bits_ bits order the buckets).
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

    // The slots of the dense, sorted slots_[0, from) and the entries of `recent` together,
    // largest key first: the layouts fill slots_ from the back, in place.
    class merged_backwards {
    public:
        merged_backwards(const slot_array& a, const recent_keys& recent, std::size_t from)
            : a_(a), recent_(recent), from_(from), r_(recent.rbegin()) {}
        [[nodiscard]] bool recent_left() const noexcept { return r_ != recent_.rend(); }
        // The next slot; the caller takes no more than there are.
        [[nodiscard]] index_slot take() noexcept {
            if (recent_left() && (from_ == 0 || a_.slots_[from_ - 1].key < r_->first)) {
                const index_slot s{r_->first, r_->second};
                ++r_;
                return s;
            }
            return a_.slots_[--from_];
        }

    private:
        const slot_array& a_;
        const recent_keys& recent_;
        std::size_t from_;
        recent_keys::const_reverse_iterator r_;
    };

    // Calls f(slot) for the slots of the dense, sorted slots_ and the entries of `recent`
    // together, in key order, while f returns true; returns whether it got to the end.
    template <typename F>
    bool for_each_merged(const recent_keys& recent, F&& f) const {
        std::size_t i = 0;
        auto r = recent.begin();
        while (i < slots_.size() || r != recent.end()) {
            const bool from_base = r == recent.end() || (i < slots_.size() && slots_[i].key < r->first);
            const index_slot s = from_base ? slots_[i++] : index_slot{r->first, r->second};
            if (!from_base) ++r;
            if (!f(s)) return false;
        }
        return true;
    }

    // Lays the dense, sorted slots_ and `recent` out spread in slots_; false, changing
    // nothing, when the keys are too unevenly spread for that (some key would sit over
    // max_displacement slots past its home).
    bool spread_out(const recent_keys& recent) {
        const std::size_t n = slots_.size(), total = n + recent.size();
        if (total < 64 || total > std::numeric_limits<std::uint32_t>::max()) return false;
        const id_key& first_key = n == 0 || (!recent.empty() && recent.begin()->first < slots_[0].key)
                                      ? recent.begin()->first
                                      : slots_[0].key;
        const id_key& last_key = n == 0 || (!recent.empty() && slots_[n - 1].key < recent.rbegin()->first)
                                     ? recent.rbegin()->first
                                     : slots_[n - 1].key;
        const unsigned from = common_prefix(first_key, last_key);
        const std::uint64_t low = bits_from(first_key, from);
        const auto scale = scale_factor(spread_capacity(total), bits_from(last_key, from) - low);
        if (!scale) return false;
        spread_from_ = from;
        spread_low_ = low;
        spread_scale_ = *scale;
        // Slot of key i: max(home(i), slot of key i - 1 + 1). Recorded once per block, so the
        // back-to-front move below can recompute each block's slots without a slot per key.
        std::vector<std::size_t> block_start((total + spread_block - 1) / spread_block);
        std::size_t next = 0;  // the first slot after the keys placed so far
        std::size_t i = 0;
        const bool even = for_each_merged(recent, [&](const index_slot& s) {
            if (i++ % spread_block == 0) block_start[(i - 1) / spread_block] = next;
            const std::size_t home = home_of(s.key);
            if (next > home + max_displacement) return false;
            next = std::max(home, next) + 1;
            return true;
        });
        if (!even) return false;
        slots_.resize(next);
        // Back to front, a block at a time: the block's keys are taken from the backs of
        // slots_ and `recent` first, then written to their slots. A key's slot is at or after
        // its place in the merged order, which is at or after its index in slots_, so nothing
        // not yet taken is overwritten.
        merged_backwards in(*this, recent, n);
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
                slots_[to] = s;
                for (std::size_t g = to + 1; g < end; ++g)
                    slots_[g] = {s.key, {.seq_tomb = packed_version::erased_mark}};
                end = to;
            }
        }
        gaps_ = next - total;
        spread_ = true;
        return true;
    }

    // guide_[b] is the first slot in bucket b or later: one entry per 1 to 2 slots (2-4 bytes
    // per entity; sparser guides measured slower, as buckets then span more cache lines),
    // rebuilt whenever the array is laid out dense.
    void rebuild_guide() {
        const std::size_t n = slots_.size();
        if (n < 64 || n > std::numeric_limits<std::uint32_t>::max()) return;
        flat_array<std::uint32_t> guide;
        guide_from_ = common_prefix(slots_[0].key, slots_[n - 1].key);
        guide_bits_ = std::min(static_cast<unsigned>(std::bit_width(n)) - 1, 128 - guide_from_);
        const std::size_t buckets = std::size_t{1} << guide_bits_;
        guide.resize(buckets + 1);
        std::size_t i = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
            while (i < n && bucket_of(slots_[i].key) < b) ++i;
            guide[b] = static_cast<std::uint32_t>(i);
        }
        guide[buckets] = static_cast<std::uint32_t>(n);
        guide.swap(guide_);
    }

    // Folds `recent` into slots_ in place, from the back (the dense layout's merge). Once
    // `recent` is used up, the rest of slots_ is already in place.
    void merge_dense(const recent_keys& recent) {
        const std::size_t n = slots_.size();
        slots_.resize(n + recent.size());
        merged_backwards in(*this, recent, n);
        for (std::size_t out = slots_.size(); in.recent_left();) slots_[--out] = in.take();
    }

    flat_array<index_slot> slots_;     // sorted by key, unique (unsorted while a bulk build appends)
    std::size_t erased_ = 0;           // slots whose key was erased
    std::size_t gaps_ = 0;             // slots of a spread array that hold no key (also marked erased)
    bool spread_ = false;              // lookups start at the key's home
    unsigned spread_from_ = 0;         // home_of: the id bits from here on, less spread_low_,
    std::uint64_t spread_low_ = 0;     // times spread_scale_ / 2^64
    std::uint64_t spread_scale_ = 0;
    flat_array<std::uint32_t> guide_;  // empty and not spread_: binary search over all slots
    unsigned guide_from_ = 0;
    unsigned guide_bits_ = 0;
    // A mapped copy's blocks not yet checked (null for arrays laid out in memory).
    std::unique_ptr<checked_blocks> slot_check_;
    std::unique_ptr<checked_blocks> guide_check_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
