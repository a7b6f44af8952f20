// entidb/sync/embedded_store.hpp — the sync server's state in an EntiDB database
// (docs/sync-protocol.md; the server over HTTP is not built yet).
//
// Contract: `embedded_store<Traits>` models sync_store over a basic_database<Traits> the caller
// opened (and keeps open while the store is used). Every database (tenant) named in requests
// keeps its state in collections of that database:
//     sync/<db>/meta      one entity (id 0): the tenant's server id, head (highest server
//                         sequence) and horizon
//     sync/<db>/ops       the server operations, entity id = the server sequence (big-endian in
//                         the last 8 bytes), payload = encode(server_operation)
//     sync/<db>/devices   per device: `acked`, its highest applied client sequence
//     sync/<db>/current/<collection>  per entity: its current version (current_version)
//   handshake(request)   the tenant's identity and the device's acked; creates the tenant's
//                        state on first contact. Another protocol than 2 → refusal
//                        "unsupported_protocol".
//   push(request)        one write transaction: operations at or below the device's acked are
//                        duplicates (not applied again); the first new one must be acked + 1,
//                        else refusal "out_of_order" and nothing changes; each new one is
//                        decided by conflict.hpp's rules under the store's policy — applied
//                        (next server sequence, current version updated), conflict (the
//                        current version returned), or rejected (a base from the future, or a
//                        payload that is not canonical CBOR: `reason`); either way acked moves
//                        on, so a device is never stuck behind an operation it cannot change.
//   pull(request)        one read transaction: the operations above the cursor, by server
//                        sequence, at most `limit` of them, only the filter's collections; the
//                        new cursor is the last server sequence examined (filtered-out ones
//                        included, so they are not examined again), at most options::max_examined of them
//                        per pull (has_more says whether there is more). A cursor below the horizon
//                        → refusal "resync_required". wait_ms is the server's (long-poll).
//   Names: "sync/<db>/current/<collection>" must fit a collection name (65,535 bytes): a longer
//   combination → refusal "bad_request".
//   Not yet: the manual policy keeps no list of its conflicts for the application (they are
//   answered as conflicts); history is never compacted (horizon stays 0).
//
// Thread-safety: as the database's: pushes serialise on its writer lock (so server sequences
// are assigned in commit order), pulls read snapshots beside them.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>

#include "../database.hpp"
#include "conflict.hpp"
#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {


template <typename Traits = file_storage>
class embedded_store {
public:
    struct options {
        conflict_policy policy = conflict_policy::last_writer_wins;
        std::uint64_t max_examined = 10 * max_pull_limit;  // operations one pull reads at most (at least 1)
    };

    explicit embedded_store(basic_database<Traits>& db, options opts = {}) : db_(db), opts_(opts) {}

    [[nodiscard]] handshake_response handshake(const handshake_request& r) {
        if (r.protocol != protocol_version)
            throw refusal("unsupported_protocol",
                          fmt::format("protocol {} is not spoken here; this server speaks {}", r.protocol, protocol_version));
        return db_.transaction([&](auto& txn) {
            const tenant t(r.db);
            const auto m = meta_of(txn, t);
            return handshake_response{.protocol = protocol_version, .server = m.server, .acked = acked_of(txn, t, r.device),
                                      .horizon = m.horizon, .head = m.head};
        });
    }

    [[nodiscard]] push_response push(const push_request& r) {
        return db_.transaction([&](auto& txn) {
            const tenant t(r.db);
            auto m = meta_of(txn, t);
            const std::uint64_t acked_before = acked_of(txn, t, r.device);
            std::uint64_t acked = acked_before;
            push_response out;
            for (const auto& op : r.ops) {
                if (op.cseq <= acked_before) {
                    out.results.push_back(with_current(txn, t, op, {.cseq = op.cseq, .status = push_status::duplicate,
                                                                    .sseq = 0, .current = {}, .reason = {}}));
                    continue;
                }
                if (op.cseq != acked + 1)
                    throw refusal("out_of_order", fmt::format("client sequence {} follows {}: operations {}..{} are missing",
                                                              op.cseq, acked, acked + 1, op.cseq - 1));
                out.results.push_back(apply(txn, t, m, r.device, op));
                acked = op.cseq;
            }
            put_record(txn, t.devices, r.device, cbor::value(cbor::map{{"acked", acked}}));
            put_meta(txn, t, m);
            out.acked = acked;
            return out;
        });
    }

    [[nodiscard]] pull_response pull(const pull_request& r) const {
        const tenant t(r.db);
        auto txn = db_.begin_read();
        const auto m = read_meta(txn, t);
        const std::uint64_t head = m ? m->head : 0, horizon = m ? m->horizon : 0;
        if (r.cursor != 0 && r.cursor < horizon)
            throw refusal("resync_required", fmt::format("history below {} was compacted; take a fresh snapshot", horizon),
                          horizon);
        pull_response out;
        std::uint64_t s = r.cursor;
        // A filter that matches little must not make one request read the whole history: after
        // max_examined operations the pull answers with what it found and has_more.
        const std::uint64_t cap = std::max<std::uint64_t>(opts_.max_examined, 1);
        for (std::uint64_t examined = 0; s < head && out.ops.size() < r.limit && examined < cap; ++examined) {
            ++s;
            const auto bytes = txn.get(t.ops, sequence_id(s));
            if (!bytes) fail(errc::corruption, "sync store: operation {} of '{}' is missing", s, r.db);
            auto op = decode_server_operation(*bytes);
            if (wanted(r, op.op.collection)) out.ops.push_back(std::move(op));
        }
        out.cursor = std::max(s, r.cursor);
        out.has_more = s < head;
        return out;
    }

private:
    struct tenant_meta {
        entity_id server;
        std::uint64_t head = 0;
        std::uint64_t horizon = 0;
    };

