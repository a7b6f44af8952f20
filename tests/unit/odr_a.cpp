// Two translation units include every public header (odr_b.cpp too) and link into one
// program: inline functions, templates and constants must not clash (ODR), and no
// third-party symbol (xxHash) may be defined twice.
#include <entidb/entidb.hpp>

std::uint64_t hash_in_b(entidb::bytes_view data);

int main() {
    const auto data = entidb::as_bytes("odr");
    if (entidb::hash64(data) != hash_in_b(data)) return 1;
    if (entidb::crc32(data) == 0) return 2;
    auto db = entidb::open_in_memory();
    return db.last_sequence() == 0 ? 0 : 3;
}
