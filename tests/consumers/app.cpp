// What every consumer project builds (tests/consumers/run_consumers.py): a program that uses
// the library's headers and the dependencies they bring ({fmt}, xxHash), as a user's would.
// With ENTIDB_CONSUMER_DATABASE it also commits to and reads back from a database in memory
// (the whole engine, about ten times the compile time: the test run's consumers build the
// lighter part, and the C consumer, app_c.c, does the database round trip through entidb::c).
#include <entidb/hash.hpp>
#include <entidb/version.hpp>
#ifdef ENTIDB_CONSUMER_DATABASE
#include <entidb/entidb.hpp>
#endif

#include <fmt/core.h>

int main() {
    const auto h = entidb::hash64(entidb::as_bytes("entidb"));
#ifdef ENTIDB_CONSUMER_DATABASE
    auto db = entidb::open_in_memory();
    const auto id = entidb::entity_id::generate();
    db.transaction([&](auto& txn) { txn.put("notes", id, entidb::cbor::from_json(R"({"title":"hello"})")); });
    const auto back = db.begin_read().get("notes", id);
    if (!back || entidb::cbor::to_json(*back) != R"({"title":"hello"})") return 1;
    fmt::print("database ok\n");
#endif
    fmt::print("entidb {} hash {:016x}\n", entidb::library_version, h);
    return 0;
}
