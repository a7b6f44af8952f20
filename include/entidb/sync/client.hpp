// entidb/sync/client.hpp — a device's side of sync protocol v2 (docs/sync-protocol.md, "Client").
//
// Contract: `sync_client<Traits, Server>` syncs a database (a basic_database<Traits> the caller
// opened and keeps open) with a server reached through `Server`, any model of sync_store: the
// HTTP transport (http_transport.hpp), or a store in the same process (tests, tools).
//   sync()            handshake; the staged outbox an earlier run left unanswered; pull until
//                     nothing is left; stage and push every local change; pull again. Returns a
//                     sync_report (operations pulled into the database, pushed, conflicts,
//                     rejections, the cursor). Each step is one local transaction, so a process
//                     killed anywhere loses nothing and applies nothing twice: the next sync
//                     continues from what the database holds.
//   pull(wait_ms)     one round of pulls (long-polling up to wait_ms when nothing is there).
//   push()            stages the local changes and pushes until the outbox is empty.
//   conflicts()       with client_options::keep_conflicts (for a server under the manual policy):
//                     every local change a push lost, with the server's version that stayed —
//                     the application decides. resolve(collection, id, value) writes its
//                     decision (a put, or a delete for nullopt) as a new local change, pushed by
//                     the next sync, and forgets the conflict; dismiss(collection, id) only forgets.
// Errors: the server's refusals (sync::refusal, with the error body's code), the transport's
// (http_transport.hpp: sync::unreachable), the database's; an answer that breaks the protocol
// (results that do not match the operations, a cursor that goes back) → errc::invalid_argument.
// Nothing the client wrote is half-done after any of them.
//
// The client's state lives in the database, in reserved collections (never synced):
//   entidb.sync/state        id 0: the device id, the tenant, the server's identity, the cursor,
//                            the next client sequence, `staged_through` (the local commit sequence
//                            up to which local changes are in the outbox or acknowledged), the
//                            last hybrid-clock timestamp
//   entidb.sync/outbox       staged operations not yet acknowledged, by client sequence
//   entidb.sync/base/<coll>  per synced entity: the server sequence of the version the local one
//                            is based on, and a hash of that version (or that it is a delete)
// The outbox is the database's own history: the commits after `staged_through` that are not
// the client's (its commits always write entidb.sync/state), one operation per changed entity
// (the newest change), based on the entity's base. When compaction dropped that history, the
// local changes are found by comparing every entity with its base's hash instead — slower,
// the same operations. An entity with a local change not yet acknowledged is *pending*: a pulled
// version never overwrites it (the push that follows is answered with the server's verdict and,
// when the change lost, the current version, which the client then applies).
//
// Thread-safety: one client per database at a time (each call starts from the state stored in
// the database, so client objects may follow each other); its calls serialise on its own
// mutex. The application writes to the database beside it as usual.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../database.hpp"
#include "../hash.hpp"
#include "hlc.hpp"
#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

// Where a client keeps its state (id 0 of this collection; the rest: sync_client below).
inline constexpr std::string_view client_state_collection = "entidb.sync/state";

// The device id a database syncs as, if a client stored its state there; nothing is written.
template <typename Traits>
[[nodiscard]] std::optional<device_id> synced_device(const basic_database<Traits>& db) {
    const auto bytes = db.get(client_state_collection, sequence_id(0));
    if (!bytes) return std::nullopt;
    const auto v = cbor::decode(*bytes);
    const auto* d = v.find("device");
    if (d == nullptr || !d->is(cbor::kind::bytes) || d->as_bytes().size() != entity_id::size)
        fail(errc::corruption, "sync client: its state in {} has no device id", client_state_collection);
    return entity_id::from_bytes(d->as_bytes());
}

