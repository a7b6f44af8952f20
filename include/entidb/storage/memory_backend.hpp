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
        if (offset > data_.size() || out.size() > data_.size() - offset)
            fail_at(errc::corruption, {.path = "<memory>", .offset = offset},
                    "read of {} bytes past the end ({} bytes stored)", out.size(), data_.size());
        std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    }

    std::uint64_t append(bytes_view in) {
        std::unique_lock lock(mutex_);
        const std::uint64_t at = data_.size();
        data_.insert(data_.end(), in.begin(), in.end());
        return at;
    }

    void flush() {}

    [[nodiscard]] std::uint64_t size() const {
        std::shared_lock lock(mutex_);
        return data_.size();
    }

    void truncate(std::uint64_t new_size) {
        std::unique_lock lock(mutex_);
        if (new_size > data_.size())
            fail(errc::invalid_argument, "truncate to {} beyond size {}", new_size, data_.size());
        data_.resize(new_size);
    }

private:
    mutable std::shared_mutex mutex_;
    byte_buffer data_;
};

static_assert(storage_backend<memory_backend>);

}  // namespace v1
}  // namespace entidb
