// The full-text query language (text/query.hpp) and its evaluation with BM25 (text/search.hpp)
// over an in-memory posting source. tests/text/fts5_oracle.py compares both with SQLite FTS5
// on a generated corpus; the values below were checked against FTS5 by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <entidb/error.hpp>
#include <entidb/text/search.hpp>
#include <entidb/text/tokenizer.hpp>

#include "../text/memory_posting_source.hpp"
#include "test_errors.hpp"
#include "test_steps.hpp"

namespace {

using entidb::errc;
using entidb::text::parse_query;
using entidb::text::plain_query;
using entidb::text::tokenizer_options;
using source_t = text_test::memory_posting_source<std::uint64_t>;

std::string tree(std::string_view q) { return parse_query(q, tokenizer_options{}).to_string(); }

// The error parse_query throws for `q` (fails the test if it parses).
std::optional<entidb::error> parse_error(std::string_view q) {
    try {
        (void)parse_query(q, tokenizer_options{});
    } catch (const entidb::error& e) {
        return e;
    }
    return std::nullopt;
}

// The five documents of the hand-computed BM25 examples: N = 5, 14 tokens, avgdl = 2.8.
source_t small_corpus() {
    source_t s;
    s.add(1, "a b");
    s.add(2, "a a c");
    s.add(3, "b c d e");
    s.add(4, "d e");
    s.add(5, "e f g");
    return s;
}

std::vector<std::pair<std::uint64_t, double>> all_hits(const source_t& s, std::string_view q) {
    std::vector<std::pair<std::uint64_t, double>> out;
    for (const auto& hit : entidb::text::search_all(s, parse_query(q, tokenizer_options{}))) out.emplace_back(hit.doc, hit.score);
    return out;
}

std::vector<std::uint64_t> docs_of(const source_t& s, std::string_view q) {
    std::vector<std::uint64_t> out;
    for (const auto& [doc, score] : all_hits(s, q)) out.push_back(doc);
    return out;
}

}  // namespace

TEST_CASE("text query: each construct parses to its tree", "[text]") {
    CHECK(tree("hello") == "hello");
    CHECK(tree("Hello") == "hello");                      // tokens are normalised
    CHECK(tree("a b c") == "(a AND b AND c)");            // implicit AND
    CHECK(tree("a AND b") == "(a AND b)");
    CHECK(tree("a OR b OR c") == "(a OR b OR c)");
    CHECK(tree("a NOT b") == "(a NOT b)");
    CHECK(tree("\"a phrase\"") == "\"a phrase\"");
    CHECK(tree("\"say \"\"hi\"\"\"") == "\"say hi\"");    // "" is a quote, the tokenizer drops it
    CHECK(tree("\"one\"") == "one");
    CHECK(tree("pre*") == "pre*");
    CHECK(tree("pre *") == "pre*");                       // FTS5 allows the space too
    CHECK(tree("\"phrase pre\"*") == "\"phrase pre\"*");
    CHECK(tree("a + b + \"c d\"") == "\"a b c d\"");      // phrase concatenation
    CHECK(tree("a* + b") == "\"a\"* + \"b\"");            // a prefix inside a phrase
    CHECK(tree("(a OR b) c") == "((a OR b) AND c)");
    CHECK(tree("((a))") == "a");
    CHECK(tree("and or not") == "(and AND or AND not)");  // keywords are upper case only
    CHECK(tree("a*b") == "(a* AND b)");                   // as FTS5
}

TEST_CASE("text query: precedence is FTS5's (implicit AND, NOT, AND, OR)", "[text]") {
    CHECK(tree("a NOT b c") == "(a NOT (b AND c))");
    CHECK(tree("a OR b c") == "(a OR (b AND c))");
    CHECK(tree("a b OR c") == "((a AND b) OR c)");
    CHECK(tree("a AND b OR c") == "((a AND b) OR c)");
    CHECK(tree("a OR b AND c") == "(a OR (b AND c))");
    CHECK(tree("a AND b NOT c") == "(a AND (b NOT c))");
    CHECK(tree("a NOT b AND c") == "((a NOT b) AND c)");
    CHECK(tree("a NOT b NOT c") == "((a NOT b) NOT c)");  // left-associative
    CHECK(tree("a OR b NOT c OR d") == "(a OR (b NOT c) OR d)");
    CHECK(tree("a AND b c") == "(a AND b AND c)");        // nested ANDs merge
    CHECK(tree("(a OR b) AND (c OR d)") == "((a OR b) AND (c OR d))");
    CHECK(tree("a NOT (b OR c)") == "(a NOT (b OR c))");
}

