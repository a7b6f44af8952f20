// entidb/storage/file_backend.hpp — a durable byte store in one POSIX file.
//
// Contract: satisfies `storage_backend` with `durable == true` (see backend.hpp for the
// operations). The object owns its file descriptor (move-only; the destructor closes
// it) but not the file. Every error carries the path, the offset where relevant and
// errno:
//   open       errc::io_error (ENOENT, EEXIST for create_new, EACCES, EISDIR, ...)
//   read_at    errc::corruption for a range past the end; errc::io_error otherwise
//   append     errc::no_space on ENOSPC, errc::io_error otherwise; either way the file
//              is cut back to its previous size, so no partial bytes remain (if even
//              that fails: errc::io_error, and the backend is poisoned as below)
//   flush      fdatasync; any failure → errc::outcome_unknown, after which the backend
//              refuses every further append/flush/truncate with errc::outcome_unknown
//   truncate   errc::invalid_argument beyond size(); errc::io_error if ftruncate fails
//   reserve    (recyclable_backend) posix_fallocate: errc::no_space on ENOSPC,
//              errc::io_error otherwise; set_end: errc::invalid_argument past capacity()
//   writes on a file_mode::read_only backend → errc::read_only
// A file_mode::private_view backend never writes its file either, but takes writes into
// memory: truncate only shortens this object's view of the file, and append keeps the
// bytes after the visible ones in memory (a read-only database replays its WAL that way,
// SPEC.md §5 recovery without a write). `in_memory(name)` is such a backend without a file:
// a segment a read-only database makes while it replays. Appended bytes are readable like
// the file's, but a view of them is valid only until the next append (a read-only
// database appends only while it opens, before any reader exists).
// EINTR and short transfers are retried until complete (detail/io_retry.hpp).
// Creating a file does not make its directory entry durable: call sync_directory()
// on the parent before relying on a newly created file (SPEC.md §3).
//
// Reads can also be views: `view_at(offset, n)` returns the bytes in a read-only shared
// mapping of the file, valid until the backend is destroyed (mappings only ever grow: a
// larger one is added when the file outgrows the last, none is unmapped before the end).
// Views cover only bytes below size(), so the writer's appends never disturb them; a
// file shortened by another process while open would fault on access (SIGBUS), like
// every memory-mapped store, which is why the LOCK file keeps other writers out.
//
// Thread-safety: one writer at a time (append/truncate), and at most one flush, which
// may run concurrently with that writer (group commit: the flush covers at least every
// byte appended before it began). read_at and size() may run concurrently with both,
// for bytes appended before the read started.
#pragma once

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bytes.hpp"
#include "../detail/file_mappings.hpp"
#include "../detail/poison_note.hpp"
#include "../detail/posix_file.hpp"
#include "../error.hpp"
#include "backend.hpp"
#include "filesystem.hpp"

