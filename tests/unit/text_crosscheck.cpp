// The tokenizer's Unicode normalisation and English stemmer, checked against independent
// implementations: utf8proc (NFKC_Casefold) and Snowball's libstemmer ("english"). Built only
// where both libraries are found (tests/meson.build).
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <libstemmer.h>
#include <utf8proc.h>

#include <entidb/text/tokenizer.hpp>

namespace {

std::string utf8(char32_t c) {
    char buf[4];
    return {buf, entidb::detail::put_utf8(c, buf)};
}

// utf8proc's NFKC_Casefold (what utf8proc_NFKC_Casefold does, without its NUL termination).
std::string theirs(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                                        UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                static_cast<utf8proc_ssize_t>(s.size()), &out, options);
    REQUIRE(n >= 0);
    std::string r(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return r;
}

bool assigned(char32_t c) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat != UTF8PROC_CATEGORY_CN && cat != UTF8PROC_CATEGORY_CS;
}

std::string hex(std::string_view s) {
    std::string r;
    for (unsigned char b : s) r += fmt::format("{:02X}", b);
    return r;
}

// Where utf8proc and Unicode's NFKC_CF (DerivedNormalizationProps.txt, what our tables follow)
// disagree. utf8proc 2.8 (Unicode 15) agrees on every assigned code point, so the list is
// empty; a difference that appears with a later utf8proc must be listed here with its reason.
// (The list is checked both ways: an entry that stops differing fails too.)
const std::vector<char32_t> known_differences = {};

bool letter_or_mark(char32_t c) {
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
            return true;
        default:
            return false;
    }
}

}  // namespace

TEST_CASE("nfkc_casefold of every assigned code point agrees with utf8proc", "[text][crosscheck]") {
    std::vector<char32_t> differ;
    std::size_t checked = 0;
    for (char32_t c = 0; c <= 0x10FFFF; ++c) {
        if (!assigned(c)) continue;
        ++checked;
        const std::string s = utf8(c);
        const std::string ours = entidb::text::nfkc_casefold(s);
        if (ours != theirs(s)) {
            differ.push_back(c);
            if (differ.size() <= 40)
                UNSCOPED_INFO(fmt::format("U+{:04X}: ours {} utf8proc {}", static_cast<std::uint32_t>(c), hex(ours),
                                          hex(theirs(s))));
        }
    }
    CHECK(checked > 140000);
    CHECK(differ == known_differences);
}

TEST_CASE("nfkc_casefold of random mixed-script strings agrees with utf8proc", "[text][crosscheck]") {
    // Ranges that exercise composition across code points: Latin with combining marks, Greek,
    // Cyrillic, Hebrew, Arabic, Devanagari, Hangul syllables and conjoining jamo, kana with
    // voicing marks (full and half width), CJK and compatibility ideographs, fullwidth forms,
    // ligatures, default ignorables.
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x41, 0x7A},     {0xC0, 0x17F},    {0x300, 0x36F},   {0x370, 0x3FF},   {0x400, 0x4FF},
        {0x591, 0x5F4},   {0x610, 0x6FF},   {0x900, 0x97F},   {0x1100, 0x11FF}, {0x1E00, 0x1FFF},
        {0x3040, 0x30FF}, {0x3099, 0x309A}, {0x4E00, 0x4E80}, {0xAC00, 0xAD00}, {0xF900, 0xFA20},
        {0xFB00, 0xFB06}, {0xFF01, 0xFFEE}, {0x200B, 0x200F}, {0x0DCA, 0x0DDF}, {0x0B47, 0x0B57},
        {0x1D400, 0x1D4FF}, {0x20, 0x20}};
    std::mt19937 rng(20261207);
    std::size_t differ = 0;
    for (int round = 0; round < 5000; ++round) {
        std::string s;
        const int len = 1 + static_cast<int>(rng() % 24);
        for (int k = 0; k < len; ++k) {
            const auto& r = ranges[rng() % ranges.size()];
            const char32_t c = r.first + static_cast<char32_t>(rng() % (r.second - r.first + 1));
            if (!assigned(c)) continue;
            s += utf8(c);
        }
        const std::string ours = entidb::text::nfkc_casefold(s);
        if (ours != theirs(s)) {
            if (++differ <= 20) UNSCOPED_INFO(fmt::format("{}: ours {} utf8proc {}", hex(s), hex(ours), hex(theirs(s))));
        }
    }
    CHECK(differ == 0);
}

