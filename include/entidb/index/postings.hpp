// entidb/index/postings.hpp — the MVCC postings every secondary index kind keeps: key → entity
// ids, by snapshot. The kinds (hash_index.hpp, ordered_index.hpp) wrap one posting_list each
// and expose the lookups their kind promises (index_implementation.hpp).
//
// Each key holds postings {id, from, to}: the entity has the key for commit sequences
// in [from, to). A snapshot S sees the postings with from <= S < to, so a reader never
// sees an index ahead of or behind the data its snapshot shows.
//
// Layout: one flat vector of 40-byte entries {key offset, id, from, to} sorted by
// (key, id, from), whose keys live in one arena (a LEB128 length and the bytes; equal keys
// share one copy), and a small ordered tree of the changes since the last merge, which
// readers merge with the vector on the fly. The tree is folded into the vector by one
// linear merge once it, or the postings closed since the last merge, outnumber
// max(1024, vector / 8), so a change costs amortised O(log n). The merge drops the postings
// no snapshot at or above the oldest one remove() was last given can see, and the arena is
// written anew once a quarter of it is keys no posting uses. remove() closes a posting
// where it lies. Hash and ordered indexes share the layout (only ordered ones expose range
// and prefix queries).
//
// Adds to an empty list (open and index creation stream one per entity, keys in no order)
// are a bulk build: they are appended unsorted, a hash table over the distinct keys stores
// each once and answers exact-key finds (a unique index's check before each add), and the
// first other read, or a remove, sorts them once: several times faster than inserting them
// one by one (1M adds in about 0.4 s).
//
// Memory (docs/indexes.md, "Memory"; memory_bytes()): 40 bytes per indexed entity plus each
// distinct key once with a length byte; measured with 100k entities, 53 bytes per entity
// for distinct 12-byte keys and 40 for a few keys shared by all. Between merges each recent
// change holds a tree node instead (about 112 bytes), at most one per 8 entries of the
// vector: up to about 60 and 48 bytes per entity just before a merge. A merge holds the old
// and the new vector (and arena, when keys were added) until it publishes the new ones.
//
// Thread-safety: internally synchronised. Every change (add, remove, the merge a change
// triggers, a bulk build's end) holds `writer_`, so changes are serial. Readers take a
// shared lock per query; a change takes the lock exclusively only to write what readers
// read: an add for its tree insert, a removal for finding and closing its postings, a merge
// for an O(1) swap. A merge builds its new flat part and arena beside the live ones, reading
// them with no lock (nothing changes them meanwhile), then swaps them in and frees the old
// ones after releasing the lock: a reader waits at most for one change or that swap, never
// for a merge (docs/indexes.md, "Merges and readers"). The exception: the read that ends a
// bulk build (open, index creation) sorts it under the exclusive lock.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/build_lock.hpp"
#include "../entity_id.hpp"
#include "index_key.hpp"