namespace entidb {
inline namespace v1 {

enum class file_mode {
    open_existing,   // read-write; the file must exist
    create_or_open,  // read-write; created (mode 0644) if missing
    create_new,      // read-write; the file must not exist yet (O_EXCL)
    read_only,       // reads only; every write throws errc::read_only
    private_view,    // reads the file; writes change only this object, in memory (see above)
};

class file_backend {
public:
    static constexpr bool durable = true;

    [[nodiscard]] static file_backend open(const std::filesystem::path& path, file_mode mode) {
        detail::unique_fd fd = detail::open_fd(path, open_flags(mode), 0644);
        if (!fd) fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "cannot open file");
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "fstat failed");
        // O_RDONLY succeeds on a directory; reject it here rather than at the first read.
        if (S_ISDIR(st.st_mode))
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = EISDIR}, "not a file");
        return file_backend(std::move(fd), path, static_cast<std::uint64_t>(st.st_size), mode);
    }

    // A private_view backend with no file behind it: every byte lives in memory. `path`
    // names it in error messages only.
    [[nodiscard]] static file_backend in_memory(const std::filesystem::path& path) {
        return file_backend(detail::unique_fd{}, path, 0, file_mode::private_view);
    }

    file_backend(file_backend&& other) noexcept
        : fd_(std::move(other.fd_)),
          path_(std::move(other.path_)),
          size_(other.size_.load(std::memory_order_relaxed)),
          capacity_(other.capacity_),
          read_only_(other.read_only_),
          private_(other.private_),
          file_part_(other.file_part_),
          tail_(std::move(other.tail_)),
          poisoned_(std::move(other.poisoned_)),
          maps_(std::move(other.maps_)) {}

    file_backend& operator=(file_backend&& other) noexcept {
        if (this == &other) return *this;
        fd_ = std::move(other.fd_);
        path_ = std::move(other.path_);
        size_.store(other.size_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        capacity_ = other.capacity_;
        read_only_ = other.read_only_;
        private_ = other.private_;
        file_part_ = other.file_part_;
        tail_ = std::move(other.tail_);
        poisoned_ = std::move(other.poisoned_);
        maps_ = std::move(other.maps_);
        return *this;
    }

    file_backend(const file_backend&) = delete;
    file_backend& operator=(const file_backend&) = delete;
    ~file_backend() = default;

    // The `n` bytes at `offset` as a view into a mapping of the file (see above).
    // errc::corruption for a range past the end, errc::io_error if mapping fails.
    [[nodiscard]] bytes_view view_at(std::uint64_t offset, std::size_t n) const {
        const std::uint64_t size = size_.load(std::memory_order_acquire);
        if (offset > size || n > size - offset)
            fail_at(errc::corruption, context(offset), "read of {} bytes past the end ({} bytes in file)", n, size);
        if (n == 0) return {};
        if (offset >= file_part_) return bytes_view(tail_).subspan(static_cast<std::size_t>(offset - file_part_), n);
        if (n > file_part_ - offset)
            fail_at(errc::io_error, context(offset), "a view cannot span the file and bytes held in memory");
        return maps_.view(fd_.get(), offset, n, std::min(size, file_part_), path_);
    }

    void read_at(std::uint64_t offset, mutable_bytes out) const {
        const std::uint64_t size = size_.load(std::memory_order_acquire);
        if (offset > size || out.size() > size - offset)
            fail_at(errc::corruption, context(offset), "read of {} bytes past the end ({} bytes in file)",
                    out.size(), size);
        if (offset + out.size() > file_part_) {  // some or all of it in memory (private_view)
            const auto in_file = static_cast<std::size_t>(offset < file_part_ ? file_part_ - offset : 0);
            const auto from = static_cast<std::size_t>(offset + in_file - file_part_);
            std::copy_n(tail_.begin() + static_cast<std::ptrdiff_t>(from), out.size() - in_file,
                        out.begin() + static_cast<std::ptrdiff_t>(in_file));
            out = out.first(in_file);
            if (out.empty()) return;
        }
        const detail::io_progress p = detail::pread_fully(fd_.get(), out, offset);
        if (p.error != 0) fail_at(errc::io_error, context(offset + p.done, p.error), "read failed");
        // End of file before the tracked size: the file was shortened behind our back.
        if (!p.complete(out.size()))
            fail_at(errc::corruption, context(offset + p.done), "file ends before the expected {} bytes",
                    size);
    }

    std::uint64_t append(bytes_view in) {
        require_healthy("append");
        require_writable("append");
        const std::uint64_t at = size_.load(std::memory_order_relaxed);
        if (private_) {
            tail_.insert(tail_.end(), in.begin(), in.end());
            size_.store(at + in.size(), std::memory_order_release);
            return at;
        }
        // pwrite at the tracked size, not O_APPEND: the offset is ours to decide, and
        // Linux ignores pwrite's offset on O_APPEND descriptors.
        const detail::io_progress p = detail::pwrite_fully(fd_.get(), in, at);
        if (!p.complete(in.size())) fail_append(at, in.size(), p);
        size_.store(at + in.size(), std::memory_order_release);
        capacity_ = std::max(capacity_, at + in.size());
        return at;
    }

    // Why a failed fdatasync poisons the backend: after a writeback error Linux may mark
    // the dirty pages clean (or drop them) and report the error only once, so a retry
    // can succeed without the data ever reaching the disk. The only honest answers are
    // "outcome unknown" now and a reopen, where recovery reads what is really on disk.
    // EINTR is not retried either: nobody can say what the interrupted call completed.
    void flush() {
        require_healthy("flush");
        if (read_only_ || private_) return;  // nothing of ours to make durable
        if (::fdatasync(fd_.get()) != 0) {
            const int err = errno;
            poisoned_.set(fmt::format("an earlier fdatasync failed ({})", std::generic_category().message(err)));
            fail_at(errc::outcome_unknown, context(size(), err),
                    "fdatasync failed; appended data may or may not be durable");
        }
    }

    [[nodiscard]] std::uint64_t size() const { return size_.load(std::memory_order_acquire); }

    void truncate(std::uint64_t new_size) {
        require_healthy("truncate");
        require_writable("truncate");
        const std::uint64_t size = size_.load(std::memory_order_relaxed);
        if (new_size > size)
            fail_at(errc::invalid_argument, context(new_size), "truncate to {} beyond size {}", new_size, size);
        if (private_) {  // the file keeps its bytes; this view of it ends at new_size
            file_part_ = std::min(file_part_, new_size);
            tail_.resize(static_cast<std::size_t>(new_size - file_part_));
            size_.store(new_size, std::memory_order_release);
            return;
        }
        if (const int err = detail::ftruncate_retry(fd_.get(), new_size); err != 0)
            fail_at(errc::io_error, context(new_size, err), "ftruncate failed");
        size_.store(new_size, std::memory_order_release);
        capacity_ = new_size;
    }

    // recyclable_backend (backend.hpp). A private_view holds no bytes past size().
    [[nodiscard]] std::uint64_t capacity() const noexcept { return private_ ? size() : capacity_; }

    // Allocates the file up to `n` bytes (zeros) without moving size(): later appends
    // into that space change no file size, so their fdatasync writes data only.
    void reserve(std::uint64_t n) {
        require_healthy("reserve");
        require_writable("reserve");
        if (private_ || n <= capacity_) return;
        int err = 0;
        do {
            err = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(n));
        } while (err == EINTR);
        if (err != 0)
            fail_at(err == ENOSPC ? errc::no_space : errc::io_error, context(capacity_, err),
                    "cannot reserve {} bytes", n);
        capacity_ = n;
    }

    void set_end(std::uint64_t n) {
        require_healthy("set_end");
        require_writable("set_end");
        if (n > capacity())
            fail_at(errc::invalid_argument, context(n), "end {} beyond the {} bytes held", n, capacity());
        if (private_) return truncate(n);
        size_.store(n, std::memory_order_release);
    }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
    [[nodiscard]] bool read_only() const noexcept { return read_only_; }
    // True once a flush (or an append's clean-up) failed; only a reopen clears it.
    [[nodiscard]] bool poisoned() const noexcept { return poisoned_.is_set(); }

