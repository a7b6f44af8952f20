// The second translation unit of the ThreadSanitizer program (suite_threads.cpp): compaction,
// the engine's parts, the reader gate, the primary index's and the secondary indexes' postings,
// and the full-text index's storage.
#include "suite_prelude.hpp"

#include "../text/memory_posting_source.hpp"

// clang-format off
namespace suite_compaction {
#include "compaction_test.cpp"
}
namespace suite_engine_parts {
#include "engine_parts_test.cpp"
}
namespace suite_postings {
#include "postings_test.cpp"
}
namespace suite_shared_gate {
#include "shared_gate_test.cpp"
}
namespace suite_primary_index_threads {
#include "primary_index_threads_test.cpp"
}
namespace suite_text_postings {
#include "text_postings_test.cpp"
}
// clang-format on
