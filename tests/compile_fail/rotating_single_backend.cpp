// Must not compile: rotation is on (the default) but the factory holds a single backend.
// expect: these traits rotate segments but the segment factory cannot make a second segment
#include <entidb/database.hpp>

struct bad_traits {
    using wal_backend = entidb::memory_backend;
    using segment_factory = entidb::single_backend_factory<entidb::memory_backend>;
};

int main() {
    entidb::basic_database<bad_traits>* db = nullptr;
    (void)db->last_sequence();
}
