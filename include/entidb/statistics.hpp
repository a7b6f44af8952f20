// entidb/statistics.hpp — what a database reports about itself, as plain values:
//   statistics             counters since open (basic_database::stats())
//   recovery_report        what open found and did (basic_database::recovery())
//   database_description   its layout: format version, sequences, collections, indexes and
//                          segments (basic_database::describe(); what `entidb inspect` prints)
// Nothing here refers to the engine: these are copies, valid after the database is closed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index_kind.hpp"

namespace entidb {
inline namespace v1 {

// Counters a database exposes (stats()).
struct statistics {
    std::uint64_t last_sequence = 0;
    std::uint64_t index_lookups = 0;
    std::uint64_t commits = 0;
    std::uint64_t wal_flushes = 0;  // commit flushes: below `commits` when group commit shared them
    std::uint64_t checkpoints = 0;
    std::uint64_t full_scans = 0;
    std::uint64_t wal_bytes = 0;
    std::uint64_t segment_count = 0;
    std::uint64_t retired_segments = 0;          // replaced by a compaction, kept while snapshots read them
    std::uint64_t change_callback_failures = 0;  // subscriber callbacks that threw (change_feed.hpp)
};

// What open found and did (also printed by `entidb inspect`).
struct recovery_report {
    std::uint64_t segment_records = 0;        // records streamed from segments
    std::uint64_t wal_records = 0;            // well-formed WAL records read
    std::uint64_t transactions_replayed = 0;  // committed WAL transactions applied to segments
    std::uint64_t records_replayed = 0;       // segment records written by replay
    std::uint64_t wal_bytes_truncated = 0;    // torn WAL tail dropped
    std::uint64_t segment_bytes_truncated = 0;  // torn active-segment tail dropped (WAL-covered)
    bool compaction_finished = false;         // a compaction interrupted by a crash was made current
    std::uint64_t temporaries_removed = 0;    // files of a compaction that never became current
    bool primary_index_from_file = false;     // the primary index was mapped from primary.index
    std::string primary_index_file_problem;   // why a primary.index found was not used (empty: none found, or used)
};

struct collection_description {
    std::string name;
    std::uint32_t id = 0;  // stable for the life of the database (kept by backup and restore)
};

struct index_description {
    std::uint64_t id = 0;
    std::uint32_t collection_id = 0;
    std::string collection;
    std::string path;  // dotted field path, as declared ("address.city")
    index_kind kind = index_kind::hash;
    bool unique = false;
};

struct segment_description {
    std::uint32_t number = 0;
    std::string file;  // under SEGMENTS/ (seg-NNNNNN.dat)
    std::uint64_t bytes = 0;
};

// A database's layout at one moment (describe()).
// A migration the database has applied (docs/migrations.md).
struct applied_migration {
    std::uint64_t version = 0;
    std::string name{};
    std::uint64_t applied_at = 0;  // as migrate_options::applied_at gave it
    std::uint64_t steps_hash = 0;  // of its step list (migration::steps_hash)
};

struct database_description {
    std::uint16_t format_major = 0, format_minor = 0;  // of the MANIFEST
    std::uint64_t last_sequence = 0;
    std::optional<std::uint64_t> last_checkpoint;  // none before the first checkpoint
    std::uint64_t history_horizon = 0;             // changes_since() reaches back to here
    std::uint32_t next_collection_id = 1;          // the id the next new collection gets
    std::vector<collection_description> collections;  // by name (bytewise)
    std::vector<index_description> indexes;           // by id
    std::vector<segment_description> segments;       // by number; the last is the active one
    std::uint64_t schema_version = 0;                // 0: no migration applied
    std::vector<applied_migration> migrations{};     // by version

    // The id of the collection `name`, or nullopt when there is none.
    [[nodiscard]] std::optional<std::uint32_t> collection_id(std::string_view name) const {
        for (const auto& c : collections)
            if (c.name == name) return c.id;
        return std::nullopt;
    }
};

}  // namespace v1
}  // namespace entidb
