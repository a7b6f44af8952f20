// The embedded sync store (include/entidb/sync/embedded_store.hpp; docs/sync-protocol.md):
// exactly-once pushes by (device, client sequence), refusals that change nothing, the conflict
// rules applied with the current version answered, pulls that page and filter the same way at
// any limit, state that survives a reopen, and the bearer tokens (sync/token.hpp).
#include <entidb/sync/embedded_store.hpp>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_support.hpp"

namespace {

namespace sync = entidb::sync;
using test_support::temp_dir;

entidb::entity_id id_n(std::uint8_t n) {
    std::array<entidb::byte, 16> b{};
    b.fill(n);
    return entidb::entity_id(b);
}
const auto device_a = id_n(0xa1);
const auto device_b = id_n(0xb2);

sync::operation put(std::uint64_t cseq, std::uint8_t entity, std::uint64_t base, std::uint64_t hlc,
                    std::string collection = "notes") {
    return {.cseq = cseq, .collection = std::move(collection), .id = id_n(entity), .kind = sync::op_kind::put,
            .payload = {0xa1, 0x61, 'n', static_cast<entidb::byte>(cseq & 0x17)}, .base = base, .hlc = hlc};
}
sync::operation del(std::uint64_t cseq, std::uint8_t entity, std::uint64_t base, std::uint64_t hlc) {
    return {.cseq = cseq, .collection = "notes", .id = id_n(entity), .kind = sync::op_kind::remove, .payload = {},
            .base = base, .hlc = hlc};
}
sync::push_request push_of(const entidb::entity_id& device, std::vector<sync::operation> ops) {
    return {.db = "app", .device = device, .ops = std::move(ops)};
}
std::vector<sync::push_status> statuses(const sync::push_response& r) {
    std::vector<sync::push_status> out;
    for (const auto& x : r.results) out.push_back(x.status);
    return out;
}
std::string code_of_refusal(auto&& f) {
    try {
        f();
    } catch (const sync::refusal& r) {
        return r.body().error;
    }
    return "none";
}

}  // namespace

TEST_CASE("pushes apply exactly once per (device, client sequence); an out-of-order push changes nothing",
          "[sync]") {
    temp_dir dir;
    auto db = entidb::open(dir / "server");
    sync::embedded_store store(db);
    const auto hs = store.handshake({.db = "app", .device = device_a, .protocol = 2});
    CHECK(hs.acked == 0);
    CHECK(hs.head == 0);
    CHECK(store.handshake({.db = "app", .device = device_b, .protocol = 2}).server == hs.server);
    CHECK(store.handshake({.db = "other", .device = device_a, .protocol = 2}).server != hs.server);
    CHECK(code_of_refusal([&] { (void)store.handshake({.db = "app", .device = device_a, .protocol = 3}); }) ==
          "unsupported_protocol");

    const auto first = store.push(push_of(device_a, {put(1, 1, 0, 10), put(2, 2, 0, 11), put(3, 3, 0, 12)}));
    CHECK(first.acked == 3);
    REQUIRE(first.results.size() == 3);
    CHECK(first.results[0].sseq == 1);
    CHECK(first.results[2].sseq == 3);
    // The same push again (its answer was lost): nothing is applied twice.
    const auto again = store.push(push_of(device_a, {put(1, 1, 0, 10), put(2, 2, 0, 11), put(3, 3, 0, 12)}));
    CHECK(statuses(again) == std::vector{sync::push_status::duplicate, sync::push_status::duplicate,
                                         sync::push_status::duplicate});
    CHECK(again.acked == 3);
    const auto overlap = store.push(push_of(device_a, {put(3, 3, 0, 12), put(4, 4, 0, 13)}));
    CHECK(statuses(overlap) == std::vector{sync::push_status::duplicate, sync::push_status::applied});
    CHECK(overlap.results[1].sseq == 4);
    // A gap (operations 5 and 6 missing): refused whole, nothing written.
    const auto before = db.last_sequence();
    CHECK(code_of_refusal([&] { (void)store.push(push_of(device_a, {put(7, 5, 0, 14)})); }) == "out_of_order");
    CHECK(db.last_sequence() == before);
    CHECK(store.handshake({.db = "app", .device = device_a, .protocol = 2}).acked == 4);
    // Another device's pushes never wait on this one's sequence.
    CHECK(store.push(push_of(device_b, {put(1, 9, 0, 15)})).results[0].sseq == 5);
}

