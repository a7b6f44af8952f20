// The test files that run threads against one database, gate or posting list, as one
// translation unit for the ThreadSanitizer build (which compiles nothing else); see suite_db.cpp.
#include "suite_prelude.hpp"

#include "../text/memory_posting_source.hpp"

// clang-format off
namespace suite_engine {
#include "engine_test.cpp"
}
namespace suite_write_set {
#include "write_set_test.cpp"
}
namespace suite_read_only {
#include "read_only_test.cpp"
}
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
