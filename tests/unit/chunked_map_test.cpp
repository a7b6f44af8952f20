// detail::chunked_map (the primary index's pending ids) against std::map as the model:
// the smallest chunks, so that every insert and erase splits, joins or removes chunks.
#include <entidb/detail/chunked_map.hpp>

#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

namespace {

using small_map = entidb::detail::chunked_map<std::uint64_t, std::uint32_t, 4>;
using model_map = std::map<std::uint64_t, std::uint32_t>;

// The map's entries in order, walked forwards.
std::vector<std::pair<std::uint64_t, std::uint32_t>> forwards(const small_map& m) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
    for (const auto& e : m) out.emplace_back(e.first, e.second);
    return out;
}

// Walked backwards (reverse iterators, so operator-- from end()), then put in key order.
std::vector<std::pair<std::uint64_t, std::uint32_t>> backwards(const small_map& m) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
    for (auto it = m.rbegin(); it != m.rend(); ++it) out.emplace_back(it->first, it->second);
    return {out.rbegin(), out.rend()};
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> entries(const model_map& m) { return {m.begin(), m.end()}; }

// Every observable of `m` agrees with `model`: size, order both ways, find and upper_bound
// for each key present and for the keys between and around them.
void check_same(const small_map& m, const model_map& model) {
    REQUIRE(m.size() == model.size());
    REQUIRE(m.empty() == model.empty());
    REQUIRE(forwards(m) == entries(model));
    REQUIRE(backwards(m) == entries(model));
    REQUIRE(static_cast<std::size_t>(std::distance(m.begin(), m.end())) == model.size());
    for (std::uint64_t k = 0; k <= (model.empty() ? 2 : model.rbegin()->first + 2); ++k) {
        const auto* v = m.find(k);
        const auto it = model.find(k);
        REQUIRE((v != nullptr) == (it != model.end()));
        if (v) REQUIRE(*v == it->second);
        const auto ub = m.upper_bound(k);
        const auto model_ub = model.upper_bound(k);
        REQUIRE((ub == m.end()) == (model_ub == model.end()));
        if (ub != m.end()) REQUIRE(ub->first == model_ub->first);
    }
}

}  // namespace

TEST_CASE("chunked_map: an empty map finds nothing and its range is empty", "[chunked_map]") {
    small_map m;
    CHECK(m.empty());
    CHECK(m.size() == 0);
    CHECK(m.begin() == m.end());
    CHECK(m.rbegin() == m.rend());
    CHECK(m.find(0) == nullptr);
    CHECK(m.upper_bound(0) == m.end());
    CHECK_FALSE(m.erase(7));
    m.erase_if([](std::uint64_t, std::uint32_t) { return true; });
    CHECK(m.empty());
}

TEST_CASE("chunked_map: insert keeps the first value, erase reports presence", "[chunked_map]") {
    small_map m;
    CHECK(m.insert(5, 50));
    CHECK_FALSE(m.insert(5, 51));  // present: unchanged
    REQUIRE(m.find(5) != nullptr);
    CHECK(*m.find(5) == 50);
    *m.find(5) = 52;  // find gives the value to change in place
    CHECK(*static_cast<const small_map&>(m).find(5) == 52);
    CHECK(m.erase(5));
    CHECK_FALSE(m.erase(5));
    CHECK(m.empty());
    CHECK(m.begin() == m.end());
    CHECK(m.insert(5, 53));  // the map is usable again once its last chunk went
    CHECK(*m.find(5) == 53);
}

TEST_CASE("chunked_map: ascending, descending and interleaved inserts split chunks in order", "[chunked_map]") {
    small_map m;
    model_map model;
    const auto add = [&](std::uint64_t k) {
        CHECK(m.insert(k, static_cast<std::uint32_t>(k * 3)) == model.emplace(k, static_cast<std::uint32_t>(k * 3)).second);
    };
    SECTION("ascending") {
        for (std::uint64_t k = 1; k <= 40; ++k) add(k);
    }
    SECTION("descending") {
        for (std::uint64_t k = 40; k >= 1; --k) add(k);
    }
    SECTION("outside in") {
        for (std::uint64_t i = 0; i < 20; ++i) {
            add(1 + i);
            add(40 - i);
        }
    }
    SECTION("into the middle of full chunks") {
        for (std::uint64_t k = 2; k <= 40; k += 2) add(k);
        for (std::uint64_t k = 1; k <= 40; k += 2) add(k);
    }
    check_same(m, model);
    CHECK(m.memory_bytes() > 0);
}

