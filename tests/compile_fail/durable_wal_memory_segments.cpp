// Must not compile: a durable WAL whose segments live in memory would lose acknowledged
// commits when a segment rotates (SPEC.md §9 rule 2).
// expect: a durable WAL backend needs a segment factory whose backends are durable too
#include <entidb/database.hpp>

struct bad_traits {
    using wal_backend = entidb::file_backend;
    using segment_factory = entidb::memory_segment_factory;
};

int main() {
    auto db = entidb::basic_database<bad_traits>::open_with_backends(nullptr, {});
    (void)db;
}
