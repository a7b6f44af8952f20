// entidb/index/text_postings.hpp — the storage of a full-text index: one text field's
// inverted index, by snapshot.
//
// Contract: text_postings holds, for one text field of a collection, every version of each
// entity's text that a snapshot may still read. add(id, text, from) indexes the text the
// entity has from commit sequence `from` on; remove(id, at, oldest_snapshot) ends it at `at`
// (an update is a remove and an add at the same sequence). view(S) is a reader at snapshot S:
// it models text::posting_source (text/posting_source.hpp), so text::search and
// text::search_all run over it, and it sees exactly the document versions with
// from <= S < to: never a later commit, never a text an earlier one replaced.
//
// Documents: a view's doc_type is the version's ordinal, a 32-bit number given in the order
// versions were added (id_of(doc) gives the entity back). Search results are in that order
// where the evaluator orders by doc: equal scores come out oldest version first. After open
// (which streams the entities in id order) that is id order for what open indexed, then
// commit order; a garbage rewrite renumbers the ordinals but keeps their order.
//
// Layout (docs/indexes.md, "Full-text index storage"): no heap node per posting.
//  - a table of document versions, one 40-byte row each in a flat array: the entity id,
//    from, to, and the length in tokens. Visibility lives only here: remove() writes one `to`;
//  - a term dictionary: the terms' bytes in one arena, one 32-byte entry per term, an
//    open-addressing hash table of term numbers (exact lookups) and an array of the term
//    numbers in byte order (prefix walks), with the terms added since it was last sorted in a
//    short unsorted tail that prefix walks scan (sorted in again once it outnumbers
//    max(min_batch, terms / 8));
//  - per term one append-only byte list of its postings, in ordinal order: a LEB128 varint
//    of (ordinal delta << 1 | the term occurs once), the number of occurrences when more
//    than one, and the positions as LEB128 deltas. A document version's postings never change.
//  - the number of visible documents and tokens at the newest state, and a log of the
//    changes to them at sequences after the oldest snapshot, so a view counts in O(changes).
// Garbage — versions whose `to` is at or below the oldest snapshot remove() was last given —
// is left in place until a rewrite builds the index anew without it (ordinals renumbered).
// Every max(min_batch, rows / 8) closed versions the rows are counted, and a rewrite runs
// when at least that many are garbage: garbage stays below about a quarter of the rows (plus
// 2·min_batch), and a rewrite, O(index size), is paid for by the removals before it.
//
// Memory: memory_bytes() reports what the index holds, by capacity (each list as the malloc
// block it is); about 40 bytes per document version, each term's bytes plus about 70 (its
// entry, hash slots, place in the order, and its list's block overhead), and 2–4 bytes per
// (document, term) pair plus one per further occurrence; lists grow by an eighth, and
// shrink_to_fit() (after a bulk build) gives the spare room back. docs/indexes.md gives
// measured figures.
//
// Errors: add() fails with errc::invalid_argument (from the tokenizer) when the text is not
// valid UTF-8, and with errc::too_large when a term's postings or the ordinals would pass
// 2^32; in both cases (and on std::bad_alloc) the index is unchanged.
//
// Thread-safety: one writer (add, remove: commits are serial) beside any number of readers.
// Changes are serialised by a writer mutex. A reader (view) holds the index's shared lock
// for its lifetime; the writer takes the exclusive lock only to apply one document (the text
// is tokenized and its postings encoded before, without it) or to swap in a rewrite or a
// re-sorted dictionary built beside the live one. So a long-lived view delays the next
// commit: take one per search and let it go. A view must be released on the thread that
// took it, and a thread holding one must not call add() or remove() (it would wait for
// itself). memory_bytes() and the view's members are safe beside the writer.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/flat_array.hpp"
#include "../detail/shared_gate.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../text/bm25.hpp"
#include "../text/posting_source.hpp"
#include "../text/query.hpp"
#include "../text/search.hpp"
#include "../text/tokenizer.hpp"

