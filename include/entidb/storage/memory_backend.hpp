// entidb/storage/memory_backend.hpp — a byte store in process memory.
//
// Not durable (`durable == false`): flush() does nothing and everything is gone with
// the object. For tests, caches and the in-memory database alias; the durability
// static_asserts in database.hpp keep it out of persistent compositions.
//
// Thread-safety: reads may run concurrently with one appender (a shared mutex guards
// the buffer, which may move when it grows).
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "../bytes.hpp"
#include "../error.hpp"
#include "backend.hpp"

namespace entidb {
inline namespace v1 {

class memory_backend {
public:
    static constexpr bool durable = false;

    memory_backend() = default;
    memory_backend(const memory_backend&) = delete;
    memory_backend& operator=(const memory_backend&) = delete;

    void read_at(std::uint64_t offset, mutable_bytes out) const {
        std::shared_lock lock(mutex_);
        if (offset > size_ || out.size() > size_ - offset)
            fail_at(errc::corruption, {.path = "<memory>", .offset = offset},
                    "read of {} bytes past the end ({} bytes stored)", out.size(), size_);
        std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    }

    std::uint64_t append(bytes_view in) {
        std::unique_lock lock(mutex_);
        const std::uint64_t at = size_;
        if (at + in.size() > data_.size()) data_.resize(static_cast<std::size_t>(at + in.size()));
        std::copy(in.begin(), in.end(), data_.begin() + static_cast<std::ptrdiff_t>(at));
        size_ = at + in.size();
        return at;
    }

    void flush() {}

    [[nodiscard]] std::uint64_t size() const {
        std::shared_lock lock(mutex_);
        return size_;
    }

    void truncate(std::uint64_t new_size) {
        std::unique_lock lock(mutex_);
        if (new_size > size_) fail(errc::invalid_argument, "truncate to {} beyond size {}", new_size, size_);
        data_.resize(new_size);
        size_ = new_size;
    }

    // recyclable_backend (backend.hpp): the bytes past size() are kept in data_.
    [[nodiscard]] std::uint64_t capacity() const {
        std::shared_lock lock(mutex_);
        return data_.size();
    }
    void reserve(std::uint64_t n) {
        std::unique_lock lock(mutex_);
        if (n > data_.size()) data_.resize(static_cast<std::size_t>(n));
    }
    void set_end(std::uint64_t n) {
        std::unique_lock lock(mutex_);
        if (n > data_.size()) fail(errc::invalid_argument, "end {} beyond capacity {}", n, data_.size());
        size_ = n;
    }

private:
    mutable std::shared_mutex mutex_;
    byte_buffer data_;       // capacity() bytes
    std::uint64_t size_ = 0;  // the bytes appended and not truncated or set past
};

static_assert(recyclable_backend<memory_backend>);

}  // namespace v1
}  // namespace entidb
