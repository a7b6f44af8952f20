// entidb/config.hpp — run-time configuration of a database.
//
// Plain value type. Defaults are production defaults: durable commits, a bounded WAL
// (SPEC.md §9 rule 5), a bounded entity size. `validate()` is called by every open path
// and throws errc::invalid_argument for an unusable combination.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "error.hpp"
#include "format/segment_record.hpp"

namespace entidb {
inline namespace v1 {

// How wal.log is kept between checkpoints (docs/file-format.md, "Recycled WAL").
enum class wal_mode {
    // Commits append; a checkpoint truncates the file to 0 bytes. The layout the
    // reference implementation reads (docs/format-compatibility.md): the default.
    append,
    // The file is allocated to max_wal_size once and kept; after a checkpoint the next
    // lap overwrites it from the start, so a commit's fdatasync writes data, not a new
    // file size. The reference implementation refuses to open such a wal.log.
    recycled,
};

struct config {
    // When wal.log grows past this after a commit, a checkpoint runs and empties it.
    std::uint64_t max_wal_size = 64ull << 20;
    // Takes effect when the log is empty (a new database, after a checkpoint); a log in
    // the other layout is read as it is and keeps it until then.
    wal_mode wal = wal_mode::append;
    // The active segment is sealed and a new one started before an append would pass this.
    std::uint64_t max_segment_size = 256ull << 20;
    // Largest accepted entity payload (canonical CBOR bytes). Checked before the WAL.
    std::uint64_t max_entity_bytes = 16ull << 20;
    // Create the database when the directory does not exist or holds no MANIFEST
    // (entidb::open). When false, such a path is errc::not_found and stays untouched.
    bool create_if_missing = true;
    // Open without writing anything (never creates, whatever create_if_missing says):
    // a shared lock on LOCK, recovery in memory only, and every write refused with
    // errc::read_only (docs/transactions.md, "Read-only opens").
    bool read_only = false;
    // Make read_transaction::scan() a typed error (errc::scan_forbidden).
    bool forbid_full_scan = false;
    // Bytes read at a time while streaming the WAL and segments on open.
    std::size_t read_chunk_bytes = 1u << 20;
    // Checkpoints and clean closes persist the primary index (primary.index, so that the
    // next open maps it instead of streaming every segment) only for databases of at least
    // this many index entries: below it, streaming is about as quick as checking the file.
    // 0 persists it always; the largest value never.
    std::uint64_t index_file_min_entries = 4096;
    // The schema version the application expects (docs/migrations.md): open refuses a
    // database at any other version with errc::schema_mismatch, unless the migrations passed
    // to open bring it there. Unset: any version opens.
    std::optional<std::uint64_t> required_schema_version{};

    // The largest payload any record can carry: the segment record's u32 length field
    // covers the whole record, so the payload gets what the fixed fields leave.
    static constexpr std::uint64_t payload_limit =
        std::numeric_limits<std::uint32_t>::max() - format::segment_record_overhead;

    void validate() const {
        if (max_entity_bytes == 0 || max_entity_bytes > payload_limit)
            fail(errc::invalid_argument, "max_entity_bytes must be in 1..{} (got {})", payload_limit,
                 max_entity_bytes);
        if (max_wal_size == 0) fail(errc::invalid_argument, "max_wal_size must be positive");
        if (max_segment_size < format::segment_record_overhead)
            fail(errc::invalid_argument, "max_segment_size must be at least {} bytes (got {})",
                 format::segment_record_overhead, max_segment_size);
        if (read_chunk_bytes < 64) fail(errc::invalid_argument, "read_chunk_bytes must be at least 64");
    }
};

}  // namespace v1
}  // namespace entidb
