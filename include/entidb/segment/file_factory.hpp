// entidb/segment/file_factory.hpp — segment files in <db>/SEGMENTS: durable, rotating, journaled.
//
// The everyday factory, and the one that offers compaction's temporary-file protocol
// (segment_file_protocol, segment/factory.hpp).
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <unistd.h>

#include "../error.hpp"
#include "../storage/file_backend.hpp"
#include "../storage/filesystem.hpp"
#include "factory.hpp"

namespace entidb {
inline namespace v1 {

// The file name of segment n: seg-000001.dat (six digits, SPEC.md §3).
[[nodiscard]] inline std::string segment_file_name(std::uint32_t n) { return fmt::format("seg-{:06}.dat", n); }

// Parses a segment file name; anything else (including seg-0.dat) yields 0.
[[nodiscard]] inline std::uint32_t parse_segment_file_name(std::string_view name) {
    constexpr std::string_view prefix = "seg-", suffix = ".dat";
    if (name.size() != prefix.size() + 6 + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
        return 0;
    const auto digits = name.substr(prefix.size(), 6);
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return ec == std::errc{} && end == digits.data() + digits.size() ? n : 0;
}

// A compaction's temporary name for segment n: seg-000001.dat.compact (ignored by open
// unless the COMPACTION journal names it).
inline constexpr std::string_view temporary_segment_suffix = ".compact";
[[nodiscard]] inline std::string temporary_segment_file_name(std::uint32_t n) {
    return segment_file_name(n) + std::string(temporary_segment_suffix);
}
[[nodiscard]] inline std::uint32_t parse_temporary_segment_file_name(std::string_view name) {
    if (!name.ends_with(temporary_segment_suffix)) return 0;
    return parse_segment_file_name(name.substr(0, name.size() - temporary_segment_suffix.size()));
}

// Segment files in <db>/SEGMENTS: durable, rotating. The everyday factory.
// `read_only`: a read-only database's factory. It never writes the directory: segments
// are opened as private views (file_backend.hpp) and a new segment lives in memory only
// (WAL replay in memory); the compaction protocol's writes are errc::read_only.
class file_segment_factory {
public:
    using backend_type = file_backend;
    static constexpr bool rotates = true;
    static constexpr bool journaled = true;

    explicit file_segment_factory(std::filesystem::path dir, bool read_only = false)
        : dir_(std::move(dir)), read_only_(read_only) {}

    [[nodiscard]] std::unique_ptr<file_backend> create(std::uint32_t n) {
        if (read_only_) return std::make_unique<file_backend>(file_backend::in_memory(path_of(n)));
        auto b = std::make_unique<file_backend>(file_backend::open(path_of(n), file_mode::create_new));
        sync_directory(dir_);  // the new file exists only once its directory entry is durable
        return b;
    }
    [[nodiscard]] std::unique_ptr<file_backend> open(std::uint32_t n) {
        return std::make_unique<file_backend>(file_backend::open(path_of(n), open_mode()));
    }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return list(parse_segment_file_name); }

    // ---- the temporary-file protocol of compaction (segment_file_protocol) ----
    // Creating a temporary does not sync the directory: the caller syncs once for all.
    [[nodiscard]] std::unique_ptr<file_backend> create_temporary(std::uint32_t n) {
        require_writable();
        return std::make_unique<file_backend>(file_backend::open(temporary_path_of(n), file_mode::create_new));
    }
    [[nodiscard]] std::unique_ptr<file_backend> open_temporary(std::uint32_t n) {
        return std::make_unique<file_backend>(file_backend::open(temporary_path_of(n), open_mode()));
    }
    void publish_temporary(std::uint32_t n) {
        require_writable();
        if (::rename(temporary_path_of(n).c_str(), path_of(n).c_str()) != 0)
            fail_at(errc::io_error, {.path = temporary_path_of(n).string(), .sys_errno = errno},
                    "cannot rename the compacted segment into place");
    }
    void remove(std::uint32_t n) {
        require_writable();
        unlink_if_present(path_of(n));
    }
    void remove_temporary(std::uint32_t n) {
        require_writable();
        unlink_if_present(temporary_path_of(n));
    }
    [[nodiscard]] std::vector<std::uint32_t> temporaries() const { return list(parse_temporary_segment_file_name); }
    [[nodiscard]] bool has(std::uint32_t n) const { return path_exists(path_of(n)); }
    [[nodiscard]] bool has_temporary(std::uint32_t n) const { return path_exists(temporary_path_of(n)); }
    void sync() {
        if (!read_only_) sync_directory(dir_);  // a read-only factory changed nothing to sync
    }

    [[nodiscard]] std::filesystem::path path_of(std::uint32_t n) const { return dir_ / segment_file_name(n); }
    [[nodiscard]] std::filesystem::path temporary_path_of(std::uint32_t n) const {
        return dir_ / temporary_segment_file_name(n);
    }
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }

private:
    [[nodiscard]] file_mode open_mode() const noexcept {
        return read_only_ ? file_mode::private_view : file_mode::open_existing;
    }
    void require_writable() const {
        if (read_only_) fail_at(errc::read_only, {.path = dir_.string()}, "the database was opened read-only");
    }

    // Numbers of the directory entries `parse` accepts, ascending.
    [[nodiscard]] std::vector<std::uint32_t> list(std::uint32_t (*parse)(std::string_view)) const {
        std::vector<std::uint32_t> out;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
            if (const auto n = parse(it->path().filename().string()); n != 0) out.push_back(n);
        if (ec) fail_at(errc::io_error, {.path = dir_.string(), .sys_errno = ec.value()}, "cannot list segments");
        std::sort(out.begin(), out.end());
        return out;
    }
    static void unlink_if_present(const std::filesystem::path& p) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            fail_at(errc::io_error, {.path = p.string(), .sys_errno = errno}, "cannot remove the segment file");
    }

    std::filesystem::path dir_;
    bool read_only_ = false;
};

static_assert(segment_file_protocol<file_segment_factory>);

}  // namespace v1
}  // namespace entidb
