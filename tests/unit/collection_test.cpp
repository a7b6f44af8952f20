// Typed collections, secondary indexes, access paths and the change feed.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <ranges>
#include <set>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::temp_dir;

namespace {

struct address {
    std::string city;
    static constexpr auto entidb_fields = entidb::fields(entidb::field("city", &address::city));
};

struct user {
    std::string name;
    std::string email;
    std::int32_t age = 0;
    std::optional<std::string> nickname;
    address home;
    std::vector<std::string> tags;
    static constexpr auto entidb_fields =
        entidb::fields(entidb::field("name", &user::name), entidb::field("email", &user::email),
                       entidb::field("age", &user::age), entidb::field("nickname", &user::nickname),
                       entidb::field("home", &user::home), entidb::field("tags", &user::tags));
    friend bool operator==(const user& a, const user& b) {
        return a.name == b.name && a.email == b.email && a.age == b.age && a.nickname == b.nickname &&
               a.home.city == b.home.city && a.tags == b.tags;
    }
};

using users_t = entidb::collection<user, entidb::unique_hash_index<"email">, entidb::ordered_index<"age">,
                                   entidb::ordered_index<"home.city">, entidb::ordered_index<"name">>;

user make_user(int i) {
    return {fmt::format("user-{:03}", i), fmt::format("u{}@example.com", i), 20 + i % 50,
            i % 3 ? std::optional<std::string>{} : fmt::format("nick{}", i), address{i % 2 ? "Oslo" : "Lima"},
            {"t" + std::to_string(i % 4)}};
}

template <typename R>
std::vector<entidb::entity_id> ids_of(R&& r) {
    std::vector<entidb::entity_id> out;
    for (const auto& e : r) out.push_back(e.id);
    return out;
}

}  // namespace

TEST_CASE("a reflected struct round-trips through its codec") {
    const user u = make_user(3);
    const auto bytes = entidb::encode_entity(u);
    CHECK_NOTHROW(entidb::cbor::validate(bytes));
    CHECK(entidb::decode_entity<user>(bytes) == u);
    CHECK(entidb::cbor::to_json(bytes) ==
          R"({"age":23,"home":{"city":"Oslo"},"name":"user-003","tags":["t3"],"email":"u3@example.com","nickname":"nick3"})");
    // The wrong shape is a typed error, not undefined behaviour.
    CHECK(code_of([&] { (void)entidb::decode_entity<user>(entidb::cbor::from_json(R"({"name":1})")); }) ==
          errc::type_mismatch);
    CHECK(code_of([&] { (void)entidb::decode_entity<user>(entidb::cbor::from_json("[1,2]")); }) == errc::type_mismatch);
    CHECK(code_of([&] {
              (void)entidb::decode_entity<user>(entidb::cbor::from_json(
                  R"({"name":"a","email":"b","age":4294967296,"home":{"city":"x"},"tags":[]})"));
          }) == errc::type_mismatch);
}

