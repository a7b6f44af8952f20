// entidb/text/posting_source.hpp — what a full-text search reads: one field's inverted index.
//
// Contract: a type models posting_source when it answers, for one text field of a collection,
// the statistics BM25 needs and the postings of a term. The evaluator (text/search.hpp) reads
// only through these members, so an in-memory table in a test and an index on disk rank alike.
// Members (all const, none may be called re-entrantly from one of its own callbacks):
//   doc_type               the document's identity, totally ordered and copyable (the
//                          full-text index will use 16-byte entity ids);
//   doc_count()            the number of documents that have the field (N of BM25), counting
//                          those whose text has no token;
//   total_tokens()         the sum of those documents' lengths in tokens (avgdl = this / N);
//   doc_length(doc)        one document's length in tokens (dl of BM25);
//   for_each_posting(term, f)
//                          calls f(doc, positions) once per document holding `term` (a
//                          normalised token, as text::tokenize gives it), in ascending doc
//                          order; positions is a std::span<const std::uint32_t> of the term's
//                          token positions in that document, ascending, valid during the call;
//   for_each_term_with_prefix(prefix, f)
//                          calls f(term) once per distinct term that starts with `prefix`
//                          (the prefix itself included when it is a term), in byte order;
//                          `term` is a std::string_view valid during the call.
// Neither walk allocates per posting: the positions are a view of the source's own storage.
//
// Thread-safety: whatever the model states; the evaluator only reads it.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>

namespace entidb {
inline namespace v1 {
namespace detail {
template <typename Doc>
using posting_callback_archetype = void (*)(const Doc&, std::span<const std::uint32_t>);
using term_callback_archetype = void (*)(std::string_view);
}  // namespace detail

namespace text {

template <typename S>
concept posting_source = requires { typename S::doc_type; } &&
    std::totally_ordered<typename S::doc_type> && std::copyable<typename S::doc_type> &&
    requires(const S& s, const typename S::doc_type& doc, std::string_view term,
             detail::posting_callback_archetype<typename S::doc_type> on_posting,
             detail::term_callback_archetype on_term) {
        { s.doc_count() } -> std::convertible_to<std::uint64_t>;
        { s.total_tokens() } -> std::convertible_to<std::uint64_t>;
        { s.doc_length(doc) } -> std::convertible_to<std::uint64_t>;
        s.for_each_posting(term, on_posting);
        s.for_each_term_with_prefix(term, on_term);
    };

}  // namespace text
}  // namespace v1
}  // namespace entidb
