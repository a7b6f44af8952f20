// entidb/sync/postgres_store.hpp — the sync server's state in PostgreSQL, through libpq
// (docs/sync-operations.md, "PostgreSQL"; Debian's libpq-dev, optional: only code that includes
// this header needs it).
//
// Contract: `postgres_store(conninfo, options)` models sync_store over a PostgreSQL database
// (15 or later). It creates its tables when missing, in the schema options::schema (default
// "entidb_sync"), under an advisory lock so that several servers starting at once do not race:
//     tenants(db, server, head, horizon)         one row per tenant: its identity, highest server
//                                                sequence and horizon
//     devices(db, device, acked)                 each device's highest applied client sequence
//     ops(db, sseq, op)                          the server operations (encode(server_operation))
//     current(db, coll, id, sseq, device, cseq, hlc, deleted)  each entity's current version
//   Names (db, coll) are bytea, so any protocol name is stored as sent.
//   handshake / push / pull   store_rules.hpp's, each in one PostgreSQL transaction. A push locks
//                        its tenant's row (SELECT … FOR UPDATE) before it reads anything and hands
//                        server sequences out from that row's head: pushes of one tenant
//                        serialise there, so sequences are dense and commit-ordered — a puller
//                        that read up to sequence n never later finds a smaller one committing
//                        (a plain SEQUENCE would not promise that: a transaction that drew a
//                        number first can commit last). Pushes of different tenants do not
//                        wait for each other. A pull runs in one REPEATABLE READ snapshot. Each
//                        push also sends NOTIFY on channel "entidb_sync" (payload: the tenant), so
//                        servers sharing the database wake their long-polls (listen()).
//   Values the protocol allows up to 2^64-1 but bigint cannot hold (client sequences and
//   timestamps of 2^63 or more) → refusal "bad_request".
//   Errors: a connection that cannot be made or breaks, or a statement PostgreSQL refuses →
//   errc::io_error "postgres: …" (the request changes nothing: its transaction is rolled back).
//   compact(db, keep)    store_rules.hpp's compact, in one transaction holding the tenant's lock.
//   listen(on_push)      starts a thread with its own connection that calls on_push() for every
//                        notification (another server's push included); stopped by the destructor.
//
// Thread-safety: any number of threads may call handshake/push/pull at once: each takes a
// connection of its own from a pool (opened on demand, at most options::max_connections kept).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#if !__has_include(<libpq-fe.h>)
#error "entidb/sync/postgres_store.hpp needs libpq: install Debian's libpq-dev (scripts/setup.sh does)"
#endif
#include <libpq-fe.h>
#include <poll.h>

#include "../error.hpp"
#include "conflict.hpp"
#include "protocol.hpp"
#include "store_rules.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

