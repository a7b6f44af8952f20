// entidb/sync/conflict.hpp — what a sync server does with a pushed operation, given the
// entity's current version (docs/sync-protocol.md, "Conflicts"). One pure function, the same
// for every store.
//
// Contract:
//   conflict_policy       last_writer_wins (the default), server_wins, client_wins, manual.
//   current_version       what the store knows of the entity's current version: its server
//                         sequence, the device and client sequence that wrote it, its hybrid
//                         logical clock timestamp, and whether it is a delete.
//   decide(policy, device, op, current) → verdict:
//     apply     the operation becomes the current version;
//     conflict  the current version stays; the device is told it (push_status::conflict), and
//               under `manual` the store keeps the operation for the application to resolve;
//     reject    the operation cannot be meant: its base is a server sequence above the
//               entity's current version (push_status::rejected, with `reason`).
//   The rules, in order:
//     1. no current version (the entity never existed)            → apply;
//     2. base above the current version's server sequence          → reject;
//     3. base equal to it (the device saw the current version)     → apply: a fresh write, also
//        a put after a pulled delete;
//     4. the current version is the same device's, from an earlier client sequence (the device
//        edited twice before it pulled its own first edit)         → apply;
//     otherwise the edit was concurrent (made on an older version):
//     5. client_wins → apply; server_wins and manual → conflict;
//     6. last_writer_wins: a put made on a version older than a current delete → conflict (a
//        stale offline edit never resurrects a deleted entity); else the greater (hlc, device)
//        pair wins → apply if it is the operation's, conflict otherwise.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

enum class conflict_policy : std::uint8_t { last_writer_wins, server_wins, client_wins, manual };

[[nodiscard]] constexpr std::string_view to_string(conflict_policy p) noexcept {
    switch (p) {
        case conflict_policy::last_writer_wins: return "last_writer_wins";
        case conflict_policy::server_wins: return "server_wins";
        case conflict_policy::client_wins: return "client_wins";
        case conflict_policy::manual: return "manual";
    }
    return "unknown";
}

struct current_version {
    std::uint64_t sseq = 0;
    device_id device;
    std::uint64_t cseq = 0;
    std::uint64_t hlc = 0;
    bool deleted = false;
};

enum class verdict : std::uint8_t { apply, conflict, reject };

[[nodiscard]] inline verdict decide(conflict_policy policy, const device_id& device, const operation& op,
                                    const std::optional<current_version>& current) {
    if (!current) return verdict::apply;
    if (op.base > current->sseq) return verdict::reject;
    if (op.base == current->sseq) return verdict::apply;
    if (current->device == device && current->cseq < op.cseq) return verdict::apply;
    switch (policy) {
        case conflict_policy::client_wins: return verdict::apply;
        case conflict_policy::server_wins:
        case conflict_policy::manual: return verdict::conflict;
        case conflict_policy::last_writer_wins: break;
    }
    if (current->deleted && op.kind == op_kind::put) return verdict::conflict;
    const bool later = op.hlc != current->hlc ? op.hlc > current->hlc : current->device.bytes() < device.bytes();
    return later ? verdict::apply : verdict::conflict;
}

}  // namespace sync
}  // namespace v1
}  // namespace entidb
