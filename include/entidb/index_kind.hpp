// entidb/index_kind.hpp — the kinds of secondary index, as declare_index, the typed index
// policies (collection.hpp) and the tool name them.
//
// The MANIFEST stores a kind as a byte of its own (format::index_kind, SPEC.md §3: 0 hash,
// 1 btree; ours: 2 text); format/manifest.hpp is the one place that maps between the two. Each kind's
// implementation, byte and name are registered in index/index_kinds.hpp, which
// static_asserts that this file's names agree.
#pragma once

#include <cstdint>
#include <string_view>

namespace entidb {
inline namespace v1 {

enum class index_kind : std::uint8_t {
    hash,     // equality lookups
    ordered,  // equality, ranges, text prefixes and ordered iteration
    text,     // full text: the words of a text field, searched and ranked (docs/indexes.md)
};

// "hash", "ordered" or "text", as messages and `entidb inspect` print a kind.
[[nodiscard]] constexpr std::string_view to_string(index_kind k) noexcept {
    switch (k) {
        case index_kind::hash: return "hash";
        case index_kind::ordered: return "ordered";
        case index_kind::text: return "text";
    }
    return "unknown";
}

}  // namespace v1
}  // namespace entidb