namespace detail {

inline constexpr unsigned pg_bytea = 17, pg_int8 = 20, pg_bool = 16;

// One statement parameter, sent in binary.
struct pg_param {
    std::string bytes;
    unsigned type = pg_bytea;
};
[[nodiscard]] inline pg_param pg_bytes(bytes_view b) {
    return {std::string(reinterpret_cast<const char*>(b.data()), b.size()), pg_bytea};
}
[[nodiscard]] inline pg_param pg_bytes(std::string_view s) { return {std::string(s), pg_bytea}; }
[[nodiscard]] inline pg_param pg_int(std::uint64_t v, std::string_view what) {
    if (v > static_cast<std::uint64_t>(INT64_MAX))
        throw refusal("bad_request", fmt::format("{} {} is above what this server's store keeps (2^63-1)", what, v));
    std::string b(8, '\0');
    for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
    return {std::move(b), pg_int8};
}
[[nodiscard]] inline pg_param pg_flag(bool v) { return {std::string(1, v ? '\1' : '\0'), pg_bool}; }

// A result, cleared when it goes away; columns read in binary.
class pg_result {
public:
    explicit pg_result(PGresult* r) : r_(r) {}
    pg_result(pg_result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    pg_result& operator=(pg_result&&) = delete;
    ~pg_result() { PQclear(r_); }
    [[nodiscard]] PGresult* raw() const noexcept { return r_; }
    [[nodiscard]] int rows() const { return PQntuples(r_); }
    [[nodiscard]] bytes_view bytes(int row, int col) const {
        return {reinterpret_cast<const byte*>(PQgetvalue(r_, row, col)), static_cast<std::size_t>(PQgetlength(r_, row, col))};
    }
    [[nodiscard]] std::uint64_t u64(int row, int col) const {
        const auto b = bytes(row, col);
        if (b.size() != 8) fail(errc::corruption, "postgres: a bigint of {} bytes", b.size());
        std::uint64_t v = 0;
        for (const auto x : b) v = v << 8 | x;
        return v;
    }
    [[nodiscard]] bool flag(int row, int col) const { return bytes(row, col).size() == 1 && bytes(row, col)[0] != 0; }

private:
    PGresult* r_;
};

class pg_connection {
public:
    explicit pg_connection(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(c_) != CONNECTION_OK) {
            const std::string why = PQerrorMessage(c_);
            PQfinish(c_);
            fail(errc::io_error, "postgres: cannot connect: {}", trimmed(why));
        }
        // Notices ("relation … already exists, skipping") are not errors: not printed.
        PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
    }
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;
    ~pg_connection() { PQfinish(c_); }

    // Runs one statement with binary parameters; results come back in binary.
    pg_result exec(const std::string& sql, const std::vector<pg_param>& params = {}) {
        std::vector<const char*> values;
        std::vector<int> lengths, formats;
        std::vector<Oid> types;
        for (const auto& p : params) {
            values.push_back(p.bytes.data());
            lengths.push_back(static_cast<int>(p.bytes.size()));
            formats.push_back(1);
            types.push_back(p.type);
        }
        pg_result r(PQexecParams(c_, sql.c_str(), static_cast<int>(params.size()), types.data(), values.data(),
                                 lengths.data(), formats.data(), 1));
        const auto status = PQresultStatus(r.raw());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            fail(errc::io_error, "postgres: {}", trimmed(PQerrorMessage(c_)));
        return r;
    }
    [[nodiscard]] bool healthy() const { return PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE; }
    [[nodiscard]] PGconn* raw() const { return c_; }

    [[nodiscard]] static std::string trimmed(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }

private:
    PGconn* c_;
};

// Runs f between `begin` and COMMIT; any exception rolls back and passes on.
template <typename F>
auto in_transaction(pg_connection& c, const std::string& begin, F&& f) {
    c.exec(begin);
    try {
        auto out = f();
        c.exec("COMMIT");
        return out;
    } catch (...) {
        try {
            c.exec("ROLLBACK");
        } catch (...) {
            // The connection is gone: it is not pooled again (healthy() is false).
        }
        throw;
    }
}

}  // namespace detail

struct postgres_options {
    conflict_policy policy = conflict_policy::last_writer_wins;
    std::string schema = "entidb_sync";                 // [a-z_][a-z0-9_]*, at most 63 bytes
    std::uint64_t max_examined = 10 * max_pull_limit;   // operations one pull reads at most (at least 1)
    std::size_t max_connections = 16;                   // idle connections kept
};

class postgres_store {
public:
    using options = postgres_options;

