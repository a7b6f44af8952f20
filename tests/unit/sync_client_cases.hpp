// The sync client cases (include/entidb/sync/client.hpp; docs/sync-protocol.md, "Client"), each a
// template over a store kind (sync_kinds.hpp) in the same process: devices converge, conflicts follow the policy (a stale
// offline edit never resurrects a delete; a put after a pulled delete is fresh), pushes whose
// answers are lost are settled by the retry's answer, history compaction and a new server lose
// no local change, and five devices behind a transport that loses, repeats and delays requests,
// with clients thrown away at random points, end byte-identical to the server and to a model of
// last-writer-wins.
//
// sync_client_test.cpp runs them on the embedded store, sync_postgres_test.cpp on PostgreSQL.
#pragma once

#include <entidb/sync/client.hpp>
#include <entidb/sync/embedded_store.hpp>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sync_kinds.hpp"
#include "test_support.hpp"

namespace sync_client_cases {

namespace sync = entidb::sync;
using entidb::entity_id;
using test_support::temp_dir;
// Any store behind one type (the embedded one, PostgreSQL), so that the transport and the
// devices below are not templates.
struct store_type {
    std::function<sync::handshake_response(const sync::handshake_request&)> handshake;
    std::function<sync::push_response(const sync::push_request&)> push;
    std::function<sync::pull_response(const sync::pull_request&)> pull;

    template <typename S>
    static store_type of(S& s) {
        return {[&s](const sync::handshake_request& r) { return s.handshake(r); },
                [&s](const sync::push_request& r) { return s.push(r); },
                [&s](const sync::pull_request& r) { return s.pull(r); }};
    }
};

entity_id nth_id(std::uint8_t n) {
    std::array<entidb::byte, 16> b{};
    b.fill(n);
    return entity_id(b);
}
entidb::byte_buffer value_of(std::uint64_t n) { return entidb::cbor::encode(entidb::cbor::value(n)); }

// A physical clock the test moves by hand (the hybrid clock adds its counter).
struct fake_time {
    std::shared_ptr<std::uint64_t> ms = std::make_shared<std::uint64_t>(1'000'000);
    std::uint64_t operator()() const { return *ms; }
};

// Thrown where the transport loses a request or its answer.
struct lost {};

// Between a client and the store: loses requests and answers, delivers some twice, and keeps
// some pushes to deliver later (a retry overtaken by the next request), as the dice say.
struct unreliable {
    explicit unreliable(store_type& s, std::mt19937_64* r = nullptr) : store(s), rng(r) {}
    store_type& store;
    std::mt19937_64* rng;  // none: a perfect transport
    std::vector<sync::push_request> late;
    std::vector<std::pair<entity_id, sync::operation>> pushed;  // every operation a push carried, by device

    [[nodiscard]] bool roll(int percent) { return rng != nullptr && static_cast<int>((*rng)() % 100) < percent; }
    template <typename F>
    auto deliver(F&& f) {
        if (roll(10)) throw lost{};
        if (roll(5)) (void)f();
        auto answer = f();
        if (roll(10)) throw lost{};
        return answer;
    }
    sync::handshake_response handshake(const sync::handshake_request& r) {
        return deliver([&] { return store.handshake(r); });
    }
    sync::push_response push(const sync::push_request& r) {
        for (const auto& op : r.ops) pushed.emplace_back(r.device, op);
        if (!late.empty() && roll(50)) {
            try {
                (void)store.push(late.back());  // an old retry arrives now: duplicates, or out of order
            } catch (const sync::refusal&) {
            }
            late.pop_back();
        }
        if (roll(5)) late.push_back(r);
        return deliver([&] { return store.push(r); });
    }
    sync::pull_response pull(const sync::pull_request& r) {
        return deliver([&] { return store.pull(r); });
    }
};

using client_type = sync::sync_client<entidb::file_storage, unreliable, fake_time>;

// A device: its database and a client on it (either may be thrown away and made again).
struct device {
    std::filesystem::path path;
    entidb::database db;
    std::unique_ptr<client_type> client;
    unreliable* link;
    fake_time time;
    sync::client_options options;

