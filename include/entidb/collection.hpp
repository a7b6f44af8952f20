// entidb/collection.hpp — typed collections with secondary indexes declared as policies.
//
//   struct user {
//       std::string name, email;
//       std::uint32_t age = 0;
//       static constexpr auto entidb_fields = entidb::fields(
//           entidb::field("name", &user::name), entidb::field("email", &user::email),
//           entidb::field("age", &user::age));
//   };
//   using users_t = entidb::collection<user, entidb::unique_hash_index<"email">,
//                                      entidb::ordered_index<"age">>;
//   users_t users(db, "users");            // declares (and if needed builds) both indexes
//   db.transaction([&](auto& txn) { users.put(txn, id, u); });
//   auto r = db.begin_read();
//   for (const auto& [id, u] : users.range<"age">(r, 18, 65)) ...   // lazy, holds its snapshot
//
// Index keys come from the entity's canonical CBOR at the field path (dots for nesting:
// "address.city"), so the engine maintains and rebuilds them without the C++ type. An
// access path naming a field the collection does not declare fails to compile.
// A value decodes only from canonical bytes; the wrong shape is errc::type_mismatch.
//
// Thread-safety: a collection handle is immutable after construction; share it freely.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "codec.hpp"
#include "database.hpp"
#include "index_kind.hpp"

namespace entidb {
inline namespace v1 {

// A string usable as a template argument: hash_index<"email">.
template <std::size_t N>
struct fixed_string {
    char chars[N]{};
    constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, chars); }
    [[nodiscard]] constexpr std::string_view view() const { return {chars, N - 1}; }
};

template <fixed_string Path, index_kind Kind, bool Unique>
struct index_policy_base {
    static constexpr std::string_view path = Path.view();
    static constexpr index_kind kind = Kind;
    static constexpr bool unique = Unique;
};

// Equality lookups on a field.
template <fixed_string Path, bool Unique = false>
struct hash_index : index_policy_base<Path, index_kind::hash, Unique> {};
// Equality, ranges, text prefixes and ordered iteration on a field.
template <fixed_string Path, bool Unique = false>
struct ordered_index : index_policy_base<Path, index_kind::ordered, Unique> {};
template <fixed_string Path>
using unique_hash_index = hash_index<Path, true>;
template <fixed_string Path>
using unique_ordered_index = ordered_index<Path, true>;
// Full text on a text field, searched with search<"path">: words cut and folded as the
// options say (docs/indexes.md, "Full-text indexes"; never unique).
template <fixed_string Path, text::stemmer Stem = text::stemmer::none, bool KeepDiacritics = false>
struct text_index : index_policy_base<Path, index_kind::text, false> {
    static constexpr text_index_options text_options{.keep_diacritics = KeepDiacritics, .stem = Stem};
};

template <typename I>
concept index_policy = requires {
    { I::path } -> std::convertible_to<std::string_view>;
    { I::kind } -> std::convertible_to<index_kind>;
    { I::unique } -> std::convertible_to<bool>;
};

// One entity of a typed range.
template <typename T>
struct typed_entity {
    entity_id id;
    T value;
};

// One hit of a typed full-text search: the entity and its BM25 score (higher is better).
template <typename T>
struct scored_entity {
    entity_id id;
    double score;
    T value;
};

// Decodes each entity of `Range` (stored_entity, or entity_view in storage order: decoded
// from the view, before the iterator moves on) into a typed_entity<T> as it is reached.
template <typename Range, typename T, typename Codec>
class typed_range : public std::ranges::view_base {
public:
    class iterator {
    public:
        using value_type = typed_entity<T>;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(std::ranges::iterator_t<const Range> it) : it_(std::move(it)) {}
        const typed_entity<T>& operator*() const {
            if (!current_) current_ = typed_entity<T>{it_->id, Codec::decode(cbor::decode(it_->bytes))};
            return *current_;
        }
        const typed_entity<T>* operator->() const { return &**this; }
        iterator& operator++() {
            ++it_;
            current_.reset();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& a, std::default_sentinel_t s) { return a.it_ == s; }

    private:
        std::ranges::iterator_t<const Range> it_{};
        mutable std::optional<typed_entity<T>> current_;
    };

    typed_range() = default;
    explicit typed_range(Range r) : range_(std::move(r)) {}
    [[nodiscard]] iterator begin() const { return iterator(range_.begin()); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    Range range_;
};

template <typename T, typename... Indexes>
    requires has_default_codec<T> && (index_policy<Indexes> && ...)
class collection {
    using codec_type = codec<T>;

    template <fixed_string Path>
    static constexpr bool declared = ((Indexes::path == Path.view()) || ...);
    template <fixed_string Path>
    static constexpr bool declared_ordered =
        ((Indexes::path == Path.view() && Indexes::kind == index_kind::ordered) || ...);
    template <fixed_string Path>
    static constexpr bool declared_text = ((Indexes::path == Path.view() && Indexes::kind == index_kind::text) || ...);

    template <typename Index, typename Traits>
    void declare(basic_database<Traits>& db) const {
        if constexpr (requires { Index::text_options; })
            db.declare_index(name_, Index::path, Index::text_options);
        else
            db.declare_index(name_, Index::path, Index::kind, Index::unique);
    }

public:
    using value_type = T;

