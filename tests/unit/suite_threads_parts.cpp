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

// See suite_threads.cpp: the other unit's copy of the same inline functions gives the same answers.
std::uint64_t hash_in_engine_unit(entidb::bytes_view data);

TEST_CASE("odr: two translation units that include every header link into one program", "[threads]") {
    const auto data = entidb::as_bytes("odr");
    CHECK(entidb::hash64(data) == hash_in_engine_unit(data));
    CHECK(entidb::crc32(data) != 0);
    auto db = entidb::open_in_memory();
    CHECK(db.last_sequence() == 0);
}
