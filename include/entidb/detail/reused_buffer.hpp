// entidb/detail/reused_buffer.hpp — buffers reused from one commit to the next.
#pragma once

#include <cstddef>

#include "../bytes.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// A reused buffer keeps the capacity of ordinary commits, not of the largest ever: past
// a few MiB it is given back once the large commit is done.
inline void release_if_large(byte_buffer& b) noexcept {
    constexpr std::size_t keep = std::size_t{4} << 20;
    if (b.capacity() > keep) byte_buffer().swap(b);
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