    device(std::filesystem::path p, unreliable& l, fake_time t, sync::client_options o = {})
        : path(std::move(p)), db(entidb::open(path)), link(&l), time(std::move(t)), options(std::move(o)) {
        restart_client();
    }
    void restart_client() { client = std::make_unique<client_type>(db, *link, options, time); }
    void restart_process() {
        client.reset();
        db.close();
        db = entidb::open(path);
        restart_client();
    }
    sync::sync_report sync() { return client->sync(); }
    void put(std::string_view coll, std::uint8_t id, std::uint64_t v) {
        db.transaction([&](auto& txn) { txn.put(coll, nth_id(id), entidb::bytes_view(value_of(v))); });
    }
    void remove(std::string_view coll, std::uint8_t id) {
        db.transaction([&](auto& txn) { (void)txn.remove(coll, nth_id(id)); });
    }
    [[nodiscard]] std::optional<entidb::byte_buffer> get(std::string_view coll, std::uint8_t id) const {
        return db.get(coll, nth_id(id));
    }
};

// The user collections of a database: collection → id → payload.
using contents = std::map<std::string, std::map<entity_id, entidb::byte_buffer>>;
contents user_contents(const entidb::database& db) {
    contents out;
    auto r = db.begin_read();
    for (const auto& c : r.collections()) {
        if (sync::is_reserved_collection(c) || c.starts_with("sync/")) continue;
        for (const auto& e : r.scan(c)) out[c][e.id] = e.bytes;
    }
    std::erase_if(out, [](const auto& c) { return c.second.empty(); });
    return out;
}
// What the server holds as current: each entity's current version, unless a delete.
contents server_contents(store_type& store, const std::string& db) {
    contents out;
    sync::pull_request q{.db = db, .device = nth_id(0xee), .cursor = 0, .limit = 10000, .collections = {}, .wait_ms = 0};
    for (;;) {
        const auto page = store.pull(q);
        for (const auto& op : page.ops) {
            if (op.op.kind == sync::op_kind::put)
                out[op.op.collection][op.op.id] = op.op.payload;
            else
                out[op.op.collection].erase(op.op.id);
        }
        q.cursor = page.cursor;
        if (!page.has_more) break;
    }
    std::erase_if(out, [](const auto& c) { return c.second.empty(); });
    return out;
}


// The prologue of most cases: a server of the kind (under `policy`), a transport to it, a clock,
// and two devices `a` and `b` on it with `options`.
template <typename Kind>
struct two_devices {
    explicit two_devices(sync::conflict_policy policy = sync::conflict_policy::last_writer_wins,
                         const sync::client_options& options = {})
        : server_store(kind.make(policy)),
          store(store_type::of(*server_store)),
          link(store),
          a(dir / "a", link, t, options),
          b(dir / "b", link, t, options) {}

