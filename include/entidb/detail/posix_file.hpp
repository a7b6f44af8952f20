// entidb/detail/posix_file.hpp — internal: thin POSIX file helpers shared by the file
// backend and the filesystem functions (an owning fd, EINTR-safe open, whole-buffer
// pread/pwrite). They report errno; the public layers turn that into typed errors.
#pragma once

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../bytes.hpp"
#include "io_retry.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// Owns one file descriptor; closes it on destruction. close() errors are ignored:
// on Linux the descriptor is released even when close fails, and durability never
// depends on close (only on a successful fsync/fdatasync before it).
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }

    void reset(int fd = -1) noexcept {
        // Never retry close on EINTR: the descriptor is already gone and may be reused.
        if (fd_ >= 0) (void)::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// open(2) with O_CLOEXEC always set (no descriptor leaks into exec'd children) and
// EINTR retried (open can block, e.g. on NFS). Returns an empty unique_fd and leaves
// errno set on failure.
[[nodiscard]] inline unique_fd open_fd(const std::filesystem::path& path, int flags, mode_t mode = 0644) {
    for (;;) {
        const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        if (fd >= 0) return unique_fd(fd);
        if (errno != EINTR) return unique_fd();
    }
}

[[nodiscard]] inline io_progress pwrite_fully(int fd, bytes_view in, std::uint64_t offset) {
    return transfer_fully(in.size(), [&](std::size_t done) {
        return ::pwrite(fd, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
    });
}

[[nodiscard]] inline io_progress pread_fully(int fd, mutable_bytes out, std::uint64_t offset) {
    return transfer_fully(out.size(), [&](std::size_t done) {
        return ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    });
}

// ftruncate(2) with EINTR retried. Returns 0 or errno.
[[nodiscard]] inline int ftruncate_retry(int fd, std::uint64_t size) noexcept {
    while (::ftruncate(fd, static_cast<off_t>(size)) != 0)
        if (errno != EINTR) return errno;
    return 0;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