namespace entidb {
inline namespace v1 {

inline constexpr std::uint64_t open_ended = std::numeric_limits<std::uint64_t>::max();

// A bound of a range query on an ordered index.
struct key_bound {
    index_key key;
    bool inclusive = true;
};

namespace detail {

class posting_list {
public:
    posting_list() = default;
    posting_list(const posting_list&) = delete;
    posting_list& operator=(const posting_list&) = delete;

    // ---- the writer ----

    void add(const index_key& key, const entity_id& id, std::uint64_t from) {
        const std::lock_guard changing(writer_);
        {
            std::unique_lock lock(mutex_);
            if (build_ && base_.size() >= max_build) finish_build();
            if (build_ || (base_.empty() && recent_.empty())) {
                build_add(key, id, from);
                return;
            }
            recent_.emplace(recent_key{key, id, from}, open_ended);
        }
        merge_if_due();
    }

    // Ends the entity's posting under `key` at sequence `at`. What no snapshot at or above
    // `oldest_snapshot` can see is dropped at the next merge.
    void remove(const index_key& key, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) {
        const std::lock_guard changing(writer_);
        {
            std::unique_lock lock(mutex_);
            finish_build();
            horizon_ = oldest_snapshot;
            const auto close = [&](std::uint64_t& to) {
                if (to != open_ended) return;
                to = at;
                ++closed_since_merge_;
            };
            const auto first = std::partition_point(base_.begin(), base_.end(), [&](const entry& e) {
                const int c = key_at(e.key).compare(key);
                return c < 0 || (c == 0 && e.id < id);
            });
            for (auto it = first; it != base_.end() && it->id == id && key_at(it->key) == key; ++it) close(it->to);
            for (auto it = recent_.lower_bound(key_and_id{key, id});
                 it != recent_.end() && it->first.id == id && it->first.key == key; ++it)
                close(it->second);
        }
        merge_if_due();
    }

    // Tests: `f` runs in every merge after the new parts are built and before they are
    // swapped in (readers must not be waiting then). Set before the index is shared.
    void on_merge_built(std::function<void()> f) { on_merge_built_ = std::move(f); }

    // ---- readers ----

    // Entities with exactly `key` at `snapshot`, in id order.
    [[nodiscard]] std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        if (build_) return find_built(key, snapshot);
        const auto base = base_lower_bound(key);
        auto base_end = base;
        if (base != base_.end() && key_at(base->key) == key)  // the run that shares its offset
            base_end = gallop(base, base_.end(), [at = base->key](const entry& e) { return e.key == at; });
        const auto recent = recent_.lower_bound(std::string_view(key));
        return collect({base, base_end, recent, recent_while(recent, [&](std::string_view k) { return k == key; })},
                       snapshot);
    }

    // Entities whose key lies within the bounds, in key order (then id),
    // or in reverse.
    [[nodiscard]] std::vector<entity_id> range(const std::optional<key_bound>& lo, const std::optional<key_bound>& hi,
                                               std::uint64_t snapshot, bool reverse = false) const {
        if (lo && hi && (lo->key > hi->key || (lo->key == hi->key && !(lo->inclusive && hi->inclusive)))) return {};
        const auto lock = read_lock();
        cursors c{base_.begin(), base_.end(), recent_.begin(), recent_.end()};
        if (lo) {
            const std::string_view k = lo->key;
            c.base = lo->inclusive ? base_lower_bound(k) : base_upper_bound(k);
            c.recent = lo->inclusive ? recent_.lower_bound(k) : recent_.upper_bound(k);
        }
        if (hi) {
            const std::string_view k = hi->key;
            c.base_end = hi->inclusive ? base_upper_bound(k) : base_lower_bound(k);
            c.recent_end = hi->inclusive ? recent_.upper_bound(k) : recent_.lower_bound(k);
        }
        auto out = collect(c, snapshot);
        if (reverse) std::reverse(out.begin(), out.end());
        return out;
    }

    // Entities whose key starts with `prefix` (text prefixes), in key order.
    [[nodiscard]] std::vector<entity_id> prefix(const index_key& prefix, std::uint64_t snapshot) const {
        const auto lock = read_lock();
        // The keys with this prefix are the run that starts at its lower bound.
        const auto has_prefix = [&](std::string_view k) { return k.starts_with(prefix); };
        const auto base = base_lower_bound(prefix);
        const auto recent = recent_.lower_bound(std::string_view(prefix));
        return collect({base, gallop(base, base_.end(), [&](const entry& e) { return has_prefix(key_at(e.key)); }),
                        recent, recent_while(recent, has_prefix)},
                       snapshot);
    }

    // How many (key, entity) entries `snapshot` sees (verify compares it with a scan).
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t snapshot) const {
        const auto lock = read_lock();
        std::uint64_t n = 0;
        for (const auto& e : base_) n += visible(e.from, e.to, snapshot) ? 1 : 0;
        for (const auto& [k, to] : recent_) n += visible(k.from, to, snapshot) ? 1 : 0;
        return n;
    }

    // Live holders of `key` at the newest state (unique checks, under the writer lock).
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key& key) const {
        return find(key, open_ended - 1);
    }

