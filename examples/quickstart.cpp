#include <entidb/entidb.hpp>
#include <fmt/core.h>

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "quickstart.db";
    auto db = entidb::open(path);  // creates the directory, or recovers it

    // Entities are canonical CBOR; the streaming encoder writes it directly.
    entidb::byte_buffer note;
    entidb::cbor::encoder(note).begin_map(2).text("title").text("hello").text("stars").uint(3).end_map();

    const auto id = entidb::entity_id::generate();
    const auto seq = db.transaction([&](auto& txn) { txn.put("notes", id, note); });  // durable on return

    auto snapshot = db.begin_read();  // a consistent view, never blocked by writers
    if (auto bytes = snapshot.get("notes", id))
        fmt::print("commit {}: {} = {}\n", seq, id, entidb::cbor::to_json(*bytes));
    for (const auto& e : snapshot.scan("notes"))  // an explicit full scan
        if (entidb::cbor::decode(e.bytes).find("stars")) fmt::print("starred: {}\n", e.id);
    return 0;
}
