// entidb/cbor/rules.hpp — the byte-level rules of canonical CBOR that the value model, the
// encoder and the reader share, so that each rule has exactly one definition: major types, the
// initial bytes we use, UTF-8 validity (defined for every layer in detail/utf8.hpp), bytewise
// order, shortest float forms.
//
// Contract: pure functions on values and views; nothing allocates or throws.
// Thread-safety: stateless.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>

#include "../bytes.hpp"
#include "../detail/utf8.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

namespace detail {

// The top three bits of every item's initial byte.
enum class major_type : std::uint8_t {
    unsigned_integer = 0,
    negative_integer = 1,
    byte_string = 2,
    text_string = 3,
    array = 4,
    map = 5,
    tag = 6,
    simple = 7,  // false/true/null, floats and the values we reject
};

// Initial bytes of major type 7 that we use.
inline constexpr byte initial_false = 0xF4;
inline constexpr byte initial_true = 0xF5;
inline constexpr byte initial_null = 0xF6;
inline constexpr byte initial_half = 0xF9;
inline constexpr byte initial_single = 0xFA;
inline constexpr byte initial_double = 0xFB;

// UTF-8 validity has one definition for every layer (detail/utf8.hpp); the encoder, the
// reader, the value model and the JSON bridge name it as cbor::detail::*.
using entidb::detail::find_invalid_utf8;
using entidb::detail::utf8_valid;

// -1, 0 or 1 as `a` sorts before, equal to or after `b` bytewise (a proper prefix sorts first).
[[nodiscard]] inline int compare_bytes(bytes_view a, bytes_view b) noexcept {
    const std::size_t common = std::min(a.size(), b.size());
    if (common != 0) {
        const int c = std::memcmp(a.data(), b.data(), common);
        if (c != 0) return c < 0 ? -1 : 1;
    }
    return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

[[nodiscard]] inline double half_to_double(std::uint16_t h) noexcept {
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    double v = 0;
    if (exponent == 0) v = std::ldexp(mantissa, -24);  // zero or subnormal
    else if (exponent != 31) v = std::ldexp(mantissa + 1024, exponent - 25);
    else v = mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    return (h & 0x8000) != 0 ? -v : v;
}

// The IEEE 754 half-precision bits of `d` if that is exact, else nothing. `d` is not NaN.
[[nodiscard]] inline std::optional<std::uint16_t> exact_half(double d) noexcept {
    const auto sign = static_cast<std::uint16_t>(std::signbit(d) ? 0x8000 : 0);
    const double a = std::fabs(d);
    if (a == 0) return sign;
    if (std::isinf(a)) return static_cast<std::uint16_t>(sign | 0x7C00);
    if (!(a <= 65504.0)) return std::nullopt;  // the largest finite half
    if (a < 0x1p-14) {  // subnormal half: a = m * 2^-24 with integral m < 1024
        const double m = std::ldexp(a, 24);
        if (m != std::floor(m)) return std::nullopt;
        return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(m));
    }
    const int e = std::ilogb(a);                 // 2^e <= a < 2^(e+1), e in [-14, 15]
    const double m = std::ldexp(a, 10 - e);      // 11 significant bits: [1024, 2048)
    if (m != std::floor(m)) return std::nullopt;
    return static_cast<std::uint16_t>(sign | ((e + 15) << 10) | (static_cast<int>(m) - 1024));
}

// The single-precision bits of `d` if that is exact, else nothing. `d` is not NaN.
[[nodiscard]] inline std::optional<std::uint32_t> exact_single(double d) noexcept {
    // Converting a finite double beyond the float range is undefined behaviour: test first.
    if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
        return std::nullopt;
    const auto f = static_cast<float>(d);
    if (static_cast<double>(f) != d) return std::nullopt;
    return std::bit_cast<std::uint32_t>(f);  // also keeps the sign of zero
}

// A float in the shortest IEEE 754 width (2, 4 or 8 bytes) that holds it exactly
// (RFC 8949 §4.2.2): this is the only encoding of a float we write or accept.
struct float_form {
    std::uint8_t width = 8;
    std::uint64_t bits = 0;
};

[[nodiscard]] inline float_form shortest_float(double d) noexcept {
    if (const auto h = exact_half(d)) return {2, *h};
    if (const auto s = exact_single(d)) return {4, *s};
    return {8, std::bit_cast<std::uint64_t>(d)};
}

[[nodiscard]] inline double float_from_bits(std::uint8_t width, std::uint64_t bits) noexcept {
    if (width == 2) return half_to_double(static_cast<std::uint16_t>(bits));
    if (width == 4) return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    return std::bit_cast<double>(bits);
}

}  // namespace detail

}  // namespace cbor
}  // namespace v1
}  // namespace entidb
