// The index set (core/index_set.hpp) on its own, fed by callables instead of an engine:
// declaring and filling indexes from MANIFEST entries, maintenance inside a commit, unique
// checks against a commit and the commits ahead of it, dropping, memory; and the registry
// of kinds (index/index_kinds.hpp) it makes indexes through.
#include <cstdint>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::code_of;
using test_support::id_of;

namespace {

using entidb::entity_id;
using entidb::errc;
using entidb::index_kind;
using entidb::detail::index_set;

entidb::byte_buffer doc(const std::string& json) { return entidb::cbor::from_json(json); }

entidb::format::manifest_index def_of(std::uint64_t id, std::string field, index_kind kind, bool unique = false) {
    return {.id = id, .collection_id = 1, .path = {std::move(field)}, .kind = kind, .unique = unique, .created_at_seq = 0};
}

// Collection 1's entities as live(collection, f) streams them to index_set: id order.
struct fake_collection {
    std::map<entity_id, entidb::byte_buffer> live;
    void operator()(std::uint32_t coll, const auto& f) const {
        if (coll != 1) return;
        for (const auto& [id, payload] : live) f(id, std::uint64_t{1}, entidb::bytes_view(payload));
    }
    [[nodiscard]] std::optional<entidb::byte_buffer> old(std::uint32_t, const entity_id& id) const {
        const auto it = live.find(id);
        if (it == live.end()) return std::nullopt;
        return it->second;
    }
};

entidb::index_key key_of(std::int64_t n) {
    return entidb::make_index_key(entidb::cbor::from_json(std::to_string(n)));
}

entidb::detail::write_set puts(const std::vector<std::pair<std::uint64_t, std::string>>& ops) {
    entidb::detail::write_set w;
    for (const auto& [n, json] : ops) {
        if (json.empty())
            w.remove({1, id_of(n)});
        else
            w.put({1, id_of(n)}, doc(json));
    }
    w.seal();
    return w;
}

const auto nothing_in_flight = [](std::uint32_t, const auto&) {};
const auto collection_name = [](std::uint32_t) { return std::string("c"); };

}  // namespace

TEST_CASE("index_set: open builds every MANIFEST index of its kind from the live entities", "[index_set]") {
    fake_collection c{{{id_of(1), doc(R"({"n":5,"s":"a"})")}, {id_of(2), doc(R"({"n":7})")}, {id_of(3), doc("{}")}}};
    entidb::format::manifest m;
    m.indexes = {def_of(1, "n", index_kind::ordered), def_of(2, "s", index_kind::hash)};
    index_set set;
    set.open(m, c);
    REQUIRE(set.size() == 2);
    CHECK(set[0]->ordered());
    CHECK_FALSE(set[1]->ordered());
    CHECK(set[0]->definition() == m.indexes[0]);
    CHECK(set[0]->find(key_of(7), 1) == std::vector{id_of(2)});
    CHECK(set[0]->range(std::nullopt, std::nullopt, 1) == std::vector{id_of(1), id_of(2)});
    CHECK(set[1]->entry_count(1) == 1);
    CHECK(set.memory_bytes() == set[0]->memory_bytes() + set[1]->memory_bytes());
    CHECK(set.memory_bytes() > 0);
    // What a hash index cannot answer is refused, not answered by a scan.
    CHECK(code_of([&] { (void)set[1]->range(std::nullopt, std::nullopt, 1); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)set[1]->prefix(entidb::make_text_prefix_key("a"), 1); }) == errc::invalid_argument);
}

TEST_CASE("index_set: a unique index over a repeated key is refused while it is built", "[index_set]") {
    fake_collection c{{{id_of(1), doc(R"({"n":5})")}, {id_of(2), doc(R"({"n":5})")}}};
    try {
        (void)index_set::build(def_of(1, "n", index_kind::hash, true), c);
        FAIL("built");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::unique_violation);
        CHECK(std::string(e.what()).find("cannot create unique index on 'n'") != std::string::npos);
        CHECK(std::string(e.what()).find(id_of(2).to_hex()) != std::string::npos);
    }
    // The same entities under an index that is not unique are fine.
    CHECK(code_of([&] { (void)index_set::build(def_of(1, "n", index_kind::ordered), c); }) == errc::ok);
}

TEST_CASE("index_set: a commit's moves take each entity from its old key to its new one", "[index_set]") {
    fake_collection c{{{id_of(1), doc(R"({"n":1})")}, {id_of(2), doc(R"({"n":2})")}}};
    index_set set;
    set.add(index_set::build(def_of(1, "n", index_kind::ordered), c));
    const auto w = puts({{1, R"({"n":3})"}, {2, ""}, {3, R"({"n":1})"}, {4, R"({"m":1})"}});
    const auto moves = set.moves(w, [&](std::uint32_t coll, const entity_id& id) { return c.old(coll, id); });
    CHECK(moves.size() == 3);  // entity 4 has no key before or after
    index_set::apply(moves, 2, 1);
    const auto& ix = *set[0];
    CHECK(ix.find(key_of(1), 1) == std::vector{id_of(1)});  // the snapshot before the commit
    CHECK(ix.find(key_of(1), 2) == std::vector{id_of(3)});
    CHECK(ix.find(key_of(2), 2).empty());
    CHECK(ix.find(key_of(3), 2) == std::vector{id_of(1)});
    CHECK(ix.entry_count(2) == 2);
}

