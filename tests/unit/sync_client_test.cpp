// The sync client (include/entidb/sync/client.hpp; docs/sync-protocol.md, "Client") against an
// embedded store in the same process: devices converge, conflicts follow the policy (a stale
// offline edit never resurrects a delete; a put after a pulled delete is fresh), pushes whose
// answers are lost are settled by the retry's answer, history compaction and a new server lose
// no local change, and five devices behind a transport that loses, repeats and delays requests,
// with clients thrown away at random points, end byte-identical to the server and to a model of
// last-writer-wins.
#include <catch2/catch.hpp>

#include "sync_client_cases.hpp"
#include "sync_kinds.hpp"

TEST_CASE("sync client: two devices converge; reports count what moved; a second sync moves nothing",
          "[sync]") {
    sync_client_cases::converge<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: concurrent edits follow last-writer-wins; a stale edit never resurrects a delete",
          "[sync]") {
    sync_client_cases::last_writer_wins<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: the manual policy's conflicts are kept, listed, resolved and pushed", "[sync]") {
    sync_client_cases::manual_conflicts<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: lost answers and crashes between steps neither lose nor repeat an operation",
          "[sync]") {
    sync_client_cases::lost_answers<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: compaction and a new server lose no local change; a cursor below the horizon resyncs",
          "[sync]") {
    sync_client_cases::compaction_and_resync<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: options and state are checked",
          "[sync]") {
    sync_client_cases::options_checked<sync_kinds::embedded_kind>();
}
TEST_CASE("sync client: five devices through an unreliable transport converge on the server and on last-writer-wins",
          "[sync]") {
    sync_client_cases::five_devices<sync_kinds::embedded_kind>();
}
