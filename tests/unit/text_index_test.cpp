// The full-text index kind (index/text_index.hpp) in a database: declared, maintained by
// commits with the snapshot rules of every index, searched, rebuilt at open from the
// entities, its options kept in the MANIFEST (version 3), and refused where it does not fit.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::code_of;
using test_support::id_of;
using test_support::temp_dir;

namespace {

entidb::byte_buffer note(std::string_view body, std::uint64_t n = 0) {
    entidb::byte_buffer out;
    entidb::cbor::encoder(out).begin_map(2).text("body").text(body).text("n").uint(n).end_map();
    return out;
}

std::vector<entidb::entity_id> ids_of(const std::vector<entidb::text_hit>& hits) {
    std::vector<entidb::entity_id> out;
    for (const auto& h : hits) out.push_back(h.doc);
    return out;
}

std::uint16_t manifest_version(const std::filesystem::path& dir) {
    std::ifstream f(dir / "MANIFEST", std::ios::binary);
    char b[6] = {};
    f.read(b, 6);
    return static_cast<std::uint16_t>(static_cast<unsigned char>(b[4]) | static_cast<unsigned char>(b[5]) << 8);
}

}  // namespace

TEST_CASE("text index: search ranks by BM25 and sees exactly its snapshot", "[text_index]") {
    temp_dir dir;
    auto db = entidb::open(dir.path());
    db.transaction([&](auto& txn) {
        txn.put("notes", id_of(1), note("the quick brown fox"));
        txn.put("notes", id_of(2), note("a fox, a fox, a fox!"));
        txn.put("notes", id_of(3), note("nothing to see"));
        txn.put("notes", id_of(4), entidb::byte_buffer{0xa1, 0x64, 'b', 'o', 'd', 'y', 0x05});  // not text: not indexed
    });
    CHECK(manifest_version(dir.path()) == 2);
    db.declare_index("notes", "body", entidb::index_kind::text);
    CHECK(manifest_version(dir.path()) == 3);  // a text index has options: a version-3 MANIFEST

    auto before = db.begin_read();
    auto hits = before.search("notes", "body", "fox");
    REQUIRE(hits.size() == 2);
    CHECK(hits[0].doc == id_of(2));  // three occurrences in a short text
    CHECK(hits[1].doc == id_of(1));
    CHECK(hits[0].score > hits[1].score);
    CHECK(hits[1].score > 0);
    CHECK(ids_of(before.search("notes", "body", "\"brown fox\"")) == std::vector{id_of(1)});
    CHECK(ids_of(before.search("notes", "body", "fox NOT quick")) == std::vector{id_of(2)});
    CHECK(ids_of(before.search("notes", "body", "qui*")) == std::vector{id_of(1)});
    CHECK(before.search("notes", "body", "fox", 1).size() == 1);
    CHECK(before.find("notes", "body", entidb::cbor::value("FOX brown")).ids() == std::vector{id_of(1)});

    db.transaction([&](auto& txn) {
        txn.put("notes", id_of(1), note("a slow green turtle"));
        txn.remove("notes", id_of(2));
        txn.put("notes", id_of(5), note("the fox is back"));
    });
    CHECK(ids_of(before.search("notes", "body", "fox")) == std::vector{id_of(2), id_of(1)});  // unchanged
    auto after = db.begin_read();
    CHECK(ids_of(after.search("notes", "body", "fox")) == std::vector{id_of(5)});
    CHECK(ids_of(after.search("notes", "body", "turtle")) == std::vector{id_of(1)});
}

TEST_CASE("text index: options, persistence and rebuild at open", "[text_index]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path());
        db.declare_index("notes", "body", entidb::text_index_options{.keep_diacritics = false,
                                                                     .stem = entidb::text::stemmer::english});
        db.transaction([&](auto& txn) {
            txn.put("notes", id_of(1), note("Running in the café"));
            txn.put("notes", id_of(2), note("She runs daily"));
        });
        auto r = db.begin_read();
        CHECK(ids_of(r.search("notes", "body", "run")) == std::vector{id_of(2), id_of(1)});  // the shorter text first
        CHECK(ids_of(r.search("notes", "body", "cafe")) == std::vector{id_of(1)});
        // The same declaration again is a no-op; other options on the same path are refused.
        CHECK(code_of([&] {
                  db.declare_index("notes", "body", entidb::text_index_options{.stem = entidb::text::stemmer::english});
              }) == entidb::errc::ok);
        CHECK(code_of([&] { db.declare_index("notes", "body", entidb::index_kind::text); }) ==
              entidb::errc::invalid_argument);
        CHECK(code_of([&] { db.declare_index("notes", "body", entidb::index_kind::hash); }) ==
              entidb::errc::invalid_argument);
    }
    CHECK_NOTHROW(entidb::verify(dir.path()));  // each entity is found by the words of its own text
    auto db = entidb::open(dir.path());  // the options come back from the MANIFEST; the index is rebuilt
    auto r = db.begin_read();
    CHECK(ids_of(r.search("notes", "body", "running")) == std::vector{id_of(2), id_of(1)});
    const auto d = db.describe();
    REQUIRE(d.indexes.size() == 1);
    CHECK(d.indexes[0].kind == entidb::index_kind::text);
}

