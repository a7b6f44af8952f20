// entidb/text/english_stemmer.hpp — the Snowball English ("Porter2") stemmer.
//
// Contract: `stem_english(word)` reduces an English word of the letters a-z to its stem as
// the Snowball English stemmer defines it (https://snowballstem.org/algorithms/english/
// stemmer.html), in the form of Snowball release 2.2: the R1 exceptions "gener", "commun"
// and "arsen", the exceptional forms "skis", "skies", "dying", "lying", "tying", "idly",
// "gently", "ugly", "early", "only", "singly" and the invariant "sky", "news", "howe",
// "atlas", "cosmos", "bias", "andes", and after step 1a "inning", "outing", "canning",
// "herring", "earring", "proceed", "exceed", "succeed". Words of fewer than three letters,
// and words with any byte outside a-z, are returned unchanged (the apostrophe rules of the
// algorithm never apply: tokens hold no apostrophes). A stem is never longer than its word.
// Release 2.2 is the one Debian 12's libstemmer implements, which the text_crosscheck test
// compares with; later releases add R1 exceptions ("past", "univers", ...) that change stems
// (and would need full-text indexes rebuilt).
// The tokenizer applies it to tokens of a-z only (text/tokenizer.hpp).
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace entidb {
inline namespace v1 {
namespace detail {

// The word is w[0, n) of the letters a-z; y may become Y (a consonant y) while stemming.
class english_stemmer {
public:
    english_stemmer(char* w, std::size_t n) noexcept : w_(w), n_(n) {}

    // Stems in place; returns the stem's length (at most n).
    std::size_t run() noexcept {
        if (n_ < 3) return n_;
        if (exception1()) return n_;
        bool has_y = false;
        if (w_[0] == 'y') {
            w_[0] = 'Y';
            has_y = true;
        }
        for (std::size_t i = 1; i < n_; ++i) {
            if (w_[i] == 'y' && vowel(w_[i - 1])) {
                w_[i] = 'Y';
                has_y = true;
            }
        }
        mark_regions();
        step_1a();
        if (!exception2()) {
            step_1b();
            step_1c();
            step_2();
            step_3();
            step_4();
            step_5();
        }
        if (has_y)
            for (std::size_t i = 0; i < n_; ++i)
                if (w_[i] == 'Y') w_[i] = 'y';
        return n_;
    }

private:
    char* w_;
    std::size_t n_;
    std::size_t p1_ = 0;
    std::size_t p2_ = 0;

    static bool vowel(char c) noexcept {
        return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
    }
    [[nodiscard]] std::string_view word() const noexcept { return {w_, n_}; }
    // Byte loops, not memcmp: the strings are a few letters long.
    [[nodiscard]] bool ends(std::string_view s) const noexcept {
        if (s.size() > n_) return false;
        const char* tail = w_ + (n_ - s.size());
        for (std::size_t i = s.size(); i-- > 0;)
            if (tail[i] != s[i]) return false;
        return true;
    }
    [[nodiscard]] bool is(std::string_view s) const noexcept { return s.size() == n_ && ends(s); }
    // Replaces the last `suffix_len` letters by `by`.
    void replace(std::size_t suffix_len, std::string_view by) noexcept {
        n_ -= suffix_len;
        for (char c : by) w_[n_++] = c;
    }
    // Whether the suffix of that length starts inside R1 / R2.
    [[nodiscard]] bool in_r1(std::size_t suffix_len) const noexcept { return n_ - suffix_len >= p1_; }
    [[nodiscard]] bool in_r2(std::size_t suffix_len) const noexcept { return n_ - suffix_len >= p2_; }
    // The longest of `suffixes` the word ends with (its index), or -1.
    template <std::size_t N>
    [[nodiscard]] int longest(const std::string_view (&suffixes)[N]) const noexcept {
        int best = -1;
        for (std::size_t i = 0; i < N; ++i)
            if (ends(suffixes[i]) && (best < 0 || suffixes[i].size() > suffixes[best].size()))
                best = static_cast<int>(i);
        return best;
    }

    bool exception1() noexcept {
        static constexpr std::string_view from[] = {"skis", "skies", "dying", "lying", "tying", "idly",
                                                    "gently", "ugly", "early", "only", "singly"};
        static constexpr std::string_view to[] = {"ski", "sky", "die", "lie", "tie", "idl",
                                                  "gentl", "ugli", "earli", "onli", "singl"};
        static constexpr std::string_view same[] = {"sky", "news", "howe", "atlas", "cosmos", "bias", "andes"};
        for (std::size_t i = 0; i < std::size(from); ++i) {
            if (is(from[i])) {
                replace(n_, to[i]);
                return true;
            }
        }
        for (auto s : same)
            if (is(s)) return true;
        return false;
    }

    bool exception2() const noexcept {
        static constexpr std::string_view words[] = {"inning", "outing", "canning", "herring",
                                                     "earring", "proceed", "exceed", "succeed"};
        for (auto s : words)
            if (is(s)) return true;
        return false;
    }

    // The position after the first non-vowel that follows a vowel, from `from`; or n.
    [[nodiscard]] std::size_t region_after(std::size_t from) const noexcept {
        std::size_t i = from;
        while (i < n_ && !vowel(w_[i])) ++i;
        while (i < n_ && vowel(w_[i])) ++i;
        return i < n_ ? i + 1 : n_;
    }

    void mark_regions() noexcept {
        p1_ = n_;
        for (std::string_view prefix : {std::string_view("gener"), std::string_view("commun"), std::string_view("arsen")}) {
            if (n_ >= prefix.size() && std::equal(prefix.begin(), prefix.end(), w_)) {
                p1_ = prefix.size();
                break;
            }
        }
        if (p1_ == n_) p1_ = region_after(0);
        p2_ = region_after(p1_);
    }

    // Whether w[0, end) ends in a short syllable.
    [[nodiscard]] bool short_syllable(std::size_t end) const noexcept {
        if (end >= 3) {
            const char a = w_[end - 3], b = w_[end - 2], c = w_[end - 1];
            if (!vowel(a) && vowel(b) && !vowel(c) && c != 'w' && c != 'x' && c != 'Y') return true;
        }
        return end == 2 && vowel(w_[0]) && !vowel(w_[1]);
    }

    [[nodiscard]] bool vowel_in(std::size_t from, std::size_t to) const noexcept {
        for (std::size_t i = from; i < to; ++i)
            if (vowel(w_[i])) return true;
        return false;
    }

    void step_1a() noexcept {
        static constexpr std::string_view s[] = {"sses", "ied", "ies", "s", "us", "ss"};
        switch (longest(s)) {
            case 0: replace(4, "ss"); break;
            case 1:
            case 2: replace(3, n_ > 4 ? "i" : "ie"); break;
            case 3:
                if (n_ >= 2 && vowel_in(0, n_ - 2)) replace(1, "");
                break;
            default: break;
        }
    }

    void step_1b() noexcept {
        static constexpr std::string_view s[] = {"eed", "eedly", "ed", "edly", "ing", "ingly"};
        const int k = longest(s);
        if (k < 0) return;
        const std::size_t len = s[k].size();
        if (k <= 1) {
            if (in_r1(len)) replace(len, "ee");
            return;
        }
        if (!vowel_in(0, n_ - len)) return;
        replace(len, "");
        if (ends("at") || ends("bl") || ends("iz")) {
            replace(0, "e");
        } else if (n_ >= 2 && w_[n_ - 1] == w_[n_ - 2] &&
                   std::string_view("bdfgmnprt").find(w_[n_ - 1]) != std::string_view::npos) {
            --n_;
        } else if (p1_ == n_ && short_syllable(n_)) {
            replace(0, "e");
        }
    }

    void step_1c() noexcept {
        if (n_ >= 3 && (w_[n_ - 1] == 'y' || w_[n_ - 1] == 'Y') && !vowel(w_[n_ - 2])) w_[n_ - 1] = 'i';
    }

    void step_2() noexcept {
        static constexpr std::string_view s[] = {
            "tional", "enci", "anci", "abli", "entli", "izer", "ization", "ational", "ation", "ator",
            "alism", "aliti", "alli", "fulness", "ousli", "ousness", "iveness", "iviti", "biliti", "bli",
            "ogi", "fulli", "lessli", "li"};
        static constexpr std::string_view to[] = {
            "tion", "ence", "ance", "able", "ent", "ize", "ize", "ate", "ate", "ate",
            "al", "al", "al", "ful", "ous", "ous", "ive", "ive", "ble", "ble",
            "og", "ful", "less", ""};
        const int k = longest(s);
        if (k < 0) return;
        const std::size_t len = s[k].size();
        if (!in_r1(len)) return;
        if (s[k] == "ogi") {
            if (n_ > len && w_[n_ - len - 1] == 'l') replace(len, to[k]);
        } else if (s[k] == "li") {
            if (n_ > len && std::string_view("cdeghkmnrt").find(w_[n_ - len - 1]) != std::string_view::npos)
                replace(len, "");
        } else {
            replace(len, to[k]);
        }
    }

    void step_3() noexcept {
        static constexpr std::string_view s[] = {"tional", "ational", "alize", "icate", "iciti", "ical",
                                                 "ful", "ness", "ative"};
        static constexpr std::string_view to[] = {"tion", "ate", "al", "ic", "ic", "ic", "", "", ""};
        const int k = longest(s);
        if (k < 0) return;
        const std::size_t len = s[k].size();
        if (!in_r1(len)) return;
        if (s[k] == "ative") {
            if (in_r2(len)) replace(len, "");
        } else {
            replace(len, to[k]);
        }
    }

    void step_4() noexcept {
        static constexpr std::string_view s[] = {"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement",
                                                 "ment", "ent", "ism", "ate", "iti", "ous", "ive", "ize", "ion"};
        const int k = longest(s);
        if (k < 0) return;
        const std::size_t len = s[k].size();
        if (!in_r2(len)) return;
        if (s[k] == "ion") {
            if (n_ > len && (w_[n_ - len - 1] == 's' || w_[n_ - len - 1] == 't')) replace(len, "");
        } else {
            replace(len, "");
        }
    }

    void step_5() noexcept {
        if (ends("e")) {
            if (in_r2(1) || (in_r1(1) && !short_syllable(n_ - 1))) --n_;
        } else if (ends("l")) {
            if (in_r2(1) && n_ >= 2 && w_[n_ - 2] == 'l') --n_;
        }
    }
};

}  // namespace detail

namespace text {

// Stems word[0, n) in place (letters a-z; anything else leaves it unchanged); returns the
// stem's length, which is at most n.
inline std::size_t stem_english(char* word, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        if (word[i] < 'a' || word[i] > 'z') return n;
    return detail::english_stemmer(word, n).run();
}

// The stem of `word` (see above).
[[nodiscard]] inline std::string stem_english(std::string word) {
    word.resize(stem_english(word.data(), word.size()));
    return word;
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
