// entidb/directory/lock.hpp — the database directory's LOCK file.
//
// `directory_lock` holds an exclusive, non-blocking flock(2) on <db>/LOCK for its whole
// life. flock locks belong to an open file description, so a second open of the same
// directory fails at once whether it comes from this process or another one
// (errc::locked). The 0-byte LOCK file stays behind after close, as the format expects;
// the kernel drops the lock when the descriptor closes or the process dies.
//
// Thread-safety: a value owned by one database handle.
#pragma once

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "../error.hpp"

namespace entidb {
inline namespace v1 {

class directory_lock {
public:
    // Takes the lock on `dir`/LOCK, creating the file if needed.
    [[nodiscard]] static directory_lock acquire(const std::filesystem::path& dir) {
        return lock_file(dir, O_RDWR | O_CREAT);
    }

    // Takes the lock if `dir`/LOCK exists, and creates nothing: for readers such as salvage
    // that must leave a damaged directory exactly as they found it. An empty lock (holding
    // nothing) when there is no LOCK file: no open database can hold it then.
    [[nodiscard]] static directory_lock acquire_existing(const std::filesystem::path& dir) {
        std::error_code ec;
        if (!std::filesystem::exists(dir / "LOCK", ec)) return directory_lock(-1);
        return lock_file(dir, O_RDONLY);
    }

    directory_lock(directory_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    directory_lock& operator=(directory_lock&& other) noexcept {
        if (this != &other) {
            release();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;
    ~directory_lock() { release(); }

    void release() noexcept {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));  // closing drops the flock
    }

private:
    explicit directory_lock(int fd) : fd_(fd) {}

    [[nodiscard]] static directory_lock lock_file(const std::filesystem::path& dir, int flags) {
        const auto path = dir / "LOCK";
        int fd;
        do fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "cannot open lock file");
        directory_lock lock(fd);
        int rc;
        do rc = ::flock(fd, LOCK_EX | LOCK_NB);
        while (rc != 0 && errno == EINTR);
        if (rc != 0) {
            const int err = errno;
            if (err == EWOULDBLOCK)
                fail_at(errc::locked, {.path = dir.string()},
                        "the database is already open (by this or another process)");
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = err}, "cannot lock");
        }
        return lock;
    }

    int fd_ = -1;
};

}  // namespace v1
}  // namespace entidb
