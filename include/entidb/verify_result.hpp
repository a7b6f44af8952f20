// entidb/verify_result.hpp — what entidb::verify_report finds (verify.hpp): the counts of
// what it checked, what the next open would truncate or finish, and the first problems.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"
#include "format/compaction_state.hpp"

namespace entidb {
inline namespace v1 {

struct verify_problem {
    errc code = errc::corruption;
    std::string message;  // what is wrong, with the file and offset (as entidb::error::what())
    std::string detail;   // the same without the code and the location
    std::string path;     // the file concerned, if any
    std::optional<std::uint64_t> offset;
};

struct verify_result {
    std::uint64_t segment_records = 0;
    std::uint64_t wal_records = 0;
    std::uint64_t entities_checked = 0;
    std::uint64_t segments = 0;
    std::uint64_t indexes_checked = 0;
    std::uint64_t index_entries_checked = 0;
    std::optional<std::uint64_t> wal_torn_at;      // the next open truncates the WAL here
    std::optional<std::uint64_t> segment_torn_at;  // ... and the active segment here
    std::optional<format::compaction_state> pending_compaction;  // ... and finishes this compaction
    std::vector<std::uint32_t> stray_temporaries;  // ... and deletes these seg-NNNNNN.dat.compact files
    std::vector<verify_problem> problems;          // the first problems found; empty when all is well
    bool more_problems = false;                    // problems beyond max_problems were not recorded

    [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
};

}  // namespace v1
}  // namespace entidb
