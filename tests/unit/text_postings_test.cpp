// The storage of a full-text index (index/text_postings.hpp): its views search like the
// in-memory model (tests/text/memory_posting_source.hpp) built from the documents their
// snapshot sees, across updates, removals and garbage rewrites, and beside a writer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <entidb/index/text_postings.hpp>

#include "../text/memory_posting_source.hpp"
#include "test_ids.hpp"
#include "test_steps.hpp"

using entidb::entity_id;
using entidb::text_postings;
using test_support::id_of;

namespace {

using model_source = text_test::memory_posting_source<entity_id>;

// Words sharing prefixes, so that prefix queries match several terms.
const std::vector<std::string> vocabulary = {"red",  "reds", "redo", "blue", "blues", "green", "gray",  "grey",
                                             "ant",  "anta", "bee",  "bees", "cat",   "cats",  "dog",   "dogs",
                                             "echo", "ego",  "fig",  "figs", "zeta",  "alpha", "alpine"};

std::string random_text(std::mt19937_64& rng, std::size_t max_words = 12) {
    std::string out;
    const std::size_t n = rng() % (max_words + 1);
    for (std::size_t i = 0; i < n; ++i) {
        if (i != 0) out += (rng() % 5 == 0) ? ", " : " ";
        std::string w = vocabulary[rng() % vocabulary.size()];
        if (rng() % 7 == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');  // case folds away
        out += w;
    }
    return out;
}

std::string random_query(std::mt19937_64& rng) {
    const auto word = [&] { return vocabulary[rng() % vocabulary.size()]; };
    const auto term = [&]() -> std::string {
        switch (rng() % 5) {
            case 0: return word().substr(0, 1 + rng() % 2) + "*";
            case 1: return "\"" + word() + " " + word() + "\"";
            default: return word();
        }
    };
    switch (rng() % 6) {
        case 0: return term();
        case 1: return term() + " " + term();
        case 2: return term() + " OR " + term();
        case 3: return term() + " NOT " + term();
        case 4: return "(" + term() + " OR " + term() + ") " + term();
        default: return term() + " OR " + term() + " " + term();
    }
}

// One entity's history: its texts with the sequences they were current for.
struct version {
    std::uint64_t from, to;
    std::string text;
};
using history = std::map<entity_id, std::vector<version>>;

model_source model_at(const history& h, std::uint64_t snapshot) {
    model_source m;
    for (const auto& [id, versions] : h)
        for (const auto& v : versions)
            if (v.from <= snapshot && snapshot < v.to) m.add(id, v.text);
    return m;
}

// The view's answers to `text` equal the model's: every hit with its score, and the best 5.
void check_query(const text_postings::snapshot_view& view, const model_source& model, const std::string& text) {
    INFO("query: " << text << " at snapshot " << view.snapshot());
    const auto q = entidb::text::parse_query(text, {});
    std::map<entity_id, double> expected, got;
    for (const auto& hit : entidb::text::search_all(model, q)) expected[hit.doc] = hit.score;
    for (const auto& hit : entidb::text::search_all(view, q)) {
        CHECK(got.count(view.id_of(hit.doc)) == 0);  // one version per entity
        got[view.id_of(hit.doc)] = hit.score;
    }
    REQUIRE(got.size() == expected.size());
    CHECK(got == expected);

    const auto best = entidb::search(view, q, 5);
    const auto model_best = entidb::text::search(model, q, 5);
    REQUIRE(best.size() == model_best.size());
    for (std::size_t i = 0; i < best.size(); ++i) {
        CHECK(best[i].score == model_best[i].score);
        CHECK(best[i].score == expected[best[i].doc]);
    }
    // Hits scoring above the last kept one are the same set (ties at the cut may differ).
    if (!best.empty()) {
        std::set<entity_id> a, b;
        for (const auto& h : best)
            if (h.score > best.back().score) a.insert(h.doc);
        for (const auto& h : model_best)
            if (h.score > best.back().score) b.insert(h.doc);
        CHECK(a == b);
    }
}

void check_view(const text_postings::snapshot_view& view, const model_source& model, std::mt19937_64& rng,
                std::size_t queries) {
    REQUIRE(view.doc_count() == model.doc_count());
    REQUIRE(view.total_tokens() == model.total_tokens());
    for (std::size_t i = 0; i < queries; ++i) check_query(view, model, random_query(rng));
}

std::vector<std::string> all_terms(const text_postings::snapshot_view& view, std::string_view prefix) {
    std::vector<std::string> out;
    view.for_each_term_with_prefix(prefix, [&](std::string_view t) { out.emplace_back(t); });
    return out;
}

// Zipf-distributed words over a vocabulary of `words` made-up words.
class zipf_text {
public:
    zipf_text(std::size_t words, std::uint64_t seed) : rng_(seed) {
        std::vector<double> weights(words);
        for (std::size_t i = 0; i < words; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
        dist_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
        for (std::size_t i = 0; i < words; ++i) {
            std::string w;
            std::size_t n = i * 2654435761u + 7;
            const std::size_t len = 3 + (n >> 7) % 6;
            for (std::size_t k = 0; k < len; ++k, n /= 23) w += static_cast<char>('a' + (n + k * 7) % 26);
            words_.push_back(w + std::to_string(i % 97));
        }
    }
    std::string next(std::size_t count) {
        std::string out;
        for (std::size_t i = 0; i < count; ++i) {
            if (i != 0) out += ' ';
            out += words_[dist_(rng_)];
        }
        return out;
    }

private:
    std::mt19937_64 rng_;
    std::discrete_distribution<std::size_t> dist_;
    std::vector<std::string> words_;
};

}  // namespace

TEST_CASE("text postings: every view searches like the model of its snapshot, across rewrites", "[text]") {
    std::mt19937_64 rng(20261207);
    const std::size_t ids = 300;
    // A small rewrite batch, so that garbage rewrites and dictionary sorts happen often.
    text_postings index({}, 16);
    history h;
    std::uint64_t seq = 0;
    std::vector<std::uint64_t> held;  // snapshots readers hold; the oldest bounds the garbage
    const std::size_t steps = test_support::steps(3000);
    for (std::size_t step = 0; step < steps; ++step) {
        ++seq;
        const std::uint64_t oldest = held.empty() ? seq : std::min(held.front(), seq);
        const std::size_t changes = 1 + rng() % 3;
        std::set<entity_id> touched;
        for (std::size_t c = 0; c < changes; ++c) {
            const entity_id id = id_of(rng() % ids);
            if (!touched.insert(id).second) continue;  // one change per entity per commit
            auto& versions = h[id];
            const bool live = !versions.empty() && versions.back().to == text_postings::open_ended;
            if (live && rng() % 3 == 0) {
                index.remove(id, seq, oldest);
                versions.back().to = seq;
            } else {
                const std::string text = random_text(rng);
                if (live) {
                    index.remove(id, seq, oldest);  // an update: remove and add at one sequence
                    versions.back().to = seq;
                }
                index.add(id, text, seq);
                versions.push_back({seq, text_postings::open_ended, text});
            }
        }
        if (rng() % 10 == 0) held.push_back(seq);  // a reader takes a snapshot
        // Readers let go: snapshots live for a few dozen commits, so garbage becomes droppable.
        if (!held.empty() && rng() % 4 == 0) held.erase(held.begin() + static_cast<std::ptrdiff_t>(rng() % held.size()));
        if (step % 25 == 24) {
            // The newest state and every held snapshot.
            std::vector<std::uint64_t> snapshots(held);
            snapshots.push_back(seq);
            for (const auto s : snapshots) {
                const auto model = model_at(h, s);
                const auto view = index.view(s);
                check_view(view, model, rng, 8);
            }
        }
    }
    INFO("versions " << index.version_count() << ", rewrites " << index.rewrite_count());
    CHECK(index.rewrite_count() > 0);
    // Prefix walks: in byte order, each term once, with the sorted part and the recent tail.
    const auto view = index.view(seq);
    const auto terms = all_terms(view, "");
    CHECK(std::is_sorted(terms.begin(), terms.end()));
    CHECK(std::adjacent_find(terms.begin(), terms.end()) == terms.end());
    CHECK(all_terms(view, "blue") == std::vector<std::string>{"blue", "blues"});
}

TEST_CASE("text postings: a view never sees a later commit; garbage goes only when no snapshot sees it", "[text]") {
    text_postings index({}, 1);  // check for garbage at every removal
    const auto q = entidb::text::parse_query("apple", {});
    const auto ids_of = [&](std::uint64_t s) {
        std::set<entity_id> out;
        const auto view = index.view(s);
        for (const auto& hit : entidb::search(view, q, 100)) out.insert(hit.doc);
        return out;
    };
    index.add(id_of(1), "apple pie", 1);
    index.add(id_of(2), "apple tart", 2);
    {
        const auto view = index.view(1);
        CHECK(view.doc_count() == 1);
        CHECK(view.total_tokens() == 2);
    }
    CHECK(ids_of(0).empty());
    CHECK(ids_of(1) == std::set<entity_id>{id_of(1)});
    CHECK(ids_of(2) == std::set<entity_id>{id_of(1), id_of(2)});

    // An update at 3 (snapshot 2 still read), a removal at 4.
    index.remove(id_of(1), 3, 2);
    index.add(id_of(1), "pear", 3);
    index.remove(id_of(2), 4, 2);
    CHECK(ids_of(2) == std::set<entity_id>{id_of(1), id_of(2)});
    CHECK(ids_of(3) == std::set<entity_id>{id_of(2)});
    CHECK(ids_of(4).empty());
    {
        const auto view = index.view(4);
        CHECK(view.doc_count() == 1);
        CHECK(view.total_tokens() == 1);
    }
    {
        const auto view = index.view(2);
        CHECK(view.doc_count() == 2);
        CHECK(view.total_tokens() == 4);
    }
    CHECK(index.version_count() == 3);
    CHECK(index.rewrite_count() == 0);  // snapshot 2 sees both closed versions

    // Snapshot 3 is now the oldest: the first text of 1 (closed at 3) goes, 2's (closed at 4) stays.
    index.add(id_of(3), "apple", 5);
    index.remove(id_of(3), 6, 3);
    CHECK(index.rewrite_count() == 1);
    CHECK(index.version_count() == 3);  // pear, 2's apple tart, 3's apple
    CHECK(ids_of(3) == std::set<entity_id>{id_of(2)});
    CHECK(ids_of(5) == std::set<entity_id>{id_of(3)});
    {
        const auto view = index.view(3);
        CHECK(view.doc_count() == 2);
        CHECK(view.total_tokens() == 3);
        CHECK(all_terms(view, "p") == std::vector<std::string>{"pear"});  // "pie" went with its version
    }
    // Nothing older than 6 is read any more: only the live version stays.
    index.remove(id_of(1), 7, 7);
    CHECK(index.version_count() == 0);
    const auto view = index.view(7);
    CHECK(view.doc_count() == 0);
    CHECK(view.total_tokens() == 0);
    CHECK(all_terms(view, "").empty());
}

TEST_CASE("text postings: prefix walks merge the sorted terms with the recent unsorted ones", "[text]") {
    std::mt19937_64 rng(17);
    text_postings index({}, 8);  // sorted in again once more than 8 (or an eighth) are new
    model_source model;
    const auto model_terms = [&](std::string_view prefix) {
        std::vector<std::string> out;
        model.for_each_term_with_prefix(prefix, [&](std::string_view t) { out.emplace_back(t); });
        return out;
    };
    for (std::uint64_t i = 0; i < 400; ++i) {
        std::string text;
        for (int k = 0; k < 3; ++k) text += "t" + std::to_string(rng() % 2000) + " ";
        index.add(id_of(i), text, 1);
        model.add(id_of(i), text);
        if (i % 7 == 0) {
            const auto view = index.view(1);
            for (const std::string prefix : {"", "t", "t1", "t19", "t5", "t999", "u"}) {
                INFO("prefix " << prefix << " after " << i + 1 << " documents");
                CHECK(all_terms(view, prefix) == model_terms(prefix));
            }
            check_query(view, model, "t1* OR t2*");
        }
    }
}

TEST_CASE("text postings: a text with no token is a document of length 0", "[text]") {
    text_postings index;
    index.add(id_of(1), "", 1);
    index.add(id_of(2), " ...!? ", 1);
    index.add(id_of(3), "word", 1);
    const auto view = index.view(1);
    CHECK(view.doc_count() == 3);
    CHECK(view.total_tokens() == 1);
    CHECK(view.doc_length(0) == 0);
    CHECK(view.id_of(2) == id_of(3));
}

TEST_CASE("text postings: an add for an entity that has a text replaces it at that sequence", "[text]") {
    text_postings index;
    index.add(id_of(1), "old words here", 1);
    index.add(id_of(1), "new", 3);  // no remove(): the old text ends at 3
    const auto count = [&](std::uint64_t s, const char* query) {
        const auto view = index.view(s);
        return entidb::search(view, entidb::text::parse_query(query, {}), 10).size();
    };
    CHECK(count(2, "old") == 1);
    CHECK(count(2, "new") == 0);
    CHECK(count(3, "old") == 0);
    CHECK(count(3, "new") == 1);
    {
        const auto view = index.view(2);
        CHECK(view.doc_count() == 1);
        CHECK(view.total_tokens() == 3);
    }
    const auto view = index.view(3);
    CHECK(view.doc_count() == 1);
    CHECK(view.total_tokens() == 1);
}

TEST_CASE("text postings: a bulk build equals the same documents added one commit at a time", "[text]") {
    std::mt19937_64 rng(5);
    std::vector<std::pair<entity_id, std::string>> docs;
    for (std::uint64_t i = 0; i < 2000; ++i) docs.emplace_back(id_of(i), random_text(rng, 30));
    // Open streams the entities in id order, each with the sequence of its last write.
    text_postings bulk;
    std::vector<std::uint64_t> from(docs.size());
    for (auto& f : from) f = 1 + rng() % 1000;
    for (std::size_t i = 0; i < docs.size(); ++i) bulk.add(docs[i].first, docs[i].second, from[i], 1000);
    // The same final state reached by commits, in another order, with updates on the way.
    text_postings commits;
    std::uint64_t seq = 0;
    for (std::size_t i = docs.size(); i-- > 0;) {
        ++seq;
        if (i % 3 == 0) {
            commits.add(docs[i].first, random_text(rng), seq, seq);
            commits.remove(docs[i].first, seq + 1, seq);
            ++seq;
        }
        commits.add(docs[i].first, docs[i].second, seq, seq);
    }
    model_source model;
    for (const auto& [id, text] : docs) model.add(id, text);
    const auto a = bulk.view(1000);
    const auto b = commits.view(seq);
    // Each query is scored against the model over every document: unoptimised and sanitizer
    // builds (test_steps.hpp) ask a quarter of them.
    const std::size_t queries = std::max<std::size_t>(50, test_support::steps(200));
    for (std::size_t i = 0; i < queries; ++i) {
        const std::string query = random_query(rng);
        check_query(a, model, query);
        check_query(b, model, query);
    }
    CHECK(all_terms(a, "") == all_terms(b, ""));
}

TEST_CASE("text postings: text that is not valid UTF-8 is refused and changes nothing", "[text]") {
    text_postings index;
    index.add(id_of(1), "alpha beta", 1);
    const auto bytes = index.memory_bytes();
    const auto terms = index.term_count();
    try {
        index.add(id_of(2), "gamma \xff delta", 2);
        FAIL("invalid UTF-8 was accepted");
    } catch (const entidb::error& e) {
        CHECK(e.code() == entidb::errc::invalid_argument);
    }
    try {
        index.add(id_of(1), "alpha \xc3", 2);  // an update of a live entity: the old text stays
        FAIL("invalid UTF-8 was accepted");
    } catch (const entidb::error& e) {
        CHECK(e.code() == entidb::errc::invalid_argument);
    }
    CHECK(index.memory_bytes() == bytes);
    CHECK(index.term_count() == terms);
    CHECK(index.version_count() == 1);
    const auto view = index.view(2);
    CHECK(view.doc_count() == 1);
    CHECK(view.total_tokens() == 2);
    CHECK(entidb::search(view, entidb::text::parse_query("alpha", {}), 10).size() == 1);
    CHECK(all_terms(view, "").size() == 2);
}

TEST_CASE("text postings: readers search while a writer adds, updates and removes", "[text][threads]") {
    text_postings index({}, 32);
    std::mt19937_64 setup(9);
    for (std::uint64_t i = 0; i < 200; ++i) index.add(id_of(i), random_text(setup) + " x", 1);
    // The snapshots readers hold, as the engine's registry keeps them: a reader takes the
    // newest published sequence and registers it in one step, and the writer's oldest
    // snapshot is the least registered one (or the newest, when none is).
    std::mutex snapshots_mutex;
    std::multiset<std::uint64_t> snapshots;
    std::uint64_t published = 1;
    const auto pin = [&] {
        const std::lock_guard lock(snapshots_mutex);
        snapshots.insert(published);
        return published;
    };
    const auto unpin = [&](std::uint64_t s) {
        const std::lock_guard lock(snapshots_mutex);
        snapshots.erase(snapshots.find(s));
    };
    std::atomic<bool> done{false};
    std::atomic<std::size_t> failures{0}, searches{0};

    const auto reader = [&](std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        while (!done.load()) {
            const std::uint64_t s = pin();
            {
                const auto view = index.view(s);
                const auto q = entidb::text::parse_query(random_query(rng), {});
                std::size_t hits = 0;
                for (const auto& hit : entidb::text::search_all(view, q)) {
                    if (hit.score < 0 || view.doc_length(hit.doc) == 0) failures.fetch_add(1);
                    ++hits;
                }
                if (hits > view.doc_count() || view.doc_count() != 200) failures.fetch_add(1);
                const auto x = entidb::search(view, entidb::text::parse_query("x", {}), 1000);
                if (x.size() != 200) failures.fetch_add(1);  // every text has an x, once per entity
            }
            unpin(s);
            searches.fetch_add(1);
        }
    };
    std::thread r1(reader, 1), r2(reader, 2);
    std::mt19937_64 rng(3);
    std::uint64_t seq = 1;
    // Until the index has rewritten a list beside the readers at least once: a slow reader
    // (a sanitizer build on a busy machine) holds back the oldest snapshot, so how many steps
    // that takes varies; bounded all the same.
    const std::size_t steps = test_support::steps(4000);
    for (std::size_t step = 0; step < steps || (index.rewrite_count() == 0 && step < 50 * steps); ++step) {
        ++seq;
        const entity_id id = id_of(rng() % 200);
        std::uint64_t oldest = 0;
        {
            const std::lock_guard lock(snapshots_mutex);
            oldest = snapshots.empty() ? published : *snapshots.begin();
        }
        index.remove(id, seq, oldest);
        index.add(id, random_text(rng) + " x", seq);
        const std::lock_guard lock(snapshots_mutex);
        published = seq;
    }
    done.store(true);
    r1.join();
    r2.join();
    INFO("searches " << searches.load() << ", rewrites " << index.rewrite_count());
    CHECK(failures.load() == 0);
    CHECK(index.rewrite_count() > 0);
    const auto view = index.view(seq);
    CHECK(view.doc_count() == 200);
}

TEST_CASE("text postings: bytes per (document, term) pair at 10,000 documents of 100 Zipf words", "[text][memory]") {
    // A vocabulary of 50,000 words: at 10,000 documents most of it has occurred, so the
    // dictionary (about 70 bytes per term) weighs more here than at 100,000 documents, where
    // the same measure gives 4.1 and 3.9 bytes (docs/indexes.md, "Full-text index storage").
    zipf_text gen(50'000, 11);
    text_postings index;
    const std::size_t docs = 10'000;
    for (std::uint64_t i = 0; i < docs; ++i) index.add(id_of(i), gen.next(100), 1, 1);
    const double pairs = static_cast<double>(index.posting_count());
    const auto per_pair = [&] { return static_cast<double>(index.memory_bytes()) / pairs; };
    INFO("pairs " << pairs << ", terms " << index.term_count() << ", posting bytes " << index.posting_bytes());
    const double built = per_pair();
    INFO("bytes per pair as built " << built);
    CHECK(built < 9.0);
    index.shrink_to_fit();  // what open does after its bulk build
    const double shrunk = per_pair();
    INFO("bytes per pair after shrink_to_fit " << shrunk);
    CHECK(shrunk < 8.0);
    CHECK(shrunk < built);
    const auto view = index.view(1);
    CHECK(view.doc_count() == docs);
    CHECK(view.total_tokens() == docs * 100);
}
