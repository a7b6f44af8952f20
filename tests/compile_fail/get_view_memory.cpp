// Must not compile: in-memory segments move as they grow, so there is no stable view
// to hand out; get() copies instead.
// expect: get_view needs segments that can be mapped
#include <entidb/database.hpp>

int main() {
    auto db = entidb::open_in_memory();
    auto r = db.begin_read();
    (void)r.get_view("c", entidb::entity_id{});
}
