// entidb/text/bm25.hpp — the BM25 ranking function, as SQLite FTS5's bm25() defines it.
//
// Contract: for a document of length dl in a field of N documents whose average length is
// avgdl, each phrase of the query (a term, a phrase, or a prefix term, each one unit) with
// n matching documents and f instances in this document contributes
//     idf * f * (k1 + 1) / (f + k1 * (1 - b + b * dl / avgdl)),
//     idf = log((N - n + 0.5) / (n + 0.5)), or 1e-6 where that is not positive,
// and the score is the sum over the query's phrases. FTS5 reports the sum negated (lower is
// better); here it is positive: higher is better. k1 = 1.2 and b = 0.75, FTS5's defaults.
//
// Thread-safety: pure functions.
#pragma once

#include <cmath>
#include <cstdint>

namespace entidb {
inline namespace v1 {
namespace text {

struct bm25_parameters {
    double k1 = 1.2;
    double b = 0.75;
};

// The inverse document frequency of a phrase found in `matching` of `documents` documents.
[[nodiscard]] inline double bm25_idf(std::uint64_t documents, std::uint64_t matching) noexcept {
    const double n = static_cast<double>(matching);
    const double idf = std::log((static_cast<double>(documents) - n + 0.5) / (n + 0.5));
    return idf <= 0.0 ? 1e-6 : idf;
}

// One phrase's contribution: `frequency` instances in a document of `length` tokens, where
// the documents average `average_length` tokens.
[[nodiscard]] inline double bm25_term(double idf, double frequency, double length, double average_length,
                                      const bm25_parameters& p = {}) noexcept {
    return idf * ((frequency * (p.k1 + 1.0)) / (frequency + p.k1 * (1.0 - p.b + p.b * length / average_length)));
}

}  // namespace text
}  // namespace v1
}  // namespace entidb
