// The catalog (core/catalog.hpp): lookups by name, by id and by index definition; then
// how a database assigns collection ids and keeps them across reopening; what describe()
// reports of a database, and share().
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

using entidb::detail::catalog;
using entidb::index_kind;

std::shared_ptr<entidb::secondary_index> index_of(std::uint64_t id, std::uint32_t collection,
                                                  std::vector<std::string> path, index_kind kind) {
    return entidb::make_secondary_index(entidb::format::manifest_index{id, collection, std::move(path), kind, false, 0});
}

// "users" (1) and "orders" (2), with a hash index on users.email and an ordered index on
// orders.total.
catalog two_collections() {
    entidb::format::manifest m;
    m.next_collection_id = 3;
    m.collections = {{"users", 1}, {"orders", 2}};
    return catalog(m, entidb::detail::index_set::list{index_of(1, 1, {"email"}, index_kind::hash),
                                                      index_of(2, 2, {"total"}, index_kind::ordered)});
}

// The id a database's catalog gives `name`.
template <typename Db>
std::optional<std::uint32_t> id_in(const Db& db, std::string_view name) {
    return db.describe().collection_id(name);
}

}  // namespace

TEST_CASE("catalog: an empty catalog knows nothing", "[catalog]") {
    const catalog c;
    CHECK_FALSE(c.find("users"));
    CHECK(c.names().empty());
    CHECK(c.name_of(1).empty());
    CHECK(c.indexes().empty());
    CHECK(c.index_on(1, {"email"}) == nullptr);
}

TEST_CASE("catalog: names and ids both ways, names in order", "[catalog]") {
    const auto c = two_collections();
    CHECK(c.find("users") == 1u);
    CHECK(c.find("orders") == 2u);
    CHECK_FALSE(c.find("Users"));  // exact bytes
    CHECK_FALSE(c.find(""));
    CHECK(c.name_of(1) == "users");
    CHECK(c.name_of(2) == "orders");
    CHECK(c.name_of(0).empty());
    CHECK(c.name_of(3).empty());
    std::vector<std::string> names;
    for (const auto& [name, id] : c.names()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"orders", "users"});
}

TEST_CASE("catalog: index_on matches collection, whole path and kind", "[catalog]") {
    const auto c = two_collections();
    REQUIRE(c.indexes().size() == 2);
    CHECK(c.index_on(1, {"email"}) == c.indexes()[0]);
    CHECK(c.index_on(1, {"email"}, index_kind::hash) == c.indexes()[0]);
    CHECK(c.index_on(1, {"email"}, index_kind::ordered) == nullptr);
    CHECK(c.index_on(2, {"email"}) == nullptr);  // another collection's field
    CHECK(c.index_on(2, {"total"}, index_kind::ordered) == c.indexes()[1]);
    CHECK(c.index_on(2, {"total", "amount"}) == nullptr);  // a longer path is another field
    CHECK(c.index_on(2, {}) == nullptr);
}

TEST_CASE("catalog: a database numbers collections from 1 in order of first commit", "[catalog]") {
    auto db = entidb::open_in_memory();
    CHECK(db.describe().next_collection_id == 1u);
    db.transaction([](auto& txn) { txn.put("zeta", id_of(1), payload(1)); });
    db.transaction([](auto& txn) {
        txn.put("beta", id_of(1), payload(1));
        txn.put("alpha", id_of(1), payload(1));
        txn.put("zeta", id_of(2), payload(2));  // already known: keeps its id
    });
    CHECK(id_in(db, "zeta") == 1u);
    CHECK(id_in(db, "beta") == 2u);
    CHECK(id_in(db, "alpha") == 3u);
    CHECK(db.describe().next_collection_id == 4u);
}

TEST_CASE("catalog: an aborted transaction's new collection takes no id", "[catalog]") {
    auto db = entidb::open_in_memory();
    {
        auto w = db.begin_write();
        w.put("gone", id_of(1), payload(1));
    }  // aborted
    CHECK_FALSE(id_in(db, "gone"));
    db.transaction([](auto& txn) { txn.put("kept", id_of(1), payload(1)); });
    CHECK(id_in(db, "kept") == 1u);
    CHECK_FALSE(id_in(db, "gone"));
}

TEST_CASE("catalog: a snapshot's catalog does not change under it", "[catalog]") {
    auto db = entidb::open_in_memory();
    db.transaction([](auto& txn) { txn.put("a", id_of(1), payload(1)); });
    const auto before = db.begin_read();
    db.transaction([](auto& txn) { txn.put("b", id_of(1), payload(1)); });
    db.declare_index("a", "n", index_kind::hash);
    CHECK(before.collections() == std::vector<std::string>{"a"});
    CHECK_FALSE(before.has_index("a", "n"));
    const auto after = db.begin_read();
    CHECK(after.collections() == std::vector<std::string>{"a", "b"});
    CHECK(id_in(db, "b") == 2u);
    CHECK(after.has_index("a", "n", index_kind::hash));
}