TEST_CASE("text query: punctuation in a word is split by the tokenizer, not a syntax error", "[text]") {
    CHECK(tree("e-mail") == "\"e mail\"");
    CHECK(tree("don't") == "\"don t\"");
    CHECK(tree("C++") == "c");
    CHECK(tree("foo.bar") == "\"foo bar\"");
    CHECK(tree("hello,") == "hello");
    CHECK(tree("hello, world!") == "(hello AND world)");
    CHECK(tree("foo.bar*") == "\"foo bar\"*");
    CHECK(tree("a+b") == "\"a b\"");
    CHECK(tree("+a") == "a");
    CHECK(tree("col:x") == "\"col x\"");                  // no column filters
    CHECK(tree("^a") == "a");
    CHECK(tree("rock & roll") == "(rock AND roll)");      // a word of no token leaves the implicit AND
    CHECK(tree("& -") == "\"\"");                         // ... unless nothing is left: matches nothing
    CHECK(tree("\"\"") == "\"\"");
    CHECK(tree("a AND \".\"") == "(a AND \"\")");          // explicit operators keep it, as FTS5
    CHECK(tree("a OR .") == "(a OR \"\")");
}

TEST_CASE("text query: errors say what was expected, at a code-point column and a byte offset", "[text]") {
    struct expectation {
        std::string_view query;
        std::string_view detail;
        std::uint64_t offset;
    };
    const expectation cases[] = {
        {"", "empty query: expected a term at column 1", 0},
        {"   ", "empty query: expected a term at column 4", 3},
        {"(a", "expected ')' for the '(' at column 1", 0},
        {"a (b OR (c)", "expected ')' for the '(' at column 3", 2},
        {"a)", "unmatched ')' at column 2", 1},
        {"\"abc", "expected '\"' to close the string opened at column 1", 0},
        {"a \"b\"\"", "expected '\"' to close the string opened at column 3", 2},
        {"*", "'*' must follow a term at column 1", 0},
        {"a **", "'*' must follow a term at column 4", 3},
        {"(a)*", "'*' must follow a term at column 4", 3},
        {"a AND", "expected a term at the end of the query at column 6", 5},
        {"AND a", "expected a term before AND at column 1", 0},
        {"NOT a", "expected a term before NOT at column 1", 0},
        {"a OR OR b", "expected a term before OR at column 6", 5},
        {"a NOT", "expected a term at the end of the query at column 6", 5},
        {"a + ", "expected a term after '+' at column 3", 2},
        {"a + (b)", "expected a term after '+' at column 3", 2},
        {"()", "empty parentheses: expected a term at column 2", 1},
        {"(a OR)", "expected a term before ')' at column 6", 5},
        // Columns count code points: é is two bytes, 日本 six.
        {"é (", "expected ')' for the '(' at column 3", 3},
        {"日本 a)", "unmatched ')' at column 5", 8},
        {"ü AND", "expected a term at the end of the query at column 6", 6},
    };
    for (const auto& c : cases) {
        INFO("query: " << c.query);
        const auto e = parse_error(c.query);
        REQUIRE(e.has_value());
        CHECK(e->value() == errc::invalid_argument);
        CHECK(e->detail() == c.detail);
        CHECK(e->offset() == c.offset);
    }
    // Invalid UTF-8: the offset of the first bad byte.
    const auto e = parse_error(std::string_view("ab \xC3(", 5));
    REQUIRE(e.has_value());
    CHECK(e->value() == errc::invalid_argument);
    CHECK(e->detail() == "query is not valid UTF-8 at column 5");  // the byte after the lead
    CHECK(e->offset() == 4);
    // Deep nesting is refused, not a stack overflow: parentheses, and chains of NOT.
    const auto deep = parse_error(std::string(100'000, '(') + "a");
    REQUIRE(deep.has_value());
    CHECK(deep->value() == errc::invalid_argument);
    CHECK(deep->detail() == "parentheses nested too deeply at column 201");
    std::string chain = "a";
    for (int i = 0; i < 100'000; ++i) chain += " NOT b";
    const auto long_chain = parse_error(chain);
    REQUIRE(long_chain.has_value());
    CHECK(long_chain->detail().starts_with("query nested too deeply at column "));
    CHECK(tree("a NOT b NOT c NOT d").size() > 0);
}

TEST_CASE("text query: random input parses or fails with invalid_argument, nothing else", "[text]") {
    const auto rounds = static_cast<int>(test_support::steps(300'000));
    static constexpr std::string_view pieces[] = {
        "\"", "\"", "(", ")", "(", ")", "*", "+", " ", " ", " ", "AND", "OR", "NOT", " AND ", " OR ", " NOT ",
        "a", "b", "ab", "abc", "x", "Yz", "1", "-", "'", ".", ",", ":", "^", "\t", "é", "日", "\xC3", "\xFF", "\x80",
        "\xED\xA0\x80", "\"\"", "NEAR", "{", "}",
    };
    source_t s = small_corpus();
    std::mt19937_64 rng(20261207);
    int parsed = 0, refused = 0;
    for (int i = 0; i < rounds; ++i) {
        std::string q;
        const auto n = rng() % 12;
        for (std::uint64_t k = 0; k < n; ++k) q += pieces[rng() % std::size(pieces)];
        try {
            const auto query = parse_query(q, tokenizer_options{});
            ++parsed;
            // The printed form reads back as the same tree.
            const std::string printed = query.to_string();
            if (parse_query(printed, tokenizer_options{}).to_string() != printed) FAIL("query " << q << " prints as " << printed);
            if (i % 16 == 0) {
                // Whatever parses can be evaluated.
                for (const auto& hit : entidb::text::search(s, query, 3)) REQUIRE(hit.score > 0.0);
            }
        } catch (const entidb::error& e) {
            if (e.value() != errc::invalid_argument) FAIL("query " << q << ": " << e.what());
            ++refused;
        } catch (const std::exception& e) {
            FAIL("query " << q << ": " << e.what());
        }
    }
    // Both outcomes are common: the alphabet is not too kind nor too cruel.
    CHECK(parsed > rounds / 10);
    CHECK(refused > rounds / 10);
}

TEST_CASE("text query: plain_query is the AND of the words, operators included", "[text]") {
    const tokenizer_options options;
    CHECK(plain_query("hello", options).to_string() == "hello");
    CHECK(plain_query("a AND (b OR \"c", options).to_string() == "(a AND and AND b AND or AND c)");
    CHECK(plain_query("* ) NOT", options).to_string() == "not");
    CHECK(plain_query("", options).matches_nothing());
    CHECK(plain_query("... !", options).matches_nothing());
    try {
        (void)plain_query("ok \xFF", options);
        FAIL("invalid UTF-8 accepted");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::invalid_argument);
    }
    source_t s = small_corpus();
    CHECK(entidb::text::search(s, plain_query("A, C!", options), 10).size() == 1);
    CHECK(entidb::text::search(s, plain_query("--", options), 10).empty());
}

TEST_CASE("text query: phrases need consecutive positions; prefixes take every term", "[text]") {
    source_t s;
    s.add(1, "the quick brown fox");
    s.add(2, "the brown quick fox");
    s.add(3, "quick, brown; quickly browsing");
    s.add(4, "quiet brown bread");
    s.add(5, "brown brown brown");
    CHECK(docs_of(s, "\"quick brown\"") == std::vector<std::uint64_t>{1, 3});
    CHECK(docs_of(s, "quick brown") == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(docs_of(s, "qui*") == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(docs_of(s, "quick*") == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(docs_of(s, "\"quick brow\"*") == std::vector<std::uint64_t>{1, 3});
    CHECK(docs_of(s, "qui* + brown") == std::vector<std::uint64_t>{1, 3, 4});
    CHECK(docs_of(s, "\"quickly brow\"*") == std::vector<std::uint64_t>{3});
    CHECK(docs_of(s, "\"brown brown\"") == std::vector<std::uint64_t>{5});
    CHECK(docs_of(s, "fox NOT \"brown quick\"") == std::vector<std::uint64_t>{1});
    CHECK(docs_of(s, "zebra*").empty());
    CHECK(docs_of(s, "\"the zebra\"").empty());
    CHECK(docs_of(s, "\". ,\"").empty());
    // "brown brown" occurs twice in document 5 (positions 0 and 1): two instances, as FTS5.
    const auto phrase_hits = all_hits(s, "\"brown brown\"");
    const double idf = entidb::text::bm25_idf(5, 1);
    CHECK(phrase_hits[0].second == Approx(entidb::text::bm25_term(idf, 2, 3, 18.0 / 5)).epsilon(1e-12));
}

TEST_CASE("text query: BM25 scores are FTS5's bm25() negated", "[text]") {
    const source_t s = small_corpus();
    // N = 5, avgdl = 14 / 5 = 2.8; "a" is in 2 documents: idf = log(3.5 / 2.5).
    const auto a = all_hits(s, "a");
    REQUIRE(a.size() == 2);
    CHECK(a[0].first == 1);
    CHECK(a[0].second == Approx(std::log(1.4) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2.8))).epsilon(1e-12));
    // The values FTS5 gives (SELECT -bm25(t) ... for the same five rows).
    CHECK(a[0].second == Approx(0.38100532676225585).epsilon(1e-12));
    CHECK(a[1].second == Approx(0.4535380694938012).epsilon(1e-12));
    CHECK(all_hits(s, "a c")[0].second == Approx(0.7804574665894908).epsilon(1e-12));
    CHECK(all_hits(s, "\"c d\"")[0].second == Approx(0.9347308975408228).epsilon(1e-12));
    // "e*" is in 3 of 5 documents: idf = log(2.5 / 3.5) < 0, floored at 1e-6.
    const auto e = all_hits(s, "e*");
    REQUIRE(e.size() == 3);
    CHECK(e[0].second == Approx(8.50828729281768e-07).epsilon(1e-12));
    CHECK(e[1].second == Approx(1.1323529411764707e-06).epsilon(1e-12));
    CHECK(e[2].second == Approx(9.71608832807571e-07).epsilon(1e-12));
    // A phrase counts only where its part of the query matched: in document 1 ("a b"),
    // b AND c does not match, so b adds nothing (FTS5 agrees: 0.381..., the score of "a").
    const auto mixed = all_hits(s, "a OR (b AND c)");
    REQUIRE(mixed.size() == 3);
    CHECK(mixed[0].second == a[0].second);
    CHECK(mixed[2].second == Approx(0.5725604910460419).epsilon(1e-12));
    // The right side of NOT never counts; a phrase of no token adds nothing.
    CHECK(all_hits(s, "a NOT c")[0].second == a[0].second);
    CHECK(all_hits(s, "a OR \".\"") == a);
    CHECK(all_hits(s, "\".\" a") == a);
    CHECK(all_hits(s, "a AND \".\"").empty());
}

TEST_CASE("text query: search returns the best hits first, ties in doc order", "[text]") {
    source_t s;
    for (std::uint64_t d : {9, 3, 7, 1, 5}) s.add(d, "same words here");  // five equal scores
    s.add(4, "words");                                                     // the best: shortest
    s.add(2, "words words words and more and more and more");             // the most instances
    s.add(8, "nothing relevant");
    const auto q = parse_query("words", tokenizer_options{});
    const auto all = entidb::text::search(s, q, 100);
    REQUIRE(all.size() == 7);
    for (std::size_t i = 1; i < all.size(); ++i) {
        CHECK(all[i - 1].score >= all[i].score);
        if (all[i - 1].score == all[i].score) CHECK(all[i - 1].doc < all[i].doc);
    }
    CHECK(all[0].doc == 4);
    const auto top3 = entidb::text::search(s, q, 3);
    REQUIRE(top3.size() == 3);
    CHECK(top3[0] == all[0]);
    CHECK(top3[1] == all[1]);
    CHECK(top3[2] == all[2]);
    // Among the five ties the smallest ids win.
    std::vector<std::uint64_t> tied;
    for (const auto& h : all)
        if (h.score == all.back().score) tied.push_back(h.doc);
    CHECK(tied == std::vector<std::uint64_t>{1, 3, 5, 7, 9});
    const auto top5 = entidb::text::search(s, q, 5);
    CHECK(top5.back().doc == all[4].doc);
    CHECK(entidb::text::search(s, q, 0).empty());
    CHECK(entidb::text::search(s, parse_query("absent", tokenizer_options{}), 10).empty());

    // search_all: every hit, in doc order, with the same scores.
    const auto range = entidb::text::search_all(s, q);
    CHECK(range.size() == 7);
    std::vector<std::uint64_t> order;
    for (const auto& h : range) {
        order.push_back(h.doc);
        bool found = false;
        for (const auto& b : all) found = found || (b.doc == h.doc && b.score == h.score);
        CHECK(found);
    }
    CHECK(order == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 7, 9});
    // The range keeps its own copy of the query.
    const auto temporary = entidb::text::search_all(s, parse_query("words NOT same", tokenizer_options{}));
    CHECK(temporary.size() == 2);
}

TEST_CASE("text query: a query built by hand evaluates like the parsed one", "[text]") {
    using entidb::text::phrase;
    using entidb::text::phrase_token;
    using kind = entidb::text::query_node::kind;
    entidb::text::query q;
    const auto a = q.add_phrase(phrase{{phrase_token{"a", false}}});
    const auto b = q.add_phrase(phrase{{phrase_token{"b", false}}});
    const auto c = q.add_phrase(phrase{{phrase_token{"c", false}}});
    q.set_root(q.add_node(kind::any_of, {a, q.add_node(kind::all_of, {b, c})}));
    CHECK(q.to_string() == "(a OR (b AND c))");
    const source_t s = small_corpus();
    std::vector<std::pair<std::uint64_t, double>> built;
    for (const auto& hit : entidb::text::search_all(s, q)) built.emplace_back(hit.doc, hit.score);
    CHECK(built == all_hits(s, "a OR (b AND c)"));
    // Malformed trees are refused while they are built.
    CHECK(test_support::code_of([&] { (void)q.add_node(kind::but_not, {a}); }) == errc::invalid_argument);
    CHECK(test_support::code_of([&] { (void)q.add_node(kind::all_of, {}); }) == errc::invalid_argument);
    CHECK(test_support::code_of([&] { (void)q.add_node(kind::leaf, {a}); }) == errc::invalid_argument);
    CHECK(test_support::code_of([&] { (void)q.add_node(kind::any_of, {a, 99}); }) == errc::invalid_argument);
    CHECK(test_support::code_of([&] { q.set_root(99); }) == errc::invalid_argument);
    CHECK(entidb::text::query().matches_nothing());
    CHECK(entidb::text::search(s, entidb::text::query(), 10).empty());
    CHECK(entidb::text::search_all(s, entidb::text::query()).size() == 0);
}

namespace {
struct not_a_source {
    using doc_type = std::uint64_t;
    std::uint64_t doc_count() const;
};
}  // namespace

TEST_CASE("text query: the posting_source concept", "[text]") {
    STATIC_REQUIRE(entidb::text::posting_source<source_t>);
    STATIC_REQUIRE(entidb::text::posting_source<text_test::memory_posting_source<std::string>>);
    STATIC_REQUIRE(!entidb::text::posting_source<not_a_source>);
    STATIC_REQUIRE(!entidb::text::posting_source<int>);
}