    // Declares the collection's indexes on `db` (building any that are new).
    template <typename Traits>
    collection(basic_database<Traits>& db, std::string name) : name_(std::move(name)) {
        (declare<Indexes>(db), ...);
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    template <typename Traits>
    void put(basic_write_transaction<Traits>& txn, const entity_id& id, const T& value) const {
        txn.put(name_, id, encode_entity<T, codec_type>(value));
    }

    template <typename Traits>
    bool remove(basic_write_transaction<Traits>& txn, const entity_id& id) const {
        return txn.remove(name_, id);
    }

    // From a read or write transaction (a write transaction sees its own writes).
    template <typename Txn>
    [[nodiscard]] std::optional<T> get(const Txn& txn, const entity_id& id) const {
        const auto bytes = txn.get(name_, id);
        if (!bytes) return std::nullopt;
        return decode_entity<T, codec_type>(*bytes);
    }

    template <typename Traits>
    [[nodiscard]] std::vector<std::optional<T>> get_many(const basic_read_transaction<Traits>& txn,
                                                         std::span<const entity_id> ids) const {
        std::vector<std::optional<T>> out;
        out.reserve(ids.size());
        for (const auto& id : ids) out.push_back(get(txn, id));
        return out;
    }

    // Equality on a declared index (hash or ordered).
    template <fixed_string Path, typename Traits, typename K>
    [[nodiscard]] auto find(const basic_read_transaction<Traits>& txn, const K& key) const {
        static_assert(declared<Path>,
                      "entidb: find<\"path\"> needs an index on that field: add entidb::hash_index<\"path\"> or "
                      "entidb::ordered_index<\"path\"> to the collection's type, or use scan() and filter");
        return typed(txn.find(name_, Path.view(), to_value(key)));
    }

    // Values within [lo, hi] (either bound may be std::nullopt; bounds inclusive unless
    // stated with entidb::bound), in field order or reversed.
    template <fixed_string Path, typename Traits, typename Lo, typename Hi>
    [[nodiscard]] auto range(const basic_read_transaction<Traits>& txn, const Lo& lo, const Hi& hi,
                             order direction = order::ascending) const {
        static_assert(declared_ordered<Path>,
                      "entidb: range<\"path\"> needs an ordered index on that field: add "
                      "entidb::ordered_index<\"path\"> to the collection's type");
        return typed(txn.range(name_, Path.view(), to_bound(lo), to_bound(hi), direction));
    }

    // Every entity in field order (forward or backward), through an ordered index.
    template <fixed_string Path, typename Traits>
    [[nodiscard]] auto ordered(const basic_read_transaction<Traits>& txn, order direction = order::ascending) const {
        static_assert(declared_ordered<Path>,
                      "entidb: ordered<\"path\"> needs an ordered index on that field: add "
                      "entidb::ordered_index<\"path\"> to the collection's type");
        return typed(txn.range(name_, Path.view(), std::nullopt, std::nullopt, direction));
    }

    // The best `limit` hits of a full-text query on a text index, best first, decoded.
    // `syntax` as read_transaction::search (fts5: errc::invalid_argument with the column for
    // a query that does not parse; plain: the words, never a syntax error).
    template <fixed_string Path, typename Traits>
    [[nodiscard]] std::vector<scored_entity<T>> search(const basic_read_transaction<Traits>& txn, std::string_view query,
                                                       std::size_t limit = 10,
                                                       query_syntax syntax = query_syntax::fts5) const {
        static_assert(declared_text<Path>,
                      "entidb: search<\"path\"> needs a text index on that field: add entidb::text_index<\"path\"> "
                      "to the collection's type");
        std::vector<scored_entity<T>> out;
        for (const auto& hit : txn.search(name_, Path.view(), query, limit, syntax))
            if (auto value = get(txn, hit.doc)) out.push_back({hit.doc, hit.score, std::move(*value)});
        return out;
    }

    // Text fields starting with `text`.
    template <fixed_string Path, typename Traits>
    [[nodiscard]] auto prefix(const basic_read_transaction<Traits>& txn, std::string_view text) const {
        static_assert(declared_ordered<Path>,
                      "entidb: prefix<\"path\"> needs an ordered index on that field: add "
                      "entidb::ordered_index<\"path\"> to the collection's type");
        return typed(txn.prefix(name_, Path.view(), text));
    }

    // The explicit full scan, in id order (counted; refused when full scans are forbidden).
    template <typename Traits>
    [[nodiscard]] auto scan(const basic_read_transaction<Traits>& txn) const {
        return typed(txn.scan(name_));
    }
    // The same in storage order: faster, no order promised (txn/snapshot.hpp, storage_range);
    // each entity is decoded from a view of its bytes, which are never copied.
    template <typename Traits>
    [[nodiscard]] auto scan(const basic_read_transaction<Traits>& txn, storage_order_t order) const {
        return typed(txn.scan(name_, order));
    }

private:
    template <typename Range>
    [[nodiscard]] static typed_range<Range, T, codec_type> typed(Range r) {
        return typed_range<Range, T, codec_type>(std::move(r));
    }

    template <typename K>
    [[nodiscard]] static cbor::value to_value(const K& key) {
        if constexpr (std::is_same_v<K, cbor::value>) {
            return key;
        } else if constexpr (std::is_convertible_v<const K&, std::string_view>) {
            return cbor::value(std::string(std::string_view(key)));
        } else {
            static_assert(has_default_codec<K>, "entidb: an index key needs a type with an entidb::codec");
            byte_buffer bytes;
            cbor::encoder enc(bytes);
            codec<K>::encode(enc, key);
            return cbor::decode(bytes);
        }
    }

    template <typename B>
    [[nodiscard]] static std::optional<bound> to_bound(const B& b) {
        if constexpr (std::is_same_v<B, std::nullopt_t>)
            return std::nullopt;
        else if constexpr (std::is_same_v<B, bound>)
            return b;
        else
            return bound{to_value(b), true};
    }

    std::string name_;
};

}  // namespace v1
}  // namespace entidb
