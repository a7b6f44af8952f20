// Must not compile: a range lookup through the index concept on a kind that is not ordered.
// expect: a range lookup needs an ordered index kind
#include <optional>

#include <entidb/index/index_kinds.hpp>

int main() {
    entidb::indexes::hash_index ix({.id = 1, .collection_id = 1, .path = {"n"}, .kind = entidb::index_kind::hash,
                                    .unique = false, .created_at_seq = 0});
    return static_cast<int>(entidb::index_range(ix, std::nullopt, std::nullopt, 1).size());
}
