// The MVCC posting lists under the secondary indexes (index/postings.hpp) while they merge:
// a merge builds beside the live parts and publishes them by a swap, so readers neither wait
// for it nor see anything but their snapshot's answer.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <entidb/entidb.hpp>

#include "test_steps.hpp"
#include "test_support.hpp"

using entidb::entity_id;
using entidb::index_key;
using entidb::detail::posting_list;
using test_support::id_of;

namespace {

index_key key_of(std::uint64_t i) { return entidb::make_text_prefix_key("key" + std::to_string(10'000 + i)); }

}  // namespace

TEST_CASE("postings: a reader's lookups complete while a merge is held between its build and its publish",
          "[postings][threads]") {
    posting_list p;
    const std::uint64_t n = 4096;
    for (std::uint64_t i = 0; i < n; ++i) p.add(key_of(i), id_of(i), 1);
    REQUIRE(p.entry_count(1) == n);  // ends the bulk build

    std::promise<void> built, release;
    auto released = release.get_future().share();
    std::atomic<bool> merged{false};
    p.on_merge_built([&] {
        if (merged.exchange(true)) return;
        built.set_value();
        // Bounded, so that a reader that waits for the merge fails the test instead of hanging it.
        released.wait_for(std::chrono::seconds(30));
    });
    // Commits at sequence 2 add postings (recent changes) until one of them triggers a merge.
    std::uint64_t added = 0;
    std::thread writer([&] {
        for (std::uint64_t i = n; !merged && i < 10 * n; ++i, ++added) p.add(key_of(i), id_of(i), 2);
        if (!merged) built.set_value();  // no merge came: the checks below fail
    });
    const bool merging = built.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready && merged;

    std::vector<entity_id> old_key, new_key;
    std::size_t in_range = 0, with_prefix = 0;
    auto reader = std::async(std::launch::async, [&] {
        old_key = p.find(key_of(7), 1);
        new_key = p.find(key_of(n + 3), 2);
        in_range = p.range(entidb::key_bound{key_of(0)}, entidb::key_bound{key_of(n + 3)}, 2).size();
        with_prefix = p.prefix(entidb::make_text_prefix_key("key1"), 1).size();
    });
    const bool read_during_merge = reader.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    release.set_value();
    writer.join();
    reader.get();

    REQUIRE(merging);
    CHECK(read_during_merge);
    CHECK(old_key == std::vector<entity_id>{id_of(7)});
    CHECK(new_key == std::vector<entity_id>{id_of(n + 3)});
    CHECK(in_range == n + 4);
    CHECK(with_prefix == n);
    // After the publish: the same answers, from the merged parts.
    CHECK(p.find(key_of(7), 1) == std::vector<entity_id>{id_of(7)});
    CHECK(p.find(key_of(n + 3), 2) == std::vector<entity_id>{id_of(n + 3)});
    CHECK(p.entry_count(2) == n + added);
}

TEST_CASE("postings: readers at an old snapshot see the same answer through many merges", "[postings][threads]") {
    // Every posting is visible at snapshot 1; the writer closes and reopens them at later
    // sequences (horizon 1, so nothing snapshot 1 sees is dropped), merging every thousand
    // or so changes, while readers check snapshot 1's answers.
    posting_list p;
    const std::uint64_t n = 512;
    for (std::uint64_t i = 0; i < n; ++i) p.add(key_of(i), id_of(i), 1);
    REQUIRE(p.entry_count(1) == n);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> wrong{0}, reads{0};
    std::vector<std::thread> readers;
    for (std::uint64_t r = 0; r < 2; ++r)
        readers.emplace_back([&, r] {
            for (std::uint64_t i = r; !stop; i += 7) {
                const auto k = i % n;
                if (p.find(key_of(k), 1) != std::vector<entity_id>{id_of(k)}) ++wrong;
                if (p.range(entidb::key_bound{key_of(k)}, std::nullopt, 1).size() != n - k) ++wrong;
                ++reads;
            }
        });
    std::uint64_t seq = 2;
    for (std::size_t step = 0; step < test_support::steps(32'000); ++step, ++seq) {
        const auto k = step % n;
        p.remove(key_of(k), id_of(k), seq, 1);
        p.add(key_of(k), id_of(k), seq);
    }
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(wrong == 0);
    CHECK(reads > 0);
    CHECK(p.entry_count(1) == n);
    CHECK(p.entry_count(seq) == n);
}
