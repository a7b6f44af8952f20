// entidb/detail/chunked_map.hpp — a sorted map of small trivially copyable keys and values,
// held in sorted chunks of at most `chunk_capacity` entries.
//
// The primary index collects every new id here until it merges them into its array (up to
// a sixteenth of the index, tens of thousands of keys). A std::map spends a node allocation
// per key and a descent through nodes scattered over the heap, a cache miss per level, and
// the merge walks those nodes again. Here a lookup bisects a dense array of the chunks'
// first keys (small enough to stay cached), then one chunk; an insert moves at most one
// chunk's entries and allocates once per chunk split; walking in order reads contiguous
// entries. References to entries are invalidated by every insert and erase.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <type_traits>
#include <vector>

namespace entidb {
inline namespace v1 {
namespace detail {

template <typename K, typename V, std::size_t ChunkCapacity = 32>
class chunked_map {
    static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>,
                  "chunked_map moves entries as bytes: keys and values must be trivially copyable");
    static_assert(ChunkCapacity >= 4, "a chunk must hold enough entries to split in two");

public:
    static constexpr std::size_t chunk_capacity = ChunkCapacity;

    struct entry {
        K first;
        V second;
    };

    // Bidirectional, over the entries in key order.
    class const_iterator {
    public:
        using iterator_category = std::bidirectional_iterator_tag;
        using value_type = entry;
        using difference_type = std::ptrdiff_t;
        using pointer = const entry*;
        using reference = const entry&;

        const_iterator() = default;
        reference operator*() const noexcept { return map_->chunks_[chunk_]->at[pos_]; }
        pointer operator->() const noexcept { return &**this; }
        const_iterator& operator++() noexcept {
            if (++pos_ == map_->chunks_[chunk_]->size) {
                ++chunk_;
                pos_ = 0;
            }
            return *this;
        }
        const_iterator operator++(int) noexcept {
            auto old = *this;
            ++*this;
            return old;
        }
        const_iterator& operator--() noexcept {
            if (pos_ == 0) {
                --chunk_;
                pos_ = map_->chunks_[chunk_]->size;
            }
            --pos_;
            return *this;
        }
        const_iterator operator--(int) noexcept {
            auto old = *this;
            --*this;
            return old;
        }
        friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
            return a.chunk_ == b.chunk_ && a.pos_ == b.pos_;
        }

    private:
        friend class chunked_map;
        const_iterator(const chunked_map* m, std::size_t chunk, std::size_t pos) : map_(m), chunk_(chunk), pos_(pos) {}
        const chunked_map* map_ = nullptr;
        std::size_t chunk_ = 0;  // chunks_.size() at the end
        std::size_t pos_ = 0;
    };
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    [[nodiscard]] const_iterator begin() const noexcept { return {this, 0, 0}; }
    [[nodiscard]] const_iterator end() const noexcept { return {this, chunks_.size(), 0}; }
    [[nodiscard]] const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    [[nodiscard]] const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

    [[nodiscard]] V* find(const K& k) noexcept {
        const auto at = locate(k);
        return at.found ? &chunks_[at.chunk]->at[at.pos].second : nullptr;
    }
    [[nodiscard]] const V* find(const K& k) const noexcept { return const_cast<chunked_map*>(this)->find(k); }

    // The first entry whose key is above `k`.
    [[nodiscard]] const_iterator upper_bound(const K& k) const noexcept {
        const auto at = locate(k);
        return normalised(at.chunk, at.pos + (at.found ? 1 : 0));
    }

    // Adds `k` unless it is present; returns whether it was added.
    bool insert(const K& k, const V& v) {
        if (chunks_.empty()) add_chunk(0, k);  // filled below
        auto at = locate(k);
        if (at.found) return false;
        if (chunks_[at.chunk]->size == chunk_capacity) {
            split(at.chunk);
            if (at.pos > chunk_capacity / 2) {
                ++at.chunk;
                at.pos -= chunk_capacity / 2;
            }
        }
        chunk& c = *chunks_[at.chunk];
        std::copy_backward(c.at.begin() + static_cast<std::ptrdiff_t>(at.pos), c.at.begin() + static_cast<std::ptrdiff_t>(c.size),
                           c.at.begin() + static_cast<std::ptrdiff_t>(c.size + 1));
        c.at[at.pos] = {k, v};
        ++c.size;
        if (at.pos == 0) firsts_[at.chunk] = k;
        ++size_;
        return true;
    }

    // Removes `k` if present; returns whether it was there.
    bool erase(const K& k) noexcept {
        const auto at = locate(k);
        if (!at.found) return false;
        chunk& c = *chunks_[at.chunk];
        std::copy(c.at.begin() + static_cast<std::ptrdiff_t>(at.pos + 1), c.at.begin() + static_cast<std::ptrdiff_t>(c.size),
                  c.at.begin() + static_cast<std::ptrdiff_t>(at.pos));
        --c.size;
        --size_;
        if (c.size == 0) {
            remove_chunk(at.chunk);
        } else {
            if (at.pos == 0) firsts_[at.chunk] = c.at[0].first;
            join_if_small(at.chunk);
        }
        return true;
    }

    // Removes every entry for which `pred(key, value)` holds, keeping the others in order
    // (packed into full chunks).
    template <typename Pred>
    void erase_if(Pred pred) {
        std::size_t out_chunk = 0, out_pos = 0;
        for (std::size_t ci = 0; ci < chunks_.size(); ++ci)
            for (std::size_t i = 0; i < chunks_[ci]->size; ++i) {
                const entry e = chunks_[ci]->at[i];
                if (pred(e.first, e.second)) continue;
                if (out_pos == chunk_capacity) {
                    chunks_[out_chunk]->size = static_cast<std::uint32_t>(out_pos);
                    ++out_chunk;
                    out_pos = 0;
                }
                chunks_[out_chunk]->at[out_pos++] = e;  // never ahead of the read position
            }
        std::size_t kept = 0;
        if (out_pos > 0) {
            chunks_[out_chunk]->size = static_cast<std::uint32_t>(out_pos);
            kept = out_chunk + 1;
        }
        chunks_.resize(kept);
        firsts_.resize(kept);
        size_ = 0;
        for (std::size_t ci = 0; ci < kept; ++ci) {
            firsts_[ci] = chunks_[ci]->at[0].first;
            size_ += chunks_[ci]->size;
        }
    }

    void clear() noexcept {
        chunks_.clear();
        firsts_.clear();
        size_ = 0;
    }

    // Heap bytes held, by capacity.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return chunks_.size() * sizeof(chunk) + chunks_.capacity() * sizeof(std::unique_ptr<chunk>) +
               firsts_.capacity() * sizeof(K);
    }

private:
    struct chunk {
        std::uint32_t size = 0;
        std::array<entry, chunk_capacity> at;
    };
    struct place {
        std::size_t chunk = 0;
        std::size_t pos = 0;  // where k is, or would go
        bool found = false;
    };

