// The sync store and client cases (sync_store_cases.hpp, sync_client_cases.hpp) against the
// PostgreSQL store (include/entidb/sync/postgres_store.hpp), each in a fresh schema of the
// private cluster that tests/sync/with_postgres.py starts and names in ENTIDB_TEST_PG (Meson test
// sync_postgres). Without it every case fails saying so: they never pass silently. Also: the
// store refuses values bigint cannot hold, and several stores on one database hand out dense,
// commit-ordered server sequences under concurrent pushes.
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "sync_client_cases.hpp"
#include "sync_kinds.hpp"
#include "sync_store_cases.hpp"

using sync_kinds::postgres_kind;

TEST_CASE("postgres: pushes apply exactly once per (device, client sequence); an out-of-order push changes nothing",
          "[sync][.postgres]") {
    sync_store_cases::exactly_once<postgres_kind>();
}
TEST_CASE("postgres: the store applies the conflict rules and answers a conflict with the current version",
          "[sync][.postgres]") {
    sync_store_cases::conflict_rules<postgres_kind>();
}
TEST_CASE("postgres: pulls give the same operations at any limit, filter by collection, and survive a reopen",
          "[sync][.postgres]") {
    sync_store_cases::pull_paging<postgres_kind>();
}
TEST_CASE("postgres: compaction drops superseded history and keeps current versions, deletes included",
          "[sync][.postgres]") {
    sync_store_cases::compaction<postgres_kind>();
}
TEST_CASE("postgres: sync client: two devices converge; reports count what moved; a second sync moves nothing",
          "[sync][.postgres]") {
    sync_client_cases::converge<postgres_kind>();
}
TEST_CASE("postgres: sync client: concurrent edits follow last-writer-wins; a stale edit never resurrects a delete",
          "[sync][.postgres]") {
    sync_client_cases::last_writer_wins<postgres_kind>();
}
TEST_CASE("postgres: sync client: the manual policy's conflicts are kept, listed, resolved and pushed",
          "[sync][.postgres]") {
    sync_client_cases::manual_conflicts<postgres_kind>();
}
TEST_CASE("postgres: sync client: lost answers and crashes between steps neither lose nor repeat an operation",
          "[sync][.postgres]") {
    sync_client_cases::lost_answers<postgres_kind>();
}
TEST_CASE("postgres: sync client: compaction and a new server lose no local change; a cursor below the horizon resyncs",
          "[sync][.postgres]") {
    sync_client_cases::compaction_and_resync<postgres_kind>();
}
TEST_CASE("postgres: sync client: options and state are checked",
          "[sync][.postgres]") {
    sync_client_cases::options_checked<postgres_kind>();
}
TEST_CASE("postgres: sync client: five devices through an unreliable transport converge on the server and on last-writer-wins",
          "[sync][.postgres]") {
    sync_client_cases::five_devices<postgres_kind>();
}

TEST_CASE("postgres: concurrent pushes from several stores get dense, commit-ordered server sequences; "
          "values bigint cannot hold are refused",
          "[sync][.postgres]") {
    namespace sync = entidb::sync;
    postgres_kind kind;
    constexpr int writers = 4, pushes = 25;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
          try {
            auto store = kind.make();  // a store (and connections) of its own: several servers on one database
            std::array<entidb::byte, 16> d{};
            d.fill(static_cast<entidb::byte>(w + 1));
            for (std::uint64_t i = 1; i <= pushes; ++i) {
                std::array<entidb::byte, 16> id = d;
                id[0] = static_cast<entidb::byte>(i);
                (void)store->push({.db = "app", .device = entidb::entity_id(d),
                                   .ops = {{.cseq = i, .collection = "notes", .id = entidb::entity_id(id),
                                            .kind = sync::op_kind::put, .payload = {0xa0}, .base = 0, .hlc = i}}});
            }
          } catch (...) {
            ++failures;
          }
        });
    // Meanwhile pulls never see a gap: every page is dense from the cursor on.
    auto reader = kind.make();
    std::uint64_t cursor = 0;
    for (int rounds = 0; rounds < 2000 && cursor < writers * pushes; ++rounds) {
        const auto page = reader->pull({.db = "app", .device = entidb::entity_id{}, .cursor = cursor, .limit = 1000,
                                        .collections = {}, .wait_ms = 0});
        for (const auto& op : page.ops) CHECK(op.sseq == ++cursor);
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    const auto all = reader->pull({.db = "app", .device = entidb::entity_id{}, .cursor = 0, .limit = 1000,
                                   .collections = {}, .wait_ms = 0});
    CHECK(all.ops.size() == writers * pushes);
    CHECK(all.cursor == writers * pushes);

    const auto before = kind.fingerprint();
    const auto refused = [&](std::uint64_t cseq, std::uint64_t hlc) {
        try {
            (void)reader->push({.db = "app", .device = entidb::entity_id{}, .ops = {{.cseq = cseq, .collection = "notes",
                                .id = entidb::entity_id{}, .kind = sync::op_kind::remove, .payload = {}, .base = 0, .hlc = hlc}}});
        } catch (const sync::refusal& r) {
            return r.body().error;
        }
        return std::string("none");
    };
    CHECK(refused(std::uint64_t{1} << 63, 1) == "out_of_order");
    CHECK(refused(1, std::uint64_t{1} << 63) == "bad_request");
    CHECK(kind.fingerprint() == before);
    CHECK_THROWS_AS(sync::postgres_store(kind.conninfo, {.policy = {}, .schema = "Bad-Name", .max_examined = 1,
                                                          .max_connections = 1}),
                    entidb::error);
    CHECK_THROWS_AS(sync::postgres_store("host=/nonexistent-socket-dir connect_timeout=2"), entidb::error);
}
