// entidb/text/search.hpp — evaluating a full-text query over a posting source, ranked by BM25.
//
// Contract: search(source, q, limit) returns the best `limit` hits of `q` (text/query.hpp) over
// `source` (text/posting_source.hpp), best first: higher score first, equal scores in
// ascending doc order. It selects them with a bounded heap; the other hits are scored but
// never sorted. search_all(source, q) gives every hit as a range in ascending doc order,
// scoring each as the range is consumed (the source must outlive the range).
// Matching: a phrase matches where its tokens are at consecutive positions; a prefix token
// matches every term that starts with it; AND, OR and NOT (but_not) are set intersection,
// union and difference of the documents.
// Scoring (text/bm25.hpp, as FTS5's bm25()): each phrase of the query counts its instances
// in a document only where the part of the query holding it matched that document: the
// children of an OR that matched, both sides of a matching AND, the left side of a NOT. A
// phrase's document frequency is the number of documents it matches on its own.
// Errors: none of its own; whatever the source throws passes through.
//
// Thread-safety: reads the source only; a result is a value.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bm25.hpp"
#include "posting_source.hpp"
#include "query.hpp"

namespace entidb {
inline namespace v1 {
namespace text {

template <typename Doc>
struct search_hit {
    Doc doc;
    double score = 0;  // BM25, higher is better (FTS5's bm25() negated)

    friend bool operator==(const search_hit&, const search_hit&) = default;
};

}  // namespace text

namespace detail {

// One query evaluated: the documents each node matches, and each phrase's frequencies.
template <text::posting_source S>
class query_evaluation {
public:
    using doc_type = typename S::doc_type;

    query_evaluation(const S& source, const text::query& q, const text::bm25_parameters& params)
        : source_(&source), query_(q), params_(params) {
        if (q.matches_nothing()) return;
        nodes_.resize(q.nodes().size());
        leaves_.resize(q.phrases().size());
        evaluate(q.root());
        const auto n = static_cast<std::uint64_t>(source.doc_count());
        average_length_ = n == 0 ? 0.0 : static_cast<double>(source.total_tokens()) / static_cast<double>(n);
        for (auto& leaf : leaves_)
            if (leaf.used) leaf.idf = text::bm25_idf(n, leaf.docs.size());
    }

    [[nodiscard]] const std::vector<doc_type>& matches() const noexcept {
        static const std::vector<doc_type> none;
        return query_.matches_nothing() ? none : nodes_[query_.root()];
    }

    // Per node, where the last document scored through it was found in its documents.
    using cursors = std::vector<std::size_t>;
    [[nodiscard]] cursors first_cursors() const { return cursors(nodes_.size(), 0); }

    [[nodiscard]] double score(const doc_type& doc) const { return score(doc, nullptr); }
    // The same for documents scored in ascending order with the same `at` (search's loop
    // over matches()): each lookup steps forward from the last instead of searching a
    // whole list, which keeps the scoring of many matches in cache.
    [[nodiscard]] double score(const doc_type& doc, cursors& at) const { return score(doc, &at); }

private:
    struct leaf_data {
        std::vector<doc_type> docs;
        std::vector<std::uint32_t> frequency;  // instances per document, beside docs
        double idf = 0.0;
        bool used = false;
    };
    // The postings of one token of a phrase: documents with their positions, flattened.
    struct token_postings {
        std::vector<doc_type> docs;
        std::vector<std::size_t> starts{0};  // positions of docs[i]: [starts[i], starts[i + 1])
        std::vector<std::uint32_t> positions;

        [[nodiscard]] std::span<const std::uint32_t> at(std::size_t i) const noexcept {
            return {positions.data() + starts[i], starts[i + 1] - starts[i]};
        }
    };

    void evaluate(std::uint32_t node) {
        const text::query_node& n = query_.nodes()[node];
        std::vector<doc_type>& out = nodes_[node];
        if (n.type == text::query_node::kind::leaf) {
            leaf_data& leaf = leaves_[n.phrase];
            if (!leaf.used) {
                match_phrase(query_.phrases()[n.phrase], leaf);
                leaf.used = true;
            }
            out = leaf.docs;
            return;
        }
        for (std::uint32_t c : n.children) evaluate(c);
        std::vector<doc_type> scratch;
        switch (n.type) {
            case text::query_node::kind::all_of: {
                // Smallest first: each intersection is at most as large as it.
                std::vector<std::uint32_t> order(n.children);
                std::sort(order.begin(), order.end(),
                          [&](std::uint32_t a, std::uint32_t b) { return nodes_[a].size() < nodes_[b].size(); });
                out = nodes_[order[0]];
                for (std::size_t k = 1; k < order.size() && !out.empty(); ++k) {
                    scratch.clear();
                    const auto& other = nodes_[order[k]];
                    std::set_intersection(out.begin(), out.end(), other.begin(), other.end(), std::back_inserter(scratch));
                    out.swap(scratch);
                }
                break;
            }
            case text::query_node::kind::any_of:
                for (std::uint32_t c : n.children) {
                    scratch.clear();
                    const auto& other = nodes_[c];
                    std::set_union(out.begin(), out.end(), other.begin(), other.end(), std::back_inserter(scratch));
                    out.swap(scratch);
                }
                break;
            case text::query_node::kind::but_not: {
                const auto& left = nodes_[n.children[0]];
                const auto& right = nodes_[n.children[1]];
                std::set_difference(left.begin(), left.end(), right.begin(), right.end(), std::back_inserter(out));
                break;
            }
            case text::query_node::kind::leaf: break;
        }
    }

    [[nodiscard]] double score(const doc_type& doc, cursors* at) const {
        const double length = static_cast<double>(source_->doc_length(doc));
        double sum = 0.0;
        add_scores(query_.root(), doc, length, sum, at);
        return sum;
    }

    // The place of the first of `docs` not below `doc`. With a cursor, every document before
    // it is below `doc` (documents come in ascending order): gallop forward from there.
    [[nodiscard]] static std::size_t place(const std::vector<doc_type>& docs, const doc_type& doc, std::size_t* cursor) {
        if (cursor == nullptr) return static_cast<std::size_t>(std::lower_bound(docs.begin(), docs.end(), doc) - docs.begin());
        std::size_t lo = *cursor, hi = lo, step = 1;
        while (hi < docs.size() && docs[hi] < doc) {
            lo = hi + 1;
            hi = lo + step;
            step *= 2;
        }
        hi = std::min(hi, docs.size());
        const auto at = std::lower_bound(docs.begin() + static_cast<std::ptrdiff_t>(lo),
                                         docs.begin() + static_cast<std::ptrdiff_t>(hi), doc);
        return *cursor = static_cast<std::size_t>(at - docs.begin());
    }

    [[nodiscard]] static std::size_t* cursor_of(cursors* at, std::uint32_t node) noexcept {
        return at == nullptr ? nullptr : &(*at)[node];
    }

    [[nodiscard]] bool node_matches(std::uint32_t node, const doc_type& doc, cursors* at) const {
        const auto& docs = nodes_[node];
        const std::size_t i = place(docs, doc, cursor_of(at, node));
        return i < docs.size() && !(doc < docs[i]);
    }

    // Adds the contributions of the phrases under `node`, which matches `doc`.
    void add_scores(std::uint32_t node, const doc_type& doc, double length, double& sum, cursors* at) const {
        const text::query_node& n = query_.nodes()[node];
        switch (n.type) {
            case text::query_node::kind::leaf: {
                const leaf_data& leaf = leaves_[n.phrase];
                const auto f = static_cast<double>(leaf.frequency[place(leaf.docs, doc, cursor_of(at, node))]);
                sum += text::bm25_term(leaf.idf, f, length, average_length_, params_);
                return;
            }
            case text::query_node::kind::all_of:
                for (std::uint32_t c : n.children) add_scores(c, doc, length, sum, at);
                return;
            case text::query_node::kind::any_of:
                for (std::uint32_t c : n.children)
                    if (node_matches(c, doc, at)) add_scores(c, doc, length, sum, at);
                return;
            case text::query_node::kind::but_not:
                add_scores(n.children[0], doc, length, sum, at);
                return;
        }
    }

    void read_token(const text::phrase_token& t, token_postings& out) const {
        if (!t.prefix) {
            source_->for_each_posting(std::string_view(t.text), [&](const doc_type& doc, std::span<const std::uint32_t> pos) {
                out.docs.push_back(doc);
                out.positions.insert(out.positions.end(), pos.begin(), pos.end());
                out.starts.push_back(out.positions.size());
            });
            return;
        }
        // Every term with the prefix, merged by document (their positions never coincide).
        std::vector<std::string> terms;
        source_->for_each_term_with_prefix(std::string_view(t.text), [&](std::string_view term) { terms.emplace_back(term); });
        std::vector<std::pair<doc_type, std::uint32_t>> all;
        for (const auto& term : terms)
            source_->for_each_posting(std::string_view(term), [&](const doc_type& doc, std::span<const std::uint32_t> pos) {
                for (std::uint32_t p : pos) all.emplace_back(doc, p);
            });
        std::sort(all.begin(), all.end());
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (i == 0 || !(all[i].first == all[i - 1].first)) {
                if (i != 0) out.starts.push_back(out.positions.size());
                out.docs.push_back(all[i].first);
            }
            out.positions.push_back(all[i].second);
        }
        if (!all.empty()) out.starts.push_back(out.positions.size());
    }

    void match_phrase(const text::phrase& p, leaf_data& leaf) const {
        if (p.tokens.empty()) return;
        if (p.tokens.size() == 1 && !p.tokens[0].prefix) {
            // The common case: counts only, no positions kept.
            source_->for_each_posting(std::string_view(p.tokens[0].text),
                                      [&](const doc_type& doc, std::span<const std::uint32_t> pos) {
                                          leaf.docs.push_back(doc);
                                          leaf.frequency.push_back(static_cast<std::uint32_t>(pos.size()));
                                      });
            return;
        }
        std::vector<token_postings> tokens(p.tokens.size());
        for (std::size_t k = 0; k < p.tokens.size(); ++k) {
            read_token(p.tokens[k], tokens[k]);
            if (tokens[k].docs.empty()) return;
        }
        std::vector<std::size_t> cursor(tokens.size(), 0);
        for (std::size_t i = 0; i < tokens[0].docs.size(); ++i) {
            const doc_type& doc = tokens[0].docs[i];
            std::vector<std::span<const std::uint32_t>> spans{tokens[0].at(i)};
            bool everywhere = true;
            for (std::size_t k = 1; k < tokens.size() && everywhere; ++k) {
                const auto& docs = tokens[k].docs;
                const auto it = std::lower_bound(docs.begin() + static_cast<std::ptrdiff_t>(cursor[k]), docs.end(), doc);
                cursor[k] = static_cast<std::size_t>(it - docs.begin());
                everywhere = it != docs.end() && *it == doc;
                if (everywhere) spans.push_back(tokens[k].at(cursor[k]));
            }
            if (!everywhere) continue;
            std::uint32_t instances = 0;
            for (std::uint32_t start : spans[0]) {
                bool found = true;
                for (std::size_t k = 1; k < spans.size() && found; ++k)
                    found = std::binary_search(spans[k].begin(), spans[k].end(), start + static_cast<std::uint32_t>(k));
                if (found) ++instances;
            }
            if (instances == 0) continue;
            leaf.docs.push_back(doc);
            leaf.frequency.push_back(instances);
        }
    }

    const S* source_;
    text::query query_;  // a copy: a range may outlive the caller's
    text::bm25_parameters params_;
    double average_length_ = 0.0;
    std::vector<std::vector<doc_type>> nodes_;  // the documents each node matches, ascending
    std::vector<leaf_data> leaves_;             // per phrase of the query
};

}  // namespace detail

namespace text {

// Every hit of a query, in ascending doc order, each scored when the range reaches it. The
// phrases' postings are read when the range is made; the source must outlive the range (the
// range keeps its own copy of the query).
template <posting_source S>
class search_results {
public:
    using doc_type = typename S::doc_type;
    using hit = search_hit<doc_type>;

