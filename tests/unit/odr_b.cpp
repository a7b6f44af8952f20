// See odr_a.cpp.
#include <entidb/entidb.hpp>

std::uint64_t hash_in_b(entidb::bytes_view data) { return entidb::hash64(data); }
