// change_feed_hub on its own: subscription tokens, the order callbacks see operations in,
// and callbacks (or name lookups) that throw — counted, never passed on to the commit;
// then the feed of a database: only applied commits, in commit order.
#include <entidb/entidb.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;

namespace {

// What the engine hands publish(): operations keyed by (collection id, entity id), in key
// order, and the catalog's id → name lookup.
struct fake_op {
    bool tombstone = false;
    entidb::byte_buffer payload;
};
using fake_ops = std::vector<std::pair<std::pair<std::uint32_t, entidb::entity_id>, fake_op>>;

struct fake_names {
    bool throws = false;
    [[nodiscard]] std::string name_of(std::uint32_t id) const {
        if (throws) throw std::runtime_error("no name");
        return "c" + std::to_string(id);
    }
};

fake_ops two_ops() {
    return {{{1, id_of(1)}, {false, {0x01}}}, {{2, id_of(2)}, {true, {}}}};
}

// One received change, flattened for comparison.
struct seen {
    std::uint64_t sequence;
    std::string collection;
    entidb::entity_id id;
    entidb::change_kind kind;
    entidb::byte_buffer payload;
    friend bool operator==(const seen&, const seen&) = default;
};

entidb::change_callback record_into(std::vector<seen>& out) {
    return [&out](const entidb::change& c) { out.push_back({c.sequence, c.collection, c.id, c.kind, c.payload}); };
}

}  // namespace

TEST_CASE("change_feed: every subscriber sees every operation, in order, with its sequence", "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> a, b;
    hub.subscribe(record_into(a));
    hub.subscribe(record_into(b));
    hub.publish(two_ops(), 7, fake_names{});
    hub.publish(fake_ops{{{1, id_of(3)}, {false, {0x02}}}}, 8, fake_names{});
    const std::vector<seen> expected{
        {7, "c1", id_of(1), entidb::change_kind::put, {0x01}},
        {7, "c2", id_of(2), entidb::change_kind::remove, {}},
        {8, "c1", id_of(3), entidb::change_kind::put, {0x02}},
    };
    CHECK(a == expected);
    CHECK(b == expected);
    CHECK(hub.callback_failures() == 0);
}

TEST_CASE("change_feed: a remove carries no payload, even if the operation holds bytes", "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> got;
    hub.subscribe(record_into(got));
    hub.publish(fake_ops{{{1, id_of(1)}, {true, {0x01, 0x02}}}}, 1, fake_names{});
    REQUIRE(got.size() == 1);
    CHECK(got[0].kind == entidb::change_kind::remove);
    CHECK(got[0].payload.empty());
}

TEST_CASE("change_feed: tokens are distinct; unsubscribe stops delivery and reports unknown tokens",
          "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> a, b;
    const auto ta = hub.subscribe(record_into(a));
    const auto tb = hub.subscribe(record_into(b));
    CHECK(ta != tb);
    CHECK(ta != 0);
    CHECK(hub.unsubscribe(ta));
    CHECK_FALSE(hub.unsubscribe(ta));  // already gone
    CHECK_FALSE(hub.unsubscribe(tb + 100));
    hub.publish(two_ops(), 1, fake_names{});
    CHECK(a.empty());
    CHECK(b.size() == 2);
    // A token is never handed out again, so an old one cannot remove a new subscriber.
    const auto tc = hub.subscribe(record_into(a));
    CHECK(tc != ta);
    CHECK(tc != tb);
    CHECK_FALSE(hub.unsubscribe(ta));
    hub.publish(two_ops(), 2, fake_names{});
    CHECK(a.size() == 2);
}

TEST_CASE("change_feed: a throwing callback is counted per call; the others still run", "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> before, after;
    hub.subscribe(record_into(before));
    hub.subscribe([](const entidb::change&) { throw std::runtime_error("subscriber failed"); });
    hub.subscribe([](const entidb::change&) { throw 42; });  // not even an exception type
    hub.subscribe(record_into(after));
    CHECK_NOTHROW(hub.publish(two_ops(), 1, fake_names{}));
    CHECK(before.size() == 2);
    CHECK(after.size() == 2);
    CHECK(hub.callback_failures() == 4);  // two callbacks, two operations
}