    // Bytes the index holds for its postings: the capacity of the flat entries and of the key
    // arena, plus an estimate of the recent changes' tree nodes (docs/indexes.md, "Memory").
    [[nodiscard]] std::size_t memory_bytes() const {
        const auto lock = read_lock();
        std::size_t n = base_.capacity() * sizeof(entry) + arena_.capacity();
        for (const auto& [k, to] : recent_)
            n += recent_node_bytes + (k.key.capacity() > inline_key_bytes ? k.key.capacity() + 1 : 0);
        return n;
    }

private:
    // A posting of the merged part. `key` is an offset in `arena_`, where each key is a LEB128
    // length and its bytes; equal keys share one offset.
    struct entry {
        std::uint64_t key;
        entity_id id;
        std::uint64_t from;
        std::uint64_t to;
    };
    static_assert(sizeof(entry) == 40, "an entry is a key offset, an id and two sequences, unpadded");

    // A recent change's position (key, id, from); the tree maps it to the posting's `to`.
    struct recent_key {
        index_key key;
        entity_id id;
        std::uint64_t from;
        friend auto operator<=>(const recent_key&, const recent_key&) = default;
    };
    struct key_and_id {
        std::string_view key;
        entity_id id;
    };
    // Orders recent changes by (key, id, from), and finds them by key alone or by (key, id).
    struct recent_order {
        using is_transparent = void;
        bool operator()(const recent_key& a, const recent_key& b) const { return a < b; }
        bool operator()(const recent_key& a, std::string_view k) const { return std::string_view(a.key) < k; }
        bool operator()(std::string_view k, const recent_key& a) const { return k < std::string_view(a.key); }
        bool operator()(const recent_key& a, const key_and_id& p) const {
            const int c = std::string_view(a.key).compare(p.key);
            return c < 0 || (c == 0 && a.id < p.id);
        }
        bool operator()(const key_and_id& p, const recent_key& a) const {
            const int c = p.key.compare(a.key);
            return c < 0 || (c == 0 && p.id < a.id);
        }
    };
    using recent_map = std::multimap<recent_key, std::uint64_t, recent_order>;
    using base_iterator = std::vector<entry>::const_iterator;
    using recent_iterator = recent_map::const_iterator;

    // The merged part's postings in [base, base_end) and the recent ones in [recent, recent_end).
    struct cursors {
        base_iterator base, base_end;
        recent_iterator recent, recent_end;
    };

    // The recent changes are merged into the flat part once they, or the postings closed since
    // the last merge, outnumber max(min_merge, flat part / merge_fraction): a change costs
    // amortised O(log n + merge_fraction), and the tree stays a small share of the memory.
    static constexpr std::size_t min_merge = 1024;
    static constexpr std::size_t merge_fraction = 8;
    // Estimated heap bytes of one recent change: the tree node (colour and three links), its
    // value and the allocator's bookkeeping (about two words); a key longer than the string's
    // inline buffer adds its own allocation.
    static constexpr std::size_t recent_node_bytes = 6 * sizeof(void*) + sizeof(recent_map::value_type);
    static inline const std::size_t inline_key_bytes = index_key().capacity();

    [[nodiscard]] static bool visible(std::uint64_t from, std::uint64_t to, std::uint64_t snapshot) noexcept {
        return from <= snapshot && snapshot < to;
    }

    // ---- the bulk build ----

    // While a bulk build lasts, base_ holds its postings in the order added, and each distinct
    // key has one record, found through a hash table, that chains its postings newest first:
    // keys are stored once, and find() (a unique index's check before each add) needs no sort.
    struct bulk_build {
        struct key_record {
            std::uint64_t at;      // the key's offset in arena_
            std::uint32_t newest;  // 1 + its newest posting in base_
            std::uint32_t next;    // 1 + the next record in its slot (0: none)
        };
        std::vector<key_record> keys;
        std::vector<std::uint32_t> slots;  // 1 + the first record of each slot (0: none)
        std::vector<std::uint32_t> older;  // per posting: 1 + the posting before it with its key
    };
    static constexpr std::size_t max_build = std::numeric_limits<std::uint32_t>::max() - 1;

    [[nodiscard]] static std::size_t slot_of(std::string_view key, const bulk_build& b) {
        return std::hash<std::string_view>{}(key) & (b.slots.size() - 1);
    }

