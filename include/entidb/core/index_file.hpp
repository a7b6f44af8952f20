// entidb/core/index_file.hpp — when the engine writes the persisted primary index
// (index/primary_index_file.hpp) and whether open may use the one it finds.
//
// The file is written at a checkpoint (the segments were just flushed and the index holds
// exactly what they hold) and when the database closes, each time only if enough changed
// since the last one (index_file_policy), and never after anything went wrong: a poisoned
// engine, a failed compaction that left the index pointing into retired segments. Writing
// it is an optimisation: a failure is counted and the database goes on (open then rebuilds
// the index from the segments, as it always can).
//
// Open uses a file only if every segment it covers is still there, at least as long as it
// was, with the same last 4 KiB before the covered size; otherwise the file is stale or
// foreign, and the index is rebuilt by streaming.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../bytes.hpp"
#include "../hash.hpp"
#include "../index/primary_index_file.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

inline constexpr std::uint64_t segment_tail_bytes = 4096;

// XXH3-64 of the last min(size, 4096) bytes before `size` of a segment.
template <typename Backend>
[[nodiscard]] std::uint64_t segment_tail_hash(const Backend& backend, std::uint64_t size) {
    const auto n = std::min(size, segment_tail_bytes);
    byte_buffer tail(static_cast<std::size_t>(n));
    if (n > 0) backend.read_at(size - n, tail);
    return hash64(tail);
}

// What an index file written now would cover: every segment in `table` (segment_set::table())
// at its current size.
template <typename Table>
[[nodiscard]] std::vector<segment_coverage> segment_coverages(const Table& table) {
    std::vector<segment_coverage> out;
    for (const auto& s : table) {
        const auto size = s.backend->size();
        out.push_back({.number = s.number,
                       .size = size,
                       .min_sequence = s.min_sequence,
                       .max_sequence = s.max_sequence,
                       .tail_hash = segment_tail_hash(*s.backend, size)});
    }
    return out;
}

// Why the segments in `table` are not the ones `covered` describes, if they are not.
template <typename Table>
[[nodiscard]] std::optional<std::string> coverage_mismatch(const std::vector<segment_coverage>& covered,
                                                           const Table& table) {
    for (const auto& c : covered) {
        const auto it = std::find_if(table.begin(), table.end(), [&](const auto& s) { return s.number == c.number; });
        if (it == table.end()) return fmt::format("segment {} it covers is gone", c.number);
        if (it->backend->size() < c.size)
            return fmt::format("segment {} is shorter ({} bytes) than it covers ({})", c.number, it->backend->size(), c.size);
        if (segment_tail_hash(*it->backend, c.size) != c.tail_hash)
            return fmt::format("segment {} holds other bytes than it covers", c.number);
    }
    return std::nullopt;
}

// When a new file is worth its cost (writing every slot): at a checkpoint once the changes
// since the last file reach its entries (at least 4096: while a database grows, the files
// written add up to about twice its final index, and an open after a crash streams at most
// the changes since the last one), at close once they reach 1/64 of them (open then streams
// at most that many records), and whenever the file on disk cannot serve the next open
// (none, rejected, or a compaction changed the segments). A checkpoint the application
// asks for counts as a close.
struct index_file_policy {
    bool stale = true;          // the file on disk (if any) will not serve the next open
    std::uint64_t entries = 0;  // entries in the last file written or read
    std::uint64_t failures = 0;

    [[nodiscard]] bool due(bool closing, std::uint64_t changed) const noexcept {  // closing: or requested
        if (stale) return changed > 0 || entries > 0;
        return closing ? changed > 0 && changed >= std::max<std::uint64_t>(1, entries / 64)
                       : changed >= std::max<std::uint64_t>(4096, entries);
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
