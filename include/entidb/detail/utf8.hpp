// entidb/detail/utf8.hpp — internal: the one UTF-8 validity check.
//
// Contract: `find_invalid_utf8` is what every layer that stores or parses text uses: CBOR
// text strings (cbor/), the JSON bridge, MANIFEST names and index path fields (format/),
// and collection names (txn/). One definition, so that what the CBOR reader accepts and what
// the MANIFEST accepts can never drift apart.
// Valid means RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. The result
// is the offset of the first byte that makes the input invalid (for a bad continuation, that
// byte, not its lead), or `utf8_valid`.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../bytes.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t utf8_valid = static_cast<std::size_t>(-1);

// The ranges per lead byte come from RFC 3629 §4; checking the second byte's range is what
// excludes overlongs and surrogates. Runs of ASCII, most of most text, are passed over eight
// bytes at a time.
[[nodiscard]] inline std::size_t find_invalid_utf8(bytes_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            std::uint64_t word;
            std::memcpy(&word, s.data() + i, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        const byte lead = s[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        byte lo = 0x80;
        byte hi = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            len = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            len = 3;
            if (lead == 0xE0) lo = 0xA0;       // overlong below U+0800
            if (lead == 0xED) hi = 0x9F;       // surrogates U+D800..U+DFFF
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            len = 4;
            if (lead == 0xF0) lo = 0x90;       // overlong below U+10000
            if (lead == 0xF4) hi = 0x8F;       // above U+10FFFF
        } else {
            return i;  // continuation byte as lead, C0/C1 (always overlong) or F5..FF
        }
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i + 1;
        for (std::size_t k = 2; k < len; ++k)
            if ((s[i + k] & 0xC0) != 0x80) return i + k;
        i += len;
    }
    return utf8_valid;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