    [[nodiscard]] std::uint32_t built_key(std::string_view key) const {  // 1 + its record, or 0
        const auto& b = *build_;
        if (b.slots.empty()) return 0;
        auto r = b.slots[slot_of(key, b)];
        while (r != 0 && key_at(b.keys[r - 1].at) != key) r = b.keys[r - 1].next;
        return r;
    }

    void build_add(std::string_view key, const entity_id& id, std::uint64_t from) {
        if (!build_) build_.emplace();
        auto& b = *build_;
        auto r = built_key(key);
        if (r == 0) {
            if (b.keys.size() >= b.slots.size()) {  // at most one record per slot on average
                b.slots.assign(std::max<std::size_t>(1024, 2 * b.slots.size()), 0);
                for (std::uint32_t i = 0; i < b.keys.size(); ++i)
                    b.keys[i].next = std::exchange(b.slots[slot_of(key_at(b.keys[i].at), b)], i + 1);
            }
            auto& head = b.slots[slot_of(key, b)];
            b.keys.push_back({append_key(arena_, key), 0, head});
            r = head = static_cast<std::uint32_t>(b.keys.size());
        }
        auto& record = b.keys[r - 1];
        base_.push_back({record.at, id, from, open_ended});
        try {
            b.older.push_back(record.newest);
        } catch (...) {
            base_.pop_back();
            throw;
        }
        record.newest = static_cast<std::uint32_t>(base_.size());
    }

    [[nodiscard]] std::vector<entity_id> find_built(std::string_view key, std::uint64_t snapshot) const {
        std::vector<entity_id> out;
        if (const auto r = built_key(key); r != 0)
            for (auto i = build_->keys[r - 1].newest; i != 0; i = build_->older[i - 1])
                if (visible(base_[i - 1].from, base_[i - 1].to, snapshot)) out.push_back(base_[i - 1].id);
        std::sort(out.begin(), out.end());
        return out;
    }