TEST_CASE("change_feed: an operation whose change cannot be built is counted and skipped", "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> got;
    hub.subscribe(record_into(got));
    CHECK_NOTHROW(hub.publish(two_ops(), 1, fake_names{true}));
    CHECK(got.empty());
    CHECK(hub.callback_failures() == 2);
}

TEST_CASE("change_feed: with no subscribers nothing is built or counted", "[change_feed]") {
    entidb::change_feed_hub hub;
    hub.publish(two_ops(), 1, fake_names{true});  // the names would throw if asked
    CHECK(hub.callback_failures() == 0);
    std::vector<seen> got;
    const auto t = hub.subscribe(record_into(got));
    hub.unsubscribe(t);
    hub.publish(two_ops(), 2, fake_names{true});
    CHECK(hub.callback_failures() == 0);
}

TEST_CASE("change_feed: a callback may unsubscribe itself; the publish in progress still reaches it",
          "[change_feed]") {
    entidb::change_feed_hub hub;
    std::vector<seen> got;
    std::uint64_t token = 0;
    token = hub.subscribe([&](const entidb::change& c) {
        got.push_back({c.sequence, c.collection, c.id, c.kind, c.payload});
        hub.unsubscribe(token);  // no deadlock: callbacks run outside the hub's lock
    });
    hub.publish(two_ops(), 1, fake_names{});
    CHECK(got.size() == 2);  // the publish works on the subscribers it started with
    hub.publish(two_ops(), 2, fake_names{});
    CHECK(got.size() == 2);
}

TEST_CASE("change_feed: a database feeds applied commits only, in commit order", "[change_feed]") {
    auto db = entidb::open_in_memory();
    std::vector<seen> got;
    const auto token = db.subscribe(record_into(got));
    db.transaction([](auto& txn) {
        txn.put("b", id_of(2), payload(2));
        txn.put("a", id_of(1), payload(1));
    });
    {
        auto aborted = db.begin_write();
        aborted.put("a", id_of(9), payload(9));
    }
    {
        auto refused = db.begin_write();
        refused.put("a", id_of(8), payload(8));
        refused.commit();
        CHECK(code_of([&] { refused.commit(); }) == errc::closed);  // a second commit adds nothing
    }
    db.transaction([](auto& txn) { CHECK(txn.remove("a", id_of(1))); });
    db.transaction([](auto&) {});  // nothing written: no commit, no change
    const std::vector<seen> expected{
        {1, "b", id_of(2), entidb::change_kind::put, payload(2)},  // collection "b" was created first
        {1, "a", id_of(1), entidb::change_kind::put, payload(1)},
        {2, "a", id_of(8), entidb::change_kind::put, payload(8)},
        {3, "a", id_of(1), entidb::change_kind::remove, {}},
    };
    CHECK(got == expected);
    // The persisted history says the same.
    std::vector<seen> history;
    for (const auto& c : db.changes_since(0)) history.push_back({c.sequence, c.collection, c.id, c.kind, c.payload});
    CHECK(history == expected);
    CHECK(db.unsubscribe(token));
    db.transaction([](auto& txn) { txn.put("a", id_of(5), payload(5)); });
    CHECK(got.size() == expected.size());
}

TEST_CASE("change_feed: a throwing subscriber never fails the commit", "[change_feed]") {
    auto db = entidb::open_in_memory();
    std::vector<seen> got;
    db.subscribe([](const entidb::change&) { throw std::runtime_error("subscriber failed"); });
    db.subscribe(record_into(got));
    std::uint64_t seq = 0;
    CHECK_NOTHROW(seq = db.transaction([](auto& txn) { txn.put("a", id_of(1), payload(1)); }));
    CHECK(seq == 1);
    CHECK(db.get("a", id_of(1)) == payload(1));
    CHECK(got.size() == 1);
    CHECK(db.stats().change_callback_failures == 1);
}
