// entidb/text/query.hpp — full-text queries: the parsed form and the two ways to make one.
//
// Contract: parse_query(q, options) reads SQLite FTS5's query syntax (docs/indexes.md, "Query
// syntax"): whitespace-separated terms are ANDed; AND, OR and NOT (upper case) combine them;
// "a phrase" with "" for a literal quote; prefix* and "phrase prefix"*; a + b joins phrases;
// parentheses group. Precedence, tightest first: implicit AND (juxtaposition), NOT, AND, OR;
// the binary operators associate to the left. Every bareword and quoted string is cut into
// tokens by text::tokenize with the same options an index uses, so a bareword such as e-mail,
// don't or foo.bar becomes the phrase of its tokens rather than a syntax error.
// What cannot be read fails with errc::invalid_argument, a detail naming what was expected
// "at column N" (N counts Unicode code points from 1) and the 0-based byte offset in the
// error's context; nothing else is thrown for any input.
// plain_query(words, options) takes text as plain words: the AND of all its tokens.
//
// A query owns its strings; it is a value (copyable, comparable through to_string()).
// Thread-safety: pure functions; a query may be read from several threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../detail/utf8.hpp"
#include "../error.hpp"
#include "tokenizer.hpp"

namespace entidb {
inline namespace v1 {
namespace text {

// One token of a phrase: the normalised token, and whether it matches every term that starts
// with it (prefix*) rather than itself only.
struct phrase_token {
    std::string text;
    bool prefix = false;

    friend bool operator==(const phrase_token&, const phrase_token&) = default;
};

// Tokens that must appear at consecutive positions. A phrase with no tokens (a string of
// punctuation only) matches nothing.
struct phrase {
    std::vector<phrase_token> tokens;

    friend bool operator==(const phrase&, const phrase&) = default;
};

// A node of the query tree. `all_of` and `any_of` have children (two or more from the parser;
// nested ones of the same kind are merged); `but_not` has exactly two: matches of the first that do not
// match the second. A `leaf` names one phrase of query::phrases().
struct query_node {
    enum class kind : std::uint8_t { leaf, all_of, any_of, but_not };
    kind type = kind::leaf;
    std::uint32_t phrase = 0;              // leaf: index into query::phrases()
    std::vector<std::uint32_t> children;   // other kinds: indexes into query::nodes()

    friend bool operator==(const query_node&, const query_node&) = default;
};

class query {
public:
    // The empty query: matches nothing.
    query() = default;

    [[nodiscard]] bool matches_nothing() const noexcept { return nodes_.empty(); }
    [[nodiscard]] const std::vector<query_node>& nodes() const noexcept { return nodes_; }
    [[nodiscard]] const std::vector<phrase>& phrases() const noexcept { return phrases_; }
    // Index into nodes() of the root; meaningless when matches_nothing().
    [[nodiscard]] std::uint32_t root() const noexcept { return root_; }

    // The tree in FTS5's syntax, fully parenthesised: (a AND "b c" AND (d* OR e)),
    // (a NOT b); a phrase of no tokens prints as "". The empty query prints as "".
    [[nodiscard]] std::string to_string() const {
        if (nodes_.empty()) return "\"\"";
        std::string out;
        print(root_, out);
        return out;
    }

    // The deepest tree a query may hold (a leaf has depth 1): evaluating and printing recurse
    // once per level.
    static constexpr std::uint32_t max_depth = 1000;

    // The depth of the tree under `node` (1 for a leaf).
    [[nodiscard]] std::uint32_t depth(std::uint32_t node) const noexcept { return depths_[node]; }

    // Building blocks (the parser's, and a caller's who builds a query by hand). Each returns
    // the new node's index; set_root chooses the root. A child or root that names no node
    // added before, a leaf kind given to add_node, a but_not without exactly two children, or
    // a node deeper than max_depth is errc::invalid_argument.
    std::uint32_t add_phrase(phrase p) {
        phrases_.push_back(std::move(p));
        query_node n;
        n.phrase = static_cast<std::uint32_t>(phrases_.size() - 1);
        nodes_.push_back(std::move(n));
        depths_.push_back(1);
        return static_cast<std::uint32_t>(nodes_.size() - 1);
    }
    // all_of / any_of merge children of their own kind; but_not takes exactly two.
    std::uint32_t add_node(query_node::kind type, std::vector<std::uint32_t> children) {
        if (type == query_node::kind::leaf) throw error(errc::invalid_argument, "a leaf is made by add_phrase");
        if (children.empty() || (type == query_node::kind::but_not && children.size() != 2))
            throw error(errc::invalid_argument, "but_not takes two children, all_of and any_of at least one");
        for (std::uint32_t c : children)
            if (c >= nodes_.size()) throw error(errc::invalid_argument, fmt::format("no query node {}", c));
        std::uint32_t depth = 0;
        for (std::uint32_t c : children) depth = std::max(depth, depths_[c]);
        if (depth + 1 > max_depth) throw error(errc::invalid_argument, "query nested too deeply");
        query_node n;
        n.type = type;
        if (type == query_node::kind::but_not) {
            n.children = std::move(children);
        } else {
            for (std::uint32_t c : children) {
                if (nodes_[c].type == type) {
                    const auto grand = nodes_[c].children;
                    n.children.insert(n.children.end(), grand.begin(), grand.end());
                } else {
                    n.children.push_back(c);
                }
            }
        }
        nodes_.push_back(std::move(n));
        depths_.push_back(depth + 1);
        return static_cast<std::uint32_t>(nodes_.size() - 1);
    }
    void set_root(std::uint32_t node) {
        if (node >= nodes_.size()) throw error(errc::invalid_argument, fmt::format("no query node {}", node));
        root_ = node;
    }

private:
    static void print_token(const std::string& t, std::string& out) {
        for (char c : t) {
            out.push_back(c);
            if (c == '"') out.push_back('"');
        }
    }
    void print(std::uint32_t i, std::string& out) const {
        const query_node& n = nodes_[i];
        if (n.type == query_node::kind::leaf) {
            const phrase& p = phrases_[n.phrase];
            const bool plain = p.tokens.size() == 1 && p.tokens[0].text.find_first_of(" \"()*+") == std::string::npos &&
                               p.tokens[0].text != "AND" && p.tokens[0].text != "OR" && p.tokens[0].text != "NOT";
            if (plain) {
                out += p.tokens[0].text;
                if (p.tokens[0].prefix) out += '*';
                return;
            }
            // "a b" for a phrase, "a" + b* + "c" when a token other than the last is a prefix.
            bool inner_prefix = false;
            for (std::size_t k = 0; k + 1 < p.tokens.size(); ++k) inner_prefix = inner_prefix || p.tokens[k].prefix;
            if (!inner_prefix) {
                out += '"';
                for (std::size_t k = 0; k < p.tokens.size(); ++k) {
                    if (k) out += ' ';
                    print_token(p.tokens[k].text, out);
                }
                out += '"';
                if (!p.tokens.empty() && p.tokens.back().prefix) out += '*';
                return;
            }
            for (std::size_t k = 0; k < p.tokens.size(); ++k) {
                if (k) out += " + ";
                out += '"';
                print_token(p.tokens[k].text, out);
                out += '"';
                if (p.tokens[k].prefix) out += '*';
            }
            return;
        }
        const char* op = n.type == query_node::kind::all_of ? " AND " : n.type == query_node::kind::any_of ? " OR " : " NOT ";
        out += '(';
        for (std::size_t k = 0; k < n.children.size(); ++k) {
            if (k) out += op;
            print(n.children[k], out);
        }
        out += ')';
    }

    std::vector<query_node> nodes_;
    std::vector<phrase> phrases_;
    std::vector<std::uint32_t> depths_;  // beside nodes_
    std::uint32_t root_ = 0;
};

}  // namespace text

namespace detail {

// The query parser: a lexer over the bytes and a recursive descent over its lexemes.
class query_parser {
public:
    query_parser(std::string_view q, const text::tokenizer_options& options) : q_(q), options_(options) {}

    text::query run() {
        const auto invalid = find_invalid_utf8(as_bytes(q_));
        if (invalid != utf8_valid) fail_at_offset(invalid, "query is not valid UTF-8");
        next();
        if (lex_.type == lexeme::end) fail_here("empty query: expected a term");
        const std::uint32_t root = parse_or();
        if (lex_.type == lexeme::close) fail_here("unmatched ')'");
        out_.set_root(root);
        return std::move(out_);
    }

private:
    enum class lexeme : std::uint8_t { end, open, close, string, word, star, plus, and_op, or_op, not_op };
    struct current {
        lexeme type = lexeme::end;
        std::size_t offset = 0;   // of the lexeme's first byte
        std::string text;         // string: the unescaped contents; word: the bareword
    };

    static bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
    static bool ends_word(char c) noexcept { return is_space(c) || c == '"' || c == '(' || c == ')' || c == '*'; }

    [[noreturn]] void fail_at_offset(std::size_t offset, std::string_view what) const {
        std::size_t column = 1;
        for (std::size_t i = 0; i < offset && i < q_.size(); ++i)
            if ((static_cast<unsigned char>(q_[i]) & 0xC0) != 0x80) ++column;
        throw error(errc::invalid_argument, fmt::format("{} at column {}", what, column),
                    error_context{{}, static_cast<std::uint64_t>(offset), 0});
    }
    [[noreturn]] void fail_here(std::string_view what) const { fail_at_offset(lex_.offset, what); }

    // Reads the next lexeme into lex_. A '+' is the phrase operator when it starts a run of
    // non-space characters; inside a word (C++, a+b) it is punctuation for the tokenizer.
    void next() {
        while (pos_ < q_.size() && is_space(q_[pos_])) ++pos_;
        lex_.offset = pos_;
        lex_.text.clear();
        if (pos_ >= q_.size()) {
            lex_.type = lexeme::end;
            return;
        }
        const char c = q_[pos_];
        switch (c) {
            case '(': lex_.type = lexeme::open; ++pos_; return;
            case ')': lex_.type = lexeme::close; ++pos_; return;
            case '*': lex_.type = lexeme::star; ++pos_; return;
            case '+': lex_.type = lexeme::plus; ++pos_; return;
            case '"': {
                ++pos_;
                for (;;) {
                    if (pos_ >= q_.size()) fail_at_offset(lex_.offset, "expected '\"' to close the string opened");
                    if (q_[pos_] == '"') {
                        if (pos_ + 1 < q_.size() && q_[pos_ + 1] == '"') {
                            lex_.text.push_back('"');
                            pos_ += 2;
                            continue;
                        }
                        ++pos_;
                        break;
                    }
                    lex_.text.push_back(q_[pos_++]);
                }
                lex_.type = lexeme::string;
                return;
            }
            default: break;
        }
        const std::size_t start = pos_;
        while (pos_ < q_.size() && !ends_word(q_[pos_])) ++pos_;
        lex_.text.assign(q_.substr(start, pos_ - start));
        lex_.type = lex_.text == "AND" ? lexeme::and_op
                  : lex_.text == "OR"  ? lexeme::or_op
                  : lex_.text == "NOT" ? lexeme::not_op
                                       : lexeme::word;
    }

    bool starts_operand() const noexcept {
        return lex_.type == lexeme::open || lex_.type == lexeme::string || lex_.type == lexeme::word ||
               lex_.type == lexeme::plus;
    }

    // A node of the tree, or the error at the current lexeme if it would be too deep.
    std::uint32_t make(text::query_node::kind type, std::vector<std::uint32_t> children) {
        std::uint32_t depth = 0;
        for (std::uint32_t c : children) depth = std::max(depth, out_.depth(c));
        if (depth + 1 > text::query::max_depth) fail_here("query nested too deeply");
        return out_.add_node(type, std::move(children));
    }

    std::uint32_t parse_or() {
        std::vector<std::uint32_t> items{parse_and()};
        while (lex_.type == lexeme::or_op) {
            next();
            items.push_back(parse_and());
        }
        return items.size() == 1 ? items[0] : make(text::query_node::kind::any_of, std::move(items));
    }
    std::uint32_t parse_and() {
        std::vector<std::uint32_t> items{parse_not()};
        while (lex_.type == lexeme::and_op) {
            next();
            items.push_back(parse_not());
        }
        return items.size() == 1 ? items[0] : make(text::query_node::kind::all_of, std::move(items));
    }
    std::uint32_t parse_not() {
        std::uint32_t left = parse_sequence();
        while (lex_.type == lexeme::not_op) {
            next();
            const std::uint32_t right = parse_sequence();
            left = make(text::query_node::kind::but_not, {left, right});
        }
        return left;
    }
    bool is_empty_leaf(std::uint32_t node) const {
        const text::query_node& n = out_.nodes()[node];
        return n.type == text::query_node::kind::leaf && out_.phrases()[n.phrase].tokens.empty();
    }
    // Juxtaposed operands: an implicit AND. As in FTS5, phrases that yield no tokens are left
    // out of it (so "rock & roll" means rock AND roll); if all do, one is kept: it matches
    // nothing. A '+' that follows no phrase (+word, after a group) is punctuation.
    std::uint32_t parse_sequence() {
        std::vector<std::uint32_t> items;
        for (bool first = true;; first = false) {
            while (lex_.type == lexeme::plus) next();
            if (!first && !starts_operand()) break;
            items.push_back(parse_primary());
        }
        if (lex_.type == lexeme::star) fail_here("'*' must follow a term");
        std::vector<std::uint32_t> kept;
        for (std::uint32_t item : items)
            if (!is_empty_leaf(item)) kept.push_back(item);
        if (kept.empty()) kept.push_back(items.front());
        return kept.size() == 1 ? kept[0] : make(text::query_node::kind::all_of, std::move(kept));
    }
    // A group or a phrase; anything else is the error of a missing operand.
    std::uint32_t parse_primary() {
        if (lex_.type == lexeme::open) {
            const std::size_t open_offset = lex_.offset;
            if (++depth_ > max_parentheses) fail_here("parentheses nested too deeply");
            next();
            if (lex_.type == lexeme::close) fail_here("empty parentheses: expected a term");
            if (lex_.type == lexeme::end) fail_at_offset(open_offset, "expected ')' for the '('");
            const std::uint32_t inner = parse_or();
            if (lex_.type != lexeme::close) fail_at_offset(open_offset, "expected ')' for the '('");
            --depth_;
            next();
            return inner;
        }
        if (lex_.type != lexeme::string && lex_.type != lexeme::word) {
            switch (lex_.type) {
                case lexeme::end: fail_here("expected a term at the end of the query");
                case lexeme::close: fail_here("expected a term before ')'");
                case lexeme::star: fail_here("'*' must follow a term");
                case lexeme::and_op: fail_here("expected a term before AND");
                case lexeme::or_op: fail_here("expected a term before OR");
                case lexeme::not_op: fail_here("expected a term before NOT");
                default: fail_here("expected a term");
            }
        }
        text::phrase p;
        for (;;) {
            // lex_ is a string or a word: its tokens join the phrase.
            text::tokenize(lex_.text, options_, [&](std::string_view token, std::uint32_t) {
                p.tokens.push_back(text::phrase_token{std::string(token), false});
            });
            next();
            if (lex_.type == lexeme::star) {
                if (!p.tokens.empty()) p.tokens.back().prefix = true;
                next();
                if (lex_.type == lexeme::star) fail_here("'*' must follow a term");
            }
            if (lex_.type != lexeme::plus) break;
            const std::size_t plus_offset = lex_.offset;
            next();
            while (lex_.type == lexeme::plus) next();
            if (lex_.type != lexeme::string && lex_.type != lexeme::word)
                fail_at_offset(plus_offset, "expected a term after '+'");
        }
        return out_.add_phrase(std::move(p));
    }

    std::string_view q_;
    const text::tokenizer_options& options_;
    static constexpr int max_parentheses = 200;  // the parser recurses once per '('

    std::size_t pos_ = 0;
    int depth_ = 0;
    current lex_;
    text::query out_;
};

}  // namespace detail

namespace text {

// Parses `q` (SQLite FTS5's query syntax). Throws error(errc::invalid_argument) with the
// column and byte offset of the problem; the empty (or all-space) query is an error too.
[[nodiscard]] inline query parse_query(std::string_view q, const tokenizer_options& options) {
    return detail::query_parser(q, options).run();
}

// The AND of every token of `words`, operators and quotes being ordinary text. Text with no
// token gives the query that matches nothing. Throws error(errc::invalid_argument) only for
// invalid UTF-8.
[[nodiscard]] inline query plain_query(std::string_view words, const tokenizer_options& options) {
    query out;
    std::vector<std::uint32_t> items;
    tokenize(words, options, [&](std::string_view token, std::uint32_t) {
        items.push_back(out.add_phrase(phrase{{phrase_token{std::string(token), false}}}));
    });
    if (items.empty()) return out;
    out.set_root(items.size() == 1 ? items[0] : out.add_node(query_node::kind::all_of, std::move(items)));
    return out;
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
