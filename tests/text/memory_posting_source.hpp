// A posting source held in memory (text/posting_source.hpp), built from (doc, text) pairs with
// text::tokenize: the model the full-text tests search, and the FTS5 differential's corpus.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <entidb/text/posting_source.hpp>
#include <entidb/text/tokenizer.hpp>

namespace text_test {

template <typename Doc = std::uint64_t>
class memory_posting_source {
public:
    using doc_type = Doc;

    // Adds (or replaces) a document; a text of no token still counts as a document.
    void add(const Doc& doc, std::string_view text, const entidb::text::tokenizer_options& options = {}) {
        remove(doc);
        std::uint64_t length = 0;
        entidb::text::tokenize(text, options, [&](std::string_view token, std::uint32_t position) {
            postings_[std::string(token)][doc].push_back(position);
            ++length;
        });
        lengths_[doc] = length;
        total_ += length;
    }

    void remove(const Doc& doc) {
        const auto it = lengths_.find(doc);
        if (it == lengths_.end()) return;
        total_ -= it->second;
        lengths_.erase(it);
        for (auto t = postings_.begin(); t != postings_.end();) {
            t->second.erase(doc);
            t = t->second.empty() ? postings_.erase(t) : std::next(t);
        }
    }

    [[nodiscard]] std::uint64_t doc_count() const noexcept { return lengths_.size(); }
    [[nodiscard]] std::uint64_t total_tokens() const noexcept { return total_; }
    [[nodiscard]] std::uint64_t doc_length(const Doc& doc) const {
        const auto it = lengths_.find(doc);
        return it == lengths_.end() ? 0 : it->second;
    }

    template <typename F>
    void for_each_posting(std::string_view term, F&& f) const {
        const auto it = postings_.find(term);
        if (it == postings_.end()) return;
        for (const auto& [doc, positions] : it->second) f(doc, std::span<const std::uint32_t>(positions));
    }

    template <typename F>
    void for_each_term_with_prefix(std::string_view prefix, F&& f) const {
        for (auto it = postings_.lower_bound(prefix); it != postings_.end() && it->first.starts_with(prefix); ++it)
            f(std::string_view(it->first));
    }

private:
    std::map<std::string, std::map<Doc, std::vector<std::uint32_t>>, std::less<>> postings_;
    std::map<Doc, std::uint64_t> lengths_;
    std::uint64_t total_ = 0;
};

static_assert(entidb::text::posting_source<memory_posting_source<>>);

}  // namespace text_test