TEST_CASE("the store applies the conflict rules and answers a conflict with the current version", "[sync]") {
    temp_dir dir;
    auto db = entidb::open(dir / "server");
    sync::embedded_store store(db);
    REQUIRE(store.push(push_of(device_a, {put(1, 1, 0, 100)})).results[0].sseq == 1);
    // B edits entity 1 without having seen A's version, earlier by the clock: A's stays.
    const auto lost = store.push(push_of(device_b, {put(1, 1, 0, 50)})).results[0];
    CHECK(lost.status == sync::push_status::conflict);
    CHECK(lost.sseq == 1);
    REQUIRE(lost.current);
    CHECK(lost.current->device == device_a);
    CHECK(lost.current->op == put(1, 1, 0, 100));
    // Later by the clock: B wins.
    CHECK(store.push(push_of(device_b, {put(2, 1, 0, 150)})).results[0].sseq == 2);
    // A deletes it having seen B's version; B's stale offline edit does not bring it back...
    CHECK(store.push(push_of(device_a, {del(2, 1, 2, 160)})).results[0].sseq == 3);
    CHECK(store.push(push_of(device_b, {put(3, 1, 2, 999)})).results[0].status == sync::push_status::conflict);
    // ...a put after pulling the delete does.
    CHECK(store.push(push_of(device_b, {put(4, 1, 3, 170)})).results[0].status == sync::push_status::applied);
    // A base from the future and a payload that is not canonical CBOR are rejected, and the
    // device moves on past them.
    auto bad = put(5, 2, 0, 180);
    bad.payload = {0xa1, 0x61, 'n', 0x18, 0x01};  // 1 in a two-byte head
    const auto rejected = store.push(push_of(device_b, {put(5, 1, 99, 175), [&] { auto b = bad; b.cseq = 6; return b; }()}));
    CHECK(statuses(rejected) == std::vector{sync::push_status::rejected, sync::push_status::rejected});
    CHECK(rejected.results[0].reason.find("base 99") != std::string::npos);
    CHECK(rejected.results[1].reason.find("not canonical") != std::string::npos);
    CHECK(rejected.acked == 6);

    // The other policies, on a fresh tenant each.
    for (const auto policy : {sync::conflict_policy::server_wins, sync::conflict_policy::client_wins}) {
        sync::embedded_store other(db, {.policy = policy});
        const std::string tenant(sync::to_string(policy));
        REQUIRE(other.push({.db = tenant, .device = device_a, .ops = {put(1, 1, 0, 100)}}).results[0].sseq == 1);
        const auto r = other.push({.db = tenant, .device = device_b, .ops = {put(1, 1, 0, 999)}}).results[0];
        CHECK(r.status == (policy == sync::conflict_policy::client_wins ? sync::push_status::applied
                                                                          : sync::push_status::conflict));
    }
}

TEST_CASE("pulls give the same operations at any limit, filter by collection, and survive a reopen", "[sync]") {
    temp_dir dir;
    std::vector<sync::server_operation> all;
    {
        auto db = entidb::open(dir / "server");
        sync::embedded_store store(db);
        std::vector<sync::operation> ops;
        for (std::uint64_t i = 1; i <= 25; ++i)
            ops.push_back(put(i, static_cast<std::uint8_t>(i), 0, 100 + i, i % 3 == 0 ? "tags" : "notes"));
        REQUIRE(store.push(push_of(device_a, ops)).acked == 25);
        const auto whole = store.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 1000, .collections = {}, .wait_ms = 0});
        CHECK(whole.ops.size() == 25);
        CHECK(whole.cursor == 25);
        CHECK_FALSE(whole.has_more);
        all = whole.ops;
        for (std::uint64_t i = 0; i < all.size(); ++i) CHECK(all[i].sseq == i + 1);
        // limit 1, page by page: the same operations.
        std::vector<sync::server_operation> paged;
        std::uint64_t cursor = 0;
        for (int pages = 0; pages < 100; ++pages) {
            const auto page = store.pull({.db = "app", .device = device_b, .cursor = cursor, .limit = 1, .collections = {}, .wait_ms = 0});
            paged.insert(paged.end(), page.ops.begin(), page.ops.end());
            cursor = page.cursor;
            if (!page.has_more) break;
        }
        CHECK(paged == all);
        // Only "tags": every third, and the cursor passes the skipped ones.
        const auto tags = store.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 3, .collections = {"tags"}, .wait_ms = 0});
        REQUIRE(tags.ops.size() == 3);
        CHECK(tags.ops[2].sseq == 9);
        CHECK(tags.cursor == 9);
        CHECK(tags.has_more);
        // A filter that skips most operations: a pull stops after max_examined, with has_more.
        sync::embedded_store capped(db, {.policy = sync::conflict_policy::last_writer_wins, .max_examined = 4});
        const auto few = capped.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 10, .collections = {"tags"}, .wait_ms = 0});
        CHECK(few.ops.size() == 1);  // sseq 3; 1..4 examined
        CHECK(few.cursor == 4);
        CHECK(few.has_more);
        const auto beyond = store.pull({.db = "app", .device = device_b, .cursor = 25, .limit = 10, .collections = {}, .wait_ms = 0});
        CHECK(beyond.ops.empty());
        CHECK(beyond.cursor == 25);
        CHECK(store.pull({.db = "nobody", .device = device_b, .cursor = 0, .limit = 10, .collections = {}, .wait_ms = 0}).ops.empty());
    }
    auto db = entidb::open(dir / "server");
    sync::embedded_store store(db);
    CHECK(store.handshake({.db = "app", .device = device_a, .protocol = 2}).acked == 25);
    CHECK(store.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 1000, .collections = {}, .wait_ms = 0}).ops == all);
    CHECK(store.push(push_of(device_a, {put(26, 1, 1, 200)})).results[0].sseq == 26);
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
