// Read and write transactions (txn/transaction.hpp, txn/snapshot.hpp): what a snapshot
// sees and how long it lives, a writer's view of its own writes, and the end of a write
// transaction (commit, abort, destruction, move) with the typed errors of misuse.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

template <typename Range>
std::vector<entidb::entity_id> ids_in(const Range& r) {
    std::vector<entidb::entity_id> out;
    for (const auto& e : r) out.push_back(e.id);
    return out;
}

// Two entities in "c", committed as sequence 1.
entidb::memory_database two_entities() {
    auto db = entidb::open_in_memory();
    db.transaction([](auto& txn) {
        txn.put("c", id_of(1), payload(1));
        txn.put("c", id_of(2), payload(2));
    });
    return db;
}

}  // namespace

TEST_CASE("read transaction: a snapshot as of its start, shared by its copies", "[transaction]") {
    auto db = two_entities();
    const auto before = db.begin_read();
    const auto copy = before;
    db.transaction([](auto& txn) {
        txn.put("c", id_of(1), payload(10));
        txn.remove("c", id_of(2));
        txn.put("d", id_of(3), payload(3));
    });
    for (const auto* r : {&before, &copy}) {
        CHECK(r->sequence() == 1);
        CHECK(r->get("c", id_of(1)) == payload(1));
        CHECK(r->get("c", id_of(2)) == payload(2));
        CHECK_FALSE(r->get("d", id_of(3)));
        CHECK(r->count("c") == 2);
        CHECK(r->collections() == std::vector<std::string>{"c"});
    }
    const auto after = db.begin_read();
    CHECK(after.sequence() == 2);
    CHECK(after.get("c", id_of(1)) == payload(10));
    CHECK_FALSE(after.get("c", id_of(2)));
    CHECK(after.count("c") == 1);
    CHECK(after.collections() == std::vector<std::string>{"c", "d"});
}

TEST_CASE("read transaction: unknown collections read as empty", "[transaction]") {
    auto db = two_entities();
    const auto r = db.begin_read();
    CHECK_FALSE(r.get("none", id_of(1)));
    CHECK_FALSE(r.get("c", id_of(99)));
    CHECK(r.count("none") == 0);
    CHECK(ids_in(r.scan("none")).empty());
    CHECK(ids_in(r.scan("none", entidb::in_storage_order)).empty());
    CHECK(r.find("none", "n", entidb::cbor::value(1)).empty());
    CHECK(r.range("none", "n", std::nullopt, std::nullopt).empty());
    CHECK(r.prefix("none", "p", "x").empty());
    CHECK_FALSE(r.has_index("none", "n"));
}

TEST_CASE("read transaction: get_many answers in the order asked", "[transaction]") {
    auto db = two_entities();
    const std::vector<entidb::entity_id> ids{id_of(2), id_of(7), id_of(1), id_of(2)};
    const auto got = db.begin_read().get_many("c", ids);
    REQUIRE(got.size() == 4);
    CHECK(got[0] == payload(2));
    CHECK_FALSE(got[1]);
    CHECK(got[2] == payload(1));
    CHECK(got[3] == payload(2));
    CHECK(db.begin_read().get_many("c", {}).empty());
}

TEST_CASE("read transaction: access paths need a declared index of the right kind", "[transaction]") {
    auto db = two_entities();
    db.declare_index("c", "n", entidb::index_kind::hash);
    const auto r = db.begin_read();
    CHECK(r.has_index("c", "n"));
    CHECK(r.has_index("c", "n", entidb::index_kind::hash));
    CHECK_FALSE(r.has_index("c", "n", entidb::index_kind::ordered));
    CHECK(ids_in(r.find("c", "n", entidb::cbor::value(2))) == std::vector<entidb::entity_id>{id_of(2)});
    CHECK(code_of([&] { (void)r.find("c", "p", entidb::cbor::value(1)); }) == errc::no_such_index);
    CHECK(code_of([&] { (void)r.range("c", "n", std::nullopt, std::nullopt); }) == errc::no_such_index);
    CHECK(code_of([&] { (void)r.prefix("c", "n", "x"); }) == errc::no_such_index);
    CHECK(code_of([&] { (void)r.find("c", "n..x", entidb::cbor::value(1)); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)r.has_index("c", ".n"); }) == errc::invalid_argument);
    // The index was declared after the snapshot began: an older snapshot does not have it.
    auto db2 = two_entities();
    const auto old = db2.begin_read();
    db2.declare_index("c", "n", entidb::index_kind::ordered);
    CHECK_FALSE(old.has_index("c", "n"));
    CHECK(code_of([&] { (void)old.find("c", "n", entidb::cbor::value(1)); }) == errc::no_such_index);
    CHECK(ids_in(db2.begin_read().range("c", "n", entidb::bound{entidb::cbor::value(2)}, std::nullopt)) ==
          std::vector<entidb::entity_id>{id_of(2)});
}

