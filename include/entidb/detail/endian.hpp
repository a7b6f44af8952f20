// entidb/detail/endian.hpp — internal: little-endian integers in byte buffers.
//
// Contract: the one mechanism every on-disk format uses for its integers (SPEC.md §3:
// all integers are little-endian, whatever the host). `put_*` append to a
// `byte_buffer`; `get_*` read from a pointer the caller has already bounds-checked;
// `byte_reader` is a cursor over a `bytes_view` that never reads past its end.
// Conversions go through memcpy (no alignment or aliasing assumptions) and swap bytes
// only on a big-endian host.
//
// Thread-safety: pure functions; a `byte_reader` is a plain value owned by its user.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../bytes.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "EntiDB's on-disk formats need a little- or big-endian host (mixed-endian is not supported)");

// Host order <-> little-endian: the identity on little-endian hosts, a byte swap on
// big-endian ones (the same operation both ways).
template <std::unsigned_integral T>
[[nodiscard]] constexpr T host_le(T v) noexcept {
    if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
        return v;
    } else {
        T r = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            r = static_cast<T>((r << 8) | (v & 0xFFu));
            v = static_cast<T>(v >> 8);
        }
        return r;
    }
}

template <std::unsigned_integral T>
inline void put_le(byte_buffer& out, T v) {
    const T le = host_le(v);
    byte raw[sizeof(T)];
    std::memcpy(raw, &le, sizeof(T));
    out.insert(out.end(), raw, raw + sizeof(T));
}

template <std::unsigned_integral T>
[[nodiscard]] inline T get_le(const byte* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return host_le(v);
}

inline void put_u8(byte_buffer& out, std::uint8_t v) { out.push_back(v); }
inline void put_u16(byte_buffer& out, std::uint16_t v) { put_le(out, v); }
inline void put_u32(byte_buffer& out, std::uint32_t v) { put_le(out, v); }
inline void put_u64(byte_buffer& out, std::uint64_t v) { put_le(out, v); }
inline void put_bytes(byte_buffer& out, bytes_view b) { out.insert(out.end(), b.begin(), b.end()); }

// `p` must point at (at least) 2, 4 or 8 readable bytes.
[[nodiscard]] inline std::uint16_t get_u16(const byte* p) noexcept { return get_le<std::uint16_t>(p); }
[[nodiscard]] inline std::uint32_t get_u32(const byte* p) noexcept { return get_le<std::uint32_t>(p); }
[[nodiscard]] inline std::uint64_t get_u64(const byte* p) noexcept { return get_le<std::uint64_t>(p); }

// A forward cursor over bytes. Callers check `remaining()` before reading; a read
// that would run past the end reads nothing, returns 0 (or an empty view) and sets
// `overrun()`, so a missed check can produce a wrong value but never an
// out-of-bounds access.
class byte_reader {
public:
    constexpr explicit byte_reader(bytes_view in) noexcept : in_(in) {}

    [[nodiscard]] constexpr std::size_t offset() const noexcept { return pos_; }
    [[nodiscard]] constexpr std::size_t remaining() const noexcept { return in_.size() - pos_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return pos_ == in_.size(); }
    [[nodiscard]] constexpr bool overrun() const noexcept { return overrun_; }

    [[nodiscard]] std::uint8_t u8() noexcept { return take_int<std::uint8_t>(); }
    [[nodiscard]] std::uint16_t u16() noexcept { return take_int<std::uint16_t>(); }
    [[nodiscard]] std::uint32_t u32() noexcept { return take_int<std::uint32_t>(); }
    [[nodiscard]] std::uint64_t u64() noexcept { return take_int<std::uint64_t>(); }

    // The next `n` bytes as a view into the underlying buffer.
    [[nodiscard]] bytes_view bytes(std::size_t n) noexcept {
        if (n > remaining()) {
            overrun_ = true;
            pos_ = in_.size();
            return {};
        }
        const bytes_view r = in_.subspan(pos_, n);
        pos_ += n;
        return r;
    }

private:
    template <std::unsigned_integral T>
    [[nodiscard]] T take_int() noexcept {
        const bytes_view b = bytes(sizeof(T));
        return b.empty() ? T{0} : get_le<T>(b.data());
    }

    bytes_view in_;
    std::size_t pos_ = 0;
    bool overrun_ = false;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
