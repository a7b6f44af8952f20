// entidb/text/tokenizer.hpp — the one tokenizer of full-text indexes and their queries.
//
// Contract: tokenize(text, options, on_token) calls on_token(token, position) once per token
// of `text`, in order; `token` is the normalised token's UTF-8 bytes (valid only during the
// call), `position` its ordinal in the text (0, 1, 2, ...), which phrase queries compare.
// The same function tokenizes documents and query terms, so both always agree.
// Invalid UTF-8 fails with errc::invalid_argument and the byte offset of the problem.
//
// This first version handles ASCII only: tokens are runs of ASCII letters and digits, folded
// to lower case (what SQLite FTS5's unicode61 tokenizer does on ASCII text); every other
// byte separates tokens.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../bytes.hpp"
#include "../detail/utf8.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace text {

enum class stemmer : std::uint8_t { none = 0, english = 1 };

struct tokenizer_options {
    bool remove_diacritics = true;  // "é" matches "e" (FTS5's unicode61 default)
    stemmer stem = stemmer::none;
};

// Tokens longer than this (after normalisation) are dropped: no query would type them.
inline constexpr std::size_t max_token_bytes = 256;

template <typename OnToken>
void tokenize(std::string_view text, const tokenizer_options& options, OnToken&& on_token) {
    (void)options;
    const auto invalid = detail::find_invalid_utf8(as_bytes(text));
    if (invalid != detail::utf8_valid)
        throw error(errc::invalid_argument, "text is not valid UTF-8", error_context{{}, invalid, 0});
    std::string token;
    std::uint32_t position = 0;
    auto flush = [&] {
        if (!token.empty() && token.size() <= max_token_bytes) on_token(std::string_view(token), position++);
        token.clear();
    };
    for (char c : text) {
        if (c >= 'A' && c <= 'Z') {
            token.push_back(static_cast<char>(c - 'A' + 'a'));
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            token.push_back(c);
        } else {
            flush();
        }
    }
    flush();
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