TEST_CASE("index_set: unique checks see the commit itself, the index and the commits in flight", "[index_set]") {
    fake_collection c{{{id_of(1), doc(R"({"n":1})")}}};
    index_set set;
    set.add(index_set::build(def_of(1, "n", index_kind::hash, true), c));
    set.add(index_set::build(def_of(2, "m", index_kind::hash), c));  // not unique: never checked

    const auto check = [&](const entidb::detail::write_set& w, const auto& in_flight) {
        return code_of([&] { set.check_unique(w, in_flight, collection_name); });
    };
    CHECK(check(puts({{2, R"({"n":2,"m":1})"}, {3, R"({"n":3,"m":1})"}}), nothing_in_flight) == errc::ok);
    CHECK(check(puts({{2, R"({"n":2})"}, {3, R"({"n":2})"}}), nothing_in_flight) == errc::unique_violation);
    CHECK(check(puts({{2, R"({"n":1})"}}), nothing_in_flight) == errc::unique_violation);  // entity 1 holds it
    // Entity 1 gives the key up in the same commit, or in a commit ahead of it.
    CHECK(check(puts({{2, R"({"n":1})"}, {1, R"({"n":9})"}}), nothing_in_flight) == errc::ok);
    const auto one_moves_away = [](std::uint32_t, const auto& f) {
        const auto moved = doc(R"({"n":9})");
        f(id_of(1), false, entidb::bytes_view(moved));
    };
    CHECK(check(puts({{2, R"({"n":1})"}}), one_moves_away) == errc::ok);
    // A commit ahead claims the key for entity 5.
    const auto five_claims = [](std::uint32_t, const auto& f) {
        const auto claimed = doc(R"({"n":4})");
        f(id_of(5), false, entidb::bytes_view(claimed));
    };
    try {
        set.check_unique(puts({{2, R"({"n":4})"}}), five_claims, collection_name);
        FAIL("accepted");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::unique_violation);
        CHECK(e.detail() ==
              "unique index on 'n' of collection 'c' already holds this key for entity " + id_of(5).to_hex());
    }
}

TEST_CASE("index_set: drop removes an index by its MANIFEST id", "[index_set]") {
    fake_collection c;
    index_set set;
    set.add(index_set::build(def_of(1, "n", index_kind::hash), c));
    set.add(index_set::build(def_of(2, "m", index_kind::ordered), c));
    const index_set before = set;  // a catalog version keeps what it holds
    CHECK(set.drop(1));
    CHECK_FALSE(set.drop(1));
    REQUIRE(set.size() == 1);
    CHECK(set[0]->definition().id == 2);
    CHECK(before.size() == 2);
}

TEST_CASE("index_set: the registry pairs each kind with its MANIFEST byte and tool name", "[index_set]") {
    CHECK(entidb::index_kind_names() == std::array<std::string_view, 3>{"hash", "ordered", "text"});
    CHECK(entidb::index_kind_named("hash") == index_kind::hash);
    CHECK(entidb::index_kind_named("ordered") == index_kind::ordered);
    CHECK(entidb::index_kind_named("btree") == std::nullopt);
    CHECK(entidb::format::manifest_kind_byte(index_kind::ordered) == 1);
    CHECK(entidb::make_secondary_index(def_of(1, "n", index_kind::ordered))->ordered());
    CHECK(code_of([] { (void)entidb::make_secondary_index(def_of(1, "n", static_cast<index_kind>(7))); }) ==
          errc::invalid_argument);
}

namespace {

// A kind that does not declare supports_unique (registered here only, under the hash kind's
// byte and name, which the registry's checks require of an entry for index_kind::hash).
class equality_only_index : public entidb::detail::field_index {
public:
    static constexpr index_kind kind = index_kind::hash;
    using field_index::field_index;
};
using equality_only_entry = entidb::index_kind_entry<equality_only_index, entidb::format::index_kind::hash, "hash">;

}  // namespace

TEST_CASE("index_set: a kind that does not support unique indexes refuses a unique declaration", "[index_set]") {
    static_assert(entidb::index_implementation<equality_only_index>);
    static_assert(!entidb::index_supports_unique<equality_only_index>);
    try {
        (void)entidb::make_index_of_kind<equality_only_entry>(def_of(1, "n", index_kind::hash, true));
        FAIL("made");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::invalid_argument);
        CHECK(e.detail() == "a hash index cannot be unique");
    }
    CHECK(entidb::make_index_of_kind<equality_only_entry>(def_of(1, "n", index_kind::hash))->definition().id == 1);
}