TEST_CASE("chunked_map: erasures join small chunks and keep the order", "[chunked_map]") {
    small_map m;
    model_map model;
    for (std::uint64_t k = 1; k <= 48; ++k) {
        m.insert(k, static_cast<std::uint32_t>(k));
        model.emplace(k, static_cast<std::uint32_t>(k));
    }
    SECTION("every chunk's first key") {
        for (std::uint64_t k = 1; k <= 48; k += 3) {
            CHECK(m.erase(k));
            model.erase(k);
            check_same(m, model);
        }
    }
    SECTION("from the back down to nothing") {
        for (std::uint64_t k = 48; k >= 1; --k) {
            CHECK(m.erase(k));
            model.erase(k);
        }
        check_same(m, model);
    }
    SECTION("a run in the middle") {
        for (std::uint64_t k = 10; k <= 30; ++k) {
            CHECK(m.erase(k));
            model.erase(k);
        }
        check_same(m, model);
    }
}

TEST_CASE("chunked_map: erase_if keeps the rest in order, packed", "[chunked_map]") {
    small_map m;
    model_map model;
    for (std::uint64_t k = 1; k <= 37; ++k) {
        m.insert(k * 2, static_cast<std::uint32_t>(k));
        model.emplace(k * 2, static_cast<std::uint32_t>(k));
    }
    SECTION("by value") {
        m.erase_if([](std::uint64_t, std::uint32_t v) { return v % 3 == 0; });
        std::erase_if(model, [](const auto& e) { return e.second % 3 == 0; });
    }
    SECTION("all but the last") {
        m.erase_if([](std::uint64_t k, std::uint32_t) { return k != 74; });
        std::erase_if(model, [](const auto& e) { return e.first != 74; });
    }
    SECTION("everything") {
        m.erase_if([](std::uint64_t, std::uint32_t) { return true; });
        model.clear();
    }
    SECTION("nothing") {
        m.erase_if([](std::uint64_t, std::uint32_t) { return false; });
    }
    check_same(m, model);
    // Still a working map after packing: inserts land between the packed entries.
    for (std::uint64_t k = 1; k <= 75; k += 2) {
        m.insert(k, 0);
        model.emplace(k, 0);
    }
    check_same(m, model);
}

TEST_CASE("chunked_map: clear empties the map and releases its chunks", "[chunked_map]") {
    small_map m;
    for (std::uint64_t k = 0; k < 20; ++k) m.insert(k, 1);
    m.clear();
    CHECK(m.empty());
    CHECK(m.begin() == m.end());
    CHECK(m.find(3) == nullptr);
    check_same(m, {});
}

TEST_CASE("chunked_map: iterators step both ways across chunk boundaries", "[chunked_map]") {
    small_map m;
    for (std::uint64_t k = 1; k <= 10; ++k) m.insert(k, static_cast<std::uint32_t>(k));
    auto it = m.begin();
    for (std::uint64_t k = 1; k <= 10; ++k) CHECK((it++)->first == k);
    CHECK(it == m.end());
    for (std::uint64_t k = 10; k >= 1; --k) CHECK((--it)->first == k);
    CHECK(it == m.begin());
    auto ub = m.upper_bound(4);  // 4 may end a chunk: the next entry is in the next one
    REQUIRE(ub != m.end());
    CHECK(ub->first == 5);
    CHECK(std::prev(ub)->first == 4);
    CHECK(m.upper_bound(10) == m.end());
    CHECK(m.upper_bound(0) == m.begin());
}

TEST_CASE("chunked_map: random inserts and erases agree with std::map", "[chunked_map]") {
    const auto seed = GENERATE(1u, 2u, 3u, 4u);
    std::mt19937_64 rng(seed);
    small_map m;
    model_map model;
    for (int step = 0; step < 3000; ++step) {
        const std::uint64_t k = rng() % 200;
        const auto v = static_cast<std::uint32_t>(rng());
        switch (rng() % 8) {
            case 0:
            case 1:
            case 2:
                REQUIRE(m.insert(k, v) == model.emplace(k, v).second);
                break;
            case 3:
            case 4:
                REQUIRE(m.erase(k) == (model.erase(k) == 1));
                break;
            case 5:
                if (step % 50 == 0) {  // now and then, drop a stripe of keys at once
                    const auto stripe = rng() % 5;
                    m.erase_if([&](std::uint64_t key, std::uint32_t) { return key % 5 == stripe; });
                    std::erase_if(model, [&](const auto& e) { return e.first % 5 == stripe; });
                }
                break;
            default: {
                const auto ub = m.upper_bound(k);
                const auto model_ub = model.upper_bound(k);
                REQUIRE((ub == m.end()) == (model_ub == model.end()));
                if (ub != m.end()) REQUIRE(ub->first == model_ub->first);
            }
        }
        if (step % 250 == 0) check_same(m, model);
    }
    check_same(m, model);
}