    explicit postgres_store(std::string conninfo, options opts = {})
        : conninfo_(std::move(conninfo)), opts_(std::move(opts)) {
        check_schema_name(opts_.schema);
        auto c = lease();
        detail::in_transaction(*c, "BEGIN", [&] {
            c->exec("SELECT pg_advisory_xact_lock(4917301)");  // one schema creator at a time
            c->exec("CREATE SCHEMA IF NOT EXISTS " + opts_.schema);
            c->exec(table("tenants") + " (db bytea PRIMARY KEY, server bytea NOT NULL, head bigint NOT NULL, "
                    "horizon bigint NOT NULL)");
            c->exec(table("devices") + " (db bytea NOT NULL, device bytea NOT NULL, acked bigint NOT NULL, "
                    "PRIMARY KEY (db, device))");
            c->exec(table("ops") + " (db bytea NOT NULL, sseq bigint NOT NULL, op bytea NOT NULL, PRIMARY KEY (db, sseq))");
            c->exec(table("current") + " (db bytea NOT NULL, coll bytea NOT NULL, id bytea NOT NULL, sseq bigint NOT NULL, "
                    "device bytea NOT NULL, cseq bigint NOT NULL, hlc bigint NOT NULL, deleted boolean NOT NULL, "
                    "PRIMARY KEY (db, coll, id))");
            return 0;
        });
    }
    postgres_store(const postgres_store&) = delete;
    postgres_store& operator=(const postgres_store&) = delete;
    ~postgres_store() { stop_listening(); }

    [[nodiscard]] handshake_response handshake(const handshake_request& r) {
        check_protocol(r);
        auto c = lease();
        return detail::in_transaction(*c, "BEGIN", [&] {
            tenant_tx tx(*this, *c, r.db, tenant_tx::mode::create);
            return handshake_response{.protocol = protocol_version, .server = tx.server, .acked = tx.acked(r.device),
                                      .horizon = tx.horizon(), .head = tx.head()};
        });
    }

    [[nodiscard]] push_response push(const push_request& r) {
        auto c = lease();
        return detail::in_transaction(*c, "BEGIN", [&] {
            tenant_tx tx(*this, *c, r.db, tenant_tx::mode::lock);
            auto out = sync::push(tx, r, opts_.policy);
            tx.save_head();
            c->exec("SELECT pg_notify('entidb_sync', '')");
            return out;
        });
    }

    [[nodiscard]] pull_response pull(const pull_request& r) {
        auto c = lease();
        return detail::in_transaction(*c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [&] {
            tenant_tx tx(*this, *c, r.db, tenant_tx::mode::read);
            return sync::pull(tx, r, opts_.max_examined);
        });
    }

    // Drops the history of tenant `db` but for its last `keep` server sequences (store_rules.hpp's
    // compact), under the tenant's row lock; the number of operations dropped.
    std::uint64_t compact(const std::string& db, std::uint64_t keep) {
        auto c = lease();
        return detail::in_transaction(*c, "BEGIN", [&] {
            tenant_tx tx(*this, *c, db, tenant_tx::mode::lock);
            const auto dropped = sync::compact(tx, keep);
            tx.save_head();
            return dropped;
        });
    }

    // Calls on_push() (on a thread of the store's) whenever any server pushes to this database.
    void listen(std::function<void()> on_push) {
        stop_listening();
        auto c = std::make_unique<detail::pg_connection>(conninfo_);
        c->exec("LISTEN entidb_sync");
        stop_ = false;
        listener_ = std::thread([this, conn = std::move(c), cb = std::move(on_push)] {
            while (!stop_) {
                pollfd p{PQsocket(conn->raw()), POLLIN, 0};
                if (::poll(&p, 1, 100) < 0) continue;
                if (PQconsumeInput(conn->raw()) == 0) return;  // the connection broke: long-polls fall back to their deadline
                bool any = false;
                while (PGnotify* n = PQnotifies(conn->raw())) {
                    any = true;
                    PQfreemem(n);
                }
                if (any) cb();
            }
        });
    }

private:
    using connection_ptr = std::unique_ptr<detail::pg_connection, std::function<void(detail::pg_connection*)>>;

    // A pooled connection, back to the pool when done (unless it broke or a transaction hangs on it).
    connection_ptr lease() {
        std::unique_ptr<detail::pg_connection> c;
        {
            std::lock_guard lock(pool_mutex_);
            if (!idle_.empty()) {
                c = std::move(idle_.back());
                idle_.pop_back();
            }
        }
        if (!c) c = std::make_unique<detail::pg_connection>(conninfo_);
        return connection_ptr(c.release(), [this](detail::pg_connection* p) {
            std::unique_ptr<detail::pg_connection> owned(p);
            std::lock_guard lock(pool_mutex_);
            if (owned->healthy() && idle_.size() < opts_.max_connections) idle_.push_back(std::move(owned));
        });
    }

