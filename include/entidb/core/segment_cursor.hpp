// entidb/core/segment_cursor.hpp — the checked walk over a table of segments.
//
// Every record of the segments of a table (segment_set::table()), in storage order, each
// checked (CRC) as it is read, through views where segments are mapped: what
// changes_since (history.hpp) and scans in storage order (txn/snapshot.hpp) read. A record
// that does not decode is errc::corruption naming the segment's file and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../format/record_scanner.hpp"
#include "../format/segment_record.hpp"
#include "../segment/file_factory.hpp"
#include "../segment/record_location.hpp"
#include "../segment/segment_set.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// The path errors name for segment `n` of the database in `dir` (just the file name for a
// database without a directory).
[[nodiscard]] inline std::string segment_path(const std::optional<std::filesystem::path>& dir, std::uint32_t n) {
    const auto name = segment_file_name(n);
    return dir ? (*dir / "SEGMENTS" / name).string() : name;
}

template <typename Factory>
class segment_cursor {
public:
    using segment_table = std::vector<typename segment_set<Factory>::table_entry>;

    // Walks `table` reading `chunk_bytes` at a time; errors name files under `dir` (which
    // outlives the cursor) and say what the walk was `purpose` (a literal).
    segment_cursor(segment_table table, std::size_t chunk_bytes, const std::optional<std::filesystem::path>& dir,
                   std::string_view purpose)
        : table_(std::move(table)), chunk_bytes_(chunk_bytes), dir_(dir), purpose_(purpose) {}
    segment_cursor(const segment_cursor&) = delete;  // step_ points into scanner_
    segment_cursor& operator=(const segment_cursor&) = delete;

    // The next record, or null at the end; valid until the next call. After a bad
    // record every call throws the same error (the scanner's failed step is sticky).
    const format::segment_record* next() {
        for (;;) {
            if (!scanner_) {
                if (at_ == table_.size()) return nullptr;
                scanner_.emplace(*table_[at_].backend, chunk_bytes_, std::numeric_limits<std::uint32_t>::max(), 0,
                                 true);
            }
            step_ = scanner_->next();
            if (!step_) {
                scanner_.reset();
                ++at_;
                continue;
            }
            if (step_->decoded.status != format::decode_status::ok)
                fail_at(errc::corruption, {.path = segment_path(dir_, table_[at_].number), .offset = step_->offset},
                        "bad segment record while {} ({})", purpose_, step_->decoded.problem);
            return &step_->decoded.record;
        }
    }
    // Which entry of the table the last record came from, and where it lies.
    [[nodiscard]] std::size_t segment_index() const noexcept { return at_; }
    [[nodiscard]] record_location location() const noexcept {
        return {table_[at_].number, static_cast<std::uint32_t>(step_->decoded.size), step_->offset};
    }
    [[nodiscard]] const segment_table& table() const noexcept { return table_; }

private:
    using backend_type = typename Factory::backend_type;
    segment_table table_;
    std::size_t chunk_bytes_;
    const std::optional<std::filesystem::path>& dir_;
    std::string_view purpose_;
    std::size_t at_ = 0;
    std::optional<segment_scanner<backend_type>> scanner_;
    const scan_step<format::segment_decoded>* step_ = nullptr;  // scanner_'s own
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
