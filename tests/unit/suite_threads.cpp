// The test files that run threads against one database, gate or posting list, for the
// ThreadSanitizer build (which compiles nothing else, and runs only their cases tagged
// [threads]); see suite_db.cpp. Two translation
// units (this one, the engine's; suite_threads_parts.cpp, the rest) so that the build's two
// cores compile them side by side: one took as long as the rest of that build.
//
// Both units include every public header (suite_prelude.hpp) and link into one program,
// unoptimised, so every inline function they use is emitted twice: the link is the check that
// inline functions, templates and constants do not clash (ODR) and that no third-party symbol
// (xxHash) is defined twice. The case "odr: ..." in the other unit calls across.
#include "suite_prelude.hpp"

// clang-format off
namespace suite_engine {
#include "engine_test.cpp"
}
// clang-format on

std::uint64_t hash_in_engine_unit(entidb::bytes_view data) { return entidb::hash64(data); }
