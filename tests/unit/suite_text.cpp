// The test files of the full-text layer (include/entidb/text/: tokenizer, query language,
// BM25, evaluation) and of the full-text index's storage (index/text_postings.hpp) as one translation unit that includes only that layer; see suite_db.cpp
// for how a suite wraps each file.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <entidb/error.hpp>
#include <entidb/index/text_postings.hpp>
#include <entidb/text/search.hpp>
#include <entidb/text/tokenizer.hpp>

#include "../text/memory_posting_source.hpp"
#include "test_errors.hpp"
#include "test_ids.hpp"
#include "test_steps.hpp"

// clang-format off
namespace suite_text_query {
#include "text_query_test.cpp"
}
namespace suite_text_tokenizer {
#include "text_tokenizer_test.cpp"
}
namespace suite_text_postings {
#include "text_postings_test.cpp"
}
// clang-format on