namespace entidb {
inline namespace v1 {

class text_postings {
public:
    // A document version's ordinal (see the header's contract).
    using doc_type = std::uint32_t;
    static constexpr std::uint64_t open_ended = std::numeric_limits<std::uint64_t>::max();

    class snapshot_view;

    // `min_batch` is the least number of closed versions between garbage checks, and of new
    // terms before the dictionary is sorted again (tests lower it to exercise both).
    explicit text_postings(text::tokenizer_options options = {}, std::size_t min_batch = 1024)
        : options_(options), min_batch_(std::max<std::size_t>(1, min_batch)) {}
    text_postings(const text_postings&) = delete;
    text_postings& operator=(const text_postings&) = delete;
    ~text_postings() = default;

    [[nodiscard]] const text::tokenizer_options& options() const noexcept { return options_; }

    // ---- the writer ----

    // The entity has `text` from commit sequence `from` on. If it still had a text, that one
    // ends at `from`. `oldest_snapshot`, when given, is the oldest snapshot still readable
    // (open passes its own sequence: the changes it streams then need no log); without it
    // the change is logged until a later call gives an oldest snapshot at or above `from`.
    void add(const entity_id& id, std::string_view text, std::uint64_t from, std::uint64_t oldest_snapshot = 0) {
        const std::lock_guard changing(writer_);
        horizon_ = std::max(horizon_, oldest_snapshot);
        prepare(text);  // tokenizes and encodes; throws before anything changes
        if (store_.rows.size() >= max_docs)
            fail(errc::too_large, "a full-text index holds at most {} document versions", max_docs);
        const std::uint32_t previous = find_id(id);
        if (previous == no_doc) grow_ids(live_ + 1);
        auto slots = grown_slots(store_.terms.size() + new_terms_.size());
        {
            const std::unique_lock lock(mutex_);
            apply(id, from, previous, slots);
        }
        const auto doc = static_cast<std::uint32_t>(store_.rows.size() - 1);
        if (previous != no_doc) {
            ids_[id_slot(id)] = doc + 1;
            ++closed_since_check_;
        } else {
            insert_id(doc);
        }
        sort_terms_if_due();
        rewrite_if_due();
    }

    // The entity's text ends at `at`. What no snapshot at or above `oldest_snapshot` can see
    // may be dropped. An entity with no text is ignored.
    void remove(const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) {
        const std::lock_guard changing(writer_);
        horizon_ = std::max(horizon_, oldest_snapshot);
        const std::uint32_t doc = find_id(id);
        {
            const std::unique_lock lock(mutex_);
            if (doc != no_doc) {
                reserve_more(log_, 1);
                auto& row = store_.rows[doc];
                row.to = at;
                --newest_docs_;
                newest_tokens_ -= row.length;
                log_change(at, -1, -static_cast<std::int64_t>(row.length));
            }
            trim_log();
        }
        if (doc == no_doc) return;
        erase_id(id);
        ++closed_since_check_;
        rewrite_if_due();
    }

    // Gives back the spare capacity of every list and array. Meant for the end of a bulk
    // build (open calls it once it has streamed its adds): it holds the exclusive lock for
    // one pass over the terms, O(terms), so readers wait for it.
    void shrink_to_fit() {
        const std::lock_guard changing(writer_);
        const std::unique_lock lock(mutex_);
        for (auto& t : store_.terms) {
            const std::size_t cap = t.size == 0 ? 0 : list_block_bytes(t.size) - 8;
            if (cap >= t.capacity || cap == 0) continue;
            if (void* p = std::realloc(t.data, cap)) {
                t.data = static_cast<unsigned char*>(p);
                t.capacity = static_cast<std::uint32_t>(cap);
            }
        }
        store_.rows.shrink_to_fit();
        store_.terms.shrink_to_fit();
        try {
            store_.text.shrink_to_fit();
            store_.sorted.shrink_to_fit();
            store_.unsorted.shrink_to_fit();
            log_.shrink_to_fit();
        } catch (const std::bad_alloc&) {  // best effort
        }
    }

    // ---- readers ----

    // A reader at `snapshot`; holds the shared lock until it is destroyed.
    [[nodiscard]] snapshot_view view(std::uint64_t snapshot) const;

    // Bytes held, by capacity: rows, dictionary, postings, the change log, the id table.
    [[nodiscard]] std::size_t memory_bytes() const {
        const std::shared_lock lock(mutex_);
        return store_.bytes() + log_.capacity() * sizeof(change) + id_bytes_.load(std::memory_order_relaxed);
    }

    // Document versions held (visible or not) and rewrites done (tests, statistics).
    [[nodiscard]] std::size_t version_count() const {
        const std::shared_lock lock(mutex_);
        return store_.rows.size();
    }
    [[nodiscard]] std::size_t rewrite_count() const noexcept { return rewrites_.load(std::memory_order_relaxed); }
    // Distinct terms held, and (document version, term) pairs: the postings.
    [[nodiscard]] std::size_t term_count() const {
        const std::shared_lock lock(mutex_);
        return store_.terms.size();
    }
    [[nodiscard]] std::uint64_t posting_count() const {
        const std::shared_lock lock(mutex_);
        std::uint64_t n = 0;
        for (const auto& t : store_.terms)
            for (const unsigned char *p = t.data, *end = t.data + t.size; p < end; ++n) {
                const std::uint64_t head = get_varint(p);
                skip_varints(p, (head & 1) ? 1 : get_varint(p));
            }
        return n;
    }

    // Bytes of encoded postings (by size, not capacity).
    [[nodiscard]] std::uint64_t posting_bytes() const {
        const std::shared_lock lock(mutex_);
        std::uint64_t n = 0;
        for (const auto& t : store_.terms) n += t.size;
        return n;
    }

private:
    friend class snapshot_view;

    static constexpr std::uint32_t no_doc = std::numeric_limits<std::uint32_t>::max();
    static constexpr std::size_t max_docs = no_doc - 1;
    static constexpr std::size_t max_list_bytes = std::numeric_limits<std::uint32_t>::max() - 64;

    struct row {
        entity_id id;
        std::uint64_t from;
        std::uint64_t to;
        std::uint32_t length;  // in tokens
        std::uint32_t spare;
    };
    static_assert(sizeof(row) == 40, "a row is an id, two sequences and a length, unpadded");

    // One term: its postings (malloc'd bytes) and its text in the arena.
    struct term_entry {
        unsigned char* data;
        std::uint32_t size;
        std::uint32_t capacity;
        std::uint32_t last;     // the ordinal of its last posting (when size > 0)
        std::uint32_t text_at;  // in the arena: a byte (the length - 1), then the term's bytes
    };
    static_assert(sizeof(term_entry) == 24);

    // A change to the visible totals at a sequence after the oldest snapshot.
    struct change {
        std::uint64_t seq;
        std::int64_t docs;
        std::int64_t tokens;
    };

    // What readers read. The writer changes it under the exclusive lock, or builds a new one
    // beside it and swaps it in.
    struct store {
        detail::flat_array<row> rows;
        detail::flat_array<term_entry> terms;
        std::string text;                  // the terms' bytes
        std::vector<std::uint32_t> slots;  // 1 + a term number; a power of two, at most half full
        std::vector<std::uint32_t> sorted;    // term numbers in byte order
        std::vector<std::uint32_t> unsorted;  // terms added since, in no order

        store() = default;
        store(const store&) = delete;
        store& operator=(const store&) = delete;
        ~store() {
            for (auto& t : terms) std::free(t.data);
        }
        void swap(store& o) noexcept {
            rows.swap(o.rows);
            terms.swap(o.terms);
            text.swap(o.text);
            slots.swap(o.slots);
            sorted.swap(o.sorted);
            unsorted.swap(o.unsorted);
        }
        [[nodiscard]] std::string_view term(std::uint32_t t) const noexcept {
            const char* p = text.data() + terms[t].text_at;
            return {p + 1, std::size_t{static_cast<unsigned char>(*p)} + 1};
        }
        [[nodiscard]] std::uint32_t find(std::string_view term_text) const noexcept {
            if (slots.empty()) return no_doc;
            const std::size_t mask = slots.size() - 1;
            for (std::size_t i = hash_term(term_text) & mask; slots[i] != 0; i = (i + 1) & mask)
                if (term(slots[i] - 1) == term_text) return slots[i] - 1;
            return no_doc;
        }
        [[nodiscard]] std::size_t bytes() const noexcept {
            std::size_t n = rows.capacity() * sizeof(row) + terms.capacity() * sizeof(term_entry) + text.capacity() +
                            (slots.capacity() + sorted.capacity() + unsorted.capacity()) * sizeof(std::uint32_t);
            for (const auto& t : terms) n += list_block_bytes(t.capacity);
            return n;
        }
    };

    // A term's list is one malloc block: counted as the block glibc gives it (an 8-byte
    // header, 16-byte granules, at least 32 bytes).
    [[nodiscard]] static constexpr std::size_t list_block_bytes(std::size_t capacity) noexcept {
        return capacity == 0 ? 0 : std::max<std::size_t>(32, (capacity + 8 + 15) / 16 * 16);
    }

    [[nodiscard]] static std::size_t hash_term(std::string_view t) noexcept { return std::hash<std::string_view>{}(t); }
    [[nodiscard]] static std::size_t hash_id(const entity_id& id) noexcept {
        std::uint64_t a = 0, b = 0;
        std::memcpy(&a, id.bytes().data(), 8);
        std::memcpy(&b, id.bytes().data() + 8, 8);
        std::uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        h *= 0x94D049BB133111EBull;
        return static_cast<std::size_t>(h ^ (h >> 29));
    }

    // ---- varints ----

    static unsigned char* put_varint(unsigned char* out, std::uint64_t v) noexcept {
        for (; v >= 0x80; v >>= 7) *out++ = static_cast<unsigned char>(v | 0x80);
        *out++ = static_cast<unsigned char>(v);
        return out;
    }
    static void append_varint(std::string& out, std::uint64_t v) {
        unsigned char buf[10];
        const auto n = static_cast<std::size_t>(put_varint(buf, v) - buf);
        out.append(reinterpret_cast<const char*>(buf), n);
    }
    static std::uint64_t get_varint(const unsigned char*& p) noexcept {
        std::uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            const unsigned char b = *p++;
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }
    static void skip_varints(const unsigned char*& p, std::uint64_t n) noexcept {
        while (n > 0) n -= (*p++ < 0x80) ? 1 : 0;
    }

    // ---- preparing an add (writer only, no lock: only the writer changes the store) ----

    // A distinct term of the document being added and its encoded posting.
    struct group {
        std::uint32_t term;  // a term number; from store_.terms.size() on, new_terms_[term - size]
        std::uint32_t at;    // its posting in encoded_
        std::uint32_t size;
    };

    void prepare(std::string_view text) {
        tokens_.clear();
        new_terms_.clear();
        new_text_.clear();
        groups_.clear();
        encoded_.clear();
        const auto known = static_cast<std::uint32_t>(store_.terms.size());
        text::tokenize(text, options_, [&](std::string_view token, std::uint32_t position) {
            std::uint32_t t = store_.find(token);
            if (t == no_doc) {
                std::size_t k = 0;
                while (k < new_terms_.size() &&
                       std::string_view(new_text_).substr(new_terms_[k].first, new_terms_[k].second) != token)
                    ++k;
                if (k == new_terms_.size()) {
                    new_terms_.emplace_back(static_cast<std::uint32_t>(new_text_.size()),
                                            static_cast<std::uint32_t>(token.size()));
                    new_text_.append(token);
                }
                t = known + static_cast<std::uint32_t>(k);
            }
            tokens_.push_back((std::uint64_t{t} << 32) | position);
        });
        length_ = tokens_.size();
        std::sort(tokens_.begin(), tokens_.end());
        const auto doc = static_cast<std::uint32_t>(store_.rows.size());
        for (std::size_t i = 0; i < tokens_.size();) {
            const auto t = static_cast<std::uint32_t>(tokens_[i] >> 32);
            std::size_t j = i + 1;
            while (j < tokens_.size() && (tokens_[j] >> 32) == t) ++j;
            const std::uint32_t base = t < known && store_.terms[t].size > 0 ? store_.terms[t].last : 0;
            const auto at = static_cast<std::uint32_t>(encoded_.size());
            const std::uint64_t count = j - i;
            append_varint(encoded_, (std::uint64_t{doc - base} << 1) | (count == 1 ? 1 : 0));
            if (count > 1) append_varint(encoded_, count);
            std::uint32_t previous = 0;
            for (std::size_t k = i; k < j; ++k) {
                const auto position = static_cast<std::uint32_t>(tokens_[k]);
                append_varint(encoded_, position - previous);
                previous = position;
            }
            groups_.push_back({t, at, static_cast<std::uint32_t>(encoded_.size() - at)});
            i = j;
        }
    }

    // The hash table to hold `terms` terms: empty if the live one will do, else a new one
    // built beside it (swapped in by apply()).
    [[nodiscard]] std::vector<std::uint32_t> grown_slots(std::size_t terms) const {
        std::vector<std::uint32_t> out;
        if (2 * terms <= store_.slots.size()) return out;
        std::size_t n = std::max<std::size_t>(1024, store_.slots.size());
        while (n < 2 * terms) n *= 2;
        out.assign(n, 0);
        for (std::uint32_t t = 0; t < store_.terms.size(); ++t) place_term(out, store_.term(t), t);
        return out;
    }
    static void place_term(std::vector<std::uint32_t>& slots, std::string_view text, std::uint32_t t) noexcept {
        const std::size_t mask = slots.size() - 1;
        std::size_t i = hash_term(text) & mask;
        while (slots[i] != 0) i = (i + 1) & mask;
        slots[i] = t + 1;
    }

    // Room for `extra` more elements, growing by half when it must grow (the containers'
    // own reserve() would give exactly what is asked, and appends would copy quadratically).
    template <typename Container>
    static void reserve_more(Container& c, std::size_t extra) {
        if (c.size() + extra <= c.capacity()) return;
        c.reserve(std::max(c.size() + extra, c.capacity() + c.capacity() / 2 + 16));
    }

    static void reserve_list(term_entry& t, std::size_t extra) {
        const std::size_t need = std::size_t{t.size} + extra;
        if (need <= t.capacity) return;
        if (need > max_list_bytes) fail(errc::too_large, "a term's postings would pass {} bytes", max_list_bytes);
        // Lists grow by an eighth (at least one 16-byte granule), to the whole usable size of
        // the malloc block: little slack, and most terms of a Zipf vocabulary occur in a
        // handful of documents. realloc often grows in place; large blocks move by mremap.
        std::size_t cap = std::max<std::size_t>(need, std::size_t{t.capacity} + t.capacity / 8 + 16);
        cap = std::min(list_block_bytes(cap) - 8, max_list_bytes);
        void* p = std::realloc(t.data, cap);
        if (p == nullptr) throw std::bad_alloc();
        t.data = static_cast<unsigned char*>(p);
        t.capacity = static_cast<std::uint32_t>(cap);
    }

    // Applies the prepared document under the exclusive lock: first everything that may
    // throw (reservations, new terms' entries), undone on failure; then the rest, which
    // cannot fail.
    void apply(const entity_id& id, std::uint64_t from, std::uint32_t previous, std::vector<std::uint32_t>& slots) {
        store& s = store_;
        const std::size_t known = s.terms.size();
        const std::size_t known_text = s.text.size();
        try {
            reserve_more(s.rows, 1);
            reserve_more(log_, 1);
            reserve_more(s.unsorted, new_terms_.size());
            if (s.text.size() + new_text_.size() > std::numeric_limits<std::uint32_t>::max())
                fail(errc::too_large, "a full-text index's terms would pass 4 GiB");
            reserve_more(s.text, new_text_.size() + new_terms_.size());
            reserve_more(s.terms, new_terms_.size());
            for (const auto& [at, size] : new_terms_) {
                s.terms.push_back({nullptr, 0, 0, 0, static_cast<std::uint32_t>(s.text.size())});
                s.text.push_back(static_cast<char>(size - 1));  // a token has 1 to 256 bytes
                s.text.append(new_text_, at, size);
            }
            for (const auto& g : groups_) reserve_list(s.terms[g.term], g.size);
        } catch (...) {
            for (std::size_t t = known; t < s.terms.size(); ++t) std::free(s.terms[t].data);
            s.terms.resize(known);
            s.text.resize(known_text);
            throw;
        }
        // Nothing below throws.
        if (!slots.empty()) s.slots.swap(slots);
        for (std::size_t t = known; t < s.terms.size(); ++t) {
            place_term(s.slots, s.term(static_cast<std::uint32_t>(t)), static_cast<std::uint32_t>(t));
            s.unsorted.push_back(static_cast<std::uint32_t>(t));
        }
        const auto doc = static_cast<std::uint32_t>(s.rows.size());
        for (const auto& g : groups_) {
            term_entry& t = s.terms[g.term];
            std::memcpy(t.data + t.size, encoded_.data() + g.at, g.size);
            t.size += g.size;
            t.last = doc;
        }
        s.rows.push_back({id, from, open_ended, static_cast<std::uint32_t>(length_), 0});
        std::int64_t docs = 1;
        auto tokens = static_cast<std::int64_t>(length_);
        if (previous != no_doc) {
            row& old = s.rows[previous];
            old.to = from;
            docs -= 1;
            tokens -= old.length;
        }
        newest_docs_ += static_cast<std::uint64_t>(docs);
        newest_tokens_ += static_cast<std::uint64_t>(tokens);
        log_change(from, docs, tokens);
        trim_log();
    }

    // Records a change at `seq` (capacity reserved by the caller); merged with the last one
    // when it has the same sequence; not kept at all when no snapshot can tell.
    void log_change(std::uint64_t seq, std::int64_t docs, std::int64_t tokens) noexcept {
        if (seq <= horizon_) return;
        if (!log_.empty() && log_.back().seq == seq) {
            log_.back().docs += docs;
            log_.back().tokens += tokens;
            return;
        }
        if (log_.size() < log_.capacity()) log_.push_back({seq, docs, tokens});
    }
    void trim_log() noexcept {
        if (!log_.empty() && log_.front().seq <= horizon_)
            std::erase_if(log_, [&](const change& c) { return c.seq <= horizon_; });
    }

    // ---- the id table (writer only): the live version of each entity ----

    [[nodiscard]] std::size_t id_slot(const entity_id& id) const noexcept {  // ids_.size() if absent
        if (ids_.empty()) return 0;
        const std::size_t mask = ids_.size() - 1;
        for (std::size_t i = hash_id(id) & mask; ids_[i] != 0; i = (i + 1) & mask)
            if (store_.rows[ids_[i] - 1].id == id) return i;
        return ids_.size();
    }
    [[nodiscard]] std::uint32_t find_id(const entity_id& id) const noexcept {
        const std::size_t i = id_slot(id);
        return i < ids_.size() ? ids_[i] - 1 : no_doc;
    }
    void grow_ids(std::size_t live) {
        if (2 * live <= ids_.size()) return;
        std::size_t n = std::max<std::size_t>(1024, ids_.size());
        while (n < 2 * live) n *= 2;
        std::vector<std::uint32_t> next(n, 0);
        for (const auto slot : ids_)
            if (slot != 0) place_id(next, slot - 1);
        ids_.swap(next);
        id_bytes_.store(ids_.capacity() * sizeof(std::uint32_t), std::memory_order_relaxed);
    }
    void place_id(std::vector<std::uint32_t>& slots, std::uint32_t doc) const noexcept {
        const std::size_t mask = slots.size() - 1;
        std::size_t i = hash_id(store_.rows[doc].id) & mask;
        while (slots[i] != 0) i = (i + 1) & mask;
        slots[i] = doc + 1;
    }
    void insert_id(std::uint32_t doc) noexcept {
        place_id(ids_, doc);
        ++live_;
    }
    // Linear probing with backward-shift deletion: no tombstones.
    void erase_id(const entity_id& id) noexcept {
        const std::size_t mask = ids_.size() - 1;
        std::size_t i = id_slot(id);
        for (std::size_t j = (i + 1) & mask; ids_[j] != 0; j = (j + 1) & mask) {
            const std::size_t home = hash_id(store_.rows[ids_[j] - 1].id) & mask;
            // ids_[j] may move to i when its home is not within (i, j] (cyclically).
            if (((j - home) & mask) >= ((j - i) & mask)) {
                ids_[i] = ids_[j];
                i = j;
            }
        }
        ids_[i] = 0;
        --live_;
    }

    // ---- the dictionary's order ----

    void sort_terms_if_due() {
        const std::size_t limit = std::max(min_batch_, store_.sorted.size() / 8);
        if (store_.unsorted.size() <= limit) return;
        std::vector<std::uint32_t> tail(store_.unsorted);
        const auto by_text = [&](std::uint32_t a, std::uint32_t b) { return store_.term(a) < store_.term(b); };
        std::sort(tail.begin(), tail.end(), by_text);
        std::vector<std::uint32_t> merged;
        merged.reserve(store_.sorted.size() + tail.size());
        std::merge(store_.sorted.begin(), store_.sorted.end(), tail.begin(), tail.end(), std::back_inserter(merged),
                   by_text);
        {
            const std::unique_lock lock(mutex_);
            store_.sorted.swap(merged);
            store_.unsorted.clear();
        }
    }

    // ---- garbage ----

    void rewrite_if_due() {
        const std::size_t limit = std::max(min_batch_, store_.rows.size() / 8);
        if (closed_since_check_ < limit) return;
        closed_since_check_ = 0;
        std::size_t garbage = 0;
        for (const auto& r : store_.rows) garbage += r.to <= horizon_ ? 1 : 0;
        if (garbage >= limit) rewrite();
    }

    // Builds the index anew without the versions no snapshot at or above the horizon can
    // see, beside the live one (readers go on reading it), then swaps it in.
    void rewrite() {
        store next;
        const store& s = store_;
        std::vector<std::uint32_t> renumber(s.rows.size(), no_doc);
        std::size_t kept = 0;
        for (std::size_t i = 0; i < s.rows.size(); ++i) kept += s.rows[i].to > horizon_ ? 1 : 0;
        next.rows.reserve(kept);
        for (std::size_t i = 0; i < s.rows.size(); ++i)
            if (s.rows[i].to > horizon_) {
                renumber[i] = static_cast<std::uint32_t>(next.rows.size());
                next.rows.push_back(s.rows[i]);
            }
        std::vector<std::uint32_t> term_renumber(s.terms.size(), no_doc);
        std::string list;
        for (std::uint32_t t = 0; t < s.terms.size(); ++t) {
            const term_entry& e = s.terms[t];
            list.clear();
            std::uint32_t doc = 0, new_last = 0, docs = 0;
            for (const unsigned char *p = e.data, *end = e.data + e.size; p < end;) {
                const std::uint64_t head = get_varint(p);
                doc += static_cast<std::uint32_t>(head >> 1);
                const std::uint64_t count = (head & 1) ? 1 : get_varint(p);
                const unsigned char* positions = p;
                skip_varints(p, count);
                if (renumber[doc] == no_doc) continue;
                const std::uint32_t nd = renumber[doc];
                append_varint(list, (std::uint64_t{nd - (docs > 0 ? new_last : 0)} << 1) | (head & 1));
                if (count > 1) append_varint(list, count);
                list.append(reinterpret_cast<const char*>(positions), static_cast<std::size_t>(p - positions));
                new_last = nd;
                ++docs;
            }
            if (docs == 0) continue;
            term_renumber[t] = static_cast<std::uint32_t>(next.terms.size());
            term_entry n{nullptr, 0, 0, new_last, static_cast<std::uint32_t>(next.text.size())};
            next.text.push_back(static_cast<char>(s.term(t).size() - 1));
            next.text.append(s.term(t));
            next.terms.push_back(n);  // owned by `next` from here: freed if a later step throws
            reserve_list(next.terms[next.terms.size() - 1], list.size());
            term_entry& added = next.terms[next.terms.size() - 1];
            std::memcpy(added.data, list.data(), list.size());
            added.size = static_cast<std::uint32_t>(list.size());
        }
        next.terms.shrink_to_fit();
        next.text.shrink_to_fit();
        std::vector<std::uint32_t> tail(s.unsorted);
        std::sort(tail.begin(), tail.end(), [&](std::uint32_t a, std::uint32_t b) { return s.term(a) < s.term(b); });
        std::vector<std::uint32_t> order;
        order.reserve(s.sorted.size() + tail.size());
        std::merge(s.sorted.begin(), s.sorted.end(), tail.begin(), tail.end(), std::back_inserter(order),
                   [&](std::uint32_t a, std::uint32_t b) { return s.term(a) < s.term(b); });
        for (const auto t : order)
            if (term_renumber[t] != no_doc) next.sorted.push_back(term_renumber[t]);
        std::size_t n = 1024;
        while (n < 2 * next.terms.size()) n *= 2;
        next.slots.assign(n, 0);
        for (std::uint32_t t = 0; t < next.terms.size(); ++t) place_term(next.slots, next.term(t), t);
        // The id table, for the new ordinals.
        std::vector<std::uint32_t> ids(ids_.size(), 0);
        for (std::size_t i = 0; i < ids_.size(); ++i)
            if (ids_[i] != 0) ids[i] = renumber[ids_[i] - 1] + 1;
        {
            const std::unique_lock lock(mutex_);
            store_.swap(next);
            trim_log();
        }
        ids_.swap(ids);  // same slots (same ids, same hashes), new ordinals
        rewrites_.fetch_add(1, std::memory_order_relaxed);
    }

    const text::tokenizer_options options_;
    const std::size_t min_batch_;

    // Readers hold it shared (a view, for its lifetime); the writer exclusively, briefly.
    mutable detail::shared_gate mutex_;
    // Serialises the changes; readers never take it.
    mutable std::mutex writer_;

    store store_;
    std::uint64_t newest_docs_ = 0;    // visible at the newest state
    std::uint64_t newest_tokens_ = 0;
    std::vector<change> log_;          // changes at sequences above the horizon

    // The writer's own state.
    std::vector<std::uint32_t> ids_;   // 1 + the live version of each entity (by its id's hash)
    std::size_t live_ = 0;
    std::uint64_t horizon_ = 0;        // the oldest snapshot last given
    std::size_t closed_since_check_ = 0;
    std::atomic<std::size_t> rewrites_{0};
    std::atomic<std::size_t> id_bytes_{0};  // the id table's capacity in bytes (memory_bytes)
    // Scratch of add(), kept between calls.
    std::vector<std::uint64_t> tokens_;  // term << 32 | position
    std::vector<std::pair<std::uint32_t, std::uint32_t>> new_terms_;  // in new_text_
    std::string new_text_;
    std::vector<group> groups_;
    std::string encoded_;
    std::size_t length_ = 0;
};

// A reader at one snapshot: models text::posting_source. Holds the index's shared lock
// until destroyed (see text_postings' thread-safety).
class text_postings::snapshot_view {
public:
    using doc_type = text_postings::doc_type;

    snapshot_view(snapshot_view&&) noexcept = default;
    snapshot_view& operator=(snapshot_view&&) noexcept = default;

    [[nodiscard]] std::uint64_t snapshot() const noexcept { return snapshot_; }
    [[nodiscard]] std::uint64_t doc_count() const noexcept { return docs_; }
    [[nodiscard]] std::uint64_t total_tokens() const noexcept { return tokens_; }
    [[nodiscard]] std::uint64_t doc_length(const doc_type& doc) const noexcept { return data().rows[doc].length; }
    // The entity a document version belongs to.
    [[nodiscard]] const entity_id& id_of(const doc_type& doc) const noexcept { return data().rows[doc].id; }

    template <typename F>
    void for_each_posting(std::string_view term, F&& f) const {
        const auto& s = data();
        const std::uint32_t t = s.find(term);
        if (t == no_doc) return;
        const term_entry& e = s.terms[t];
        std::vector<std::uint32_t> positions;
        std::uint32_t doc = 0;
        for (const unsigned char *p = e.data, *end = e.data + e.size; p < end;) {
            const std::uint64_t head = get_varint(p);
            doc += static_cast<std::uint32_t>(head >> 1);
            const std::uint64_t count = (head & 1) ? 1 : get_varint(p);
            const row& r = s.rows[doc];
            if (!(r.from <= snapshot_ && snapshot_ < r.to)) {
                skip_varints(p, count);
                continue;
            }
            positions.resize(count);
            std::uint32_t position = 0;
            for (auto& out : positions) out = position += static_cast<std::uint32_t>(get_varint(p));
            f(static_cast<const doc_type&>(doc), std::span<const std::uint32_t>(positions));
        }
    }

    template <typename F>
    void for_each_term_with_prefix(std::string_view prefix, F&& f) const {
        const auto& s = data();
        const auto first = std::partition_point(s.sorted.begin(), s.sorted.end(),
                                                [&](std::uint32_t t) { return s.term(t) < prefix; });
        std::vector<std::string_view> tail;
        for (const auto t : s.unsorted)
            if (s.term(t).starts_with(prefix)) tail.push_back(s.term(t));
        std::sort(tail.begin(), tail.end());
        auto next = tail.begin();
        for (auto it = first; it != s.sorted.end() && s.term(*it).starts_with(prefix); ++it) {
            const std::string_view term = s.term(*it);
            for (; next != tail.end() && *next < term; ++next) f(*next);
            f(term);
        }
        for (; next != tail.end(); ++next) f(*next);
    }

private:
    friend class text_postings;
    snapshot_view(const text_postings& index, std::uint64_t snapshot)
        : lock_(index.mutex_), index_(&index), snapshot_(snapshot) {
        docs_ = index.newest_docs_;
        tokens_ = index.newest_tokens_;
        for (const auto& c : index.log_)
            if (c.seq > snapshot) {
                docs_ -= static_cast<std::uint64_t>(c.docs);
                tokens_ -= static_cast<std::uint64_t>(c.tokens);
            }
    }
    [[nodiscard]] const text_postings::store& data() const noexcept { return index_->store_; }

    std::shared_lock<detail::shared_gate> lock_;
    const text_postings* index_;
    std::uint64_t snapshot_;
    std::uint64_t docs_ = 0;
    std::uint64_t tokens_ = 0;
};

inline text_postings::snapshot_view text_postings::view(std::uint64_t snapshot) const {
    return snapshot_view(*this, snapshot);
}

static_assert(text::posting_source<text_postings::snapshot_view>,
              "text_postings::snapshot_view must model text::posting_source");

// The best `limit` hits of `q` at the view's snapshot, best first, as entity ids with their
// BM25 scores (equal scores: the version indexed first comes first).
[[nodiscard]] inline std::vector<text::search_hit<entity_id>> search(const text_postings::snapshot_view& view,
                                                                     const text::query& q, std::size_t limit,
                                                                     const text::bm25_parameters& params = {}) {
    std::vector<text::search_hit<entity_id>> out;
    for (const auto& hit : text::search(view, q, limit, params)) out.push_back({view.id_of(hit.doc), hit.score});
    return out;
}

}  // namespace v1
}  // namespace entidb
