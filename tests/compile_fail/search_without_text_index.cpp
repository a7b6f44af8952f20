// Must not compile: a typed full-text search on a field the collection's type declares no
// text index on (a hash index there answers equality only).
// expect: needs a text index on that field: add entidb::text_index
#include <string>

#include <entidb/entidb.hpp>

struct note {
    std::string body;
    static constexpr auto entidb_fields = entidb::fields(entidb::field("body", &note::body));
};

int main() {
    auto db = entidb::open("db");
    entidb::collection<note, entidb::hash_index<"body">> notes(db, "notes");
    auto r = db.begin_read();
    return static_cast<int>(notes.search<"body">(r, "word").size());
}
