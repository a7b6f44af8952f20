// The catalog (core/catalog.hpp): lookups by name, by id and by index definition; then
// how a database assigns collection ids and keeps them across reopening.
#include <cstdint>
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
    return db.engine()->catalog_snapshot()->find(name);
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
    CHECK(db.engine()->next_collection_id() == 1u);
    db.transaction([](auto& txn) { txn.put("zeta", id_of(1), payload(1)); });
    db.transaction([](auto& txn) {
        txn.put("beta", id_of(1), payload(1));
        txn.put("alpha", id_of(1), payload(1));
        txn.put("zeta", id_of(2), payload(2));  // already known: keeps its id
    });
    CHECK(id_in(db, "zeta") == 1u);
    CHECK(id_in(db, "beta") == 2u);
    CHECK(id_in(db, "alpha") == 3u);
    CHECK(db.engine()->next_collection_id() == 4u);
    CHECK(db.engine()->catalog_snapshot()->name_of(2) == "beta");
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
    const auto before = db.engine()->catalog_snapshot();
    db.transaction([](auto& txn) { txn.put("b", id_of(1), payload(1)); });
    db.declare_index("a", "n", index_kind::hash);
    CHECK_FALSE(before->find("b"));
    CHECK(before->indexes().empty());
    const auto after = db.engine()->catalog_snapshot();
    CHECK(after->find("b") == 2u);
    REQUIRE(after->indexes().size() == 1);
    CHECK(after->index_on(1, {"n"}, index_kind::hash) != nullptr);
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
    CHECK(db.engine()->catalog_snapshot()->index_on(2, {"n"}, index_kind::ordered) != nullptr);
    db.transaction([](auto& txn) { txn.put("later", id_of(1), payload(1)); });
    CHECK(id_in(db, "later") == 3u);
}
