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
//   tx.visit_after(cursor, n, f)                  calls f(server_operation&&) on up to n operations
//                                                 above cursor, by server sequence, until f returns false
//   check_protocol(handshake)   refusal "unsupported_protocol" for another version.
//   push(tx, request, policy)   exactly once by (device, client sequence): duplicates answered
//                               (with the entity's current version), not applied; a gap →
//                               refusal "out_of_order"; each new operation decided by conflict.hpp
//                               (reserved collections and payloads that are not canonical CBOR are
//                               rejected); acked moves on over every new operation.
//   pull(tx, request, max_examined)  the operations above the cursor in the filter, at most
//                               `limit`, examining at most max_examined; the cursor is the last
//                               examined; a cursor above 0 below the horizon → "resync_required".
// The caller runs each in one transaction of its store: a refusal (thrown) changes nothing.
//
// Thread-safety: functions of their arguments.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

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
[[nodiscard]] pull_response pull(Tx& tx, const pull_request& r, std::uint64_t max_examined) {
    const std::uint64_t head = tx.head(), horizon = tx.horizon();
    if (r.cursor != 0 && r.cursor < horizon)
        throw refusal("resync_required", fmt::format("history below {} was compacted; take a fresh snapshot", horizon),
                      horizon);
    const auto wanted = [&](const std::string& collection) {
        return r.collections.empty() ||
               std::find(r.collections.begin(), r.collections.end(), collection) != r.collections.end();
    };
    pull_response out;
    out.cursor = r.cursor;
    // A filter that matches little must not make one request read the whole history: after
    // max_examined operations the pull answers with what it found and has_more.
    const std::uint64_t examine = r.collections.empty() ? r.limit : std::max<std::uint64_t>(max_examined, 1);
    if (r.cursor < head)
        tx.visit_after(r.cursor, std::min(examine, head - r.cursor), [&](server_operation&& op) {
            out.cursor = op.sseq;
            if (wanted(op.op.collection)) out.ops.push_back(std::move(op));
            return out.ops.size() < r.limit;
        });
    out.has_more = out.cursor < head;
    return out;
}

}  // namespace sync
}  // namespace v1
}  // namespace entidb
