// The write set a transaction fills: against a std::map model while it runs, then sealed
// (key order, bisection, one collection's range).
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <random>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::detail::entity_key;
using entidb::detail::write_set;
using test_support::id_of;
using test_support::payload;

namespace {
using model_type = std::map<entity_key, std::optional<entidb::byte_buffer>>;  // nullopt: a tombstone

void check_same(const write_set& s, const model_type& model, const std::vector<entity_key>& keys) {
    REQUIRE(s.size() == model.size());
    REQUIRE(s.empty() == model.empty());
    for (const auto& k : keys) {
        const auto op = s.find(k);
        const auto it = model.find(k);
        REQUIRE(op.has_value() == (it != model.end()));
        REQUIRE(s.contains(k) == op.has_value());
        if (!op) continue;
        REQUIRE(op->tombstone == !it->second.has_value());
        if (it->second) REQUIRE(entidb::byte_buffer(op->payload.begin(), op->payload.end()) == *it->second);
        else REQUIRE(op->payload.empty());
    }
}
}  // namespace

TEST_CASE("write set: puts, removes and drops match a map, then iterate sealed in key order", "[write_set]") {
    std::mt19937_64 rng(11);
    // Three collections; ids that differ in one low bit (counters) and random ones.
    std::vector<entity_key> keys;
    for (std::uint32_t c : {1u, 2u, 7u}) {
        for (std::uint64_t n = 0; n < 150; ++n) keys.push_back({c, id_of(n)});
        for (int n = 0; n < 150; ++n) {
            std::array<std::uint8_t, 16> b{};
            for (auto& x : b) x = static_cast<std::uint8_t>(rng());
            keys.push_back({c, entidb::entity_id(b)});
        }
    }
    for (int round = 0; round < 4; ++round) {
        // The last two rounds rewrite a few keys many times: the buffer is repacked.
        const std::size_t key_count = round < 2 ? keys.size() : 40;
        write_set s;
        model_type model;
        for (int step = 0; step < 6000; ++step) {
            const auto& k = keys[rng() % key_count];
            switch (rng() % 4) {
                case 0:
                case 1: {
                    const auto p = payload(rng() % 1000, rng() % 3 == 0 ? 0 : rng() % 300);
                    s.put(k, p);
                    model[k] = p;
                    break;
                }
                case 2:
                    s.remove(k);
                    model[k] = std::nullopt;
                    break;
                default:
                    s.drop(k);
                    model.erase(k);
            }
            if (step % 500 == 0) check_same(s, model, keys);
        }
        check_same(s, model, keys);
        s.seal();
        REQUIRE(s.sealed());
        check_same(s, model, keys);  // now by bisection
        auto it = model.begin();
        for (const auto& [key, op] : s) {
            REQUIRE(it != model.end());
            REQUIRE(key == it->first);
            REQUIRE(op.tombstone == !it->second.has_value());
            ++it;
        }
        REQUIRE(it == model.end());
        for (std::uint32_t c : {0u, 1u, 2u, 3u, 7u, 8u}) {
            std::vector<entity_key> want, got;
            for (const auto& [k, v] : model)
                if (k.first == c) want.push_back(k);
            for (auto [i, end] = s.collection(c); i != end; ++i) got.push_back((*i).key);
            REQUIRE(got == want);
        }
        s.clear();
        REQUIRE(s.empty());
        REQUIRE_FALSE(s.sealed());
        REQUIRE_FALSE(s.find(keys[0]).has_value());
    }
}

TEST_CASE("write set: an empty set and a set of one", "[write_set]") {
    write_set s;
    REQUIRE(s.empty());
    REQUIRE_FALSE(s.find({1, id_of(1)}));
    s.drop({1, id_of(1)});  // nothing to drop
    REQUIRE(s.empty());
    s.seal();
    REQUIRE(s.begin() == s.end());
    const auto [b, e] = s.collection(1);
    REQUIRE(b == e);

    write_set one;
    one.put({1, id_of(1)}, payload(1));
    one.drop({1, id_of(1)});
    REQUIRE(one.empty());
    one.put({1, id_of(1)}, payload(2));  // a dropped key comes back
    REQUIRE(one.size() == 1);
    one.seal();
    REQUIRE(std::distance(one.begin(), one.end()) == 1);
    REQUIRE((*one.begin()).op.payload.size() == payload(2).size());
}

TEST_CASE("write set: a transaction's writes, removes of its own puts and reads of its own writes", "[write_set]") {
    test_support::temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); });
    db.transaction([&](auto& txn) {
        txn.put("c", id_of(2), payload(2));
        txn.put("c", id_of(2), payload(22));  // the last put wins
        REQUIRE(txn.get("c", id_of(2)) == payload(22));
        txn.put("c", id_of(3), payload(3));
        REQUIRE(txn.remove("c", id_of(3)));  // a put of this transaction only: forgotten
        REQUIRE_FALSE(txn.get("c", id_of(3)));
        REQUIRE_FALSE(txn.remove("c", id_of(3)));
        REQUIRE(txn.remove("c", id_of(1)));  // in the database: a tombstone
        REQUIRE_FALSE(txn.get("c", id_of(1)));
        txn.put("d", id_of(1), payload(4));
    });
    REQUIRE_FALSE(db.get("c", id_of(1)));
    REQUIRE(db.get("c", id_of(2)) == payload(22));
    REQUIRE_FALSE(db.get("c", id_of(3)));
    REQUIRE(db.get("d", id_of(1)) == payload(4));
    REQUIRE(db.last_sequence() == 2);
}

TEST_CASE("write set: rewriting keys reuses their bytes; the buffer stays near what the set holds", "[write_set]") {
    write_set s;
    const entity_key one{1, id_of(1)};
    const auto small = payload(1, 200), large = payload(2, 300);
    for (int i = 0; i < 100'000; ++i) s.put(one, i % 2 == 0 ? large : small);  // grows, then fits, ...
    s.put({1, id_of(2)}, small);
    s.remove({1, id_of(3)});
    CHECK(s.buffer_bytes() < 200 * 1024);  // every rewrite kept: 25 MB
    REQUIRE(s.find(one)->payload.size() == small.size());
    REQUIRE(entidb::byte_buffer(s.find(one)->payload.begin(), s.find(one)->payload.end()) == small);

    // Drops and removes free their payloads too; what is left keeps its bytes.
    write_set many;
    for (std::uint64_t n = 0; n < 2'000; ++n) many.put({1, id_of(n)}, payload(n, 250));
    for (std::uint64_t n = 0; n < 2'000; ++n) {
        if (n % 3 == 0) many.drop({1, id_of(n)});
        if (n % 3 == 1) many.remove({1, id_of(n)});
    }
    for (std::uint64_t n = 2; n < 2'000; n += 3) many.put({1, id_of(n)}, payload(n + 5'000, 260));
    CHECK(many.buffer_bytes() < 400'000);  // not repacked: 670 kB
    many.seal();
    for (std::uint64_t n = 0; n < 2'000; ++n) {
        const auto op = many.find({1, id_of(n)});
        if (n % 3 == 0) REQUIRE_FALSE(op);
        if (n % 3 == 1) REQUIRE(op->tombstone);
        if (n % 3 == 2)
            REQUIRE(entidb::byte_buffer(op->payload.begin(), op->payload.end()) == payload(n + 5'000, 260));
    }
}