    temp_dir dir;
    Kind kind;
    std::unique_ptr<typename Kind::store_type> server_store;
    store_type store;
    unreliable link;
    fake_time t;
    device a, b;
};

template <typename Kind>
void converge() {
    two_devices<Kind> w;
    auto& [dir, kind, server_store, store, link, t, a, b] = w;

    a.put("notes", 1, 10);
    a.put("notes", 2, 20);
    a.put("tags", 3, 30);
    auto r = a.sync();
    CHECK(r.pulled == 0);
    CHECK(r.pushed == 3);
    CHECK(r.conflicts == 0);
    CHECK(r.cursor == 3);
    r = b.sync();
    CHECK(r.pulled == 3);
    CHECK(r.pushed == 0);
    CHECK(user_contents(b.db) == user_contents(a.db));

    b.remove("notes", 1);
    b.put("notes", 2, 21);
    CHECK(b.sync().pushed == 2);
    r = a.sync();
    CHECK(r.pulled == 2);
    CHECK(r.pushed == 0);
    CHECK(!a.get("notes", 1));
    CHECK(a.get("notes", 2) == value_of(21));
    r = a.sync();  // nothing new either way: its own pulled writes are not pushed back
    CHECK(r.pulled == 0);
    CHECK(r.pushed == 0);
    CHECK(user_contents(a.db) == server_contents(store, "default"));
    CHECK(user_contents(b.db) == server_contents(store, "default"));
    // The state survives the process: the same device, cursor and bases after a reopen.
    const auto device_a = a.client->device();
    a.restart_process();
    CHECK(a.client->device() == device_a);
    CHECK(a.client->cursor() == 5);
    CHECK(a.sync().pushed == 0);
}

template <typename Kind>
void last_writer_wins() {
    two_devices<Kind> w;
    auto& [dir, kind, server_store, store, link, t, a, b] = w;
    a.put("notes", 1, 1);
    a.put("notes", 2, 2);
    (void)a.sync();
    (void)b.sync();

    // Both edit entity 1 offline; b's edit is later (its clock is ahead), so it wins on both.
    a.put("notes", 1, 100);
    *t.ms += 1000;
    b.put("notes", 1, 200);
    (void)a.sync();  // a's edit applies first (the server saw nothing newer)
    auto r = b.sync();
    CHECK(r.conflicts == 0);
    r = a.sync();
    CHECK(a.get("notes", 1) == value_of(200));
    // Now the earlier edit arrives second: it conflicts and the device takes the current version.
    *t.ms += 1000;
    b.put("notes", 1, 300);
    a.put("notes", 1, 301);
    *t.ms -= 500;  // b staged at a later time than a? no: b stages on its sync, which comes last
    (void)a.sync();
    r = b.sync();
    CHECK(r.conflicts == 0);  // b's stage time is later: it wins
    (void)a.sync();
    CHECK(a.get("notes", 1) == b.get("notes", 1));

    // a deletes entity 2; b edits it offline, made on the version before the delete: the delete stays.
    a.remove("notes", 2);
    b.put("notes", 2, 999);
    *t.ms += 1000;
    (void)a.sync();
    *t.ms += 1000;
    r = b.sync();
    CHECK(r.conflicts == 1);
    CHECK(!b.get("notes", 2));
    // A put of that id after the delete was pulled is a fresh write: it wins over the delete.
    b.put("notes", 2, 1000);
    r = b.sync();
    CHECK(r.conflicts == 0);
    (void)a.sync();
    CHECK(a.get("notes", 2) == value_of(1000));
    CHECK(user_contents(a.db) == server_contents(store, "default"));
    CHECK(user_contents(b.db) == server_contents(store, "default"));
}

// The manual policy: the server keeps its version and answers a conflict; a client that keeps
// conflicts lists the change that lost, and the application's resolution is pushed as a fresh
// write that every device then holds.
template <typename Kind>
void manual_conflicts() {
    const sync::client_options keep{.db = "default", .device = {}, .collections = {}, .pull_limit = 100,
                                    .push_batch = 100, .keep_conflicts = true};
    two_devices<Kind> w(sync::conflict_policy::manual, keep);
    auto& [dir, kind, server_store, store, link, t, a, b] = w;
    a.put("notes", 1, 1);
    a.put("notes", 2, 2);
    (void)a.sync();
    (void)b.sync();
    a.put("notes", 1, 10);
    b.put("notes", 1, 20);  // later by the clock, but the manual policy keeps the first
    b.put("notes", 2, 21);
    a.put("notes", 2, 11);
    (void)a.sync();
    auto r = b.sync();
    CHECK(r.conflicts == 2);
    CHECK(b.get("notes", 1) == value_of(10));  // the server's version is the local one meanwhile
    auto listed = b.client->conflicts();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].collection == "notes");
    CHECK(listed[0].id == nth_id(1));
    CHECK(listed[0].mine.payload == value_of(20));
    CHECK(listed[0].theirs.op.payload == value_of(10));
    CHECK(a.client->conflicts().empty());
    // The application merges entity 1 and keeps the server's entity 2.
    b.client->resolve("notes", nth_id(1), value_of(30));
    b.client->dismiss("notes", nth_id(2));
    CHECK(b.client->conflicts().empty());
    r = b.sync();
    CHECK(r.pushed == 1);
    CHECK(r.conflicts == 0);
    (void)a.sync();
    CHECK(a.get("notes", 1) == value_of(30));
    CHECK(a.get("notes", 2) == value_of(11));
    CHECK(user_contents(b.db) == user_contents(a.db));
    CHECK(user_contents(a.db) == server_contents(store, "default"));
}

