#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <entidb/error.hpp>
#include <entidb/text/tokenizer.hpp>

namespace {

using entidb::text::stemmer;
using entidb::text::tokenizer_options;

const tokenizer_options keep_marks{.remove_diacritics = false};
const tokenizer_options stem_en{.remove_diacritics = true, .stem = stemmer::english};

std::vector<std::string> tokens(std::string_view text, const tokenizer_options& options = {}) {
    std::vector<std::string> out;
    std::uint32_t expected_position = 0;
    entidb::text::tokenize(text, options, [&](std::string_view token, std::uint32_t position) {
        CHECK(position == expected_position++);  // positions count emitted tokens
        out.emplace_back(token);
    });
    return out;
}

using list = std::vector<std::string>;

}  // namespace

TEST_CASE("tokenizer: ASCII runs of letters and digits, lower-cased; the rest separates", "[text]") {
    CHECK(tokens("Hello, World! 123abc DEF-ghi_jkl x.y") == list{"hello", "world", "123abc", "def", "ghi", "jkl", "x", "y"});
    CHECK(tokens("") == list{});
    CHECK(tokens(" \t\n.,;:!?'\"()[]{}<>@#$%^&*-+=/\\|~`") == list{});
    CHECK(tokens("don't stop") == list{"don", "t", "stop"});
    std::vector<std::pair<std::string, std::uint32_t>> seen;
    entidb::text::tokenize("a b  c", {}, [&](std::string_view t, std::uint32_t p) { seen.emplace_back(t, p); });
    CHECK(seen == std::vector<std::pair<std::string, std::uint32_t>>{{"a", 0}, {"b", 1}, {"c", 2}});
}

TEST_CASE("tokenizer: German sharp s folds to ss", "[text]") {
    CHECK(tokens("Straße STRASSE strasse") == list{"strasse", "strasse", "strasse"});
    CHECK(tokens("\u1E9E") == list{"ss"});  // capital sharp s
    CHECK(tokens("Straße", keep_marks) == list{"strasse"});
}

TEST_CASE("tokenizer: Turkish dotted capital I folds to i + dot above (default folding), dotless i stays", "[text]") {
    CHECK(tokens("İstanbul", keep_marks) == list{"i\u0307stanbul"});
    CHECK(tokens("İstanbul") == list{"istanbul"});  // the dot above is a diacritic
    CHECK(tokens("ılık ISIK") == list{"\u0131l\u0131k", "isik"});
    CHECK(tokens("I") == list{"i"});
}

TEST_CASE("tokenizer: Greek final sigma folds to sigma", "[text]") {
    CHECK(tokens("ΟΔΟΣ οδος οδοσ") == list{"οδοσ", "οδοσ", "οδοσ"});
    CHECK(tokens("Ὀδυσσεύς", keep_marks) == list{"ὀδυσσεύσ"});
    CHECK(tokens("Ὀδυσσεύς") == list{"οδυσσευσ"});
}

TEST_CASE("tokenizer: emoji and symbols separate tokens", "[text]") {
    CHECK(tokens("fire🔥water 👍🏽ok") == list{"fire", "water", "ok"});
    CHECK(tokens("👨\u200D👩\u200D👧 ❤️ ™ ©") == list{"tm"});  // ™ is "TM" under NFKC
    CHECK(tokens("a→b€c") == list{"a", "b", "c"});
}

TEST_CASE("tokenizer: precomposed and decomposed forms give the same tokens", "[text]") {
    const std::string precomposed = "caf\u00E9 \u00C5ngstr\u00F6m \u1EC7";
    const std::string decomposed = "cafe\u0301 A\u030Angstro\u0308m e\u0302\u0323";  // marks out of canonical order too
    CHECK(tokens(precomposed, keep_marks) == list{"caf\u00E9", "\u00E5ngstr\u00F6m", "\u1EC7"});
    CHECK(tokens(decomposed, keep_marks) == tokens(precomposed, keep_marks));
    CHECK(tokens(precomposed) == list{"cafe", "angstrom", "e"});
    CHECK(tokens(decomposed) == tokens(precomposed));
    CHECK(tokens("\u212B") == list{"a"});  // ANGSTROM SIGN
    CHECK(tokens("\u212B", keep_marks) == list{"\u00E5"});
}

