// entidb/sync/store_rules.hpp — what every sync store does with a request, over its own
// storage (docs/sync-protocol.md, "Stores"): one mechanism, so the embedded store and the
// PostgreSQL store answer the same requests the same way.
//
// Contract: the functions take `tx`, a store's view of one tenant inside one of its
// transactions:
//   tx.acked(device) → u64                        the device's highest applied client sequence
//   tx.current(op) → optional<current_version>    the current version of op's entity
//   tx.operation(sseq) → server_operation         a stored operation
//   tx.append(device, op) → u64                   stores op under the next server sequence
//                                                 (handing sequences out in commit order is the
//                                                 store's part) as its entity's current version
//   tx.set_acked(device, acked)
//   tx.head(), tx.horizon() → u64                 the highest server sequence; the lowest cursor
//                                                 a pull above 0 may start from
//   tx.visit_after(cursor, n, f)                  calls f(server_operation&&) on the operations among
//                                                 the n server sequences above cursor (compaction
//                                                 leaves gaps), in order, until f returns false
//   tx.erase(sseq), tx.set_horizon(h)             (compact only)
//   check_protocol(handshake)   refusal "unsupported_protocol" for another version.
//   push(tx, request, policy)   exactly once by (device, client sequence): duplicates answered
//                               (with the entity's current version), not applied; a gap →
//                               refusal "out_of_order"; each new operation decided by conflict.hpp
//                               (reserved collections and payloads that are not canonical CBOR are
//                               rejected); acked moves on over every new operation.
//   pull(tx, request, max_examined)  the operations above the cursor in the filter, at most
//                               `limit`, examining at most max_examined sequences; the cursor is
//                               the last examined. A cursor below the horizon is served like any
//                               other: compaction keeps every current version (deletes included),
//                               so the operations above any cursor still bring a device to the
//                               current state.
//   compact(tx, keep)           drops the history of all but the last `keep` server sequences:
//                               every operation at or below head - keep that is no longer its
//                               entity's current version (current ones, deletes included, stay,
//                               so a pull from 0 is still a complete snapshot); the horizon moves
//                               there. Does nothing until keep more sequences have gathered since
//                               the horizon (so it can run after every push). Returns the number
//                               dropped. (A store that also dropped deletes would answer cursors
//                               below its horizon with "resync_required"; the client handles it.)
// The caller runs each in one transaction of its store: a refusal (thrown) changes nothing.
//
// Thread-safety: functions of their arguments.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../cbor.hpp"
#include "conflict.hpp"
#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

inline void check_protocol(const handshake_request& r) {
    if (r.protocol != protocol_version)
        throw refusal("unsupported_protocol",
                      fmt::format("protocol {} is not spoken here; this server speaks {}", r.protocol, protocol_version));
}

namespace detail {

// A result with the entity's current version (and its server sequence), when it has one.
template <typename Tx>
[[nodiscard]] push_result with_current(Tx& tx, const operation& op, push_result res) {
    if (is_reserved_collection(op.collection)) return res;
    if (const auto current = tx.current(op)) {
        res.sseq = current->sseq;
        res.current = tx.operation(current->sseq);
    }
    return res;
}

// One new operation: decided, and applied where the rules say.
template <typename Tx>
[[nodiscard]] push_result decide_one(Tx& tx, conflict_policy policy, const device_id& device, const operation& op) {
    push_result res{.cseq = op.cseq, .status = push_status::applied, .sseq = 0, .current = {}, .reason = {}};
    const auto refuse = [&](std::string reason) {
        res.status = push_status::rejected;
        res.reason = std::move(reason);
        return with_current(tx, op, std::move(res));
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
    const auto current = tx.current(op);
    switch (decide(policy, device, op, current)) {
        case verdict::reject:
            return refuse(fmt::format("base {} is above the entity's current version {}", op.base, current->sseq));
        case verdict::conflict:
            res.status = push_status::conflict;
            return with_current(tx, op, std::move(res));
        case verdict::apply: break;
    }
    res.sseq = tx.append(device, op);
    return res;
}

}  // namespace detail

template <typename Tx>
[[nodiscard]] push_response push(Tx& tx, const push_request& r, conflict_policy policy) {
    const std::uint64_t acked_before = tx.acked(r.device);
    std::uint64_t acked = acked_before;
    push_response out;
    for (const auto& op : r.ops) {
        if (op.cseq <= acked_before) {
            out.results.push_back(detail::with_current(
                tx, op, {.cseq = op.cseq, .status = push_status::duplicate, .sseq = 0, .current = {}, .reason = {}}));
            continue;
        }
        if (op.cseq != acked + 1)
            throw refusal("out_of_order", fmt::format("client sequence {} follows {}: operations {}..{} are missing",
                                                      op.cseq, acked, acked + 1, op.cseq - 1));
        out.results.push_back(detail::decide_one(tx, policy, r.device, op));
        acked = op.cseq;
    }
    tx.set_acked(r.device, acked);
    out.acked = acked;
    return out;
}

template <typename Tx>
std::uint64_t compact(Tx& tx, std::uint64_t keep) {
    const std::uint64_t head = tx.head(), horizon = tx.horizon();
    if (keep == 0 || head < horizon + 2 * keep) return 0;
    const std::uint64_t below = head - keep;
    std::vector<std::uint64_t> stale;
    tx.visit_after(horizon, below - horizon, [&](server_operation&& op) {
        if (const auto current = tx.current(op.op); !current || current->sseq != op.sseq) stale.push_back(op.sseq);
        return true;
    });
    for (const auto s : stale) tx.erase(s);
    tx.set_horizon(below);
    return stale.size();
}

template <typename Tx>
[[nodiscard]] pull_response pull(Tx& tx, const pull_request& r, std::uint64_t max_examined) {
    const std::uint64_t head = tx.head();
    const auto wanted = [&](const std::string& collection) {
        return r.collections.empty() ||
               std::find(r.collections.begin(), r.collections.end(), collection) != r.collections.end();
    };
    pull_response out;
    out.cursor = r.cursor;
    // A filter that matches little must not make one request read the whole history: after
    // max_examined operations the pull answers with what it found and has_more.
    const std::uint64_t examine = r.collections.empty() ? r.limit : std::max<std::uint64_t>(max_examined, 1);
    if (r.cursor < head) {
        const std::uint64_t n = std::min(examine, head - r.cursor);
        bool full = false;
        tx.visit_after(r.cursor, n, [&](server_operation&& op) {
            out.cursor = op.sseq;
            if (wanted(op.op.collection)) out.ops.push_back(std::move(op));
            full = out.ops.size() == r.limit;
            return !full;
        });
        if (!full) out.cursor = r.cursor + n;  // every sequence examined, compacted gaps included
    }
    out.has_more = out.cursor < head;
    return out;
}

}  // namespace sync
}  // namespace v1
}  // namespace entidb