template <typename Kind>
void lost_answers() {
    two_devices<Kind> w;
    auto& [dir, kind, server_store, store, link, t, a, b] = w;
    a.put("notes", 1, 1);
    (void)a.sync();
    (void)b.sync();

    // a pushes an edit; the server applies it and the answer is lost; meanwhile b overwrites it.
    a.put("notes", 1, 2);
    struct answer_lost {
        store_type& store;
        sync::handshake_response handshake(const sync::handshake_request& r) { return store.handshake(r); }
        sync::push_response push(const sync::push_request& r) {
            (void)store.push(r);
            throw lost{};
        }
        sync::pull_response pull(const sync::pull_request& r) { return store.pull(r); }
    } losing{store};
    {
        sync::sync_client<entidb::file_storage, answer_lost, fake_time> once(a.db, losing, {}, t);
        CHECK_THROWS_AS(once.sync(), lost);
    }
    *t.ms += 1000;
    b.put("notes", 1, 3);
    (void)b.sync();
    // A pull before the retry must not lose b's version behind a's pending edit.
    (void)a.client->pull();
    a.restart_process();
    const auto r = a.sync();
    CHECK(r.pushed == 1);  // the retry, answered as a duplicate with the current version
    CHECK(a.get("notes", 1) == value_of(3));
    CHECK(user_contents(a.db) == server_contents(store, "default"));
    // The server applied a's edit once.
    std::size_t from_a = 0;
    for (const auto& op : store.pull({.db = "default", .device = nth_id(0xee), .cursor = 0, .limit = 100,
                                      .collections = {}, .wait_ms = 0}).ops)
        from_a += op.device == a.client->device() ? 1 : 0;
    CHECK(from_a == 2);
}

