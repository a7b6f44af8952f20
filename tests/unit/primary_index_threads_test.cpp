// The primary index under concurrent readers: merges lay the new array out beside the live
// one, so a reader never waits for a merge (only for the swap), and every lookup made while
// merges run sees exactly what was committed before it.
#include <entidb/index/primary_index.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using entidb::entity_id;
using entidb::entity_version;
using entidb::primary_index;
using entidb::record_location;

namespace {

constexpr std::uint64_t no_readers = std::numeric_limits<std::uint64_t>::max();

// Key i's version: its sequence, and a location that names i, so a reader can check that
// what it found is the key's own.
entity_version version_of(std::uint64_t i) {
    return {.sequence = i + 1, .location = record_location{1, 100, i * 7}, .tombstone = false};
}

std::vector<entity_id> random_ids(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<entity_id> ids;
    for (std::size_t i = 0; i < n; ++i) {
        std::array<entidb::byte, entity_id::size> b{};
        for (auto& x : b) x = static_cast<entidb::byte>(rng());
        ids.emplace_back(b);
    }
    return ids;
}

}  // namespace

TEST_CASE("primary index: a reader finishes its lookup while a merge is laid out", "[primary_index_threads][threads]") {
    primary_index ix;
    const auto ids = random_ids(6000, 7);
    std::atomic<int> merges{0};
    std::atomic<bool> reader_waited{false};
    std::size_t applied = 0;
    std::future<std::optional<entity_version>> lookup;
    ix.on_merge_built([&] {
        if (merges++ > 0) return;
        // The writer is inside a merge: a lookup on another thread must not wait for it.
        // (Its result is taken after the merge: were it waiting, taking it here would hang.)
        const auto probe = ids[applied / 2];
        lookup = std::async(std::launch::async, [&ix, probe] { return ix.find(1, probe, no_readers); });
        if (lookup.wait_for(std::chrono::seconds(5)) != std::future_status::ready) reader_waited = true;
    });
    for (; applied < ids.size(); ++applied) ix.apply(1, ids[applied], version_of(applied), 0);
    REQUIRE(merges.load() > 0);
    CHECK_FALSE(reader_waited.load());
    CHECK(lookup.get().has_value());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto v = ix.find(1, ids[i], no_readers);
        REQUIRE(v.has_value());
        CHECK(v->location.offset == i * 7);
    }
}

TEST_CASE("primary index: lookups during merges see every key applied before them", "[primary_index_threads][threads]") {
    primary_index ix;
    const auto ids = random_ids(40000, 11);
    std::atomic<std::size_t> published{0};  // keys [0, published) are applied
    std::atomic<bool> stop{false};
    std::atomic<long> wrong{0}, lookups{0};
    std::thread reader([&] {
        std::mt19937_64 rng(3);
        while (!stop.load()) {
            const std::size_t n = published.load();
            if (n == 0) continue;
            const std::size_t i = rng() % n;
            const auto v = ix.find(1, ids[i], no_readers);
            if (!v || v->location.offset != i * 7) ++wrong;
            ++lookups;
        }
    });
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ix.apply(1, ids[i], version_of(i), 0);
        published.store(i + 1);
    }
    stop = true;
    reader.join();
    CHECK(wrong.load() == 0);
    CHECK(lookups.load() > 0);
}