private:
    file_backend(detail::unique_fd fd, std::filesystem::path path, std::uint64_t size, file_mode mode)
        : fd_(std::move(fd)),
          path_(std::move(path)),
          size_(size),
          capacity_(size),
          read_only_(mode == file_mode::read_only),
          private_(mode == file_mode::private_view),
          file_part_(private_ ? size : std::numeric_limits<std::uint64_t>::max()) {}

    [[nodiscard]] static int open_flags(file_mode mode) noexcept {
        switch (mode) {
            case file_mode::open_existing: return O_RDWR;
            case file_mode::create_or_open: return O_RDWR | O_CREAT;
            case file_mode::create_new: return O_RDWR | O_CREAT | O_EXCL;
            case file_mode::read_only:
            case file_mode::private_view: return O_RDONLY;
        }
        return O_RDONLY;
    }

    [[nodiscard]] error_context context(std::uint64_t offset, int err = 0) const {
        return {.path = path_.string(), .offset = offset, .sys_errno = err};
    }

    void require_healthy(std::string_view op) const {
        if (poisoned_.is_set())
            fail_at(errc::outcome_unknown, context(size()), "{} refused: {}; reopen the file", op,
                    poisoned_.reason());
    }

    void require_writable(std::string_view op) const {
        if (read_only_) fail_at(errc::read_only, context(size()), "{} on a file opened read-only", op);
    }

    // A failed append must leave no partial bytes behind, or a later reopen would see
    // a torn record that nobody wrote on purpose. If even that clean-up fails, the file
    // no longer matches what we track, and we refuse further writes.
    [[noreturn]] void fail_append(std::uint64_t at, std::size_t wanted, const detail::io_progress& p) {
        const int err = p.error != 0 ? p.error : EIO;  // zero-byte write: no progress possible
        if (p.done > 0) {
            capacity_ = at;  // the cut also drops any reserved bytes past `at`
            if (const int terr = detail::ftruncate_retry(fd_.get(), at); terr != 0) {
                const auto why = poisoned_.set(fmt::format("removing a partial append at offset {} failed ({})", at,
                                                           std::generic_category().message(terr)));
                fail_at(errc::io_error, context(at, err), "append failed after {} of {} bytes; {}", p.done, wanted,
                        why);
            }
        }
        const errc code = err == ENOSPC ? errc::no_space : errc::io_error;
        fail_at(code, context(at + p.done, err),
                "append of {} bytes at offset {} failed after {} bytes; nothing of it was kept", wanted, at, p.done);
    }

    detail::unique_fd fd_;
    std::filesystem::path path_;
    std::atomic<std::uint64_t> size_{0};
    std::uint64_t capacity_ = 0;     // bytes in the file (the writer's): size_ or more
    bool read_only_ = false;
    bool private_ = false;           // file_mode::private_view
    std::uint64_t file_part_ = 0;    // bytes [0, file_part_) are the file's, the rest tail_'s (all: no limit)
    byte_buffer tail_;               // private_view: appended bytes, held in memory
    detail::poison_note poisoned_;  // why writes are refused; unset while healthy
    detail::file_mappings maps_;
};

static_assert(durable_backend<file_backend> && recyclable_backend<file_backend>);

}  // namespace v1
}  // namespace entidb
