// entidb/storage/filesystem.hpp — whole-file operations with explicit durability (POSIX).
//
// Contract (every error carries the path and errno):
//   sync_directory(dir)          fsync a directory so that files created in it or renamed
//                                into it survive a power cut (SPEC.md §3: a new file counts
//                                as existing only once its directory has been fsynced).
//                                Any failure → errc::outcome_unknown: the earlier create or
//                                rename may or may not be durable.
//   durable_replace(target, b, mode = 0644)  atomically replace `target` with `b`: write target.tmp
//                                (created with `mode`: 0600 for a file only its owner may read),
//                                fsync it, rename over target, fsync the directory
//                                (STYLE.md practice 5). Before the rename a failure leaves
//                                `target` untouched, removes the .tmp and throws
//                                errc::no_space (ENOSPC) or errc::io_error; a failed
//                                directory fsync after the rename → errc::outcome_unknown.
//   durable_replace_parts(target, parts)  the same with the contents given as consecutive parts
//                                (large arrays written from where they are, no copy).
//   read_file(path)              the whole file; errc::io_error (ENOENT for a missing file).
//   path_exists(path)            whether anything is at `path` (links followed); where the OS
//                                cannot tell (a symbolic link loop, a directory it may not
//                                search) errc::io_error, never std::filesystem's exception.
// The caller owns the paths; nothing is cached.
//
// Thread-safety: the functions share no state. Two concurrent durable_replace calls on
// the same target race on target.tmp; callers serialise them (the engine holds its LOCK).
#pragma once

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bytes.hpp"
#include "../detail/posix_file.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {

inline void sync_directory(const std::filesystem::path& dir) {
    const detail::unique_fd fd = detail::open_fd(dir, O_RDONLY | O_DIRECTORY);
    if (!fd)
        fail_at(errc::outcome_unknown, {.path = dir.string(), .sys_errno = errno},
                "cannot open directory to fsync it; entries created or renamed in it may not be durable");
    // Like fdatasync, a failed directory fsync is not retried: the kernel may already
    // have dropped the dirty metadata, so a later success would prove nothing.
    if (::fsync(fd.get()) != 0)
        fail_at(errc::outcome_unknown, {.path = dir.string(), .sys_errno = errno},
                "directory fsync failed; entries created or renamed in it may not be durable");
}

namespace detail {

// The points of a durable_replace a crash test stops a process at (tests/crash/kill_test.cpp:
// the child kills itself there with SIGKILL).
enum class replace_step { temporary_written, temporary_synced, renamed, directory_synced };

// Test hook: called at each replace_step of every durable_replace on this thread. Null
// outside tests.
inline thread_local void (*replace_step_observer)(replace_step) noexcept = nullptr;

inline void replace_reached(replace_step s) noexcept {
    if (replace_step_observer != nullptr) replace_step_observer(s);
}

[[nodiscard]] inline std::filesystem::path parent_or_current(const std::filesystem::path& p) {
    std::filesystem::path parent = p.parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
}

// Closes and removes a half-made temporary file, then throws. The target was never
// touched, so the outcome is known: nothing was replaced.
[[noreturn]] inline void abandon_temporary(unique_fd& fd, const std::filesystem::path& tmp, errc code, int err,
                                           std::uint64_t offset, std::string_view what) {
    fd.reset();
    (void)::unlink(tmp.c_str());
    fail_at(code, {.path = tmp.string(), .offset = offset, .sys_errno = err}, "{}", what);
}

// Writes and fsyncs a complete new file at `tmp`, made of `parts` one after another. On
// failure removes it and throws.
inline void write_synced_file(const std::filesystem::path& tmp, std::span<const bytes_view> parts, mode_t mode) {
    unique_fd fd = open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!fd)
        fail_at(errc::io_error, {.path = tmp.string(), .sys_errno = errno}, "cannot create temporary file");
    // A temporary file a crash left keeps its own mode through O_TRUNC: set it before writing.
    if (::fchmod(fd.get(), mode) != 0)
        abandon_temporary(fd, tmp, errc::io_error, errno, 0, "cannot set the temporary file's mode");

    std::uint64_t at = 0;
    for (const auto part : parts) {
        const io_progress p = pwrite_fully(fd.get(), part, at);
        if (!p.complete(part.size())) {
            const int err = p.error != 0 ? p.error : EIO;  // a zero-byte write made no progress
            abandon_temporary(fd, tmp, err == ENOSPC ? errc::no_space : errc::io_error, err, at + p.done,
                              "writing the temporary file failed");
        }
        at += part.size();
    }
    replace_reached(replace_step::temporary_written);
    // fsync rather than fdatasync: the file is new, its inode must be durable too.
    if (::fsync(fd.get()) != 0)
        abandon_temporary(fd, tmp, errc::io_error, errno, at, "fsync of the temporary file failed");
    replace_reached(replace_step::temporary_synced);
}

}  // namespace detail

inline void durable_replace_parts(const std::filesystem::path& target, std::span<const bytes_view> parts,
                                  mode_t mode = 0644) {
    std::filesystem::path tmp = target;
    tmp += ".tmp";
    detail::write_synced_file(tmp, parts, mode);
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
        const int err = errno;
        (void)::unlink(tmp.c_str());
        fail_at(errc::io_error, {.path = target.string(), .sys_errno = err},
                "cannot rename {} over the target", tmp.string());
    }
    detail::replace_reached(detail::replace_step::renamed);
    sync_directory(detail::parent_or_current(target));
    detail::replace_reached(detail::replace_step::directory_synced);
}

inline void durable_replace(const std::filesystem::path& target, bytes_view contents, mode_t mode = 0644) {
    durable_replace_parts(target, std::span<const bytes_view>(&contents, 1), mode);
}

[[nodiscard]] inline byte_buffer read_file(const std::filesystem::path& path) {
    const detail::unique_fd fd = detail::open_fd(path, O_RDONLY);
    if (!fd) fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "cannot open file for reading");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "fstat failed");
    if (S_ISDIR(st.st_mode)) fail_at(errc::io_error, {.path = path.string(), .sys_errno = EISDIR}, "not a file");

    byte_buffer out(static_cast<std::size_t>(st.st_size));
    const detail::io_progress p = detail::pread_fully(fd.get(), out, 0);
    if (p.error != 0)
        fail_at(errc::io_error, {.path = path.string(), .offset = p.done, .sys_errno = p.error}, "read failed");
    // A file that shrank while we read it is returned as it now is; one that grew is
    // returned at its size when opened (a consistent prefix either way).
    out.resize(p.done);
    return out;
}

[[nodiscard]] inline bool path_exists(const std::filesystem::path& path) {
    std::error_code ec;
    const bool found = std::filesystem::exists(path, ec);  // a missing path is no error
    if (ec) fail_at(errc::io_error, {.path = path.string(), .sys_errno = ec.value()}, "cannot examine the path");
    return found;
}

}  // namespace v1
}  // namespace entidb