    // The collections of one tenant.
    struct tenant {
        explicit tenant(const std::string& db)
            : prefix("sync/" + db + "/"), meta(prefix + "meta"), ops(prefix + "ops"), devices(prefix + "devices") {
            if (devices.size() > max_name_bytes)
                throw refusal("bad_request", "the database name is too long for this server");
        }
        [[nodiscard]] std::string current(const std::string& collection) const {
            std::string name = prefix + "current/" + collection;
            if (name.size() > max_name_bytes)
                throw refusal("bad_request", "the database and collection names are too long together for this server");
            return name;
        }
        std::string prefix, meta, ops, devices;
    };


    [[nodiscard]] static bool wanted(const pull_request& r, const std::string& collection) {
        return r.collections.empty() ||
               std::find(r.collections.begin(), r.collections.end(), collection) != r.collections.end();
    }

    template <typename Txn>
    static void put_record(Txn& txn, const std::string& collection, const entity_id& id, const cbor::value& v) {
        txn.put(collection, id, v);
    }

    template <typename Txn>
    [[nodiscard]] static std::optional<cbor::value> record(const Txn& txn, const std::string& collection, const entity_id& id) {
        const auto bytes = txn.get(collection, id);
        if (!bytes) return std::nullopt;
        return cbor::decode(*bytes);
    }

    template <typename Txn>
    [[nodiscard]] static std::optional<tenant_meta> read_meta(const Txn& txn, const tenant& t) {
        const auto v = record(txn, t.meta, sequence_id(0));
        if (!v) return std::nullopt;
        return tenant_meta{entity_id::from_bytes(v->find("server")->as_bytes()), v->find("head")->as_uint(),
                           v->find("horizon")->as_uint()};
    }
    template <typename Txn>
    static void put_meta(Txn& txn, const tenant& t, const tenant_meta& m) {
        put_record(txn, t.meta, sequence_id(0),
                   cbor::value(cbor::map{{"server", cbor::value::bytes(m.server.bytes())}, {"head", m.head}, {"horizon", m.horizon}}));
    }
    // The tenant's meta, created (a new server id) on first contact.
    template <typename Txn>
    [[nodiscard]] static tenant_meta meta_of(Txn& txn, const tenant& t) {
        if (auto m = read_meta(txn, t)) return *m;
        const tenant_meta m{entity_id::generate(), 0, 0};
        put_meta(txn, t, m);
        return m;
    }

    template <typename Txn>
    [[nodiscard]] static std::uint64_t acked_of(const Txn& txn, const tenant& t, const device_id& device) {
        const auto v = record(txn, t.devices, device);
        return v ? v->find("acked")->as_uint() : 0;
    }

    template <typename Txn>
    [[nodiscard]] static std::optional<current_version> current_of(const Txn& txn, const std::string& collection,
                                                                   const entity_id& id) {
        const auto v = record(txn, collection, id);
        if (!v) return std::nullopt;
        return current_version{v->find("sseq")->as_uint(), entity_id::from_bytes(v->find("device")->as_bytes()),
                               v->find("cseq")->as_uint(), v->find("hlc")->as_uint(), v->find("deleted")->as_bool()};
    }

    // A result with the entity's current version (and its server sequence), when it has one.
    template <typename Txn>
    [[nodiscard]] static push_result with_current(const Txn& txn, const tenant& t, const operation& op, push_result res) {
        if (is_reserved_collection(op.collection)) return res;
        if (const auto current = current_of(txn, t.current(op.collection), op.id)) {
            res.sseq = current->sseq;
            res.current = decode_server_operation(*txn.get(t.ops, sequence_id(current->sseq)));
        }
        return res;
    }
    // One new operation: decided, and applied where the rules say.
    template <typename Txn>
    [[nodiscard]] push_result apply(Txn& txn, const tenant& t, tenant_meta& m, const device_id& device,
                                    const operation& op) const {
        push_result res{.cseq = op.cseq, .status = push_status::applied, .sseq = 0, .current = {}, .reason = {}};
        const auto refuse = [&](std::string reason) {
            res.status = push_status::rejected;
            res.reason = std::move(reason);
            return with_current(txn, t, op, std::move(res));
        };
        if (is_reserved_collection(op.collection))
            return refuse(fmt::format("collection '{}' is reserved for the sync client's own state", op.collection));
        if (op.kind == op_kind::put) {
            try {
                cbor::validate(op.payload);
            } catch (const error& e) {
                return refuse(fmt::format("the payload is not canonical CBOR: {}", e.detail()));
            }
        }
        const std::string current_collection = t.current(op.collection);
        const auto current = current_of(txn, current_collection, op.id);
        switch (decide(opts_.policy, device, op, current)) {
            case verdict::reject:
                return refuse(fmt::format("base {} is above the entity's current version {}", op.base, current->sseq));
            case verdict::conflict:
                res.status = push_status::conflict;
                return with_current(txn, t, op, std::move(res));
            case verdict::apply: break;
        }
        res.sseq = ++m.head;
        const server_operation stored{.sseq = res.sseq, .device = device, .op = op};
        txn.put(t.ops, sequence_id(res.sseq), encode(stored));
        put_record(txn, current_collection, op.id,
                   cbor::value(cbor::map{{"sseq", res.sseq},
                                         {"device", cbor::value::bytes(device.bytes())},
                                         {"cseq", op.cseq},
                                         {"hlc", op.hlc},
                                         {"deleted", op.kind == op_kind::remove}}));
        return res;
    }

    basic_database<Traits>& db_;
    options opts_;
};

static_assert(sync_store<embedded_store<>>);

}  // namespace sync
}  // namespace v1
}  // namespace entidb
