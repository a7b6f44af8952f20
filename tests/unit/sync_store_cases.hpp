// The sync store cases every store passes (include/entidb/sync/store_rules.hpp; docs/sync-protocol.md,
// "Stores"): exactly-once pushes by (device, client sequence), refusals that change nothing,
// the conflict rules applied with the current version answered, pulls that page and filter the
// same way at any limit, state that survives a reopen. Each case is a template over a store
// kind (sync_kinds.hpp); sync_store_test.cpp runs them on the embedded store,
// sync_postgres_test.cpp on PostgreSQL.
#pragma once

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sync_kinds.hpp"

namespace sync_store_cases {

namespace sync = entidb::sync;

namespace sync = entidb::sync;

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

template <typename Kind>
void exactly_once() {
    Kind kind;
    auto store_ptr = kind.make();
    auto& store = *store_ptr;
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
    const auto before = kind.fingerprint();
    CHECK(code_of_refusal([&] { (void)store.push(push_of(device_a, {put(7, 5, 0, 14)})); }) == "out_of_order");
    CHECK(kind.fingerprint() == before);
    CHECK(store.handshake({.db = "app", .device = device_a, .protocol = 2}).acked == 4);
    // Another device's pushes never wait on this one's sequence.
    CHECK(store.push(push_of(device_b, {put(1, 9, 0, 15)})).results[0].sseq == 5);
}

template <typename Kind>
void conflict_rules() {
    Kind kind;
    auto store_ptr = kind.make();
    auto& store = *store_ptr;
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
        auto other_ptr = kind.make(policy);
        auto& other = *other_ptr;
        const std::string tenant(sync::to_string(policy));
        REQUIRE(other.push({.db = tenant, .device = device_a, .ops = {put(1, 1, 0, 100)}}).results[0].sseq == 1);
        const auto r = other.push({.db = tenant, .device = device_b, .ops = {put(1, 1, 0, 999)}}).results[0];
        CHECK(r.status == (policy == sync::conflict_policy::client_wins ? sync::push_status::applied
                                                                          : sync::push_status::conflict));
    }
}

template <typename Kind>
void pull_paging() {
    Kind kind;
    std::vector<sync::server_operation> all;
    {
        auto store_ptr = kind.make();
        auto& store = *store_ptr;
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
        auto capped_ptr = kind.make(sync::conflict_policy::last_writer_wins, 4);
        auto& capped = *capped_ptr;
        const auto few = capped.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 10, .collections = {"tags"}, .wait_ms = 0});
        CHECK(few.ops.size() == 1);  // sseq 3; 1..4 examined
        CHECK(few.cursor == 4);
        CHECK(few.has_more);
        const auto beyond = store.pull({.db = "app", .device = device_b, .cursor = 25, .limit = 10, .collections = {}, .wait_ms = 0});
        CHECK(beyond.ops.empty());
        CHECK(beyond.cursor == 25);
        CHECK(store.pull({.db = "nobody", .device = device_b, .cursor = 0, .limit = 10, .collections = {}, .wait_ms = 0}).ops.empty());
    }
    kind.reopen();
    auto store_ptr = kind.make();
    auto& store = *store_ptr;
    CHECK(store.handshake({.db = "app", .device = device_a, .protocol = 2}).acked == 25);
    CHECK(store.pull({.db = "app", .device = device_b, .cursor = 0, .limit = 1000, .collections = {}, .wait_ms = 0}).ops == all);
    CHECK(store.push(push_of(device_a, {put(26, 1, 1, 200)})).results[0].sseq == 26);
}

// History compaction: superseded operations below head - keep are dropped, current ones (deletes
// included) stay, so a pull from any cursor, below the horizon too, still brings the current
// state; paging over the gaps ends.
template <typename Kind>
void compaction() {
    Kind kind;
    auto store_ptr = kind.make();
    auto& store = *store_ptr;
    std::vector<sync::operation> ops;
    for (std::uint64_t i = 1; i <= 10; ++i) ops.push_back(put(i, static_cast<std::uint8_t>((i - 1) % 5 + 1), 0, 100 + i));
    ops.push_back(del(11, 5, 10, 200));
    REQUIRE(store.push(push_of(device_a, ops)).acked == 11);
    CHECK(store.compact("app", 100) == 0);  // fewer than 2 x keep sequences: nothing yet
    CHECK(store.compact("app", 2) == 5);    // below 9: operations 1..5 were superseded by 6..10
    CHECK(store.handshake({.db = "app", .device = device_b, .protocol = 2}).horizon == 9);
    CHECK(store.compact("app", 2) == 0);
    const auto behind = store.pull({.db = "app", .device = device_b, .cursor = 3, .limit = 10, .collections = {}, .wait_ms = 0});
    REQUIRE(behind.ops.size() == 6);
    CHECK(behind.ops[0].sseq == 6);
    CHECK(behind.ops[5].op.kind == sync::op_kind::remove);
    std::vector<std::uint64_t> seen;
    std::uint64_t cursor = 0;
    for (int pages = 0; pages < 50; ++pages) {
        const auto page = store.pull({.db = "app", .device = device_b, .cursor = cursor, .limit = 1, .collections = {}, .wait_ms = 0});
        for (const auto& op : page.ops) seen.push_back(op.sseq);
        cursor = page.cursor;
        if (!page.has_more) break;
    }
    CHECK(seen == std::vector<std::uint64_t>{6, 7, 8, 9, 10, 11});
    CHECK(cursor == 11);
    // Pushes go on after a compaction.
    CHECK(store.push(push_of(device_a, {put(12, 1, 6, 300)})).results[0].sseq == 12);
}

}  // namespace sync_store_cases
