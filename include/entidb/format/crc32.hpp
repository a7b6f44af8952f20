// entidb/format/crc32.hpp — the CRC-32 every on-disk record ends with.
//
// Contract: `crc32(data, previous)` is the IEEE/zlib CRC-32 (reflected, polynomial
// 0xEDB88320, init 0xFFFFFFFF, final xor 0xFFFFFFFF; SPEC.md §3). `previous` is the
// result of an earlier call, so calls chain exactly like zlib's crc32(crc, buf, len):
//     crc32(b, crc32(a)) == crc32(a + b),   crc32({}) == 0,
//     crc32("123456789") == 0xCBF43926.
// It owns nothing and reads only `data`.
//
// Speed: on x86-64 CPUs with carry-less multiplication (PCLMULQDQ, checked once at run
// time) inputs of 64 bytes and more are folded 64 bytes per step, an order of magnitude
// faster than tables, their last 1-15 bytes folded the same way; every record read is
// checked, so this is on the read path. Other CPUs, and inputs under 64 bytes, use
// slicing-by-8 tables. Both give the same value (tested).
//
// Thread-safety: a pure function. The lookup tables are generated at compile time
// (constexpr); the CPU check is a function-local static (initialised once, thread-safe).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ENTIDB_CRC32_CLMUL 1
#endif

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

// The running (pre-final-xor) CRC over [p, p + n) by tables.
[[nodiscard]] inline std::uint32_t crc32_tables_update(std::uint32_t crc, const byte* p, std::size_t n) noexcept {
    const auto& t = crc32_tables;
    while (n >= 8) {
        const std::uint32_t lo = crc ^ detail::crc32_load_le32(p);
        crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    for (; n > 0; --n, ++p) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFFu];
    return crc;
}

#ifdef ENTIDB_CRC32_CLMUL
// Folding with carry-less multiplication, in the bit-reflected domain of this CRC: four
// 128-bit lanes absorb 64 bytes per step (multiplying by x^(512±64) mod P moves a lane
// forward past the next 64 bytes), the lanes then fold into one, the rest of the input
// 16 bytes at a time, and a Barrett reduction takes the 128-bit remainder to 32 bits.
// Constants are x^k mod P (bit-reflected, shifted) for the polynomial 0x04C11DB7; the
// last one pair is P itself and floor(x^64 / P). n is at least 64; the last n % 16 bytes
// are folded by crc32_clmul_fold_tail.
__attribute__((target("pclmul,sse4.1"))) inline __m128i crc32_clmul_fold(__m128i lane, __m128i k,
                                                                          __m128i next) noexcept {
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(lane, k, 0x00), _mm_clmulepi64_si128(lane, k, 0x11)),
                         next);
}

// Folds the last r (1..15) bytes, which end at `end`, into `lane` (which holds everything
// before them), instead of finishing with tables: on a ~290-byte record the table tail
// cost as much as a seventh of a scan. The lane can be taken as 16 message bytes (its
// value mod P is the message's so far), so the message ends with lane[0..16) t[0..r):
// split as lane[0..r) behind 16 - r zero bytes (leading zeros add nothing) followed by
// lane[r..16) t[0..r), it is one ordinary 16-byte fold. The 16 bytes ending at `end` give
// t at the top of a register: the caller guarantees 16 bytes before `end` are readable.
// In this reflected CRC the earlier message byte is the lower register byte.
__attribute__((target("pclmul,sse4.1"))) inline __m128i crc32_clmul_fold_tail(__m128i lane, __m128i k3k4,
                                                                               const byte* end,
                                                                               std::size_t r) noexcept {
    // pshufb masks: from `shifts + r`, byte j takes lane[j - (16 - r)] (zero below 16 - r);
    // from `shifts + 16 + r`, byte j takes lane[j + r] (zero from 16 - r on). 0x80: zero.
    alignas(16) static constexpr std::uint8_t shifts[48] = {
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    const __m128i up = _mm_loadu_si128(reinterpret_cast<const __m128i*>(shifts + r));
    const __m128i down = _mm_loadu_si128(reinterpret_cast<const __m128i*>(shifts + 16 + r));
    const __m128i head = _mm_shuffle_epi8(lane, up);  // lane[0..r) at the top
    const __m128i last16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
    // Below 16 - r (where `up` has its high bit set): lane[r..16); above: t[0..r).
    const __m128i rest = _mm_blendv_epi8(last16, _mm_shuffle_epi8(lane, down), up);
    return crc32_clmul_fold(head, k3k4, rest);
}

__attribute__((target("pclmul,sse4.1"))) inline std::uint32_t crc32_clmul_update(std::uint32_t crc, const byte* p,
                                                                                 std::size_t n) noexcept {
    const auto load = [](const byte* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); };
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);  // fold across 64 bytes
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // fold across 16 bytes
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);               // 64 → 32 bits
    const __m128i poly_mu = _mm_set_epi64x(0x1f7011641, 0x1db710641);
    const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);

    __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(crc)));
    __m128i x2 = load(p + 16), x3 = load(p + 32), x4 = load(p + 48);
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64) {
        x1 = crc32_clmul_fold(x1, k1k2, load(p));
        x2 = crc32_clmul_fold(x2, k1k2, load(p + 16));
        x3 = crc32_clmul_fold(x3, k1k2, load(p + 32));
        x4 = crc32_clmul_fold(x4, k1k2, load(p + 48));
    }
    x1 = crc32_clmul_fold(x1, k3k4, x2);
    x1 = crc32_clmul_fold(x1, k3k4, x3);
    x1 = crc32_clmul_fold(x1, k3k4, x4);
    for (; n >= 16; p += 16, n -= 16) x1 = crc32_clmul_fold(x1, k3k4, load(p));
    if (n != 0) x1 = crc32_clmul_fold_tail(x1, k3k4, p + n, n);  // at least 64 bytes precede p

    // 128 → 64 bits (appending 32 zero bits), 64 → 32 bits, then Barrett.
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(k3k4, x1, 0x01), _mm_srli_si128(x1, 8));
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), _mm_srli_si128(x1, 4));
    const __m128i r = x1;
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly_mu, 0x10);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly_mu, 0x00);
    return static_cast<std::uint32_t>(_mm_extract_epi32(_mm_xor_si128(x1, r), 1));
}

[[nodiscard]] inline bool crc32_clmul_available() noexcept {
    static const bool available = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    return available;
}
#endif

}  // namespace detail

[[nodiscard]] inline std::uint32_t crc32(bytes_view data, std::uint32_t previous = 0) noexcept {
    // Undo the final xor of the previous call; with previous == 0 this is the 0xFFFFFFFF init.
    std::uint32_t crc = ~previous;
    const byte* p = data.data();
    std::size_t n = data.size();
#ifdef ENTIDB_CRC32_CLMUL
    if (n >= 64 && detail::crc32_clmul_available()) return ~detail::crc32_clmul_update(crc, p, n);
#endif
    return ~detail::crc32_tables_update(crc, p, n);
}

}  // namespace v1
}  // namespace entidb