    search_results(const S& source, const query& q, const bm25_parameters& params = {})
        : evaluation_(source, q, params) {}

    // The number of hits.
    [[nodiscard]] std::size_t size() const noexcept { return evaluation_.matches().size(); }

    class iterator {
    public:
        using value_type = hit;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        [[nodiscard]] hit operator*() const {
            const doc_type& doc = evaluation_->matches()[index_];
            return hit{doc, evaluation_->score(doc)};
        }
        iterator& operator++() {
            ++index_;
            return *this;
        }
        void operator++(int) { ++index_; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.index_ >= it.evaluation_->matches().size();
        }

    private:
        friend class search_results;
        iterator(const detail::query_evaluation<S>* evaluation, std::size_t index) : evaluation_(evaluation), index_(index) {}
        const detail::query_evaluation<S>* evaluation_ = nullptr;
        std::size_t index_ = 0;
    };

    [[nodiscard]] iterator begin() const { return iterator(&evaluation_, 0); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    detail::query_evaluation<S> evaluation_;
};

// Every hit of `q` over `source`, in ascending doc order, scored lazily (search_results).
template <posting_source S>
[[nodiscard]] search_results<S> search_all(const S& source, const query& q, const bm25_parameters& params = {}) {
    return search_results<S>(source, q, params);
}

// The best `limit` hits of `q` over `source`: higher score first, ties in ascending doc order.
template <posting_source S>
[[nodiscard]] std::vector<search_hit<typename S::doc_type>> search(const S& source, const query& q, std::size_t limit,
                                                                   const bm25_parameters& params = {}) {
    using hit = search_hit<typename S::doc_type>;
    std::vector<hit> best;
    if (limit == 0 || q.matches_nothing()) return best;
    const detail::query_evaluation<S> evaluation(source, q, params);
    // `better` orders best first; as a heap comparator it keeps the worst kept hit on top.
    const auto better = [](const hit& a, const hit& b) { return a.score > b.score || (a.score == b.score && a.doc < b.doc); };
    auto at = evaluation.first_cursors();
    for (const auto& doc : evaluation.matches()) {
        hit h{doc, evaluation.score(doc, at)};
        if (best.size() < limit) {
            best.push_back(std::move(h));
            std::push_heap(best.begin(), best.end(), better);
        } else if (better(h, best.front())) {
            std::pop_heap(best.begin(), best.end(), better);
            best.back() = std::move(h);
            std::push_heap(best.begin(), best.end(), better);
        }
    }
    std::sort_heap(best.begin(), best.end(), better);
    return best;
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
