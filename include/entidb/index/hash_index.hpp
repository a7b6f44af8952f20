// entidb/index/hash_index.hpp — the hash kind: equality lookups on one field
// (index_kind::hash, MANIFEST byte 0). Its postings are the ordered kind's layout
// (postings.hpp), which answers an exact key in O(log n) with no second copy of the keys.
#pragma once

#include "../index_kind.hpp"
#include "field_index.hpp"
#include "index_implementation.hpp"

namespace entidb {
inline namespace v1 {
namespace indexes {

class hash_index : public detail::field_index {
public:
    static constexpr index_kind kind = index_kind::hash;
    static constexpr bool supports_unique = true;

    using field_index::field_index;
};
static_assert(index_implementation<hash_index>);

}  // namespace indexes
}  // namespace v1
}  // namespace entidb