TEST_CASE("tokenizer: diacritics kept or removed", "[text]") {
    CHECK(tokens("naïve Ærø café São Paulo Łódź") == list{"naive", "ærø", "cafe", "sao", "paulo", "łodz"});
    CHECK(tokens("naïve Ærø café São Paulo Łódź", keep_marks) == list{"naïve", "ærø", "café", "são", "paulo", "łódź"});
    // Script-specific marks are not diacritics: Thai vowels and Hebrew points stay.
    CHECK(tokens("กิน") == list{"กิน"});
    CHECK(tokens("שָׁלוֹם") == tokens("שָׁלוֹם", keep_marks));
    // Arabic harakat (Script=Inherited) go.
    CHECK(tokens("كَتَبَ") == list{"كتب"});
    // A mark with no letter before it is dropped.
    CHECK(tokens(" \u0301abc \u0308") == list{"abc"});
    CHECK(tokens("\u093E \u3099x") == list{"x"});  // marks that are not diacritics too
}

TEST_CASE("tokenizer: fullwidth forms, ligatures and compatibility characters (NFKC)", "[text]") {
    CHECK(tokens("ＡＢＣ ａｂｃ１２３") == list{"abc", "abc123"});
    CHECK(tokens("ﬁnance ﬀ ﬃx") == list{"finance", "ff", "ffix"});
    CHECK(tokens("① ⑴ ½ x²") == list{"1", "1", "1", "2", "x2"});  // ⑴ is "(1)", ½ is "1⁄2"
    CHECK(tokens("𝐇𝐞𝐥𝐥𝐨") == list{"hello"});  // mathematical bold
}

TEST_CASE("tokenizer: default ignorables never split a token", "[text]") {
    CHECK(tokens("co\u00ADoperate") == list{"cooperate"});            // soft hyphen
    CHECK(tokens("zero\u200Bwidth") == list{"zerowidth"});            // zero width space
    CHECK(tokens("ab\u200Dcd\u200Cef\uFE0F") == list{"abcdef"});       // joiners, variation selector
}

TEST_CASE("tokenizer: Han, Hiragana and Katakana make overlapping bigrams", "[text]") {
    CHECK(tokens("東京都庁") == list{"東京", "京都", "都庁"});
    CHECK(tokens("東") == list{"東"});
    CHECK(tokens("東京") == list{"東京"});
    CHECK(tokens("東京tower") == list{"東京", "tower"});
    CHECK(tokens("tower東京") == list{"tower", "東京"});
    CHECK(tokens("2024年") == list{"2024", "年"});
    CHECK(tokens("東京、大阪") == list{"東京", "大阪"});  // ideographic comma separates
    CHECK(tokens("\uF900\uF901") == list{"\u8C48\u66F4"});  // compatibility ideographs unify
    CHECK(tokens("𠀀𠀁") == list{"𠀀𠀁"});                  // extension B
}

TEST_CASE("tokenizer: Japanese kana and kanji", "[text]") {
    CHECK(tokens("カタカナとひらがな") ==
          list{"カタ", "タカ", "カナ", "ナと", "とひ", "ひら", "らが", "がな"});
    CHECK(tokens("ラーメン") == list{"ラー", "ーメ", "メン"});  // U+30FC belongs to the run
    CHECK(tokens("東京タワーへ行く") == list{"東京", "京タ", "タワ", "ワー", "ーへ", "へ行", "行く"});
    // Half-width katakana and their voicing marks compose; voicing marks are not diacritics.
    CHECK(tokens("ｶﾞｷﾞ") == list{"ガギ"});
    CHECK(tokens("か\u3099き\u3099") == list{"がぎ"});
    CHECK(tokens("がぎ") == list{"がぎ"});
    CHECK(tokens("㌀") == list{"アパ", "パー", "ート"});  // ㌀ is アパート under NFKC
}

