// The sync stores the shared test cases run against (sync_store_cases.hpp, sync_client_cases.hpp):
// the embedded store in a fresh database, and — in sync_postgres_test.cpp, run by
// tests/sync/with_postgres.py — the PostgreSQL store in a fresh schema of the private cluster
// ENTIDB_TEST_PG names. Each kind makes stores, reopens them, and gives a fingerprint of
// everything stored (a refused request must leave it unchanged).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include <entidb/sync/embedded_store.hpp>
#if ENTIDB_TEST_HAVE_PQ
#include <entidb/sync/postgres_store.hpp>
#endif

#include "test_support.hpp"

namespace sync_kinds {

struct embedded_kind {
    using store_type = entidb::sync::embedded_store<>;
    test_support::temp_dir dir;
    std::optional<entidb::database> db{entidb::open(dir / "server")};

    [[nodiscard]] std::unique_ptr<store_type> make(
        entidb::sync::conflict_policy policy = entidb::sync::conflict_policy::last_writer_wins,
        std::uint64_t max_examined = 10 * entidb::sync::max_pull_limit) {
        return std::make_unique<store_type>(*db, store_type::options{.policy = policy, .max_examined = max_examined});
    }
    // Closes the database and opens it again (stores made before must not be used any more).
    void reopen() {
        db.reset();
        db.emplace(entidb::open(dir / "server"));
    }
    [[nodiscard]] std::uint64_t fingerprint() const { return db->last_sequence(); }
};

#if ENTIDB_TEST_HAVE_PQ
struct postgres_kind {
    using store_type = entidb::sync::postgres_store;
    std::string conninfo = cluster();
    std::string schema = "t" + entidb::entity_id::generate().to_hex();

    postgres_kind() = default;
    postgres_kind(const postgres_kind&) = delete;
    postgres_kind& operator=(const postgres_kind&) = delete;
    ~postgres_kind() {
        try {
            entidb::sync::detail::pg_connection(conninfo).exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (...) {
        }
    }

    [[nodiscard]] std::unique_ptr<store_type> make(
        entidb::sync::conflict_policy policy = entidb::sync::conflict_policy::last_writer_wins,
        std::uint64_t max_examined = 10 * entidb::sync::max_pull_limit) {
        return std::make_unique<store_type>(
            conninfo, store_type::options{.policy = policy, .schema = schema, .max_examined = max_examined,
                                          .max_connections = 4});
    }
    void reopen() {}  // the state is the cluster's: a new store reads it
    [[nodiscard]] std::uint64_t fingerprint() const {
        entidb::sync::detail::pg_connection c(conninfo);
        const auto r = c.exec(fmt::format(
            "SELECT ((SELECT count(*) FROM {0}.ops) + (SELECT count(*) FROM {0}.current) + (SELECT count(*) FROM "
            "{0}.devices) + (SELECT coalesce(sum(head + acked_sum), 0) FROM (SELECT head, (SELECT coalesce(sum(acked), 0) "
            "FROM {0}.devices) AS acked_sum FROM {0}.tenants) t))::bigint",
            schema));
        return r.u64(0, 0);
    }

private:
    static std::string cluster() {
        const char* c = std::getenv("ENTIDB_TEST_PG");
        if (c == nullptr || *c == '\0')
            FAIL("ENTIDB_TEST_PG is not set: run these cases through tests/sync/with_postgres.py (Meson: sync_postgres)");
        return c;
    }
};
#endif

}  // namespace sync_kinds
