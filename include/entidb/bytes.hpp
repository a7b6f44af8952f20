// entidb/bytes.hpp — the byte vocabulary shared by every layer.
//
// Bytes are `std::uint8_t`: on-disk formats do arithmetic on them, and the C ABI
// passes them as `const uint8_t*`. Views never own; buffers own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace entidb {
inline namespace v1 {

using byte = std::uint8_t;
using bytes_view = std::span<const byte>;
using mutable_bytes = std::span<byte>;
using byte_buffer = std::vector<byte>;

[[nodiscard]] inline bytes_view as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const byte*>(s.data()), s.size()};
}

[[nodiscard]] inline std::string_view as_chars(bytes_view b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

namespace detail {
// Room for `extra` more bytes without giving up geometric growth: encoders append record
// after record to one buffer, and an exact reserve per record would copy the whole
// buffer each time.
inline void reserve_more(byte_buffer& out, std::size_t extra) {
    if (out.capacity() - out.size() < extra) out.reserve(std::max(out.size() + extra, 2 * out.capacity()));
}
}  // namespace detail

}  // namespace v1
}  // namespace entidb
