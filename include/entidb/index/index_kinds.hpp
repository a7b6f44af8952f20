// entidb/index/index_kinds.hpp — the one registry of secondary index kinds.
//
// Each line pairs an implementation (a model of index_implementation, whose `kind` names the
// public entidb::index_kind enumerator) with its MANIFEST kind byte (SPEC.md §3) and the
// name the tool takes as a flag (`entidb index --hash`) and prints. Adding a kind is its
// header plus one line here (and its enumerator and byte, which the static_asserts below
// hold to this table). format/ sits below index/ and keeps its own byte table
// (format::index_kind_bytes); this registry is what pairs the two.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../index_kind.hpp"
#include "hash_index.hpp"
#include "index_implementation.hpp"
#include "ordered_index.hpp"
#include "secondary_index.hpp"
#include "text_index.hpp"

namespace entidb {
inline namespace v1 {

// A kind's name as a template argument.
template <std::size_t N>
struct index_kind_name {
    char text[N];
    constexpr index_kind_name(const char (&s)[N]) { std::copy_n(s, N, text); }  // NOLINT: implicit by design
    [[nodiscard]] constexpr std::string_view view() const noexcept { return {text, N - 1}; }
};

// One registration: the implementation, its MANIFEST byte and its name.
template <index_implementation I, format::index_kind Byte, index_kind_name Name>
struct index_kind_entry {
    using implementation = I;
    static constexpr index_kind kind = I::kind;
    static constexpr format::index_kind manifest_byte = Byte;
    static constexpr std::string_view name = Name.view();

    static_assert(format::manifest_kind_byte(kind) == static_cast<std::uint8_t>(Byte),
                  "format::index_kind_bytes stores this kind under another byte");
    static_assert(to_string(kind) == name, "entidb::to_string(index_kind) names this kind otherwise");
};

// ---- the registry: one line per kind ----
using index_kinds = std::tuple<                                        //
    index_kind_entry<indexes::hash_index, format::index_kind::hash, "hash">,
    index_kind_entry<indexes::ordered_index, format::index_kind::btree, "ordered">,
    index_kind_entry<indexes::text_index, format::index_kind::text, "text">>;

inline constexpr std::size_t index_kind_count = std::tuple_size_v<index_kinds>;
static_assert(index_kind_count == format::index_kind_bytes.size(),
              "every kind the MANIFEST can store is registered, and no other");

namespace detail {
template <typename F, std::size_t... N>
constexpr void for_each_index_kind(F&& f, std::index_sequence<N...>) {
    (f(std::tuple_element_t<N, index_kinds>{}), ...);
}
}  // namespace detail

// Calls f(entry) for each registered kind, in registry order.
template <typename F>
constexpr void for_each_index_kind(F&& f) {
    detail::for_each_index_kind(f, std::make_index_sequence<index_kind_count>{});
}

// The registered names, in registry order ("hash", "ordered", "text").
[[nodiscard]] constexpr std::array<std::string_view, index_kind_count> index_kind_names() {
    std::array<std::string_view, index_kind_count> out{};
    std::size_t i = 0;
    for_each_index_kind([&](auto e) { out[i++] = decltype(e)::name; });
    return out;
}

// The kind registered under `name`, or nullopt.
[[nodiscard]] constexpr std::optional<index_kind> index_kind_named(std::string_view name) {
    std::optional<index_kind> out;
    for_each_index_kind([&](auto e) {
        if (decltype(e)::name == name) out = decltype(e)::kind;
    });
    return out;
}

static_assert([] {
    for (const auto name : index_kind_names())
        if (!index_kind_named(name) || to_string(*index_kind_named(name)) != name) return false;
    return true;
}(), "registered names are distinct");

// A new, empty index of the registered kind `Entry`; a unique one only if the kind supports it.
template <typename Entry>
[[nodiscard]] std::shared_ptr<secondary_index> make_index_of_kind(format::manifest_index def) {
    using implementation = typename Entry::implementation;
    if (def.unique && !index_supports_unique<implementation>)
        fail(errc::invalid_argument, "a {} index cannot be unique", Entry::name);
    return std::make_shared<index_model<implementation>>(std::move(def));
}

// A new, empty index of the kind its MANIFEST entry names.
[[nodiscard]] inline std::shared_ptr<secondary_index> make_secondary_index(format::manifest_index def) {
    std::shared_ptr<secondary_index> out;
    for_each_index_kind([&](auto e) {
        if (!out && def.kind == decltype(e)::kind) out = make_index_of_kind<decltype(e)>(std::move(def));
    });
    if (!out) fail(errc::invalid_argument, "index {} has unknown kind {}", def.id, static_cast<unsigned>(def.kind));
    return out;
}

}  // namespace v1
}  // namespace entidb
