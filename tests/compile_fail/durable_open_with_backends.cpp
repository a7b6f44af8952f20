// Must not compile: open_with_backends keeps the collection catalog only in memory, so a
// database on durable backends would reopen with its data unreachable. Durable
// compositions open through entidb::open<Traits>(dir), which keeps it in the MANIFEST.
// expect: open_with_backends keeps the collection catalog only in memory
#include <entidb/database.hpp>

int main() {
    auto db = entidb::database::open_with_backends(
        std::make_unique<entidb::file_backend>(entidb::file_backend::open("wal.log", entidb::file_mode::create_or_open)),
        entidb::file_segment_factory("SEGMENTS"));
    (void)db;
}
