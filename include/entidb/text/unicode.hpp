// entidb/text/unicode.hpp — NFKC_Casefold normalisation and the character classes of the
// tokenizer, over the generated tables of text/unicode_tables.hpp (Unicode 15.0).
//
// Contract: `nfkc_casefold(text, remove_diacritics)` returns toNFKC_Casefold(text) (UAX #44,
// DerivedNormalizationProps.txt's NFKC_CF: case folded, compatibility-decomposed, default
// ignorables removed, then NFC). With remove_diacritics, the diacritics are dropped after the
// decomposition, before canonical composition: every code point of general category Mn whose
// Script is Inherited (the combining diacritical marks U+0300..U+036F and their extensions,
// U+20D0..U+20FF, U+FE20..U+FE2F, the Arabic harakat, ...), except the kana voicing marks
// U+3099 and U+309A, which spell different syllables. Script-specific marks (Hebrew points,
// Indic vowel signs, Thai vowels, ...) and spacing or enclosing marks (Mc, Me) are kept.
// The input must be valid UTF-8 (errc::invalid_argument with the offset otherwise).
//
// The internals in namespace detail are what the tokenizer runs on: per-code-point lookups,
// the arithmetic Hangul decomposition, canonical ordering and composition of a buffer.
//
// Thread-safety: pure functions over constant tables.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../bytes.hpp"
#include "../detail/utf8.hpp"
#include "../error.hpp"
#include "unicode_tables.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// The classes of unicode_tables.hpp (bits 8-10 of a code point's properties).
enum class char_class : std::uint8_t { separator = 0, word = 1, cjk = 2, mark = 3, diacritic = 4, ignorable = 5 };

inline constexpr std::uint16_t second_of_composition = 1u << 11;

[[nodiscard]] inline std::uint16_t unicode_props(char32_t c) noexcept {
    namespace u = unicode_data;
    if (c >= u::table_limit)
        return c >= u::ignorable_first && c <= u::ignorable_last
                   ? static_cast<std::uint16_t>(static_cast<unsigned>(char_class::ignorable) << 8)
                   : std::uint16_t{0};
    const unsigned block = u::prop_stage1[c >> u::prop_shift];
    return u::prop_stage2[(block << u::prop_shift) | (c & ((1u << u::prop_shift) - 1))];
}

[[nodiscard]] inline char_class class_of(std::uint16_t props) noexcept {
    return static_cast<char_class>((props >> 8) & 7);
}
[[nodiscard]] inline unsigned ccc_of(std::uint16_t props) noexcept { return props & 0xFF; }

// NFD(NFKC_Casefold(c)) where it differs from c (Hangul syllables excepted: see below).
struct code_point_mapping {
    const char32_t* data = nullptr;
    std::size_t size = 0;
    bool mapped = false;
};

[[nodiscard]] inline code_point_mapping unicode_mapping(char32_t c) noexcept {
    namespace u = unicode_data;
    if (c >= u::table_limit) {
        if (c >= u::ignorable_first && c <= u::ignorable_last) return {u::map_pool, 0, true};
        return {};
    }
    const unsigned block = u::map_stage1[c >> u::map_shift];
    const unsigned id = u::map_stage2[(block << u::map_shift) | (c & ((1u << u::map_shift) - 1))];
    if (id == 0) return {};
    const std::uint32_t entry = u::map_index[id - 1];
    return {u::map_pool + (entry >> 5), entry & 31u, true};
}

// Hangul syllables decompose and compose arithmetically (Unicode §3.12).
inline constexpr char32_t hangul_s_base = 0xAC00, hangul_l_base = 0x1100, hangul_v_base = 0x1161,
                          hangul_t_base = 0x11A7;
inline constexpr unsigned hangul_l_count = 19, hangul_v_count = 21, hangul_t_count = 28,
                          hangul_n_count = hangul_v_count * hangul_t_count,
                          hangul_s_count = hangul_l_count * hangul_n_count;

[[nodiscard]] inline bool is_hangul_syllable(char32_t c) noexcept {
    return c >= hangul_s_base && c < hangul_s_base + hangul_s_count;
}

// Writes the two or three jamo of a syllable to out; returns how many.
inline std::size_t decompose_hangul(char32_t c, char32_t* out) noexcept {
    const unsigned s = c - hangul_s_base;
    out[0] = hangul_l_base + s / hangul_n_count;
    out[1] = hangul_v_base + (s % hangul_n_count) / hangul_t_count;
    if (s % hangul_t_count == 0) return 2;
    out[2] = hangul_t_base + s % hangul_t_count;
    return 3;
}

