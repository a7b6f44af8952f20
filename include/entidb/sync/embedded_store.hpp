// entidb/sync/embedded_store.hpp — the sync server's state in an EntiDB database
// (docs/sync-protocol.md, "Stores").
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
//   push(request)        one write transaction running store_rules.hpp's push (exactly once,
//                        out_of_order refusals that change nothing, the conflict rules).
//   pull(request)        one read transaction running store_rules.hpp's pull (at most
//                        options::max_examined operations examined per pull). wait_ms is the
//                        server's (long-poll).
//   Names: "sync/<db>/current/<collection>" must fit a collection name (65,535 bytes): a longer
//   combination → refusal "bad_request".
//   compact(db, keep)    one write transaction running store_rules.hpp's compact.
//
// Thread-safety: as the database's: pushes serialise on its writer lock (so server sequences
// are assigned in commit order), pulls read snapshots beside them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "../database.hpp"
#include "conflict.hpp"
#include "protocol.hpp"
#include "store_rules.hpp"

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
        check_protocol(r);
        return db_.transaction([&](auto& txn) {
            tenant_tx<std::remove_cvref_t<decltype(txn)>> tx(txn, r.db);
            return handshake_response{.protocol = protocol_version, .server = tx.meta.server,
                                      .acked = tx.acked(r.device), .horizon = tx.horizon(), .head = tx.head()};
        });
    }

    [[nodiscard]] push_response push(const push_request& r) {
        return db_.transaction([&](auto& txn) {
            tenant_tx<std::remove_cvref_t<decltype(txn)>> tx(txn, r.db);
            auto out = sync::push(tx, r, opts_.policy);
            tx.save_meta();
            return out;
        });
    }

    // Drops the history of tenant `db` but for its last `keep` server sequences (store_rules.hpp's
    // compact); the number of operations dropped.
    std::uint64_t compact(const std::string& db, std::uint64_t keep) {
        return db_.transaction([&](auto& txn) {
            tenant_tx<std::remove_cvref_t<decltype(txn)>> tx(txn, db);
            const auto dropped = sync::compact(tx, keep);
            if (dropped != 0 || tx.meta.horizon != 0) tx.save_meta();
            return dropped;
        });
    }

    [[nodiscard]] pull_response pull(const pull_request& r) const {
        auto txn = db_.begin_read();
        tenant_tx<decltype(txn)> tx(txn, r.db);
        return sync::pull(tx, r, opts_.max_examined);
    }

private:
    struct tenant_meta {
        entity_id server;
        std::uint64_t head = 0;
        std::uint64_t horizon = 0;
    };

    // One tenant's collections inside one transaction (store_rules.hpp's `tx`). Made in a write
    // transaction it creates the tenant's meta on first contact; in a read transaction a tenant
    // nobody has named yet reads as empty.
    template <typename Txn>
    class tenant_tx {
    public:
        tenant_tx(Txn& txn, const std::string& db)
            : txn_(txn), prefix_("sync/" + db + "/"), meta_name_(prefix_ + "meta"), ops_(prefix_ + "ops"),
              devices_(prefix_ + "devices") {
            if (devices_.size() > max_name_bytes) throw refusal("bad_request", "the database name is too long for this server");
            if (const auto v = record(meta_name_, sequence_id(0))) {
                meta = {entity_id::from_bytes(v->find("server")->as_bytes()), v->find("head")->as_uint(),
                        v->find("horizon")->as_uint()};
            } else if constexpr (writes) {
                meta = {entity_id::generate(), 0, 0};
                save_meta();
            }
        }

        [[nodiscard]] std::uint64_t head() const { return meta.head; }
        [[nodiscard]] std::uint64_t horizon() const { return meta.horizon; }
        [[nodiscard]] std::uint64_t acked(const device_id& device) const {
            const auto v = record(devices_, device);
            return v ? v->find("acked")->as_uint() : 0;
        }
        void set_acked(const device_id& device, std::uint64_t acked) {
            txn_.put(devices_, device, cbor::value(cbor::map{{"acked", acked}}));
        }
        [[nodiscard]] std::optional<current_version> current(const operation& op) const {
            const auto v = record(current_name(op.collection), op.id);
            if (!v) return std::nullopt;
            return current_version{v->find("sseq")->as_uint(), entity_id::from_bytes(v->find("device")->as_bytes()),
                                   v->find("cseq")->as_uint(), v->find("hlc")->as_uint(), v->find("deleted")->as_bool()};
        }
        [[nodiscard]] server_operation operation(std::uint64_t sseq) const {
            const auto bytes = txn_.get(ops_, sequence_id(sseq));
            if (!bytes) fail(errc::corruption, "sync store: operation {} of '{}' is missing", sseq, prefix_);
            return decode_server_operation(*bytes);
        }
        [[nodiscard]] std::uint64_t append(const device_id& device, const sync::operation& op) {
            const std::uint64_t sseq = ++meta.head;
            txn_.put(ops_, sequence_id(sseq), encode(server_operation{.sseq = sseq, .device = device, .op = op}));
            txn_.put(current_name(op.collection), op.id,
                     cbor::value(cbor::map{{"sseq", sseq},
                                           {"device", cbor::value::bytes(device.bytes())},
                                           {"cseq", op.cseq},
                                           {"hlc", op.hlc},
                                           {"deleted", op.kind == op_kind::remove}}));
            return sseq;
        }
        template <typename F>
        void visit_after(std::uint64_t cursor, std::uint64_t n, F&& f) const {
            for (std::uint64_t s = cursor + 1; s <= cursor + n; ++s) {
                const auto bytes = txn_.get(ops_, sequence_id(s));
                if (!bytes) {
                    if (s <= meta.horizon) continue;  // compacted away
                    fail(errc::corruption, "sync store: operation {} of '{}' is missing", s, prefix_);
                }
                if (!f(decode_server_operation(*bytes))) return;
            }
        }
        void erase(std::uint64_t sseq) { (void)txn_.remove(ops_, sequence_id(sseq)); }
        void set_horizon(std::uint64_t h) { meta.horizon = h; }
        void save_meta() {
            txn_.put(meta_name_, sequence_id(0),
                     cbor::value(cbor::map{{"server", cbor::value::bytes(meta.server.bytes())},
                                           {"head", meta.head},
                                           {"horizon", meta.horizon}}));
        }

        tenant_meta meta;

    private:
        static constexpr bool writes = requires(Txn& t) { t.commit(); };

        [[nodiscard]] std::string current_name(const std::string& collection) const {
            std::string name = prefix_ + "current/" + collection;
            if (name.size() > max_name_bytes)
                throw refusal("bad_request", "the database and collection names are too long together for this server");
            return name;
        }
        [[nodiscard]] std::optional<cbor::value> record(const std::string& collection, const entity_id& id) const {
            const auto bytes = txn_.get(collection, id);
            if (!bytes) return std::nullopt;
            return cbor::decode(*bytes);
        }

        Txn& txn_;
        std::string prefix_, meta_name_, ops_, devices_;
    };

    basic_database<Traits>& db_;
    options opts_;
};

static_assert(sync_store<embedded_store<>>);

}  // namespace sync
}  // namespace v1
}  // namespace entidb