// "a,b,c" → {"a", "b", "c"}: how the tool and the C ABI take a list of collections. An empty
// name (",", "a,,b", a trailing comma) → errc::invalid_argument.
[[nodiscard]] inline std::vector<std::string> collection_list(std::string_view text) {
    std::vector<std::string> out;
    for (std::size_t start = 0; start <= text.size();) {
        const auto comma = std::min(text.find(',', start), text.size());
        if (comma == start) fail(errc::invalid_argument, "a list of collections has an empty name (use a,b,c)");
        out.emplace_back(text.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

struct client_options {
    std::string db = "default";             // the tenant on the server
    std::optional<device_id> device;        // the first sync's device id (none: a random one); later ones must match
    std::vector<std::string> collections;   // only these are synced (none: every collection but the reserved ones)
    std::uint64_t pull_limit = 1000;        // operations per pull, 1..max_pull_limit
    std::size_t push_batch = 1000;          // operations per push, 1..max_push_ops
    bool keep_conflicts = false;            // record the changes that lost (conflicts()): the manual policy
};

// A local change the server did not take (sync_client::conflicts).
struct sync_conflict {
    std::string collection;
    entity_id id;
    operation mine;           // the change this device pushed
    server_operation theirs;  // the server's version that stayed (now the local one)
};

struct sync_report {
    std::uint64_t pulled = 0;     // pulled operations applied to the database
    std::uint64_t pushed = 0;     // operations the server answered (applied, conflicts, duplicates, rejections)
    std::uint64_t conflicts = 0;  // of those, conflicts: the server kept its version, which is now the local one
    std::uint64_t rejected = 0;   // of those, rejections
    std::uint64_t cursor = 0;     // the last server sequence the database holds
    bool resynced = false;        // the server's history or identity changed: local state was rebuilt
};

template <typename Traits, sync_store Server, typename Now = system_milliseconds>
class sync_client {
public:
    sync_client(basic_database<Traits>& db, Server& server, client_options opts = {}, Now now = {})
        : db_(db), server_(server), opts_(std::move(opts)), clock_(std::move(now)) {
        check_options();
        state_ = load_state();
        try {
            clock_.observe(state_.hlc);
        } catch (const error&) {
            // The system clock went back more than an hour: new timestamps start from it again.
        }
    }

    sync_report sync() {
        std::lock_guard lock(mutex_);
        refresh();
        sync_report r;
        handshake(r);
        drain(r);  // an outbox an earlier run staged: its answer may have been lost
        pull_rounds(r, 0);
        stage();
        drain(r);
        pull_rounds(r, 0);
        r.cursor = state_.cursor;
        return r;
    }
    sync_report pull(std::uint64_t wait_ms = 0) {
        std::lock_guard lock(mutex_);
        refresh();
        sync_report r;
        pull_rounds(r, wait_ms);
        r.cursor = state_.cursor;
        return r;
    }
    sync_report push() {
        std::lock_guard lock(mutex_);
        refresh();
        sync_report r;
        drain(r);
        stage();
        drain(r);
        r.cursor = state_.cursor;
        return r;
    }

    [[nodiscard]] device_id device() const {
        std::lock_guard lock(mutex_);
        return state_.device;
    }
    [[nodiscard]] std::uint64_t cursor() const {
        std::lock_guard lock(mutex_);
        return state_.cursor;
    }

    // The conflicts kept so far (keep_conflicts), by collection and id.
    [[nodiscard]] std::vector<sync_conflict> conflicts() const {
        std::lock_guard lock(mutex_);
        std::vector<sync_conflict> out;
        auto r = db_.begin_read();
        for (const auto& name : r.collections()) {
            if (!name.starts_with(conflict_prefix)) continue;
            for (const auto& e : r.scan(name)) {
                const auto v = cbor::decode(e.bytes);
                out.push_back({name.substr(conflict_prefix.size()), e.id, decode_operation(v.find("mine")->as_bytes()),
                               decode_server_operation(v.find("theirs")->as_bytes())});
            }
        }
        return out;
    }
    // The application's decision on a conflict: `value` (canonical CBOR) becomes the entity, or
    // nullopt deletes it — a local change like any other, based on the version that stayed, so
    // the next sync pushes it as a fresh write — and the conflict is forgotten. Two commits: a
    // crash between them leaves the decision written and the conflict still listed.
    void resolve(std::string_view collection, const entity_id& id, const std::optional<byte_buffer>& value) {
        std::lock_guard lock(mutex_);
        db_.transaction([&](auto& txn) {
            if (value)
                txn.put(collection, id, bytes_view(*value));
            else
                (void)txn.remove(collection, id);
        });
        forget(collection, id);
    }
    // Forgets a conflict (the application keeps the server's version).
    void dismiss(std::string_view collection, const entity_id& id) {
        std::lock_guard lock(mutex_);
        forget(collection, id);
    }

private:
    using key = std::pair<std::string, entity_id>;  // (collection, id)

    struct state {
        device_id device;
        std::string db;
        std::optional<entity_id> server;
        std::uint64_t cursor = 0;
        std::uint64_t next_cseq = 1;
        std::uint64_t staged_through = 0;
        std::uint64_t hlc = 0;
        bool rescan = false;  // find local changes by comparing with the bases (after a new server)
    };
    // What the local version of an entity is based on.
    struct base {
        std::uint64_t sseq = 0;
        bool deleted = false;
        std::uint64_t hash = 0;  // of the payload (a put)
    };
    // The keys of the local changes after `staged_through`, read up to `through`.
    struct changed_keys {
        std::uint64_t staged_through = 0;
        std::uint64_t through = 0;
        std::set<key> keys;
    };
    // A local change: the newest put (payload) or delete of an entity.
    struct local_change {
        op_kind kind = op_kind::put;
        byte_buffer payload;
    };

    static constexpr std::string_view state_collection = client_state_collection;
    static constexpr std::string_view outbox_collection = "entidb.sync/outbox";
    static constexpr std::string_view base_prefix = "entidb.sync/base/";
    static constexpr std::string_view conflict_prefix = "entidb.sync/conflicts/";

    // Runs f in one of the client's own write transactions (each writes its state, which marks the
    // commit as the client's). A commit that lands right after the history the change cache has
    // read moves the cache past it: the client's own commits hold no local change, so the
    // history need not be read again for them (reading it walks whole segment files).
    template <typename F>
    auto own_transaction(F&& f) {
        auto txn = db_.begin_write();
        const std::uint64_t start = txn.sequence();
        const auto finish = [&] {
            const std::uint64_t seq = txn.commit();
            if (seq != start && changed_ && changed_->through == start) changed_->through = seq;
        };
        if constexpr (std::is_void_v<std::invoke_result_t<F&, decltype(txn)&>>) {
            f(txn);
            finish();
        } else {
            auto out = f(txn);
            finish();
            return out;
        }
    }

    // Removes a kept conflict (a commit of the client's own: it writes its state, so it is not pushed).
    void forget(std::string_view collection, const entity_id& id) {
        refresh();
        own_transaction([&](auto& txn) {
            (void)txn.remove(std::string(conflict_prefix) + std::string(collection), id);
            save_state(txn);
        });
    }

    void check_options() const {
        if (opts_.pull_limit == 0 || opts_.pull_limit > max_pull_limit)
            fail(errc::invalid_argument, "sync client: pull_limit {} is outside 1..{}", opts_.pull_limit, max_pull_limit);
        if (opts_.push_batch == 0 || opts_.push_batch > max_push_ops)
            fail(errc::invalid_argument, "sync client: push_batch {} is outside 1..{}", opts_.push_batch, max_push_ops);
        detail::check_name(opts_.db, "sync client: db");
        for (const auto& c : opts_.collections) {
            detail::check_name(c, "sync client: collections");
            if (is_reserved_collection(c))
                fail(errc::invalid_argument, "sync client: collection '{}' is reserved for the client's own state", c);
        }
    }

    [[nodiscard]] bool synced(std::string_view collection) const {
        if (is_reserved_collection(collection)) return false;
        return opts_.collections.empty() ||
               std::find(opts_.collections.begin(), opts_.collections.end(), collection) != opts_.collections.end();
    }
    [[nodiscard]] static std::string base_collection(std::string_view collection) {
        return std::string(base_prefix) + std::string(collection);
    }

    // ---- state ----

    [[nodiscard]] static cbor::value state_value(const state& s) {
        cbor::map m{{"device", cbor::value::bytes(s.device.bytes())},
                    {"db", cbor::value(s.db)},
                    {"cursor", s.cursor},
                    {"next_cseq", s.next_cseq},
                    {"staged_through", s.staged_through},
                    {"hlc", s.hlc},
                    {"rescan", s.rescan}};
        if (s.server) m.push_back({cbor::value("server"), cbor::value::bytes(s.server->bytes())});
        return cbor::value(std::move(m));
    }
    [[nodiscard]] static state state_of(const cbor::value& v) {
        const auto field = [&](std::string_view name) -> const cbor::value& {
            const auto* f = v.find(name);
            if (f == nullptr) fail(errc::corruption, "sync client: its state has no '{}'", name);
            return *f;
        };
        state s;
        s.device = entity_id::from_bytes(field("device").as_bytes());
        s.db = field("db").as_text();
        if (const auto* server = v.find("server")) s.server = entity_id::from_bytes(server->as_bytes());
        s.cursor = field("cursor").as_uint();
        s.next_cseq = field("next_cseq").as_uint();
        s.staged_through = field("staged_through").as_uint();
        s.hlc = field("hlc").as_uint();
        s.rescan = field("rescan").as_bool();
        return s;
    }
    template <typename Txn>
    void save_state(Txn& txn) {
        state_.hlc = clock_.last();
        txn.put(state_collection, sequence_id(0), state_value(state_));
    }

    // The stored state, or a new one (a new device) that the first handshake stores: making a
    // client writes nothing, so a sync that cannot reach its server leaves the database as it was.
    [[nodiscard]] state load_state() const {
        if (const auto bytes = db_.get(state_collection, sequence_id(0))) {
            auto s = state_of(cbor::decode(*bytes));
            if (opts_.device && *opts_.device != s.device)
                fail(errc::invalid_argument, "sync client: this database syncs as device {}, not {}", s.device.to_hex(),
                     opts_.device->to_hex());
            if (s.db != opts_.db)
                fail(errc::invalid_argument, "sync client: this database syncs with '{}', not '{}'", s.db, opts_.db);
            return s;
        }
        state s;
        s.device = opts_.device.value_or(entity_id::generate());
        s.db = opts_.db;
        return s;
    }

    // The stored state: another client object on the database may have moved it since (one
    // at a time; an earlier run's, or one a process made again after a failure).
    void refresh() {
        if (const auto bytes = db_.get(state_collection, sequence_id(0))) state_ = state_of(cbor::decode(*bytes));
    }

    // ---- bases ----

    template <typename Txn>
    [[nodiscard]] static std::optional<base> base_of(const Txn& txn, const key& k) {
        const auto bytes = txn.get(base_collection(k.first), k.second);
        if (!bytes) return std::nullopt;
        const auto v = cbor::decode(*bytes);
        return base{v.find("sseq")->as_uint(), v.find("deleted")->as_bool(), v.find("hash")->as_uint()};
    }
    template <typename Txn>
    static void set_base(Txn& txn, const key& k, std::uint64_t sseq, const operation& op) {
        const bool deleted = op.kind == op_kind::remove;
        txn.put(base_collection(k.first), k.second,
                cbor::value(cbor::map{{"sseq", sseq}, {"deleted", deleted}, {"hash", deleted ? 0 : hash64(op.payload)}}));
    }

    // ---- local changes and pending entities ----

    // The local changes not yet staged: from the history after staged_through (skipping the
    // client's own commits), or, when that history is gone or a rescan is due, by comparing
    // every entity of the synced collections with its base.
    [[nodiscard]] bool history_covers() const {
        return !state_.rescan && state_.staged_through >= db_.history_horizon();
    }
    [[nodiscard]] std::map<key, local_change> local_changes() const {
        return history_covers() ? changes_from_history(state_.staged_through) : changes_from_bases();
    }
    [[nodiscard]] std::map<key, local_change> changes_from_history(std::uint64_t after) const {
        std::map<key, local_change> out;
        const auto changes = db_.changes_since(after);
        for (std::size_t i = 0; i < changes.size();) {
            std::size_t end = i;
            bool own = false;  // a commit of this client's: it always writes its state
            for (; end < changes.size() && changes[end].sequence == changes[i].sequence; ++end)
                own = own || is_reserved_collection(changes[end].collection);
            for (; !own && i < end; ++i) {
                const auto& c = changes[i];
                if (!synced(c.collection)) continue;
                out[{c.collection, c.id}] = c.kind == change_kind::put ? local_change{op_kind::put, c.payload}
                                                                        : local_change{op_kind::remove, {}};
            }
            i = end;
        }
        return out;
    }
    [[nodiscard]] std::map<key, local_change> changes_from_bases() const {
        std::map<key, local_change> out;
        auto r = db_.begin_read();
        for (const auto& name : r.collections()) {
            if (!synced(name)) continue;
            for (const auto& e : r.scan(name)) {
                const auto b = base_of(r, {name, e.id});
                if (!b || b->deleted || b->hash != hash64(e.bytes)) out[{name, e.id}] = {op_kind::put, e.bytes};
            }
        }
        for (const auto& name : r.collections()) {
            if (!name.starts_with(base_prefix)) continue;
            const std::string user = name.substr(base_prefix.size());
            if (!synced(user)) continue;
            for (const auto& e : r.scan(name)) {
                if (cbor::decode(e.bytes).find("deleted")->as_bool() || r.get(user, e.id)) continue;
                out[{user, e.id}] = {op_kind::remove, {}};
            }
        }
        return out;
    }
    // The staged operations, by client sequence (at most `limit`).
    [[nodiscard]] std::vector<operation> outbox(std::size_t limit = ~std::size_t{0}) const {
        std::vector<operation> out;
        auto r = db_.begin_read();
        for (const auto& e : r.scan(outbox_collection)) {
            if (out.size() == limit) break;
            out.push_back(decode_operation(e.bytes));
        }
        return out;
    }
    // The entities with a local change not yet staged. Called inside the client's write
    // transactions, so no application commit can slip in between. Kept from call to call and
    // extended by the commits since (a long pull reads each page's history once, not again per
    // page); read afresh after staging, or where the history does not cover it.
    [[nodiscard]] const std::set<key>& changed() {
        const std::uint64_t last = db_.last_sequence();
        if (!changed_ || changed_->staged_through != state_.staged_through || !history_covers()) {
            changed_ = changed_keys{.staged_through = state_.staged_through, .through = last, .keys = {}};
            for (const auto& [k, change] : local_changes()) changed_->keys.insert(k);
        } else if (changed_->through < last) {
            for (const auto& [k, change] : changes_from_history(changed_->through)) changed_->keys.insert(k);
            changed_->through = last;
        }
        return changed_->keys;
    }
    // Entities with a local change the server has not answered yet: staged or not.
    [[nodiscard]] std::set<key> pending() {
        std::set<key> out = changed();
        for (const auto& op : outbox()) out.insert({op.collection, op.id});
        return out;
    }

    // ---- applying the server's versions ----

    // Makes `op` (a version at server sequence `sseq`) the local version of its entity, unless
    // the entity is pending or already based on that version or a later one. True if applied.
    template <typename Txn>
    bool apply(Txn& txn, const std::set<key>& pending, std::uint64_t sseq, const operation& op) {
        try {
            clock_.observe(op.hlc);
        } catch (const error&) {
            // A device's clock far ahead: its timestamp orders its operations, it does not move ours.
        }
        if (!synced(op.collection)) return false;
        const key k{op.collection, op.id};
        if (pending.contains(k)) return false;
        if (const auto b = base_of(txn, k); b && b->sseq >= sseq) return false;
        if (op.kind == op_kind::put)
            txn.put(op.collection, op.id, bytes_view(op.payload));
        else
            (void)txn.remove(op.collection, op.id);
        set_base(txn, k, sseq, op);
        return true;
    }

    // ---- handshake ----

    void handshake(sync_report& r) {
        const auto h = server_.handshake({.db = state_.db, .device = state_.device, .protocol = protocol_version});
        if (h.protocol != protocol_version)
            fail(errc::invalid_argument, "sync client: the server answered with protocol {}, not {}", h.protocol,
                 protocol_version);
        const bool new_server = state_.server && *state_.server != h.server;
        // The server applied client sequences this database never gave out: the database is a
        // restored backup, or the server another. Either way the outbox continues after them.
        const bool behind = h.acked >= state_.next_cseq;
        if (new_server)
            reseed(h);
        else if (!state_.server || behind)
            own_transaction([&](auto& txn) {
                state_.server = h.server;
                if (behind) renumber(txn, h.acked, false);
                save_state(txn);
            });
        if (new_server) r.resynced = true;
    }

    // Gives the outbox's operations client sequences from acked + 1 on (and, for another
    // server, no bases: the old server's sequences mean nothing there).
    template <typename Txn>
    void renumber(Txn& txn, std::uint64_t acked, bool drop_bases) {
        auto ops = outbox();
        for (const auto& op : ops) txn.remove(outbox_collection, sequence_id(op.cseq));
        state_.next_cseq = acked + 1;
        for (auto& op : ops) {
            op.cseq = state_.next_cseq++;
            if (drop_bases) op.base = 0;
            txn.put(outbox_collection, sequence_id(op.cseq), bytes_view(encode(op)));
        }
    }

    // Another server (its identity changed: a new or replaced server database). Nothing local
    // is dropped: every entity of the synced collections is pushed to it again (based on
    // nothing, so its conflict policy merges them with what it holds), and its whole history
    // is pulled.
    void reseed(const handshake_response& h) {
        own_transaction([&](auto& txn) {
            auto r = db_.begin_read();
            for (const auto& name : r.collections())
                if (name.starts_with(base_prefix))
                    for (const auto& e : r.scan(name)) (void)txn.remove(name, e.id);
            renumber(txn, h.acked, true);
            state_.server = h.server;
            state_.cursor = 0;
            state_.rescan = true;
            save_state(txn);
        });
    }

    // The server compacted the history after this device's cursor: take its snapshot (a pull
    // from 0) in place of every synced entity that is not pending; pending ones are kept and
    // pushed as usual.
    void resync(sync_report& r) {
        own_transaction([&](auto& txn) {
            const auto keep = pending();
            auto snap = db_.begin_read();
            for (const auto& name : snap.collections()) {
                if (!name.starts_with(base_prefix)) continue;
                const std::string user = name.substr(base_prefix.size());
                for (const auto& e : snap.scan(name)) {
                    if (keep.contains({user, e.id})) continue;
                    (void)txn.remove(user, e.id);
                    (void)txn.remove(name, e.id);
                }
            }
            state_.cursor = 0;
            save_state(txn);
        });
        r.resynced = true;
    }

    // ---- pull ----

    void pull_rounds(sync_report& r, std::uint64_t wait_ms) {
        bool resynced = false;
        for (;;) {
            const pull_request q{.db = state_.db, .device = state_.device, .cursor = state_.cursor,
                                 .limit = opts_.pull_limit, .collections = opts_.collections, .wait_ms = wait_ms};
            pull_response page;
            try {
                page = server_.pull(q);
            } catch (const refusal& e) {
                if (e.body().error != "resync_required" || resynced || q.cursor == 0) throw;
                resync(r);  // once: a pull from 0 is always served
                resynced = true;
                continue;
            }
            check_page(q, page);
            apply_page(page, r);
            if (!page.has_more) return;
            wait_ms = 0;
        }
    }
    static void check_page(const pull_request& q, const pull_response& page) {
        if (page.cursor < q.cursor)
            fail(errc::invalid_argument, "sync client: the server moved the cursor back from {} to {}", q.cursor, page.cursor);
        for (const auto& op : page.ops)
            if (op.sseq <= q.cursor || op.sseq > page.cursor)
                fail(errc::invalid_argument, "sync client: the server sent operation {} outside ({}, {}]", op.sseq,
                     q.cursor, page.cursor);
    }
    // A page and its cursor in one local transaction: both or neither survive a crash.
    void apply_page(const pull_response& page, sync_report& r) {
        if (page.ops.empty() && page.cursor == state_.cursor) return;  // nothing to write
        own_transaction([&](auto& txn) {
            const auto keep = page.ops.empty() ? std::set<key>{} : pending();
            for (const auto& op : page.ops)
                if (apply(txn, keep, op.sseq, op.op)) ++r.pulled;
            state_.cursor = page.cursor;
            save_state(txn);
        });
    }

    // ---- push ----

    // Stages the local changes as operations in the outbox (one transaction). Only when the
    // outbox is empty: an entity appears in it at most once, based on its base.
    void stage() {
        own_transaction([&](auto& txn) {
            auto r = db_.begin_read();
            if (r.count(outbox_collection) != 0) return;
            const std::uint64_t upto = db_.last_sequence();  // stable: this transaction holds the writer lock
            const auto changes = local_changes();
            // Nothing to stage: write nothing, unless the history to read next time (the
            // client's own commits) has grown long enough to be worth skipping.
            if (changes.empty() && !state_.rescan && upto - state_.staged_through < 256) return;
            for (const auto& [k, change] : changes) {
                const auto b = base_of(txn, k);
                operation op{.cseq = state_.next_cseq++, .collection = k.first, .id = k.second, .kind = change.kind,
                             .payload = change.payload, .base = b ? b->sseq : 0, .hlc = clock_.tick()};
                txn.put(outbox_collection, sequence_id(op.cseq), bytes_view(encode(op)));
            }
            state_.staged_through = upto;
            state_.rescan = false;
            // Nothing after `upto` is a local change yet (this transaction holds the writer lock).
            changed_ = changed_keys{.staged_through = upto, .through = upto, .keys = {}};
            save_state(txn);
        });
    }

    // Pushes the outbox, a batch at a time, until it is empty.
    void drain(sync_report& r) {
        for (auto batch = outbox(opts_.push_batch); !batch.empty(); batch = outbox(opts_.push_batch)) {
            const auto answer = server_.push({.db = state_.db, .device = state_.device, .ops = batch});
            check_answer(batch, answer);
            settle(batch, answer, r);
        }
    }
    static void check_answer(const std::vector<operation>& batch, const push_response& answer) {
        if (answer.results.size() != batch.size())
            fail(errc::invalid_argument, "sync client: {} results for {} operations", answer.results.size(), batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (answer.results[i].cseq != batch[i].cseq)
                fail(errc::invalid_argument, "sync client: result {} is for client sequence {}, not {}", i,
                     answer.results[i].cseq, batch[i].cseq);
    }
    // A batch's answer, in one transaction: bases move to the server's versions, the losers'
    // entities take the current version, the batch leaves the outbox.
    void settle(const std::vector<operation>& batch, const push_response& answer, sync_report& r) {
        own_transaction([&](auto& txn) {
            for (const auto& op : batch) txn.remove(outbox_collection, sequence_id(op.cseq));
            // Changes made since the batch was staged stay pending: the server's version does not
            // overwrite them, and their bases stay the versions they were made on.
            const std::set<key> later = changed();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const auto& op = batch[i];
                const auto& res = answer.results[i];
                ++r.pushed;
                if (res.status == push_status::conflict) {
                    ++r.conflicts;
                    if (opts_.keep_conflicts && res.current)
                        txn.put(std::string(conflict_prefix) + op.collection, op.id,
                                cbor::value(cbor::map{{"mine", cbor::value::bytes(encode(op))},
                                                      {"theirs", cbor::value::bytes(encode(*res.current))}}));
                }
                if (res.status == push_status::rejected) ++r.rejected;
                if (res.status == push_status::applied) {
                    set_base(txn, {op.collection, op.id}, res.sseq, op);
                } else if (res.current) {
                    if (res.current->op.collection != op.collection || res.current->op.id != op.id)
                        fail(errc::invalid_argument, "sync client: result {} carries another entity's version", op.cseq);
                    (void)apply(txn, later, res.current->sseq, res.current->op);
                }
            }
            save_state(txn);
        });
    }

    basic_database<Traits>& db_;
    Server& server_;
    client_options opts_;
    hybrid_clock<Now> clock_;
    state state_;
    std::optional<changed_keys> changed_;
    mutable std::mutex mutex_;
};

}  // namespace sync

template <typename Traits, sync::sync_store Server, typename Now = sync::system_milliseconds>
using sync_client = sync::sync_client<Traits, Server, Now>;

}  // namespace v1
}  // namespace entidb