TEST_CASE("typed collections: put, get, get_many, remove, indexes") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    users_t users(db, "users");
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 40; ++i) users.put(txn, id_of(i), make_user(i));
    });
    auto r = db.begin_read();
    CHECK(users.get(r, id_of(7)) == make_user(7));
    CHECK_FALSE(users.get(r, id_of(99)).has_value());
    const std::vector ids{id_of(1), id_of(99), id_of(2)};
    const auto many = users.get_many(r, ids);
    REQUIRE(many.size() == 3);
    CHECK(many[0] == make_user(1));
    CHECK_FALSE(many[1].has_value());

    SECTION("full scans, in id order and in storage order") {
        auto by_id = ids_of(users.scan(r));
        CHECK(by_id.size() == 40);
        CHECK(std::is_sorted(by_id.begin(), by_id.end()));
        std::map<entidb::entity_id, user> stored;
        for (const auto& [id, u] : users.scan(r, entidb::in_storage_order)) stored.emplace(id, u);
        CHECK(stored.size() == 40);
        CHECK(stored.at(id_of(7)) == make_user(7));
    }
    SECTION("hash equality") {
        const auto found = ids_of(users.find<"email">(r, "u12@example.com"));
        CHECK(found == std::vector{id_of(12)});
        CHECK(ids_of(users.find<"email">(r, "nobody")).empty());
        CHECK(db.stats().index_lookups > 0);
    }
    SECTION("ordered range, prefix, and order") {
        std::vector<int> ages;
        for (const auto& [id, u] : users.range<"age">(r, 25, 27)) ages.push_back(u.age);
        CHECK(ages == std::vector{25, 26, 27});
        CHECK(ids_of(users.range<"age">(r, entidb::bound{25, false}, entidb::bound{27, false})).size() == 1);
        CHECK(ids_of(users.range<"age">(r, std::nullopt, 21)).size() == 2);
        CHECK(ids_of(users.prefix<"name">(r, "user-01")).size() == 10);
        std::vector<std::string> names;
        for (const auto& e : users.ordered<"name">(r, entidb::order::descending)) names.push_back(e.value.name);
        CHECK(names.front() == "user-039");
        CHECK(std::is_sorted(names.rbegin(), names.rend()));
        CHECK(ids_of(users.find<"home.city">(r, "Oslo")).size() == 20);  // nested path
    }
// clang 14 cannot compile libstdc++ 12's views (not even over a std::vector): checked on
// the compilers that can.
#if !defined(__clang__) || __clang_major__ >= 15
    SECTION("results compose with std::views and hold their snapshot") {
        auto adults = users.range<"age">(r, 50, std::nullopt) |
                      std::views::filter([](const auto& e) { return e.value.home.city == "Oslo"; });
        std::size_t n = 0;
        for (const auto& e : adults) {
            CHECK(e.value.age >= 50);
            ++n;
        }
        CHECK(n > 0);
    }
#endif
    SECTION("updates move index entries; snapshots keep theirs") {
        db.transaction([&](auto& txn) {
            auto u = make_user(12);
            u.email = "changed@example.com";
            u.age = 99;
            users.put(txn, id_of(12), u);
            CHECK(users.remove(txn, id_of(13)));
        });
        auto r2 = db.begin_read();
        CHECK(ids_of(users.find<"email">(r2, "u12@example.com")).empty());
        CHECK(ids_of(users.find<"email">(r2, "changed@example.com")) == std::vector{id_of(12)});
        CHECK(ids_of(users.find<"email">(r2, "u13@example.com")).empty());
        CHECK(ids_of(users.range<"age">(r2, 99, 99)) == std::vector{id_of(12)});
        // The old snapshot sees the old index state and the old data, consistently.
        CHECK(ids_of(users.find<"email">(r, "u12@example.com")) == std::vector{id_of(12)});
        CHECK(ids_of(users.find<"email">(r, "u13@example.com")) == std::vector{id_of(13)});
        CHECK(users.get(r, id_of(12))->age == make_user(12).age);
    }
    SECTION("unique violations abort the transaction with a typed error") {
        auto w = db.begin_write();
        auto dup = make_user(50);
        dup.email = "u3@example.com";
        users.put(w, id_of(50), dup);
        CHECK(code_of([&] { w.commit(); }) == errc::unique_violation);
        CHECK_FALSE(db.begin_read().get("users", id_of(50)));
        // Two new entities claiming one key in the same transaction.
        CHECK(code_of([&] {
                  db.transaction([&](auto& txn) {
                      auto a = make_user(60), b = make_user(61);
                      a.email = b.email = "same@example.com";
                      users.put(txn, id_of(60), a);
                      users.put(txn, id_of(61), b);
                  });
              }) == errc::unique_violation);
        // Moving a key from one entity to another in one transaction is fine.
        db.transaction([&](auto& txn) {
            auto a = make_user(3), b = make_user(4);
            std::swap(a.email, b.email);
            users.put(txn, id_of(3), a);
            users.put(txn, id_of(4), b);
        });
        CHECK(ids_of(users.find<"email">(db.begin_read(), "u3@example.com")) == std::vector{id_of(4)});
    }
}

