// The reader-writer gate under the indexes and tables: exclusion, writers going first,
// and the reader count point reads use.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include <entidb/detail/shared_gate.hpp>

using entidb::detail::shared_gate;

TEST_CASE("a writer excludes readers and other writers", "[gate][threads]") {
    shared_gate g;
    long a = 0, b = 0;  // written together under the exclusive hold; TSan checks the rest
    std::atomic<bool> stop{false};
    std::atomic<long> torn{0}, reads{0};
    std::vector<std::thread> ts;
    for (int r = 0; r < 3; ++r)
        ts.emplace_back([&] {
            while (!stop) {
                std::shared_lock lock(g);
                if (a != b) ++torn;
                ++reads;
            }
        });
    for (int w = 0; w < 2; ++w)
        ts.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                std::unique_lock lock(g);
                ++a;
                ++b;
            }
        });
    ts[3].join();
    ts[4].join();
    stop = true;
    for (int r = 0; r < 3; ++r) ts[static_cast<std::size_t>(r)].join();
    CHECK(torn == 0);
    CHECK(a == 4000);
    CHECK(reads > 0);
}

TEST_CASE("readers that always overlap do not starve a writer", "[gate][threads]") {
    // Two readers hand the gate to each other: one takes it before the other lets go, so
    // without writer preference there is never a moment with no reader inside.
    shared_gate g;
    std::atomic<bool> stop{false};
    std::atomic<int> holding{0};
    auto relay = [&] {
        while (!stop) {
            g.lock_shared();
            holding.fetch_add(1);
            // Let go only once the other reader is in too, or after a while (it may be
            // turned away because a writer waits: that is the point).
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
            while (holding.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
            holding.fetch_sub(1);
            g.unlock_shared();
        }
    };
    std::thread r1(relay), r2(relay);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::atomic<bool> got{false};
    std::thread writer([&] {
        std::unique_lock lock(g);
        got = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!got && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const bool writer_got_in = got;
    stop = true;
    writer.join();  // gets in once the readers stop, if it had not
    r1.join();
    r2.join();
    CHECK(writer_got_in);
}

TEST_CASE("idle and try_lock_shared", "[gate][threads]") {
    shared_gate g;
    CHECK(g.idle());
    g.lock_shared();
    CHECK_FALSE(g.idle());
    std::thread other([&] {
        CHECK(g.try_lock_shared());  // readers share
        g.unlock_shared();
    });
    other.join();
    g.unlock_shared();
    CHECK(g.idle());
    g.lock();
    std::thread turned_away([&] { CHECK_FALSE(g.try_lock_shared()); });
    turned_away.join();
    CHECK(g.idle());  // the refused reader left no count behind
    g.unlock();
}