TEST_CASE("text index: what is refused", "[text_index]") {
    temp_dir dir;
    auto db = entidb::open(dir.path());
    db.declare_index("notes", "body", entidb::index_kind::text);
    db.declare_index("notes", "n", entidb::index_kind::hash);
    db.transaction([&](auto& txn) { txn.put("notes", id_of(1), note("hello world", 7)); });
    auto r = db.begin_read();
    // A query that does not parse names its column; plain words never fail.
    try {
        (void)r.search("notes", "body", "hello AND (world");
        FAIL("no error");
    } catch (const entidb::error& e) {
        CHECK(e.value() == entidb::errc::invalid_argument);
        CHECK_THAT(std::string(e.what()), Catch::Contains("column"));
    }
    CHECK(ids_of(r.search("notes", "body", "hello (world", 10, entidb::query_syntax::plain)) == std::vector{id_of(1)});
    CHECK(r.search("notes", "body", "hello AND world", 10, entidb::query_syntax::plain).empty());  // "and" is a word
    CHECK(code_of([&] { (void)r.search("notes", "n", "7"); }) == entidb::errc::no_such_index);
    CHECK(code_of([&] { (void)r.search("notes", "missing", "x"); }) == entidb::errc::no_such_index);
    CHECK(r.search("nothing-here", "body", "x").empty());
    CHECK(code_of([&] { db.declare_index("notes", "title", entidb::index_kind::text, true); }) ==
          entidb::errc::invalid_argument);  // never unique
    CHECK(code_of([&] { (void)r.range("notes", "body", std::nullopt, std::nullopt); }) ==
          entidb::errc::no_such_index);  // not ordered
}

TEST_CASE("text index: its size in memory, not counted as a lookup", "[text_index]") {
    temp_dir dir;
    auto db = entidb::open(dir.path());
    db.declare_index("notes", "body", entidb::index_kind::text);
    db.declare_index("notes", "n", entidb::index_kind::hash);
    db.transaction([&](auto& txn) { txn.put("notes", id_of(1), note("hello world", 7)); });
    const auto small = db.begin_read().index_memory_bytes("notes", "body");
    CHECK(small > 0);
    db.transaction([&](auto& txn) {
        for (std::uint64_t i = 2; i < 200; ++i)
            txn.put("notes", id_of(i), note("word" + std::to_string(i) + " and some more words", i));
    });
    auto r = db.begin_read();
    const auto lookups = db.stats().index_lookups;
    CHECK(r.index_memory_bytes("notes", "body") > small);  // more versions, more terms
    CHECK(r.index_memory_bytes("notes", "n") > 0);         // any kind of index
    CHECK(db.stats().index_lookups == lookups);
    CHECK(r.index_memory_bytes("nothing-here", "body") == 0);
    CHECK(code_of([&] { (void)r.index_memory_bytes("notes", "missing"); }) == entidb::errc::no_such_index);
    (void)r.search("notes", "body", "hello");
    CHECK(db.stats().index_lookups == lookups + 1);  // a search is one
}

namespace {

struct article {
    std::string title;
    std::string body;
    static constexpr auto entidb_fields =
        entidb::fields(entidb::field("title", &article::title), entidb::field("body", &article::body));
};

using articles_t = entidb::collection<article, entidb::text_index<"body", entidb::text::stemmer::english>,
                                      entidb::hash_index<"title">>;

}  // namespace

TEST_CASE("text index: typed, declared on the collection's type and searched for entities", "[text_index]") {
    temp_dir dir;
    auto db = entidb::open(dir.path());
    articles_t articles(db, "articles");  // declares the text index with its options
    db.transaction([&](auto& txn) {
        articles.put(txn, id_of(1), {"one", "Databases on devices"});
        articles.put(txn, id_of(2), {"two", "A device database runs offline"});
        articles.put(txn, id_of(3), {"three", "Nothing related"});
    });
    auto r = db.begin_read();
    const auto hits = articles.search<"body">(r, "database device");  // stemmed: "databases", "devices"
    REQUIRE(hits.size() == 2);
    CHECK(hits[0].score >= hits[1].score);
    CHECK(hits[0].value.title != hits[1].value.title);
    for (const auto& h : hits) CHECK((h.id == id_of(1) || h.id == id_of(2)));
    CHECK(articles.search<"body">(r, "offline", 1).front().value.title == "two");
    const auto d = db.describe();
    REQUIRE(d.indexes.size() == 2);
    CHECK(code_of([&] { db.declare_index("articles", "body", entidb::index_kind::text); }) ==
          entidb::errc::invalid_argument);  // the type declared other options
}
