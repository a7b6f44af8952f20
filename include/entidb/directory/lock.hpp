// entidb/directory/lock.hpp — the database directory's LOCK file.
//
// `directory_lock` holds a non-blocking flock(2) on <db>/LOCK for its whole life: an
// exclusive one for a read-write open, a shared one for a read-only open, so any number
// of read-only opens coexist and a read-write open excludes every other open. flock
// locks belong to an open file description, so a conflicting open of the same directory
// fails at once whether it comes from this process or another one (errc::locked). The
// 0-byte LOCK file stays behind after close, as the format expects; the kernel drops the
// lock when the descriptor closes or the process dies.
//
// A read-only open never creates LOCK. Where LOCK cannot be opened and the directory is
// not writable by this process it takes no lock at all: this process could not write
// the database anyway. The risk, documented in docs/operations.md: another account that
// can write the directory may then open it read-write concurrently.
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
    // Takes the exclusive lock on `dir`/LOCK, creating the file if needed. A directory
    // this process may not write is errc::read_only (open it read-only instead).
    [[nodiscard]] static directory_lock acquire(const std::filesystem::path& dir) {
        const auto path = dir / "LOCK";
        const int fd = open_retry(path, O_RDWR | O_CREAT);
        if (fd < 0) {
            const int err = errno;
            if (err == EACCES || err == EROFS)
                fail_at(errc::read_only, {.path = path.string(), .sys_errno = err},
                        "cannot open the lock file for writing: the database is read-only here (open it read-only)");
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = err}, "cannot open lock file");
        }
        return take(directory_lock(fd), LOCK_EX, dir, "the database is already open (by this or another process)");
    }

    // Takes a shared lock on `dir`/LOCK without creating or writing anything (read-only
    // opens); no lock where LOCK cannot be opened and `dir` is not writable (see above).
    [[nodiscard]] static directory_lock acquire_shared(const std::filesystem::path& dir) {
        const auto path = dir / "LOCK";
        const int fd = open_retry(path, O_RDONLY);
        if (fd < 0) {
            const int err = errno;
            if (::access(dir.c_str(), W_OK) != 0) return directory_lock(-1);
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = err},
                    "cannot open the lock file (a read-only open does not create it; open the database read-write once)");
        }
        return take(directory_lock(fd), LOCK_SH, dir, "the database is open for writing (by this or another process)");
    }

    // Takes the exclusive lock if `dir`/LOCK exists, and creates nothing: for readers such as
    // salvage that must leave a damaged directory exactly as they found it. An empty lock
    // (holding nothing) when there is no LOCK file: no open database can hold it then.
    [[nodiscard]] static directory_lock acquire_existing(const std::filesystem::path& dir) {
        std::error_code ec;
        if (!std::filesystem::exists(dir / "LOCK", ec)) return directory_lock(-1);
        const int fd = open_retry(dir / "LOCK", O_RDONLY);
        if (fd < 0) fail_at(errc::io_error, {.path = (dir / "LOCK").string(), .sys_errno = errno}, "cannot open lock file");
        return take(directory_lock(fd), LOCK_EX, dir, "the database is already open (by this or another process)");
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

    [[nodiscard]] static int open_retry(const std::filesystem::path& path, int flags) {
        int fd;
        do fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
        while (fd < 0 && errno == EINTR);
        return fd;
    }

    // flock(kind) on the lock's descriptor, without waiting: errc::locked, saying `held`,
    // when a conflicting lock is held.
    [[nodiscard]] static directory_lock take(directory_lock lock, int kind, const std::filesystem::path& dir,
                                             const char* held) {
        int rc;
        do rc = ::flock(lock.fd_, kind | LOCK_NB);
        while (rc != 0 && errno == EINTR);
        if (rc != 0) {
            const int err = errno;
            if (err == EWOULDBLOCK) fail_at(errc::locked, {.path = dir.string()}, "{}", held);
            fail_at(errc::io_error, {.path = (dir / "LOCK").string(), .sys_errno = err}, "cannot lock");
        }
        return lock;
    }

    int fd_ = -1;
};

}  // namespace v1
}  // namespace entidb