    // Sorts the postings of a bulk build and writes the arena anew in key order. While
    // sorting, an entry's `to` (open_ended in every posting of a build) holds the first 8
    // bytes of its key, zero-padded and big-endian: when they differ they order the keys, and
    // equal keys share an offset, so most comparisons read no key bytes.
    void finish_build() {
        if (!build_) return;
        for (auto& e : base_) {
            const auto key = key_at(e.key);
            e.to = 0;
            for (std::size_t i = 0; i < 8; ++i)
                e.to = (e.to << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
        }
        std::sort(base_.begin(), base_.end(), [&](const entry& a, const entry& b) {
            if (a.to != b.to) return a.to < b.to;
            if (a.key != b.key)
                if (const int c = key_at(a.key).compare(key_at(b.key)); c != 0) return c < 0;
            if (a.id != b.id) return a.id < b.id;
            return a.from < b.from;
        });
        for (auto& e : base_) e.to = open_ended;
        build_.reset();
        base_.shrink_to_fit();
        arena_ = rewrite_keys(base_, [&](std::uint64_t at) { return key_at(at); }, arena_.size());
    }

    // A shared lock on an index with no bulk build pending. The first read after a build
    // finishes it, a change like any other: under writer_, then the exclusive lock.
    [[nodiscard]] std::shared_lock<detail::shared_gate> read_lock() const {
        // Only an index that add() wrote to builds, so this is not a const object.
        return detail::shared_lock_built(
            mutex_, writer_, [&] { return build_.has_value(); },
            [&] { const_cast<posting_list*>(this)->finish_build(); });
    }

    // ---- the key arena ----

    // Writes the keys `entries` refer to (`key_of` reads one) into a new arena in the entries'
    // order, a run of equal keys once, and points the entries at it. `bytes` bounds what is
    // written: the one allocation comes first, so a failure leaves the entries unchanged.
    template <typename KeyOf>
    [[nodiscard]] static std::string rewrite_keys(std::vector<entry>& entries, KeyOf key_of, std::size_t bytes) {
        std::string arena;
        arena.reserve(bytes);
        std::string_view last_key;
        std::uint64_t old_at = no_key, new_at = 0;
        for (auto& e : entries) {
            if (e.key != old_at) {
                const std::string_view key = key_of(e.key);
                if (old_at == no_key || key != last_key) new_at = append_key(arena, key);
                old_at = e.key;
                last_key = key;
            }
            e.key = new_at;
        }
        return arena;
    }

    static std::uint64_t append_key(std::string& arena, std::string_view key) {
        const std::uint64_t at = arena.size();
        std::size_t n = key.size();
        for (; n >= 0x80; n >>= 7) arena.push_back(static_cast<char>((n & 0x7f) | 0x80));
        arena.push_back(static_cast<char>(n));
        arena.append(key);
        return at;
    }

    [[nodiscard]] static std::string_view key_in(const std::string& arena, std::uint64_t at) noexcept {
        const char* p = arena.data() + at;
        std::size_t n = 0;
        for (unsigned shift = 0;; shift += 7) {
            const auto b = static_cast<unsigned char>(*p++);
            n |= static_cast<std::size_t>(b & 0x7f) << shift;
            if (b < 0x80) break;
        }
        return {p, n};
    }

    [[nodiscard]] std::string_view key_at(std::uint64_t at) const noexcept { return key_in(arena_, at); }

    [[nodiscard]] static std::size_t encoded_size(std::string_view key) noexcept {
        std::size_t n = 1;
        for (std::size_t len = key.size(); len >= 0x80; len >>= 7) ++n;
        return n + key.size();
    }

    // ---- searching ----

    [[nodiscard]] base_iterator base_lower_bound(std::string_view key) const {
        return std::partition_point(base_.begin(), base_.end(), [&](const entry& e) { return key_at(e.key) < key; });
    }
    [[nodiscard]] base_iterator base_upper_bound(std::string_view key) const {
        return std::partition_point(base_.begin(), base_.end(), [&](const entry& e) { return key_at(e.key) <= key; });
    }

    // The first entry in [first, last) for which `pred` (true on a prefix of the range) is
    // false, found by galloping from `first`: O(log d) steps for an answer d entries away.
    template <typename Pred>
    [[nodiscard]] static base_iterator gallop(base_iterator first, base_iterator last, Pred pred) {
        for (std::ptrdiff_t step = 1; first != last; step *= 2) {
            const auto probe = last - first > step ? first + step : last;
            if (probe == last || !pred(*probe)) return std::partition_point(first, probe, pred);
            first = probe;
        }
        return last;
    }

    // The end of the run of recent changes from `it` whose keys satisfy `pred`.
    template <typename Pred>
    [[nodiscard]] recent_iterator recent_while(recent_iterator it, Pred pred) const {
        while (it != recent_.end() && pred(it->first.key)) ++it;
        return it;
    }

    // True when the merged part's `e` comes before the recent change `r` in (key, id, from) order.
    [[nodiscard]] bool before(const entry& e, const recent_key& r) const {
        if (const int c = key_at(e.key).compare(r.key); c != 0) return c < 0;
        if (e.id != r.id) return e.id < r.id;
        return e.from < r.from;
    }

    // Visits what the cursors cover in (key, id, from) order: on_base(first, last) for each run
    // of the merged part, on_recent(it, next) for each recent change (`next`: the merged
    // part's entry after it). O(recent · log(run)) comparisons, however long the runs are.
    template <typename OnBase, typename OnRecent>
    void merge_walk(cursors c, OnBase&& on_base, OnRecent&& on_recent) const {
        for (; c.recent != c.recent_end; ++c.recent) {
            const auto run_end = gallop(c.base, c.base_end, [&](const entry& e) { return before(e, c.recent->first); });
            on_base(c.base, run_end);
            c.base = run_end;
            on_recent(c.recent, c.base);
        }
        on_base(c.base, c.base_end);
    }

    [[nodiscard]] std::vector<entity_id> collect(const cursors& c, std::uint64_t snapshot) const {
        std::vector<entity_id> out;
        merge_walk(
            c,
            [&](base_iterator first, base_iterator last) {
                for (; first != last; ++first)
                    if (visible(first->from, first->to, snapshot)) out.push_back(first->id);
            },
            [&](recent_iterator it, base_iterator) {
                if (visible(it->first.from, it->second, snapshot)) out.push_back(it->first.id);
            });
        return out;
    }

    // ---- merging ----

    // Called by a changer (holding writer_, not the lock) after its change.
    void merge_if_due() {
        const std::size_t limit = std::max(min_merge, base_.size() / merge_fraction);
        if (recent_.size() > limit || closed_since_merge_ > limit) merge();
    }

    // What a merge publishes: the new flat part, and the new arena unless the old one serves.
    struct merged {
        std::vector<entry> base;
        std::optional<std::string> arena;
    };

    // Builds the merged parts beside the live ones, which readers keep using meanwhile, and
    // publishes them by a swap under the exclusive lock: a reader waits for the swap only.
    // The replaced parts are freed after the lock is released; from the build until then
    // both copies exist (docs/indexes.md, "Merges and readers"). A failure while building
    // leaves the index unchanged.
    void merge() {
        merged next = build_merged();
        if (on_merge_built_) on_merge_built_();
        recent_map replaced;
        {
            std::unique_lock lock(mutex_);
            base_.swap(next.base);
            if (next.arena) arena_.swap(*next.arena);
            recent_.swap(replaced);
        }
        closed_since_merge_ = 0;
    }

    // Folds the recent changes into a new flat part, leaving out the postings no snapshot at
    // or above the horizon can see. Entries keep their key offsets; a recent key takes the
    // offset of an equal neighbour or is appended to a new arena. The arena is rebuilt once
    // the keys no entry refers to are a quarter of it. Reads the live parts without the
    // lock: only changes write them, and the caller holds writer_.
    [[nodiscard]] merged build_merged() const {
        const auto kept = [&](std::uint64_t to) { return to > horizon_; };
        merged out;
        auto& base = out.base;
        base.reserve(base_.size() + recent_.size());
        std::string added;  // keys new to the arena, at offsets from arena_.size() on
        const auto key_of = [&](std::uint64_t at) {
            return at < arena_.size() ? key_at(at) : key_in(added, at - arena_.size());
        };
        bool dropped = false;
        merge_walk(
            {base_.begin(), base_.end(), recent_.begin(), recent_.end()},
            [&](base_iterator first, base_iterator last) {
                for (; first != last; ++first) {
                    if (kept(first->to))
                        base.push_back(*first);
                    else
                        dropped = true;
                }
            },
            [&](recent_iterator it, base_iterator next) {
                if (!kept(it->second)) return;
                const std::string_view key = it->first.key;
                std::uint64_t at = 0;
                if (!base.empty() && key_of(base.back().key) == key)
                    at = base.back().key;
                else if (next != base_.end() && key_at(next->key) == key)
                    at = next->key;
                else
                    at = arena_.size() + append_key(added, key);
                base.push_back({at, it->first.id, it->first.from, it->second});
            });
        if (base.capacity() - base.size() > base.size() / 64) base.shrink_to_fit();

        // Bytes of the keys `base` refers to; only a dropped posting can leave a key unused.
        const std::size_t total = arena_.size() + added.size();
        std::size_t used = total;
        if (dropped) {
            used = 0;
            for (std::size_t i = 0; i < base.size(); ++i)
                if (i == 0 || base[i].key != base[i - 1].key) used += encoded_size(key_of(base[i].key));
        }
        if (used < total - total / 4) {
            out.arena = rewrite_keys(base, key_of, used);
        } else if (!added.empty()) {
            out.arena.emplace().reserve(total);
            out.arena->append(arena_).append(added);
        }
        return out;
    }

    static constexpr std::uint64_t no_key = std::numeric_limits<std::uint64_t>::max();  // no arena offset

    // Readers hold it shared; changes exclusively, only while they write what readers read.
    mutable detail::shared_gate mutex_;
    // Serialises the changes (add, remove, their merges, a bulk build's end), so that a
    // merge reads the live parts without the lock. Readers take it only to end a bulk build.
    mutable std::mutex writer_;
    std::vector<entry> base_;    // the merged part, sorted by (key, id, from)
    std::string arena_;          // its keys
    recent_map recent_;          // the changes since the last merge
    std::uint64_t horizon_ = 0;  // the oldest snapshot remove() was last given
    std::size_t closed_since_merge_ = 0;
    std::optional<bulk_build> build_;  // while adds to an empty index are a bulk build
    std::function<void()> on_merge_built_;  // tests only
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
