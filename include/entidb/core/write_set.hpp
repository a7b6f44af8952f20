// entidb/core/write_set.hpp — a write transaction's operations: at most one per
// (collection, id), the payloads in one buffer.
//
// A std::map of payload buffers cost two allocations per put (a node, a buffer) and a
// descent through scattered nodes; a bulk transaction of thousands of puts spent a tenth
// of its time in the allocator. Here the entries sit in one vector, the payload bytes in
// one buffer, and an open-addressing table of entry numbers finds a key while the
// transaction runs: each grows geometrically, so a transaction of n puts allocates
// O(log n) times. `seal()` (at commit) sorts the entries by key — files are written in
// key order, so the same transaction always gives the same bytes — and from then on the
// set is read-only and searched by bisection.
//
// Views (`operation::payload`) point into the set's buffer: valid until the next put,
// remove, drop or clear (a put may overwrite or repack the bytes). The engine reads a
// sealed set only.
//
// Thread-safety: one writer; a sealed set may be read by several threads.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../entity_id.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

using entity_key = std::pair<std::uint32_t, entity_id>;

class write_set {
public:
    struct operation {
        bool tombstone = false;
        bytes_view payload;  // empty for a tombstone
    };
    // What iteration yields: `for (const auto& [key, op] : set)`.
    struct item {
        entity_key key;
        operation op;
    };

private:
    enum class state : std::uint8_t { put, tombstone, dropped };
    struct entry {
        entity_key key;
        state st = state::put;
        std::size_t offset = 0, size = 0;  // of the payload in bytes_
    };

public:
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = item;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = item;

        iterator() = default;
        iterator(const write_set* s, const entry* e) : s_(s), e_(e) {}
        [[nodiscard]] item operator*() const { return s_->item_of(*e_); }
        iterator& operator++() {
            ++e_;
            return *this;
        }
        iterator operator++(int) {
            auto old = *this;
            ++e_;
            return old;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.e_ == b.e_; }

    private:
        const write_set* s_ = nullptr;
        const entry* e_ = nullptr;
    };

    // ---- while the transaction runs ----

    void put(const entity_key& key, bytes_view payload) { record(key, state::put, payload); }
    void remove(const entity_key& key) { record(key, state::tombstone, {}); }
    // Forgets the key's operation (a put of this transaction that a remove cancels).
    void drop(const entity_key& key) {
        assert(!sealed_);
        if (entry* e = probe(key); e != nullptr && e->st != state::dropped) {
            e->st = state::dropped;
            forget_payload(*e);
            --live_;
        }
    }

    // Empties the set (keeping its buffers' capacity).
    void clear() noexcept {
        entries_.clear();
        bytes_.clear();
        slots_.clear();
        live_ = 0;
        unused_ = 0;
        sealed_ = false;
    }

    // Sorts the live operations by key; the set is read-only afterwards (until clear()).
    void seal() {
        if (sealed_) return;
        std::erase_if(entries_, [](const entry& e) { return e.st == state::dropped; });
        std::sort(entries_.begin(), entries_.end(), [](const entry& a, const entry& b) { return a.key < b.key; });
        sealed_ = true;
    }

    // ---- either side of seal() ----

    [[nodiscard]] bool empty() const noexcept { return live_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return live_; }
    [[nodiscard]] bool sealed() const noexcept { return sealed_; }
    // Bytes in the payload buffer, the unused ones (of rewritten or dropped keys) included.
    [[nodiscard]] std::size_t buffer_bytes() const noexcept { return bytes_.size(); }

    // The key's operation, if the set holds one.
    [[nodiscard]] std::optional<operation> find(const entity_key& key) const {
        const entry* e = sealed_ ? bisect(key) : probe(key);
        if (e == nullptr || e->st == state::dropped) return std::nullopt;
        return item_of(*e).op;
    }
    [[nodiscard]] bool contains(const entity_key& key) const { return find(key).has_value(); }

    // ---- a sealed set, in key order ----

    [[nodiscard]] iterator begin() const noexcept {
        assert(sealed_);
        return {this, entries_.data()};
    }
    [[nodiscard]] iterator end() const noexcept { return {this, entries_.data() + entries_.size()}; }

    // The operations on one collection.
    [[nodiscard]] std::pair<iterator, iterator> collection(std::uint32_t c) const {
        assert(sealed_);
        const entry* const end = entries_.data() + entries_.size();
        const entry* first = std::lower_bound(entries_.data(), end, c,
                                              [](const entry& e, std::uint32_t v) { return e.key.first < v; });
        const entry* last = first;
        while (last != end && last->key.first == c) ++last;
        return {iterator(this, first), iterator(this, last)};
    }

