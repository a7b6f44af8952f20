// entidb/index/index_implementation.hpp — what a secondary index kind provides.
//
// A kind is one class modelling `index_implementation` (hash_index.hpp, ordered_index.hpp)
// plus one line in the registry (index_kinds.hpp). Everything else — the MANIFEST, open,
// commits, unique checks, the tool — reaches it through the registry and the type-erased
// secondary_index (secondary_index.hpp), so a new kind touches no other code.
//
// A kind provides:
//   - declaration from its MANIFEST entry: constructible from format::manifest_index,
//     definition() returns it;
//   - key extraction: key_of(payload), the key an entity with this canonical CBOR payload
//     has (nullopt when the field is absent), failing with the typed errors of
//     make_index_key;
//   - snapshot-aware changes and lookups: add(key, id, from) (or add(key, id, from, oldest),
//     told the oldest snapshot still readable), remove(key, id, at, oldest),
//     find(key, snapshot), entry_count(snapshot), and live_holders(key) for unique checks;
//   - bulk build by streaming: open and declare_index feed one add() per live entity, in id
//     order, into an empty index; the kind makes that cheap (postings.hpp sorts once), and
//     may have a built() that runs at its end;
//   - memory accounting: memory_bytes().
// Capabilities are opt-in traits, false when absent:
//   - `static constexpr bool ordered = true`: range(lo, hi, snapshot, reverse) and
//     prefix(key, snapshot) in key order (index_range / index_prefix below);
//   - `static constexpr bool supports_unique = true`: the kind may be declared unique;
//   - `static constexpr bool searchable = true`: search(query, syntax, snapshot, limit), the
//     best hits of a full-text query with their scores (text_index.hpp).
// Its `static constexpr index_kind kind` names the public enumerator it implements.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "../bytes.hpp"
#include "../entity_id.hpp"
#include "../format/manifest.hpp"
#include "../index_kind.hpp"
#include "index_key.hpp"
#include "postings.hpp"

namespace entidb {
inline namespace v1 {

// Opt-in capabilities: a kind declares them true; absent means false.
template <typename I>
inline constexpr bool index_is_ordered = requires { requires static_cast<bool>(I::ordered); };
template <typename I>
inline constexpr bool index_supports_unique = requires { requires static_cast<bool>(I::supports_unique); };
template <typename I>
inline constexpr bool index_is_searchable = requires { requires static_cast<bool>(I::searchable); };

// The lookups every kind answers, by key and snapshot.
template <typename I>
concept index_lookups = requires(I& ix, const I& c, bytes_view payload, const index_key& key, const entity_id& id,
                                 std::uint64_t seq) {
    { I::kind } -> std::convertible_to<index_kind>;
    { c.definition() } -> std::same_as<const format::manifest_index&>;
    { c.key_of(payload) } -> std::same_as<std::optional<index_key>>;
    ix.add(key, id, seq);
    ix.remove(key, id, seq, seq);
    { c.find(key, seq) } -> std::same_as<std::vector<entity_id>>;
    { c.live_holders(key) } -> std::same_as<std::vector<entity_id>>;
    { c.entry_count(seq) } -> std::same_as<std::uint64_t>;
    { c.memory_bytes() } -> std::same_as<std::size_t>;
};

// The lookups in key order an ordered kind adds.
template <typename I>
concept ordered_lookups = requires(const I& c, const std::optional<key_bound>& b, const index_key& key,
                                   std::uint64_t seq) {
    { c.range(b, b, seq, true) } -> std::same_as<std::vector<entity_id>>;
    { c.prefix(key, seq) } -> std::same_as<std::vector<entity_id>>;
};

template <typename I>
concept index_implementation = std::constructible_from<I, format::manifest_index> && index_lookups<I> &&
                               (!index_is_ordered<I> || ordered_lookups<I>);

// Range and prefix lookups through the concept: only an ordered kind has them, and asking
// another kind is a compile error rather than a lookup that silently scans.
template <index_implementation I>
[[nodiscard]] std::vector<entity_id> index_range(const I& ix, const std::optional<key_bound>& lo,
                                                 const std::optional<key_bound>& hi, std::uint64_t snapshot,
                                                 bool reverse = false) {
    static_assert(index_is_ordered<I>, "a range lookup needs an ordered index kind (static constexpr bool ordered)");
    return ix.range(lo, hi, snapshot, reverse);
}
template <index_implementation I>
[[nodiscard]] std::vector<entity_id> index_prefix(const I& ix, const index_key& prefix, std::uint64_t snapshot) {
    static_assert(index_is_ordered<I>, "a prefix lookup needs an ordered index kind (static constexpr bool ordered)");
    return ix.prefix(prefix, snapshot);
}

}  // namespace v1
}  // namespace entidb