// The primary composite of a and b, or 0.
[[nodiscard]] inline char32_t compose_pair(char32_t a, char32_t b) noexcept {
    if (a >= hangul_l_base && a < hangul_l_base + hangul_l_count && b >= hangul_v_base &&
        b < hangul_v_base + hangul_v_count)
        return hangul_s_base + ((a - hangul_l_base) * hangul_v_count + (b - hangul_v_base)) * hangul_t_count;
    if (is_hangul_syllable(a) && (a - hangul_s_base) % hangul_t_count == 0 && b > hangul_t_base &&
        b < hangul_t_base + hangul_t_count)
        return a + (b - hangul_t_base);
    namespace u = unicode_data;
    const std::uint64_t key = static_cast<std::uint64_t>(a) << 21 | b;
    const auto* end = u::composition_keys + std::size(u::composition_keys);
    const auto* it = std::lower_bound(u::composition_keys, end, key);
    if (it == end || *it != key) return 0;
    return u::composition_values[it - u::composition_keys];
}

// Canonical ordering (a stable sort of each run of non-starters by combining class) and
// canonical composition of buf[0, n), in place; returns the new length.
inline std::size_t canonical_compose(char32_t* buf, std::size_t n) noexcept {
    // ordering: insertion sort inside each run of non-starters (runs are short)
    for (std::size_t i = 1; i < n; ++i) {
        const char32_t c = buf[i];
        const unsigned cc = ccc_of(unicode_props(c));
        if (cc == 0) continue;
        std::size_t j = i;
        while (j > 0) {
            const unsigned prev = ccc_of(unicode_props(buf[j - 1]));
            if (prev == 0 || prev <= cc) break;
            buf[j] = buf[j - 1];
            --j;
        }
        buf[j] = c;
    }
    if (n < 2) return n;
    // composition (UAX #15's algorithm): a code point joins the last starter unless blocked
    std::size_t starter = 0;
    unsigned last_class = ccc_of(unicode_props(buf[0]));
    bool have_starter = last_class == 0;
    if (!have_starter) last_class = 256;
    std::size_t out = 1;
    for (std::size_t i = 1; i < n; ++i) {
        const char32_t c = buf[i];
        const std::uint16_t props = unicode_props(c);
        const unsigned cc = ccc_of(props);
        if (have_starter && (props & second_of_composition) && (last_class < cc || last_class == 0)) {
            if (const char32_t composite = compose_pair(buf[starter], c)) {
                buf[starter] = composite;
                continue;
            }
        }
        if (cc == 0) {
            starter = out;
            have_starter = true;
        }
        last_class = cc;
        buf[out++] = c;
    }
    return out;
}

// Appends the UTF-8 encoding of c.
inline char* put_utf8(char32_t c, char* out) noexcept {
    if (c < 0x80) {
        *out++ = static_cast<char>(c);
    } else if (c < 0x800) {
        *out++ = static_cast<char>(0xC0 | (c >> 6));
        *out++ = static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *out++ = static_cast<char>(0xE0 | (c >> 12));
        *out++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        *out++ = static_cast<char>(0x80 | (c & 0x3F));
    } else {
        *out++ = static_cast<char>(0xF0 | (c >> 18));
        *out++ = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        *out++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        *out++ = static_cast<char>(0x80 | (c & 0x3F));
    }
    return out;
}

// Decodes the code point at s[i] of valid UTF-8 and advances i.
[[nodiscard]] inline char32_t next_utf8(std::string_view s, std::size_t& i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
    const char32_t lead = b(0);
    char32_t c;
    if (lead < 0x80) {
        c = lead;
        i += 1;
    } else if (lead < 0xE0) {
        c = (lead & 0x1F) << 6 | (b(1) & 0x3F);
        i += 2;
    } else if (lead < 0xF0) {
        c = (lead & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
        i += 3;
    } else {
        c = (lead & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
        i += 4;
    }
    return c;
}

inline void check_utf8(std::string_view text) {
    const auto invalid = find_invalid_utf8(as_bytes(text));
    if (invalid != utf8_valid)
        throw error(errc::invalid_argument, "text is not valid UTF-8", error_context{{}, invalid, 0});
}

}  // namespace detail

namespace text {

// toNFKC_Casefold(text), and with remove_diacritics the diacritics (above) removed.
// Throws entidb::error(errc::invalid_argument) with the offset of invalid UTF-8.
[[nodiscard]] inline std::string nfkc_casefold(std::string_view text, bool remove_diacritics = false) {
    detail::check_utf8(text);
    std::u32string cps;
    cps.reserve(text.size());
    char32_t jamo[3];
    for (std::size_t i = 0; i < text.size();) {
        const char32_t c = detail::next_utf8(text, i);
        if (detail::is_hangul_syllable(c)) {
            cps.append(jamo, detail::decompose_hangul(c, jamo));
            continue;
        }
        const auto m = detail::unicode_mapping(c);
        const char32_t* first = m.mapped ? m.data : &c;
        const std::size_t count = m.mapped ? m.size : 1;
        for (std::size_t k = 0; k < count; ++k) {
            if (remove_diacritics && detail::class_of(detail::unicode_props(first[k])) == detail::char_class::diacritic)
                continue;
            cps.push_back(first[k]);
        }
    }
    cps.resize(detail::canonical_compose(cps.data(), cps.size()));
    std::string out(cps.size() * 4, '\0');
    char* end = out.data();
    for (char32_t c : cps) end = detail::put_utf8(c, end);
    out.resize(static_cast<std::size_t>(end - out.data()));
    return out;
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
