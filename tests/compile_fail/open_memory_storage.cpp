// Must not compile: entidb::open<Traits>(dir) with traits that cannot open a directory.
// expect: open<Traits>(dir) opens a database directory
#include <entidb/database.hpp>

int main() {
    auto db = entidb::open<entidb::memory_storage>("db");
    return 0;
}