TEST_CASE("catalog: collection ids and indexes survive reopening", "[catalog]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir / "db");
        db.transaction([](auto& txn) {
            txn.put("users", id_of(1), payload(1));
            txn.put("orders", id_of(1), payload(1));
        });
        db.declare_index("orders", "n", index_kind::ordered);
    }
    auto db = entidb::open(dir / "db");
    CHECK(id_in(db, "users") == 1u);
    CHECK(id_in(db, "orders") == 2u);
    const auto indexes = db.describe().indexes;
    REQUIRE(indexes.size() == 1);
    CHECK((indexes[0].collection_id == 2u && indexes[0].path == "n" && indexes[0].kind == index_kind::ordered));
    db.transaction([](auto& txn) { txn.put("later", id_of(1), payload(1)); });
    CHECK(id_in(db, "later") == 3u);
}

TEST_CASE("describe: a new database has no collections, no checkpoint and one segment", "[catalog][describe]") {
    auto db = entidb::open_in_memory();
    const auto d = db.describe();
    CHECK(d.format_major == entidb::format_major);
    CHECK(d.format_minor == entidb::format_minor);
    CHECK(d.last_sequence == 0u);
    CHECK_FALSE(d.last_checkpoint);
    CHECK(d.history_horizon == 0u);
    CHECK(d.next_collection_id == 1u);
    CHECK(d.collections.empty());
    CHECK(d.indexes.empty());
    REQUIRE(d.segments.size() == 1);
    CHECK(d.segments[0].number == 1u);
    CHECK(d.segments[0].file == "seg-000001.dat");
    CHECK(d.segments[0].bytes == 0u);
}

TEST_CASE("describe: collections, indexes, sequences and segment files of a database", "[catalog][describe]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([](auto& txn) {
        txn.put("users", id_of(1), payload(1));
        txn.put("orders", id_of(1), payload(1));
    });
    db.declare_index("orders", "n", index_kind::ordered, /*unique=*/true);
    db.declare_index("users", "n", index_kind::hash);
    db.checkpoint();
    db.transaction([](auto& txn) { txn.put("users", id_of(2), payload(2)); });
    const auto d = db.describe();
    CHECK(d.last_sequence == db.last_sequence());
    CHECK(d.last_checkpoint == 1u);
    CHECK(d.history_horizon == db.history_horizon());
    CHECK(d.next_collection_id == 3u);
    REQUIRE(d.collections.size() == 2);
    CHECK((d.collections[0].name == "orders" && d.collections[0].id == 2u));
    CHECK((d.collections[1].name == "users" && d.collections[1].id == 1u));
    REQUIRE(d.indexes.size() == 2);
    CHECK((d.indexes[0].id == 1u && d.indexes[0].collection_id == 2u && d.indexes[0].collection == "orders"));
    CHECK((d.indexes[0].path == "n" && d.indexes[0].kind == index_kind::ordered && d.indexes[0].unique));
    CHECK((d.indexes[1].id == 2u && d.indexes[1].collection == "users" && d.indexes[1].kind == index_kind::hash));
    CHECK_FALSE(d.indexes[1].unique);
    REQUIRE_FALSE(d.segments.empty());
    CHECK(d.segments.size() == db.stats().segment_count);
    for (const auto& s : d.segments)
        CHECK(s.bytes == std::filesystem::file_size(dir / "db" / "SEGMENTS" / s.file));
    CHECK(d.collection_id("users") == 1u);
    CHECK_FALSE(d.collection_id("nobody"));
}

TEST_CASE("describe: a closed handle is refused", "[catalog][describe]") {
    auto db = entidb::open_in_memory();
    db.close();
    CHECK(test_support::code_of([&] { (void)db.describe(); }) == entidb::errc::closed);
}

TEST_CASE("share: another handle on the same database keeps it open", "[catalog][share]") {
    auto db = entidb::open_in_memory();
    {
        auto other = db.share();
        other.transaction([](auto& txn) { txn.put("a", id_of(1), payload(1)); });
        CHECK(db.get("a", id_of(1)) == payload(1));
        CHECK(test_support::code_of([&] { db.close(); }) == entidb::errc::busy);
        CHECK(db.is_open());
    }
    db.close();
    CHECK_FALSE(db.is_open());
    CHECK(test_support::code_of([&] { (void)db.share(); }) == entidb::errc::closed);
}