TEST_CASE("indexes are rebuilt on open and recorded in the MANIFEST") {
    temp_dir dir;
    {
        auto db = entidb::open(dir / "db");
        users_t users(db, "users");
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 30; ++i) users.put(txn, id_of(i), make_user(i));
        });
    }
    auto db = entidb::open(dir / "db");
    auto r = db.begin_read();
    // No typed handle yet: the engine rebuilt the indexes from the MANIFEST registry.
    CHECK(r.has_index("users", "email", entidb::index_kind::hash));
    CHECK(r.find("users", "email", entidb::cbor::value("u5@example.com")).ids() == std::vector{id_of(5)});
    users_t users(db, "users");  // the same declaration again: nothing new
    CHECK(ids_of(users.range<"age">(db.begin_read(), 20, 22)).size() == 3);
    CHECK(code_of([&] { db.declare_index("users", "email", entidb::index_kind::ordered); }) ==
          errc::invalid_argument);
    CHECK(code_of([&] { (void)r.find("users", "nickname", entidb::cbor::value("x")); }) == errc::no_such_index);
}

TEST_CASE("a unique index over repeated keys is refused and not recorded") {
    auto db = entidb::open_in_memory();
    db.transaction([&](auto& txn) {
        txn.put("c", id_of(1), entidb::cbor::from_json(R"({"k":1})"));
        txn.put("c", id_of(2), entidb::cbor::from_json(R"({"k":1})"));
    });
    CHECK(code_of([&] { db.declare_index("c", "k", entidb::index_kind::hash, true); }) ==
          errc::unique_violation);
    CHECK_FALSE(db.begin_read().has_index("c", "k"));
}

TEST_CASE("forbid_full_scan makes scan a typed error; scans are counted") {
    entidb::config cfg;
    cfg.forbid_full_scan = true;
    auto db = entidb::open_in_memory(cfg);
    CHECK(code_of([&] { (void)db.begin_read().scan("c"); }) == errc::scan_forbidden);
    auto open = entidb::open_in_memory();
    (void)open.begin_read().scan("c");
    CHECK(open.stats().full_scans == 1);
}