private:
    [[nodiscard]] item item_of(const entry& e) const {
        return {e.key, {e.st == state::tombstone, bytes_view(bytes_.data() + e.offset, e.size)}};
    }

    void record(const entity_key& key, state st, bytes_view payload) {
        assert(!sealed_);
        entry* e = probe(key);
        if (e == nullptr) {
            grow_slots_for(entries_.size() + 1);
            entries_.push_back({key, st, 0, 0});
            place(entries_.size() - 1);
            e = &entries_.back();
            ++live_;
        } else if (e->st == state::dropped) {
            ++live_;
        }
        e->st = st;
        // A key written again (an entity rewritten in a loop) takes its old payload's place
        // when the new one fits; otherwise the old bytes become unused, and the buffer is
        // repacked once they are most of it, so it stays within twice what the set holds.
        if (payload.size() <= e->size) {
            if (!payload.empty()) std::memmove(bytes_.data() + e->offset, payload.data(), payload.size());
            unused_ += e->size - payload.size();
            e->size = payload.size();
            return;
        }
        forget_payload(*e);
        repack_if_mostly_unused();
        e->offset = bytes_.size();
        e->size = payload.size();
        bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    }

    void forget_payload(entry& e) noexcept {
        unused_ += e.size;
        e.size = 0;
    }
    void repack_if_mostly_unused() {
        constexpr std::size_t worth_it = 64 * 1024;
        if (unused_ < worth_it || unused_ * 2 < bytes_.size()) return;
        byte_buffer packed;
        packed.reserve(bytes_.size() - unused_);
        for (entry& e : entries_) {
            const std::size_t from = e.offset;
            e.offset = packed.size();
            packed.insert(packed.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(from),
                          bytes_.begin() + static_cast<std::ptrdiff_t>(from + e.size));
        }
        bytes_.swap(packed);
        unused_ = 0;
    }

    // Open addressing, linear probing: slots_ hold entry number + 1 (0 = empty), at most
    // half of them used.
    [[nodiscard]] static std::uint64_t hash(const entity_key& key) noexcept {
        std::uint64_t a, b;
        std::memcpy(&a, key.second.bytes().data(), 8);
        std::memcpy(&b, key.second.bytes().data() + 8, 8);
        std::uint64_t h = a ^ (b * 0x9E3779B97F4A7C15u) ^ (std::uint64_t{key.first} << 32);
        h ^= h >> 33;  // a full mix: ids that differ in a few bits (counters) spread too
        h *= 0xFF51AFD7ED558CCDu;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53u;
        return h ^ (h >> 33);
    }
    [[nodiscard]] const entry* probe(const entity_key& key) const {
        if (slots_.empty()) return nullptr;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
            if (slots_[i] == 0) return nullptr;
            if (const entry& e = entries_[slots_[i] - 1]; e.key == key) return &e;
        }
    }
    [[nodiscard]] entry* probe(const entity_key& key) {
        return const_cast<entry*>(std::as_const(*this).probe(key));
    }
    void place(std::size_t n) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash(entries_[n].key) & mask;
        while (slots_[i] != 0) i = (i + 1) & mask;
        slots_[i] = static_cast<std::uint32_t>(n + 1);
    }
    void grow_slots_for(std::size_t entries) {
        if (entries * 2 <= slots_.size()) return;
        slots_.assign(std::max<std::size_t>(16, slots_.size() * 2), 0u);
        for (std::size_t n = 0; n < entries_.size(); ++n) place(n);
    }

    [[nodiscard]] const entry* bisect(const entity_key& key) const {
        const auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                                         [](const entry& e, const entity_key& k) { return e.key < k; });
        return it != entries_.end() && it->key == key ? &*it : nullptr;
    }

    std::vector<entry> entries_;
    byte_buffer bytes_;
    std::vector<std::uint32_t> slots_;
    std::size_t live_ = 0;
    std::size_t unused_ = 0;  // bytes of bytes_ no entry points at
    bool sealed_ = false;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
