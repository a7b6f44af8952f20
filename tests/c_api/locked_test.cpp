// tests/c_api/locked_test.cpp — the C ABI and C++ share one directory open path (SPEC.md §9
// rule 1): whichever holds a directory, the other gets `locked`, and what one wrote the other reads.
// A case file of unit_core (tests/unit/suite_core.cpp), where the build has the C ABI.
#include <catch2/catch.hpp>

#include <string>

#include <entidb/c/entidb.h>
#include <entidb/cbor/json.hpp>
#include <entidb/database.hpp>

#include "../unit/test_support.hpp"

namespace {

entidb::entity_id id_of(unsigned n) {
    std::array<entidb::byte, 16> raw{};
    raw[15] = static_cast<entidb::byte>(n);
    return entidb::entity_id(raw);
}

}  // namespace

TEST_CASE("C ABI open of a directory C++ holds gives ENTIDB_LOCKED") {
    test_support::temp_dir dir;
    const auto path = (dir / "db").string();
    auto db = entidb::open(path);
    db.transaction([&](auto& txn) { txn.put("c", id_of(1), entidb::cbor::from_json(R"({"from":"c++"})")); });

    entidb_db* handle = nullptr;
    CHECK(entidb_open(path.c_str(), nullptr, &handle) == ENTIDB_LOCKED);
    CHECK(handle == nullptr);
    CHECK(entidb_last_error_code() == ENTIDB_LOCKED);
    CHECK(std::string(entidb_last_error_message()).find(path) != std::string::npos);
    // Also through a read-only looking open that must not create anything.
    entidb_options opts{};
    opts.struct_size = sizeof opts;
    opts.flags = ENTIDB_OPEN_NO_CREATE;
    CHECK(entidb_open(path.c_str(), &opts, &handle) == ENTIDB_LOCKED);

    db.close();  // the LOCK goes with the last reference to the engine
    REQUIRE(entidb_open(path.c_str(), &opts, &handle) == ENTIDB_OK);
    entidb_buffer json{};
    entidb_buffer cbor{};
    const auto id = id_of(1);
    REQUIRE(entidb_get(handle, "c", id.bytes().data(), &cbor) == ENTIDB_OK);
    REQUIRE(entidb_cbor_to_json(cbor.data, cbor.len, &json) == ENTIDB_OK);
    CHECK(std::string(reinterpret_cast<const char*>(json.data), json.len) == R"({"from":"c++"})");
    entidb_buffer_free(&json);
    entidb_buffer_free(&cbor);
    CHECK(entidb_close(handle) == ENTIDB_OK);
}

TEST_CASE("C++ open of a directory the C ABI holds gives errc::locked") {
    test_support::temp_dir dir;
    const auto path = (dir / "db").string();
    entidb_db* handle = nullptr;
    REQUIRE(entidb_open(path.c_str(), nullptr, &handle) == ENTIDB_OK);
    entidb_txn* txn = nullptr;
    REQUIRE(entidb_begin_write(handle, &txn) == ENTIDB_OK);
    const std::string value = R"({"from":"c"})";
    const auto id = id_of(2);
    REQUIRE(entidb_txn_put_json(txn, "c", id.bytes().data(), value.data(), value.size()) == ENTIDB_OK);
    REQUIRE(entidb_txn_commit(txn, nullptr) == ENTIDB_OK);

    try {
        (void)entidb::open(path);
        FAIL("entidb::open succeeded on a directory the C ABI holds");
    } catch (const entidb::error& e) {
        CHECK(e.value() == entidb::errc::locked);
        CHECK(static_cast<int>(e.value()) == ENTIDB_LOCKED);
    }

    REQUIRE(entidb_close(handle) == ENTIDB_OK);
    auto db = entidb::open(path);
    const auto bytes = db.begin_read().get("c", id);
    REQUIRE(bytes);
    CHECK(entidb::cbor::to_json(*bytes) == value);
}

TEST_CASE("A C ABI transaction keeps the directory locked until the database handle closes") {
    test_support::temp_dir dir;
    const auto path = (dir / "db").string();
    entidb_db* handle = nullptr;
    REQUIRE(entidb_open(path.c_str(), nullptr, &handle) == ENTIDB_OK);
    entidb_txn* read = nullptr;
    REQUIRE(entidb_begin_read(handle, &read) == ENTIDB_OK);
    entidb_cursor* cursor = nullptr;
    REQUIRE(entidb_db_scan_open(handle, "c", &cursor) == ENTIDB_OK);
    CHECK_THROWS_AS(entidb::open(path), entidb::error);
    // Closing the database ends the transaction and the cursor, so the LOCK is free at once.
    REQUIRE(entidb_close(handle) == ENTIDB_OK);
    CHECK_NOTHROW(entidb::open(path).close());
    CHECK(entidb_txn_abort(read) == ENTIDB_CLOSED);
    CHECK(entidb_cursor_close(cursor) == ENTIDB_CLOSED);
}

TEST_CASE("C ABI close with a storage-order cursor and this thread's writer open frees the LOCK") {
    // Unlike the C++ close(), which refuses with errc::busy while transactions are live, the C
    // ABI owns its transactions and cursors: entidb_close ends them, so nothing keeps the LOCK.
    test_support::temp_dir dir;
    const auto path = (dir / "db").string();
    entidb_db* handle = nullptr;
    REQUIRE(entidb_open(path.c_str(), nullptr, &handle) == ENTIDB_OK);
    entidb_txn* txn = nullptr;
    REQUIRE(entidb_begin_write(handle, &txn) == ENTIDB_OK);
    const std::string value = R"({"n":1})";
    REQUIRE(entidb_txn_put_json(txn, "c", id_of(1).bytes().data(), value.data(), value.size()) == ENTIDB_OK);
    REQUIRE(entidb_txn_commit(txn, nullptr) == ENTIDB_OK);
    entidb_txn* read = nullptr;
    REQUIRE(entidb_begin_read(handle, &read) == ENTIDB_OK);
    entidb_cursor* cursor = nullptr;
    REQUIRE(entidb_scan_open_ordered(read, "c", ENTIDB_SCAN_STORAGE_ORDER, &cursor) == ENTIDB_OK);
    std::uint8_t id[16];
    REQUIRE(entidb_cursor_next(cursor, id, nullptr) == ENTIDB_OK);  // started, not exhausted
    entidb_txn* writer = nullptr;
    REQUIRE(entidb_begin_write(handle, &writer) == ENTIDB_OK);
    REQUIRE(entidb_close(handle) == ENTIDB_OK);
    auto db = entidb::open(path);  // not errc::locked
    CHECK(db.get("c", id_of(1)));
    db.close();  // nothing else holds it: C++ close succeeds
    CHECK(entidb_cursor_next(cursor, id, nullptr) == ENTIDB_CLOSED);
    CHECK(entidb_txn_abort(writer) == ENTIDB_CLOSED);
    CHECK(entidb_txn_abort(read) == ENTIDB_CLOSED);
}
