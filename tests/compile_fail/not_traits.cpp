// Must not compile: the traits type names no backends.
// expect: a database traits type needs `using wal_backend
#include <entidb/database.hpp>

struct empty_traits {};

int main() {
    return static_cast<int>(sizeof(entidb::basic_database<empty_traits>));
}