    // The chunk that holds `k` or would take it (the last whose first key is not above
    // it, or the first), and the position in it. Needs at least one chunk for an insert;
    // with none, every key is absent.
    [[nodiscard]] place locate(const K& k) const noexcept {
        if (chunks_.empty()) return {};
        const auto after = std::upper_bound(firsts_.begin(), firsts_.end(), k);
        const std::size_t ci = after == firsts_.begin() ? 0 : static_cast<std::size_t>(after - firsts_.begin()) - 1;
        const chunk& c = *chunks_[ci];
        const auto end = c.at.begin() + static_cast<std::ptrdiff_t>(c.size);
        const auto it = std::lower_bound(c.at.begin(), end, k, [](const entry& e, const K& key) { return e.first < key; });
        return {ci, static_cast<std::size_t>(it - c.at.begin()), it != end && !(k < it->first)};
    }

    // An iterator at (chunk, pos), moved to the next chunk's start when pos is past the end.
    [[nodiscard]] const_iterator normalised(std::size_t ci, std::size_t pos) const noexcept {
        if (ci < chunks_.size() && pos == chunks_[ci]->size) return {this, ci + 1, 0};
        return {this, ci, pos};
    }

    void add_chunk(std::size_t at, const K& first) {
        chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(at), std::make_unique_for_overwrite<chunk>());
        try {
            firsts_.insert(firsts_.begin() + static_cast<std::ptrdiff_t>(at), first);
        } catch (...) {
            chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(at));
            throw;
        }
    }
    void remove_chunk(std::size_t at) noexcept {
        chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(at));
        firsts_.erase(firsts_.begin() + static_cast<std::ptrdiff_t>(at));
    }

    // Moves the upper half of a full chunk into a new chunk after it.
    void split(std::size_t ci) {
        constexpr std::size_t half = chunk_capacity / 2;
        add_chunk(ci + 1, chunks_[ci]->at[half].first);
        chunk& lo = *chunks_[ci];
        chunk& hi = *chunks_[ci + 1];
        std::copy(lo.at.begin() + half, lo.at.end(), hi.at.begin());
        hi.size = static_cast<std::uint32_t>(chunk_capacity - half);
        lo.size = static_cast<std::uint32_t>(half);
    }

    // Erasures leave chunks part-empty: a chunk at a quarter or less joins its next
    // neighbour when both fit in one, so the chunk count stays within a few times the
    // entries over chunk_capacity.
    void join_if_small(std::size_t ci) noexcept {
        if (chunks_[ci]->size > chunk_capacity / 4 || ci + 1 >= chunks_.size()) return;
        chunk& a = *chunks_[ci];
        const chunk& b = *chunks_[ci + 1];
        if (a.size + b.size > chunk_capacity) return;
        std::copy(b.at.begin(), b.at.begin() + static_cast<std::ptrdiff_t>(b.size), a.at.begin() + static_cast<std::ptrdiff_t>(a.size));
        a.size += b.size;
        remove_chunk(ci + 1);
    }

    std::vector<std::unique_ptr<chunk>> chunks_;  // in key order, none empty
    std::vector<K> firsts_;                       // chunks_[i]'s first key
    std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