TEST_CASE("every index access path returns what a filtered scan returns") {
    std::mt19937_64 rng(GENERATE(1u, 2u, 3u));
    auto db = entidb::open_in_memory();
    db.declare_index("c", "n", entidb::index_kind::ordered);
    db.declare_index("c", "s", entidb::index_kind::ordered);
    db.declare_index("c", "h", entidb::index_kind::hash);
    std::uniform_int_distribution<int> small(-5, 5), op(0, 9), idd(0, 60);
    auto random_doc = [&] {
        std::string s(static_cast<std::size_t>(op(rng) % 3), 'a');
        for (auto& ch : s) ch = static_cast<char>('a' + op(rng) % 3);
        std::string json = fmt::format(R"({{"n":{},"s":"{}")", small(rng), s);
        if (op(rng) < 7) json += fmt::format(R"(,"h":{})", small(rng) % 3);
        return entidb::cbor::from_json(json + "}");
    };
    for (int round = 0; round < 30; ++round) {
        db.transaction([&](auto& txn) {
            for (int k = 0; k < 8; ++k) {
                if (op(rng) < 7)
                    txn.put("c", id_of(idd(rng)), random_doc());
                else
                    txn.remove("c", id_of(idd(rng)));
            }
        });
        auto r = db.begin_read();
        std::vector<entidb::cbor::value> docs;
        std::vector<entidb::entity_id> all;
        for (const auto& e : r.scan("c")) {
            all.push_back(e.id);
            docs.push_back(entidb::cbor::decode(e.bytes));
        }
        auto expect = [&](auto pred) {
            std::vector<entidb::entity_id> out;
            for (std::size_t i = 0; i < all.size(); ++i)
                if (pred(docs[i])) out.push_back(all[i]);
            return out;
        };
        auto sorted = [](std::vector<entidb::entity_id> v) {
            std::sort(v.begin(), v.end());
            return v;
        };
        const int a = small(rng), b = small(rng);
        const int lo = std::min(a, b), hi = std::max(a, b);
        CHECK(sorted(r.find("c", "n", entidb::cbor::value(std::int64_t{a})).ids()) ==
              expect([&](const auto& d) { return d.find("n")->as_int() == a; }));
        CHECK(sorted(r.range("c", "n", entidb::bound{lo, true}, entidb::bound{hi, false}).ids()) ==
              expect([&](const auto& d) { return d.find("n")->as_int() >= lo && d.find("n")->as_int() < hi; }));
        CHECK(sorted(r.find("c", "h", entidb::cbor::value(std::int64_t{a % 3})).ids()) ==
              expect([&](const auto& d) { return d.find("h") && d.find("h")->as_int() == a % 3; }));
        CHECK(sorted(r.prefix("c", "s", "a").ids()) ==
              expect([&](const auto& d) { return d.find("s")->as_text().starts_with("a"); }));
        // Range results come in field order.
        std::vector<std::int64_t> ns;
        for (const auto& e : r.range("c", "n", std::nullopt, std::nullopt))
            ns.push_back(entidb::cbor::decode(e.bytes).find("n")->as_int());
        CHECK(std::is_sorted(ns.begin(), ns.end()));
        CHECK(ns.size() == all.size());
    }
}

TEST_CASE("the change feed delivers committed operations in commit order") {
    temp_dir dir;
    std::vector<entidb::change> seen;
    {
        auto db = entidb::open(dir / "db");
        const auto token = db.subscribe([&](const entidb::change& c) { seen.push_back(c); });
        db.transaction([&](auto& txn) {
            txn.put("a", id_of(1), test_support::payload(1));
            txn.put("b", id_of(2), test_support::payload(2));
        });
        {
            auto w = db.begin_write();
            w.put("a", id_of(3), test_support::payload(3));
            w.abort();  // aborted: never appears
        }
        CHECK_THROWS(db.transaction([&](auto& txn) {
            txn.put("a", id_of(4), test_support::payload(4));
            throw std::runtime_error("failed transaction");
        }));
        db.transaction([&](auto& txn) { txn.remove("a", id_of(1)); });
        REQUIRE(seen.size() == 3);
        CHECK(seen[0].sequence == 1);
        CHECK(seen[0].collection == "a");
        CHECK(seen[0].kind == entidb::change_kind::put);
        CHECK(seen[0].payload == test_support::payload(1));
        CHECK(seen[1].collection == "b");
        CHECK(seen[2].sequence == 2);
        CHECK(seen[2].kind == entidb::change_kind::remove);
        CHECK(seen[2].payload.empty());
        CHECK(db.unsubscribe(token));
        db.transaction([&](auto& txn) { txn.put("a", id_of(5), test_support::payload(5)); });
        CHECK(seen.size() == 3);
        db.checkpoint();
    }
    // Polling after a restart: the persisted history, from the segment files.
    auto db = entidb::open(dir / "db");
    const auto all = db.changes_since(0);
    REQUIRE(all.size() == 4);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(all[i].sequence == seen[i].sequence);
        CHECK(all[i].collection == seen[i].collection);
        CHECK(all[i].id == seen[i].id);
        CHECK(all[i].kind == seen[i].kind);
        CHECK(all[i].payload == seen[i].payload);
    }
    CHECK(all[3].sequence == 3);
    CHECK(db.changes_since(2).size() == 1);
    CHECK(db.changes_since(1, 1).size() == 1);
    CHECK(db.changes_since(3).empty());
}
