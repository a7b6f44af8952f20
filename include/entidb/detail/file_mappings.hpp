// entidb/detail/file_mappings.hpp — read-only shared mappings of one file, for views.
//
// A view handed out must stay valid while the file grows, so a mapping is never moved or
// unmapped while the owner lives: when a read reaches past the newest mapping, a larger
// one (at least double, rounded to whole pages) is added. The address space this costs
// is at most about twice the largest size the file reached; no memory is committed
// beyond the pages read.
//
// Thread-safety: view() may run on many threads; the newest mapping is published through
// an atomic pointer, additions are serialised by a mutex.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "../bytes.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class file_mappings {
public:
    file_mappings() = default;
    file_mappings(file_mappings&& other) noexcept { *this = std::move(other); }
    file_mappings& operator=(file_mappings&& other) noexcept {
        if (this == &other) return *this;
        unmap_all();
        maps_ = std::move(other.maps_);
        newest_.store(other.newest_.exchange(nullptr));
        return *this;
    }
    file_mappings(const file_mappings&) = delete;
    file_mappings& operator=(const file_mappings&) = delete;
    ~file_mappings() { unmap_all(); }

    // `n` bytes at `offset` of the file `fd`, whose tracked size is `size` (the caller
    // checked offset + n <= size).
    [[nodiscard]] bytes_view view(int fd, std::uint64_t offset, std::size_t n, std::uint64_t size,
                                  const std::filesystem::path& path) const {
        const mapping* m = newest_.load(std::memory_order_acquire);
        if (m == nullptr || offset + n > m->length) m = grow(fd, offset + n, size, path);
        return {m->base + offset, n};
    }

private:
    struct mapping {
        const byte* base;
        std::uint64_t length;
    };

    const mapping* grow(int fd, std::uint64_t need, std::uint64_t size, const std::filesystem::path& path) const {
        std::lock_guard lock(mutex_);
        const mapping* m = newest_.load(std::memory_order_acquire);
        if (m != nullptr && need <= m->length) return m;
        const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
        std::uint64_t length = std::max({need, size, m ? 2 * m->length : std::uint64_t{1} << 20});
        length = (length + page - 1) / page * page;
        void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "mmap of {} bytes failed", length);
        maps_.push_back(std::make_unique<mapping>(mapping{static_cast<const byte*>(p), length}));
        newest_.store(maps_.back().get(), std::memory_order_release);
        return maps_.back().get();
    }

    void unmap_all() noexcept {
        for (const auto& m : maps_) ::munmap(const_cast<byte*>(m->base), m->length);
        maps_.clear();
        newest_.store(nullptr);
    }

    mutable std::mutex mutex_;
    mutable std::vector<std::unique_ptr<mapping>> maps_;
    mutable std::atomic<const mapping*> newest_{nullptr};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
