// entidb/compaction.hpp — what a compaction is asked to do and what it reports.
//
// `basic_database::compact(options)` merges every sealed segment into new ones, keeping
// each version a reader can still see (the newest of every entity, plus, for each open
// snapshot, the newest version at or below its sequence) and tombstones of the last `tombstone_retention` commits, and
// dropping everything else. The logical state never changes: every snapshot, open or
// future, reads the same entities before and after. The protocol (docs/operations.md,
// docs/file-format.md "COMPACTION"): checkpoint → write the new segments under temporary
// names and flush them → durable journal (the commit point) → rename them into place,
// delete the old files → clear the journal. A crash anywhere leaves either the old or the
// new set of segments after the next open, never a mixture.
//
// After a compaction that dropped records, changes_since(after) needs after >= the
// reported history_horizon, the largest sequence of a dropped record (errc::invalid_argument
// below it): the history it would need is gone. An open snapshot does not hold the history
// after it: versions between two readers' sequences that none of them reads are dropped too,
// so the horizon can pass an open snapshot's sequence.
//
// Thread-safety: compact() is a writer operation (it waits for the writer lock); readers
// continue and their snapshots stay valid. Scans in storage order that are open when it
// starts must end within `scan_wait` (errc::busy otherwise: a scan the compacting thread
// itself holds open can never end meanwhile). `on_step` runs on the compacting thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace entidb {
inline namespace v1 {

// The durable steps of a compaction, in order (reported to compact_options::on_step).
enum class compaction_step {
    checkpointed,     // the checkpoint that seals the active segment is done
    outputs_written,  // the new segments exist under temporary names, flushed, directory synced
    journal_written,  // the COMPACTION journal is durable: the compaction will happen
    published,        // the new segments have their final names
    old_removed,      // the old segment files are deleted and the directory synced
    finished,         // the journal is cleared (only the history horizon remains in it)
};

[[nodiscard]] constexpr std::string_view to_string(compaction_step s) noexcept {
    switch (s) {
        case compaction_step::checkpointed: return "checkpointed";
        case compaction_step::outputs_written: return "outputs_written";
        case compaction_step::journal_written: return "journal_written";
        case compaction_step::published: return "published";
        case compaction_step::old_removed: return "old_removed";
        case compaction_step::finished: return "finished";
    }
    return "unknown";
}

struct compact_options {
    // Tombstones of the last N commits (sequence > last_sequence - N) are kept even when
    // nothing older of their entity remains, so the deletions stay in the history; older
    // ones are dropped. 0: drop every tombstone nothing needs.
    std::uint64_t tombstone_retention = 0;
    // Called after each durable step, on the compacting thread (progress, tests). If it
    // throws, the compaction stops there like any failure: before journal_written nothing
    // changed; after it, writes are refused until a reopen finishes the compaction.
    std::function<void(compaction_step)> on_step{};
    // How long a compaction waits for open scans in storage order (which walk the files it
    // replaces) to end before it fails with errc::busy, changing nothing. Scans started
    // meanwhile walk the index instead and do not delay it. 0: fail at once if any is open.
    std::chrono::milliseconds scan_wait{5000};
};

struct compaction_report {
    std::uint64_t sequence = 0;            // the last commit when it ran
    std::uint64_t segments_before = 0;     // segment files merged (their emptied active one included)
    std::uint64_t segments_after = 0;      // segment files written (the new, empty active one included)
    std::uint64_t bytes_before = 0;        // bytes of the merged files
    std::uint64_t bytes_after = 0;         // bytes of the written files
    std::uint64_t bytes_reclaimed = 0;     // bytes_before - bytes_after
    std::uint64_t records_kept = 0;
    std::uint64_t records_dropped = 0;     // superseded versions and expired tombstones
    std::uint64_t tombstones_kept = 0;
    std::uint64_t tombstones_dropped = 0;
    std::uint64_t history_horizon = 0;     // changes_since needs a sequence >= this from now on
};

}  // namespace v1
}  // namespace entidb