    static void check_schema_name(const std::string& s) {
        const bool ok = !s.empty() && s.size() <= 63 && (s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')) &&
                        s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
        if (!ok) fail(errc::invalid_argument, "postgres store: schema '{}' is not [a-z_][a-z0-9_]* of at most 63 bytes", s);
    }
    [[nodiscard]] std::string table(std::string_view name) const {
        return fmt::format("CREATE TABLE IF NOT EXISTS {}.{}", opts_.schema, name);
    }
    [[nodiscard]] std::string q(std::string_view sql) const {
        // Statements name the tables as S.<table>; S becomes the schema.
        std::string out;
        for (std::size_t i = 0; i < sql.size(); ++i) {
            if (sql.substr(i, 2) == "S.") {
                out += opts_.schema;
                out += '.';
                ++i;
            } else {
                out += sql[i];
            }
        }
        return out;
    }

    // One tenant inside one PostgreSQL transaction (store_rules.hpp's `tx`).
    class tenant_tx {
    public:
        // read: a tenant nobody named reads as empty; create: it is created (a handshake); lock:
        // created if missing, and its row locked until the transaction ends (a push).
        enum class mode { read, create, lock };

        tenant_tx(const postgres_store& s, detail::pg_connection& c, const std::string& db, mode m)
            : s_(s), c_(c), db_(db) {
            if (m == mode::read || (m == mode::create && read_tenant(false))) {
                if (m == mode::read) (void)read_tenant(false);
                return;
            }
            c_.exec(s_.q("INSERT INTO S.tenants (db, server, head, horizon) VALUES ($1, $2, 0, 0) "
                         "ON CONFLICT (db) DO NOTHING"),
                    {detail::pg_bytes(db_), detail::pg_bytes(entity_id::generate().bytes())});
            (void)read_tenant(m == mode::lock);
        }

        [[nodiscard]] std::uint64_t head() const { return head_; }
        [[nodiscard]] std::uint64_t horizon() const { return horizon_; }
        [[nodiscard]] std::uint64_t acked(const device_id& device) const {
            const auto r = c_.exec(s_.q("SELECT acked FROM S.devices WHERE db = $1 AND device = $2"),
                                   {detail::pg_bytes(db_), detail::pg_bytes(device.bytes())});
            return r.rows() == 0 ? 0 : r.u64(0, 0);
        }
        void set_acked(const device_id& device, std::uint64_t acked) {
            c_.exec(s_.q("INSERT INTO S.devices (db, device, acked) VALUES ($1, $2, $3) "
                         "ON CONFLICT (db, device) DO UPDATE SET acked = EXCLUDED.acked"),
                    {detail::pg_bytes(db_), detail::pg_bytes(device.bytes()), detail::pg_int(acked, "client sequence")});
        }
        [[nodiscard]] std::optional<current_version> current(const sync::operation& op) const {
            const auto r = c_.exec(s_.q("SELECT sseq, device, cseq, hlc, deleted FROM S.current "
                                        "WHERE db = $1 AND coll = $2 AND id = $3"),
                                   {detail::pg_bytes(db_), detail::pg_bytes(op.collection), detail::pg_bytes(op.id.bytes())});
            if (r.rows() == 0) return std::nullopt;
            return current_version{r.u64(0, 0), entity_id::from_bytes(r.bytes(0, 1)), r.u64(0, 2), r.u64(0, 3),
                                   r.flag(0, 4)};
        }
        [[nodiscard]] server_operation operation(std::uint64_t sseq) const {
            const auto r = c_.exec(s_.q("SELECT op FROM S.ops WHERE db = $1 AND sseq = $2"),
                                   {detail::pg_bytes(db_), detail::pg_int(sseq, "server sequence")});
            if (r.rows() == 0) fail(errc::corruption, "postgres store: operation {} of '{}' is missing", sseq, db_);
            return decode_server_operation(r.bytes(0, 0));
        }
        [[nodiscard]] std::uint64_t append(const device_id& device, const sync::operation& op) {
            const std::uint64_t sseq = ++head_;
            c_.exec(s_.q("INSERT INTO S.ops (db, sseq, op) VALUES ($1, $2, $3)"),
                    {detail::pg_bytes(db_), detail::pg_int(sseq, "server sequence"),
                     detail::pg_bytes(encode(server_operation{.sseq = sseq, .device = device, .op = op}))});
            c_.exec(s_.q("INSERT INTO S.current (db, coll, id, sseq, device, cseq, hlc, deleted) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (db, coll, id) DO UPDATE SET "
                         "sseq = EXCLUDED.sseq, device = EXCLUDED.device, cseq = EXCLUDED.cseq, hlc = EXCLUDED.hlc, "
                         "deleted = EXCLUDED.deleted"),
                    {detail::pg_bytes(db_), detail::pg_bytes(op.collection), detail::pg_bytes(op.id.bytes()),
                     detail::pg_int(sseq, "server sequence"), detail::pg_bytes(device.bytes()),
                     detail::pg_int(op.cseq, "client sequence"), detail::pg_int(op.hlc, "timestamp"),
                     detail::pg_flag(op.kind == op_kind::remove)});
            return sseq;
        }
        template <typename F>
        void visit_after(std::uint64_t cursor, std::uint64_t n, F&& f) const {
            constexpr int chunk = 1000;
            const std::uint64_t last = cursor + n;
            for (;;) {
                const auto r = c_.exec(s_.q("SELECT op FROM S.ops WHERE db = $1 AND sseq > $2 AND sseq <= $3 "
                                            "ORDER BY sseq LIMIT 1000"),
                                       {detail::pg_bytes(db_), detail::pg_int(cursor, "cursor"), detail::pg_int(last, "cursor")});
                for (int i = 0; i < r.rows(); ++i) {
                    auto op = decode_server_operation(r.bytes(i, 0));
                    cursor = op.sseq;
                    if (!f(std::move(op))) return;
                }
                if (r.rows() < chunk) return;
            }
        }
        void erase(std::uint64_t sseq) {
            c_.exec(s_.q("DELETE FROM S.ops WHERE db = $1 AND sseq = $2"),
                    {detail::pg_bytes(db_), detail::pg_int(sseq, "server sequence")});
        }
        void set_horizon(std::uint64_t h) { horizon_ = h; }
        void save_head() {
            c_.exec(s_.q("UPDATE S.tenants SET head = $2, horizon = $3 WHERE db = $1"),
                    {detail::pg_bytes(db_), detail::pg_int(head_, "server sequence"),
                     detail::pg_int(horizon_, "server sequence")});
        }

        entity_id server;

    private:
        // The tenant's row (locked until the transaction ends: a push's), false if it has none.
        bool read_tenant(bool lock) {
            const auto r = c_.exec(s_.q(lock ? "SELECT server, head, horizon FROM S.tenants WHERE db = $1 FOR UPDATE"
                                             : "SELECT server, head, horizon FROM S.tenants WHERE db = $1"),
                                   {detail::pg_bytes(db_)});
            if (r.rows() == 0) return false;
            server = entity_id::from_bytes(r.bytes(0, 0));
            head_ = r.u64(0, 1);
            horizon_ = r.u64(0, 2);
            return true;
        }

        const postgres_store& s_;
        detail::pg_connection& c_;
        const std::string& db_;
        std::uint64_t head_ = 0, horizon_ = 0;
    };

    void stop_listening() {
        stop_ = true;
        if (listener_.joinable()) listener_.join();
    }

    std::string conninfo_;
    options opts_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<detail::pg_connection>> idle_;
    std::atomic<bool> stop_{false};
    std::thread listener_;
};

static_assert(sync_store<postgres_store>);

}  // namespace sync
}  // namespace v1
}  // namespace entidb
