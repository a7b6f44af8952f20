// Must not compile: a read transaction has no way to write.
// expect: no member named
#include <entidb/database.hpp>

int main() {
    auto db = entidb::open_in_memory();
    auto r = db.begin_read();
    r.put("c", entidb::entity_id{}, {});
}
