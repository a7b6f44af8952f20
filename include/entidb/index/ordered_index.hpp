// entidb/index/ordered_index.hpp — the ordered kind: equality, ranges, text prefixes and
// ordered iteration on one field (index_kind::ordered, MANIFEST byte 1 "btree"). Keys order
// as index_key.hpp promises.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../entity_id.hpp"
#include "../index_kind.hpp"
#include "field_index.hpp"
#include "index_implementation.hpp"
#include "index_key.hpp"

namespace entidb {
inline namespace v1 {
namespace indexes {

class ordered_index : public detail::field_index {
public:
    static constexpr index_kind kind = index_kind::ordered;
    static constexpr bool ordered = true;
    static constexpr bool supports_unique = true;

    using field_index::field_index;

    // Entities whose key lies within the bounds, in key order (then id), or in reverse.
    [[nodiscard]] std::vector<entity_id> range(const std::optional<key_bound>& lo, const std::optional<key_bound>& hi,
                                               std::uint64_t snapshot, bool reverse = false) const {
        return postings_.range(lo, hi, snapshot, reverse);
    }
    // Entities whose key starts with `prefix` (text prefixes), in key order.
    [[nodiscard]] std::vector<entity_id> prefix(const index_key& prefix, std::uint64_t snapshot) const {
        return postings_.prefix(prefix, snapshot);
    }
};
static_assert(index_implementation<ordered_index>);

}  // namespace indexes
}  // namespace v1
}  // namespace entidb