TEST_CASE("a word token is utf8proc's NFKC_Casefold of its text (diacritics kept)", "[text][crosscheck]") {
    // Strings of letters and marks only (no CJK: those make bigrams), starting with a letter:
    // one token, unless the mapping brings in a code point that separates (then skipped).
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x41, 0x5A},     {0xC0, 0x24F},  {0x300, 0x36F},   {0x370, 0x3FF},   {0x400, 0x52F},
        {0x5B0, 0x5EA},   {0x620, 0x65F}, {0x900, 0x97F},   {0x0E01, 0x0E4E}, {0x1100, 0x11FF},
        {0x1E00, 0x1FFF}, {0xAC00, 0xAD00}, {0xFB00, 0xFB4F}, {0xFF21, 0xFF5A}, {0x1D400, 0x1D4FF}};
    std::mt19937 rng(7);
    const entidb::text::tokenizer_options keep{.remove_diacritics = false};
    std::size_t compared = 0, skipped = 0;
    for (int round = 0; round < 5000; ++round) {
        std::string s = utf8(static_cast<char32_t>('a' + rng() % 26));
        const int len = static_cast<int>(rng() % 24);
        for (int k = 0; k < len; ++k) {
            const auto& r = ranges[rng() % ranges.size()];
            const char32_t c = r.first + static_cast<char32_t>(rng() % (r.second - r.first + 1));
            if (assigned(c) && letter_or_mark(c)) s += utf8(c);
        }
        const std::string expected = theirs(s);
        bool one_token = true;
        for (std::size_t i = 0; i < expected.size();) {
            const char32_t c = entidb::detail::next_utf8(expected, i);
            const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
            if (!letter_or_mark(c) && cat != UTF8PROC_CATEGORY_ND && cat != UTF8PROC_CATEGORY_NL &&
                cat != UTF8PROC_CATEGORY_NO)
                one_token = false;
        }
        if (!one_token) {
            ++skipped;
            continue;
        }
        ++compared;
        std::vector<std::string> tokens;
        entidb::text::tokenize(s, keep, [&](std::string_view t, std::uint32_t) { tokens.emplace_back(t); });
        INFO(hex(s));
        REQUIRE(tokens == std::vector<std::string>{expected});
    }
    CHECK(skipped < compared / 10);
}

namespace {

// The words to stem: /usr/share/dict/words (Debian's wamerican) where present, lower-cased,
// those of a-z only; else words built from stems and English suffixes.
std::vector<std::string> stemmer_words() {
    std::vector<std::string> words;
    std::ifstream in("/usr/share/dict/words");
    std::string line;
    while (std::getline(in, line)) {
        bool ok = !line.empty();
        for (char& c : line) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c < 'a' || c > 'z') ok = false;
        }
        if (ok) words.push_back(line);
    }
    if (words.size() < 1000) {
        const char* stems[] = {"run", "hop", "generous", "nation", "care", "happy", "sky", "cry", "agree",
                               "luxury", "commun", "arsen", "gener", "fly", "bleed", "feed", "tie", "say"};
        const char* suffixes[] = {"", "s", "es", "ies", "ed", "ing", "ingly", "edly", "ly", "ness", "ful",
                                  "fulness", "ational", "ization", "ative", "ement", "ion", "ity", "iveness",
                                  "ously", "bly", "ogi", "ities", "ance", "ence", "ism", "ist", "able"};
        for (const char* s : stems)
            for (const char* t : suffixes) words.push_back(std::string(s) + t);
    }
    return words;
}

}  // namespace

TEST_CASE("stem_english agrees with Snowball's libstemmer on a word list", "[text][crosscheck]") {
    sb_stemmer* reference = sb_stemmer_new("english", "UTF_8");
    REQUIRE(reference != nullptr);
    const auto words = stemmer_words();
    std::size_t differ = 0;
    for (const std::string& w : words) {
        const sb_symbol* out = sb_stemmer_stem(reference, reinterpret_cast<const sb_symbol*>(w.data()),
                                               static_cast<int>(w.size()));
        const std::string expected(reinterpret_cast<const char*>(out),
                                   static_cast<std::size_t>(sb_stemmer_length(reference)));
        const std::string ours = entidb::text::stem_english(w);
        if (ours != expected && ++differ <= 40)
            UNSCOPED_INFO(fmt::format("{}: ours {} libstemmer {}", w, ours, expected));
    }
    sb_stemmer_delete(reference);
    CHECK(words.size() > 1000);
    CHECK(differ == 0);
}
