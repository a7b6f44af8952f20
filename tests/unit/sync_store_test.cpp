// The embedded sync store (include/entidb/sync/embedded_store.hpp; docs/sync-protocol.md):
// exactly-once pushes by (device, client sequence), refusals that change nothing, the conflict
// rules applied with the current version answered, pulls that page and filter the same way at
// any limit, state that survives a reopen, and the bearer tokens (sync/token.hpp).
#include <entidb/sync/embedded_store.hpp>
#include <entidb/sync/token.hpp>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sync_store_cases.hpp"
#include "test_support.hpp"

namespace {

namespace sync = entidb::sync;
using sync_store_cases::code_of_refusal;
using sync_store_cases::device_a;
using test_support::temp_dir;

}  // namespace

TEST_CASE("pushes apply exactly once per (device, client sequence); an out-of-order push changes nothing", "[sync]") { sync_store_cases::exactly_once<sync_kinds::embedded_kind>(); }
TEST_CASE("the store applies the conflict rules and answers a conflict with the current version", "[sync]") { sync_store_cases::conflict_rules<sync_kinds::embedded_kind>(); }
TEST_CASE("pulls give the same operations at any limit, filter by collection, and survive a reopen", "[sync]") { sync_store_cases::pull_paging<sync_kinds::embedded_kind>(); }

TEST_CASE("compaction drops superseded history and keeps current versions, deletes included",
          "[sync]") {
    sync_store_cases::compaction<sync_kinds::embedded_kind>();
}

TEST_CASE("tokens: strict base64url, signed claims, a tokens file that is refused when damaged or there already",
          "[sync]") {
    namespace d = entidb::sync::detail;
    using entidb::byte_buffer;
    for (std::size_t n = 0; n < 40; ++n) {
        byte_buffer b(n);
        for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<entidb::byte>(i * 37 + n);
        const auto text = d::base64url(b);
        CHECK(text.find_first_of("+/=") == std::string::npos);
        CHECK(d::from_base64url(text) == b);
    }
    CHECK_FALSE(d::from_base64url("A"));      // an impossible length
    CHECK_FALSE(d::from_base64url("AB"));     // unused bits not zero: "AA" is the one encoding of 00
    CHECK(d::from_base64url("AA") == byte_buffer{0});
    CHECK_FALSE(d::from_base64url("A+"));     // not the URL alphabet

    temp_dir dir;
    const auto file = dir / "tokens";
    const auto signer = sync::token_signer::create(file);
    CHECK(test_support::code_of([&] { (void)sync::token_signer::create(file); }) == entidb::errc::invalid_argument);
    const sync::token_claims claims{.device = device_a, .db = "app", .collections = {"notes"}, .expires = 2000};
    const auto token = signer.issue(claims);
    CHECK(sync::token_signer::open(file).verify(token, 1999) == claims);  // the same key, read back
    CHECK(code_of_refusal([&] { (void)signer.verify(token, 2000); }) == "unauthorized");
    const auto other = sync::token_signer::create(dir / "other");
    CHECK(code_of_refusal([&] { (void)other.verify(token, 1999); }) == "unauthorized");

    const auto good = entidb::read_file(file);
    for (const std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{40}, good.size() - 1}) {
        auto bad = good;
        bad[at] ^= 0x01;
        std::ofstream(file, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
        try {
            (void)sync::token_signer::open(file);
            FAIL("a damaged tokens file opened");
        } catch (const entidb::error& e) {
            CHECK(e.value() == entidb::errc::corruption);
            CHECK(e.offset() == (at < 6 ? 0 : good.size() - 4));
        }
    }
    CHECK(test_support::code_of([&] { (void)sync::token_signer::open(dir / "missing"); }) == entidb::errc::not_found);
}