TEST_CASE("tokenizer: Hangul syllables form word tokens, conjoining jamo compose", "[text]") {
    CHECK(tokens("한국어 텍스트") == list{"한국어", "텍스트"});
    CHECK(tokens("\u1112\u1161\u11AB\u1100\u116E\u11A8") == list{"한국"});
    CHECK(tokens("한국Korea") == list{"한국korea"});
}

TEST_CASE("tokenizer: mixed scripts in one string", "[text]") {
    CHECK(tokens("Ελληνικά русский English 中文 한국어 עברית العربية हिन्दी") ==
          list{"ελληνικα", "русскии", "english", "中文", "한국어", "עברית", "العربية", "हिन्दी"});
    CHECK(tokens("Ελληνικά русский", keep_marks) == list{"ελληνικά", "русский"});
    std::vector<std::pair<std::string, std::uint32_t>> seen;
    entidb::text::tokenize("abc 東京都 def", {}, [&](std::string_view t, std::uint32_t p) { seen.emplace_back(t, p); });
    CHECK(seen == std::vector<std::pair<std::string, std::uint32_t>>{{"abc", 0}, {"東京", 1}, {"京都", 2}, {"def", 3}});
}

TEST_CASE("tokenizer: English stemming of a-z tokens", "[text]") {
    CHECK(tokens("running generously consigned skies", stem_en) == list{"run", "generous", "consign", "sky"});
    CHECK(tokens("Connections CONNECTED connecting", stem_en) == list{"connect", "connect", "connect"});
    CHECK(tokens("hopping hoping cries ties", stem_en) == list{"hop", "hope", "cri", "tie"});
    // Only tokens of a-z: digits, other letters and bigrams are left as normalised.
    CHECK(tokens("running2 2024 東京都", stem_en) == list{"running2", "2024", "東京", "京都"});
    CHECK(tokens("cafés", {.remove_diacritics = false, .stem = stemmer::english}) == list{"cafés"});
    CHECK(tokens("cafés", stem_en) == list{"cafe"});  // after removal it is a-z
    CHECK(tokens("running") == list{"running"});       // not without the option
    CHECK(entidb::text::stem_english("generously") == "generous");
    CHECK(entidb::text::stem_english("by") == "by");
}

TEST_CASE("tokenizer: tokens over 256 bytes are dropped and take no position", "[text]") {
    const std::string a256(256, 'a');
    const std::string a257(257, 'a');
    CHECK(tokens("x " + a256 + " y") == list{"x", a256, "y"});
    CHECK(tokens("x " + a257 + " y") == list{"x", "y"});
    std::string e128, e129;
    for (int i = 0; i < 128; ++i) e128 += "\u00E9";
    e129 = e128 + "\u00E9";
    CHECK(tokens(e128, keep_marks) == list{e128});  // 256 bytes
    CHECK(tokens(e129, keep_marks) == list{});      // 258 bytes
    CHECK(tokens(e129) == list{std::string(129, 'e')});  // 129 bytes without the accents
    // The limit counts normalised bytes: 100 "ﬃ" are 300 bytes, 50 are 150.
    std::string ffi50, ffi100;
    for (int i = 0; i < 50; ++i) ffi50 += "\uFB03";
    ffi100 = ffi50 + ffi50;
    CHECK(tokens(ffi50).size() == 1);
    CHECK(tokens(ffi100).empty());
    // A run of thousands of combining marks: over the limit with the marks, "a" without.
    std::string zalgo = "a";
    for (int i = 0; i < 3000; ++i) zalgo += "\u0301";
    CHECK(tokens(zalgo + " b", keep_marks) == list{"b"});
    CHECK(tokens(zalgo + " b") == list{"a", "b"});
}