TEST_CASE("read transaction: a forbidden full scan is refused in both orders", "[transaction]") {
    entidb::config cfg;
    cfg.forbid_full_scan = true;
    auto db = entidb::open_in_memory(cfg);
    db.transaction([](auto& txn) { txn.put("c", id_of(1), payload(1)); });
    const auto r = db.begin_read();
    CHECK(code_of([&] { (void)r.scan("c"); }) == errc::scan_forbidden);
    CHECK(code_of([&] { (void)r.scan("c", entidb::in_storage_order); }) == errc::scan_forbidden);
    CHECK(r.count("c") == 1);  // counting walks the index, not the payloads: allowed
}

TEST_CASE("read transaction: it and its ranges outlive the database handle", "[transaction]") {
    temp_dir dir;
    auto db = std::make_unique<entidb::database>(entidb::open(dir / "db"));
    db->transaction([](auto& txn) {
        txn.put("c", id_of(1), payload(1));
        txn.put("c", id_of(2), payload(2));
    });
    auto r = std::make_unique<entidb::database::read_transaction>(db->begin_read());
    const auto range = r->scan("c");
    CHECK(code_of([&] { db->close(); }) == errc::busy);  // the handle stays open
    CHECK(db->is_open());
    db.reset();  // the destructor lets go; the transaction keeps the database alive
    CHECK(r->get("c", id_of(2)) == payload(2));
    CHECK(r->count("c") == 2);
    r.reset();  // the range alone keeps the snapshot
    CHECK(ids_in(range) == std::vector<entidb::entity_id>{id_of(1), id_of(2)});
    CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::locked);  // still held by the range
}

TEST_CASE("read transaction: none begins on a closed handle", "[transaction]") {
    auto db = two_entities();
    db.close();
    CHECK(code_of([&] { (void)db.begin_read(); }) == errc::closed);
    CHECK(code_of([&] { (void)db.begin_write(); }) == errc::closed);
    CHECK(code_of([&] { (void)db.try_begin_write(); }) == errc::closed);
    CHECK(code_of([&] { (void)db.get("c", id_of(1)); }) == errc::closed);
}

TEST_CASE("write transaction: get sees its own puts and removes first", "[transaction]") {
    auto db = two_entities();
    auto w = db.begin_write();
    CHECK(w.sequence() == 1);
    CHECK(w.get("c", id_of(1)) == payload(1));  // committed before it began
    w.put("c", id_of(1), payload(11));
    CHECK(w.get("c", id_of(1)) == payload(11));
    w.put("c", id_of(1), payload(12));  // the last put wins
    CHECK(w.get("c", id_of(1)) == payload(12));
    CHECK(w.remove("c", id_of(1)));
    CHECK_FALSE(w.get("c", id_of(1)));  // get after delete in the same transaction
    CHECK_FALSE(w.remove("c", id_of(1)));  // already removed
    w.put("c", id_of(1), payload(13));  // put again after the remove
    CHECK(w.get("c", id_of(1)) == payload(13));
    CHECK(db.begin_read().get("c", id_of(1)) == payload(1));  // nothing visible before commit
    CHECK(w.commit() == 2);
    CHECK(db.get("c", id_of(1)) == payload(13));
}

TEST_CASE("write transaction: removing what is absent returns false and writes nothing", "[transaction]") {
    auto db = two_entities();
    auto w = db.begin_write();
    CHECK_FALSE(w.remove("c", id_of(9)));
    CHECK_FALSE(w.remove("none", id_of(1)));
    CHECK(w.commit() == 1);  // nothing to commit: the current sequence
    CHECK(db.last_sequence() == 1);
    CHECK(db.begin_read().collections() == std::vector<std::string>{"c"});
}

TEST_CASE("write transaction: a put then remove of a new entity leaves no trace, not even its collection",
          "[transaction]") {
    auto db = two_entities();
    auto w = db.begin_write();
    w.put("fresh", id_of(5), payload(5));
    CHECK(w.get("fresh", id_of(5)) == payload(5));
    CHECK(w.remove("fresh", id_of(5)));
    CHECK_FALSE(w.get("fresh", id_of(5)));
    CHECK_FALSE(w.remove("fresh", id_of(5)));
    CHECK(w.commit() == 1);
    CHECK(db.begin_read().collections() == std::vector<std::string>{"c"});
    CHECK(db.changes_since(1).empty());
}

