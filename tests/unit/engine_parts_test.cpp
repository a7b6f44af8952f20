// The engine's parts that stand on their own (core/): the gate between scans in storage
// order and compactions (scan_gate.hpp), and the poisoned state (poison.hpp).
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;

namespace {

using entidb::detail::poison_state;
using entidb::detail::scan_gate;
using namespace std::chrono_literals;

// The message of the entidb error `f()` throws (empty if it returns).
std::string message_of(auto&& f) {
    try {
        f();
    } catch (const entidb::error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("scan gate: a scan open before an exclusion makes it wait, then fail with busy excluding nothing") {
    scan_gate g;
    REQUIRE(g.try_begin());
    std::string message;
    CHECK(code_of([&] {
              try {
                  const scan_gate::exclusion x(g, 1ms);
              } catch (const entidb::error& e) {
                  message = e.what();
                  throw;
              }
          }) == errc::busy);
    CHECK(message.find("1 scan(s) in storage order still open after waiting 1 ms") != std::string::npos);
    CHECK(message.find("Nothing was compacted") != std::string::npos);
    // The failed exclusion left nothing behind: scans are accepted again.
    REQUIRE(g.try_begin());
    g.end();
    g.end();
    // And a later exclusion proceeds at once.
    CHECK(code_of([&] { const scan_gate::exclusion x(g, 0ms); }) == errc::ok);
}

TEST_CASE("scan gate: a scan begun during an exclusion is refused, and accepted after it") {
    scan_gate g;
    {
        const scan_gate::exclusion x(g, 0ms);
        CHECK_FALSE(g.try_begin());
        CHECK_FALSE(g.try_begin());
    }
    REQUIRE(g.try_begin());
    g.end();
}

TEST_CASE("scan gate: an exclusion waiting for a scan proceeds once the scan ends", "[threads]") {
    scan_gate g;
    REQUIRE(g.try_begin());
    std::optional<errc> result;
    std::thread compaction([&] {
        result = code_of([&] { const scan_gate::exclusion x(g, 10min); });  // bounded: never reached
    });
    // Once the exclusion is registered new scans are refused; then the open one ends,
    // which must wake the waiting exclusion.
    bool excluding = false;
    for (int i = 0; i < 10'000'000 && !excluding; ++i) {
        excluding = !g.try_begin();
        if (!excluding) {
            g.end();
            std::this_thread::yield();
        }
    }
    CHECK(excluding);
    g.end();
    compaction.join();
    CHECK(result == errc::ok);
    REQUIRE(g.try_begin());
    g.end();
}

TEST_CASE("poison: healthy until poisoned, then refuses with needs_reopen and the first reason") {
    poison_state p;
    CHECK_FALSE(p.poisoned());
    CHECK(code_of([&] { p.ensure_healthy(); }) == errc::ok);

    p.poison("the first failure");
    p.poison("a later failure");
    CHECK(p.poisoned());
    CHECK(code_of([&] { p.ensure_healthy(); }) == errc::needs_reopen);
    const auto message = message_of([&] { p.ensure_healthy(); });
    CHECK(message.find("the database refuses writes until it is reopened: the first failure") != std::string::npos);
    CHECK(message.find("a later failure") == std::string::npos);
}