template <typename Kind>
void compaction_and_resync() {
    two_devices<Kind> w;
    auto& [dir, kind, server_store, store, link, t, a, b] = w;
    a.put("notes", 1, 1);
    a.put("notes", 2, 2);
    (void)a.sync();
    // Edits and a delete, then a compaction drops their history: found by comparing with the bases.
    a.put("notes", 1, 11);
    a.put("notes", 1, 12);
    a.remove("notes", 2);
    a.put("notes", 3, 3);
    (void)a.db.compact({.tombstone_retention = 0, .on_step = {}, .scan_wait = std::chrono::milliseconds(0)});
    REQUIRE(a.db.history_horizon() > 2);
    auto r = a.sync();
    CHECK(r.pushed == 3);
    (void)b.sync();
    CHECK(user_contents(b.db) == user_contents(a.db));
    CHECK(user_contents(b.db) == server_contents(store, "default"));

    // A new server (its database lost): the devices push everything they hold to it again.
    Kind kind2;
    auto fresh_server = kind2.make();
    auto fresh = store_type::of(*fresh_server);
    unreliable link2(fresh);
    a.link = &link2;
    a.restart_client();
    r = a.sync();
    CHECK(r.resynced);
    CHECK(r.pushed == 2);
    CHECK(user_contents(a.db) == server_contents(fresh, "default"));

    // A server that compacted its history past b's cursor answers resync_required: b drops what
    // it synced and takes the snapshot, keeping its unpushed edit.
    struct compacted {
        store_type& store;
        std::uint64_t horizon;
        sync::handshake_response handshake(const sync::handshake_request& r) {
            auto h = store.handshake(r);
            h.horizon = horizon;
            return h;
        }
        sync::push_response push(const sync::push_request& r) { return store.push(r); }
        sync::pull_response pull(const sync::pull_request& r) {
            if (r.cursor != 0 && r.cursor < horizon) throw sync::refusal("resync_required", "compacted", horizon);
            return store.pull(r);
        }
    } behind{fresh, 100};
    b.put("notes", 9, 9);
    b.db.transaction([&](auto& txn) { txn.put("notes", nth_id(7), entidb::bytes_view(value_of(7))); });
    sync::sync_client<entidb::file_storage, compacted, fake_time> bc(b.db, behind, {}, t);
    // b is still on the old server's identity: a new server for it too.
    r = bc.sync();
    CHECK(r.resynced);
    CHECK(b.get("notes", 9) == value_of(9));
    CHECK(user_contents(b.db) == server_contents(fresh, "default"));
    // Now the same server with a horizon above b's cursor: resync from 0, nothing pending lost.
    b.put("notes", 10, 10);
    behind.horizon = bc.cursor() + 1;
    (void)a.sync();
    r = bc.sync();
    CHECK(r.resynced);
    CHECK(b.get("notes", 10) == value_of(10));
    CHECK(user_contents(b.db) == server_contents(fresh, "default"));

    // The server's own compaction past a device's cursor: the device catches up from its cursor
    // (every current version, deletes included, is still there), keeps its unpushed edit, and
    // ends equal to the server (entity 1, deleted meanwhile, is gone from it too).
    device c(dir / "c", link2, t);
    (void)c.sync();
    c.put("notes", 40, 40);
    a.remove("notes", 1);
    for (std::uint64_t i = 0; i < 8; ++i) {
        a.put("notes", 50, i);
        (void)a.sync();
    }
    CHECK(fresh_server->compact("default", 2) > 0);
    REQUIRE(fresh_server->handshake({.db = "default", .device = c.client->device(), .protocol = 2}).horizon >
            c.client->cursor());
    r = c.sync();
    CHECK_FALSE(r.resynced);
    CHECK(c.get("notes", 40) == value_of(40));
    CHECK(!c.get("notes", 1));
    (void)a.sync();
    CHECK(user_contents(c.db) == server_contents(fresh, "default"));
    CHECK(user_contents(a.db) == user_contents(c.db));
}

template <typename Kind>
void options_checked() {
    temp_dir dir;
    Kind kind;
    auto server_store = kind.make();
    auto store = store_type::of(*server_store);
    unreliable link(store);
    auto db = entidb::open(dir / "a");
    using plain = sync::sync_client<entidb::file_storage, unreliable>;
    const auto refused = [&](sync::client_options o) {
        try {
            plain c(db, link, std::move(o));
        } catch (const entidb::error& e) {
            return e.value() == entidb::errc::invalid_argument;
        }
        return false;
    };
    CHECK(refused({.db = "default", .device = {}, .collections = {}, .pull_limit = 0, .push_batch = 1, .keep_conflicts = false}));
    CHECK(refused({.db = "default", .device = {}, .collections = {}, .pull_limit = 1, .push_batch = 10001, .keep_conflicts = false}));
    CHECK(refused({.db = "default", .device = {}, .collections = {"entidb.sync/state"}, .pull_limit = 1, .push_batch = 1, .keep_conflicts = false}));
    plain first(db, link, {.db = "app", .device = nth_id(1), .collections = {}, .pull_limit = 10, .push_batch = 10, .keep_conflicts = false});
    CHECK(first.device() == nth_id(1));
    CHECK_FALSE(refused({.db = "app", .device = nth_id(2), .collections = {}, .pull_limit = 10, .push_batch = 10, .keep_conflicts = false}));
    (void)first.sync();  // the first handshake stores the device and the tenant
    CHECK(refused({.db = "app", .device = nth_id(2), .collections = {}, .pull_limit = 10, .push_batch = 10, .keep_conflicts = false}));
    CHECK(refused({.db = "other", .device = {}, .collections = {}, .pull_limit = 10, .push_batch = 10, .keep_conflicts = false}));
    // A server refuses operations on the reserved collections.
    const auto answer = store.push({.db = "app", .device = nth_id(3),
                                    .ops = {{.cseq = 1, .collection = "entidb.sync/state", .id = nth_id(0),
                                             .kind = sync::op_kind::put, .payload = value_of(1), .base = 0, .hlc = 1}}});
    CHECK(answer.results[0].status == sync::push_status::rejected);
}

