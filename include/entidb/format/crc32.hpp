// entidb/format/crc32.hpp — the CRC-32 every on-disk record ends with.
//
// Contract: `crc32(data, previous)` is the IEEE/zlib CRC-32 (reflected, polynomial
// 0xEDB88320, init 0xFFFFFFFF, final xor 0xFFFFFFFF; SPEC.md §3). `previous` is the
// result of an earlier call, so calls chain exactly like zlib's crc32(crc, buf, len):
//     crc32(b, crc32(a)) == crc32(a + b),   crc32({}) == 0,
//     crc32("123456789") == 0xCBF43926.
// It owns nothing and reads only `data`.
//
// Thread-safety: a pure function. The lookup tables are generated at compile time
// (constexpr), so there is no lazy initialisation to race on.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "../bytes.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {

inline constexpr std::uint32_t crc32_polynomial = 0xEDB88320u;

// Slicing-by-8 tables: table[0] is the classic byte-at-a-time table; table[k][b] is
// the CRC contribution of byte b followed by k zero bytes, which lets the main loop
// fold eight input bytes with eight independent lookups instead of a serial chain.
using crc32_tables_t = std::array<std::array<std::uint32_t, 256>, 8>;

[[nodiscard]] constexpr crc32_tables_t make_crc32_tables() noexcept {
    crc32_tables_t t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ crc32_polynomial : c >> 1;
        t[0][b] = c;
    }
    for (std::size_t k = 1; k < t.size(); ++k)
        for (std::size_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
    return t;
}

inline constexpr crc32_tables_t crc32_tables = make_crc32_tables();

// Assembled byte by byte so the result does not depend on host endianness or
// alignment; compilers turn this into a single load on little-endian targets.
[[nodiscard]] constexpr std::uint32_t crc32_load_le32(const byte* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
           std::uint32_t{p[3]} << 24;
}

}  // namespace detail

[[nodiscard]] inline std::uint32_t crc32(bytes_view data, std::uint32_t previous = 0) noexcept {
    const auto& t = detail::crc32_tables;
    // Undo the final xor of the previous call; with previous == 0 this is the 0xFFFFFFFF init.
    std::uint32_t crc = ~previous;
    const byte* p = data.data();
    std::size_t n = data.size();

    while (n >= 8) {
        const std::uint32_t lo = crc ^ detail::crc32_load_le32(p);
        crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    for (; n > 0; --n, ++p) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFFu];
    return ~crc;
}

}  // namespace v1
}  // namespace entidb
