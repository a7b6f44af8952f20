// The test files that run threads against one database, gate or posting list, for the
// ThreadSanitizer build (which compiles nothing else, and runs only their cases tagged
// [threads]); see suite_db.cpp. Two translation
// units (this one, the engine's; suite_threads_parts.cpp, the rest) so that the build's two
// cores compile them side by side: one took as long as the rest of that build.
#include "suite_prelude.hpp"

// clang-format off
namespace suite_engine {
#include "engine_test.cpp"
}
// clang-format on