template <typename Kind>
void five_devices() {
    for (const bool with_deletes : {false, true}) {
        CAPTURE(with_deletes);
        temp_dir dir;
        Kind kind;
        auto server_store = kind.make();
        auto store = store_type::of(*server_store);
        std::mt19937_64 rng(with_deletes ? 7 : 11);
        unreliable link(store, &rng);
        fake_time t;
        std::vector<std::unique_ptr<device>> devices;
        for (int i = 0; i < 5; ++i)
            devices.push_back(std::make_unique<device>(
                dir / ("d" + std::to_string(i)), link, t,
                sync::client_options{.db = "default", .device = {}, .collections = {}, .pull_limit = 1 + rng() % 7,
                                     .push_batch = 1 + rng() % 5, .keep_conflicts = false}));
        std::uint64_t next_value = 1;
        // Unoptimised and sanitizer builds (ENTIDB_TEST_QUICK) play shorter histories.
#if ENTIDB_TEST_QUICK
        constexpr int rounds = 40;
#else
        constexpr int rounds = 80;
#endif
        for (int round = 0; round < rounds; ++round) {
            auto& d = *devices[rng() % devices.size()];
            *t.ms += rng() % 3;
            for (int n = static_cast<int>(rng() % 4); n > 0; --n) {
                const auto id = static_cast<std::uint8_t>(rng() % 12);
                if (with_deletes && rng() % 4 == 0)
                    d.remove("notes", id);
                else
                    d.put(rng() % 5 == 0 ? "tags" : "notes", id, next_value++);
            }
            try {
                (void)d.sync();
            } catch (const lost&) {
            }
            if (rng() % 6 == 0) d.restart_client();
            if (rng() % 10 == 0) d.restart_process();
        }
        // Quiet network: every device syncs until a whole round moves nothing.
        link.rng = nullptr;
        for (const auto& late : link.late) {
            try {
                (void)store.push(late);
            } catch (const sync::refusal&) {
            }
        }
        for (int pass = 0; pass < 10; ++pass) {
            std::uint64_t moved = 0;
            for (auto& d : devices) {
                const auto r = d->sync();
                moved += r.pulled + r.pushed;
            }
            if (moved == 0) break;
        }
        const auto server = server_contents(store, "default");
        for (auto& d : devices) CHECK(user_contents(d->db) == server);

        // Exactly once: no (device, client sequence) twice in the server's history.
        std::set<std::pair<entity_id, std::uint64_t>> seen;
        sync::pull_request q{.db = "default", .device = nth_id(0xee), .cursor = 0, .limit = 10000, .collections = {},
                             .wait_ms = 0};
        for (const auto& op : store.pull(q).ops) CHECK(seen.insert({op.device, op.op.cseq}).second);

        // Last-writer-wins without deletes: each entity holds the payload of the operation with
        // the greatest (timestamp, device) among every operation any device pushed.
        if (!with_deletes) {
            struct newest {
                std::uint64_t hlc = 0;
                entity_id device;
                entidb::byte_buffer payload;
            };
            std::map<std::pair<std::string, entity_id>, newest> model;
            for (const auto& [dev, op] : link.pushed) {
                auto& m = model[{op.collection, op.id}];
                if (op.hlc > m.hlc || (op.hlc == m.hlc && m.device.bytes() < dev.bytes())) m = {op.hlc, dev, op.payload};
            }
            contents expected;
            for (const auto& [k, v] : model) expected[k.first][k.second] = v.payload;
            CHECK(server == expected);
        }
    }
}

}  // namespace sync_client_cases