TEST_CASE("tokenizer: invalid UTF-8 is invalid_argument with the byte offset", "[text]") {
    int calls = 0;
    const auto count = [&](std::string_view, std::uint32_t) { ++calls; };
    const auto offset_of = [&](std::string_view text) -> std::optional<std::uint64_t> {
        try {
            entidb::text::tokenize(text, {}, count);
        } catch (const entidb::error& e) {
            CHECK(e.value() == entidb::errc::invalid_argument);
            return e.offset();
        }
        return std::nullopt;
    };
    CHECK(offset_of("ab\xFF" "cd") == 2u);
    CHECK(offset_of("caf\xC3") == 3u);                // truncated sequence
    CHECK(offset_of("abc \xE2\x82" "x") == 6u);       // bad continuation: its offset
    CHECK(offset_of("\xED\xA0\x80") == 1u);           // surrogate
    CHECK(offset_of("\xC0\xAF") == 0u);               // overlong
    CHECK(calls == 0);                                 // nothing emitted before the error
    CHECK(offset_of("ok") == std::nullopt);
    CHECK_THROWS_AS(entidb::text::nfkc_casefold("\xFF"), entidb::error);
}

TEST_CASE("tokenizer: nfkc_casefold of whole strings", "[text]") {
    CHECK(entidb::text::nfkc_casefold("Straße İ ΣΑΣ ＡＢＣ ﬁ") == "strasse i\u0307 σασ abc fi");
    CHECK(entidb::text::nfkc_casefold("Cafe\u0301 \u00AD!") == "caf\u00E9 !");
    CHECK(entidb::text::nfkc_casefold("Café Å", true) == "cafe a");
    CHECK(entidb::text::nfkc_casefold("\u1100\u1161") == "\uAC00");
}

TEST_CASE("tokenizer: tokens are normalised fixed points on random mixed-script text", "[text]") {
    // Every token is valid UTF-8 of at most max_token_bytes, already in the normal form
    // (nfkc_casefold leaves it as it is), and tokenizes to itself alone.
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x20, 0x7E},     {0xA0, 0x24F},    {0x300, 0x36F},   {0x370, 0x3FF},   {0x400, 0x4FF},
        {0x591, 0x5F4},   {0x610, 0x6FF},   {0x900, 0x97F},   {0x0E01, 0x0E5B}, {0x1100, 0x11FF},
        {0x1E00, 0x1FFF}, {0x2000, 0x206F}, {0x2460, 0x24FF}, {0x3000, 0x30FF}, {0x3200, 0x33FF},
        {0x4E00, 0x4E40}, {0xAC00, 0xAC40}, {0xF900, 0xFA20}, {0xFB00, 0xFB4F}, {0xFE00, 0xFE0F},
        {0xFF01, 0xFFEE}, {0x1D400, 0x1D4FF}, {0x1F300, 0x1F6FF}, {0x20000, 0x20010}};
    std::mt19937 rng(42);
    for (const bool remove : {true, false}) {
        const tokenizer_options options{.remove_diacritics = remove};
        for (int round = 0; round < 2000; ++round) {
            std::string text;
            const int len = static_cast<int>(rng() % 40);
            for (int k = 0; k < len; ++k) {
                const auto& r = ranges[rng() % ranges.size()];
                const char32_t c = r.first + static_cast<char32_t>(rng() % (r.second - r.first + 1));
                if (c >= 0xD800 && c <= 0xDFFF) continue;
                char buf[4];
                text.append(buf, entidb::detail::put_utf8(c, buf));
            }
            for (const std::string& token : tokens(text, options)) {
                INFO(text << " -> " << token);
                REQUIRE(!token.empty());
                REQUIRE(token.size() <= entidb::text::max_token_bytes);
                REQUIRE(entidb::detail::find_invalid_utf8(entidb::as_bytes(token)) == entidb::detail::utf8_valid);
                REQUIRE(entidb::text::nfkc_casefold(token, remove) == token);
                REQUIRE(tokens(token, options) == list{token});
            }
        }
    }
}