TEST_CASE("write transaction: an ended transaction refuses every operation with closed", "[transaction]") {
    auto db = two_entities();
    const auto refuses_all = [](auto& w) {
        CHECK(code_of([&] { w.put("c", id_of(3), payload(3)); }) == errc::closed);
        CHECK(code_of([&] { (void)w.remove("c", id_of(1)); }) == errc::closed);
        CHECK(code_of([&] { (void)w.get("c", id_of(1)); }) == errc::closed);
        CHECK(code_of([&] { (void)w.commit(); }) == errc::closed);
        CHECK_NOTHROW(w.abort());  // aborting an ended transaction does nothing
    };
    SECTION("committed") {
        auto w = db.begin_write();
        w.put("c", id_of(3), payload(3));
        CHECK(w.commit() == 2);
        refuses_all(w);
        CHECK(db.last_sequence() == 2);  // the second commit committed nothing more
    }
    SECTION("aborted") {
        auto w = db.begin_write();
        w.put("c", id_of(3), payload(3));
        w.abort();
        refuses_all(w);
        CHECK(db.last_sequence() == 1);
        CHECK_FALSE(db.get("c", id_of(3)));
    }
    SECTION("moved from") {
        auto w = db.begin_write();
        w.put("c", id_of(3), payload(3));
        auto moved = std::move(w);
        refuses_all(w);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
        CHECK(moved.get("c", id_of(3)) == payload(3));  // the writes went with the move
        CHECK(moved.commit() == 2);
        CHECK(db.get("c", id_of(3)) == payload(3));
    }
    CHECK(db.try_begin_write().has_value());  // every way of ending released the writer
}

TEST_CASE("write transaction: a failed commit ends it and frees the writer, committing nothing", "[transaction]") {
    auto db = two_entities();
    db.declare_index("c", "n", entidb::index_kind::hash, true);
    auto w = db.begin_write();
    w.put("c", id_of(3), payload(1));  // n = 1 is held by id 1
    CHECK(code_of([&] { (void)w.commit(); }) == errc::unique_violation);
    CHECK(code_of([&] { (void)w.commit(); }) == errc::closed);
    CHECK(db.last_sequence() == 1);
    CHECK_FALSE(db.get("c", id_of(3)));
    auto next = db.try_begin_write();
    REQUIRE(next.has_value());
    next->put("c", id_of(3), payload(3));
    CHECK(next->commit() == 2);
}

TEST_CASE("write transaction: new collections get the next ids, in order of first write", "[transaction]") {
    auto db = two_entities();  // "c" is collection 1
    auto w = db.begin_write();
    w.put("b", id_of(1), payload(1));
    w.put("a", id_of(1), payload(1));
    w.put("b", id_of(2), payload(2));
    (void)w.commit();
    const auto layout = db.describe();
    CHECK(layout.collection_id("c") == 1u);
    CHECK(layout.collection_id("b") == 2u);
    CHECK(layout.collection_id("a") == 3u);
    CHECK(layout.next_collection_id == 4u);
}

TEST_CASE("write transaction: bad collection names are refused when written", "[transaction]") {
    auto db = entidb::open_in_memory();
    auto w = db.begin_write();
    CHECK(code_of([&] { w.put("", id_of(1), payload(1)); }) == errc::invalid_argument);
    CHECK(code_of([&] { w.put(std::string(0x10000, 'x'), id_of(1), payload(1)); }) == errc::invalid_argument);
    CHECK(code_of([&] { w.put(std::string("\xff\xfe"), id_of(1), payload(1)); }) == errc::invalid_argument);
    CHECK_NOTHROW(w.put(std::string(0xFFFF, 'x'), id_of(1), payload(1)));  // the longest name allowed
    CHECK(w.commit() == 1);
    CHECK(db.begin_read().collections().size() == 1);
}

TEST_CASE("declare_index: bad collection names are refused and create no collection", "[transaction]") {
    auto db = entidb::open_in_memory();
    for (const std::string& bad : {std::string(), std::string(0x10000, 'x'), std::string("\xff\xfe")}) {
        CHECK(code_of([&] { db.declare_index(bad, "n", entidb::index_kind::hash); }) == errc::invalid_argument);
        CHECK(code_of([&] { db.declare_index(bad, "body", entidb::text_index_options{}); }) == errc::invalid_argument);
    }
    CHECK(db.begin_read().collections().empty());
    CHECK(db.describe().indexes.empty());
}

TEST_CASE("write transaction: a read-only database begins none", "[transaction]") {
    temp_dir dir;
    { auto db = entidb::open(dir / "db"); }
    entidb::config cfg;
    cfg.read_only = true;
    auto db = entidb::open(dir / "db", cfg);
    CHECK(code_of([&] { (void)db.begin_write(); }) == errc::read_only);
    CHECK(code_of([&] { (void)db.transaction([](auto&) {}); }) == errc::read_only);
    CHECK(code_of([&] { (void)db.try_begin_write(); }) == errc::read_only);
    CHECK(db.begin_read().sequence() == 0);  // reading goes on
}

TEST_CASE("parse_field_path: dotted paths and their empty parts", "[transaction]") {
    CHECK(entidb::parse_field_path("a") == std::vector<std::string>{"a"});
    CHECK(entidb::parse_field_path("address.city") == std::vector<std::string>{"address", "city"});
    for (const char* bad : {"", ".", "a.", ".a", "a..b"})
        CHECK(code_of([&] { (void)entidb::parse_field_path(bad); }) == errc::invalid_argument);
}
