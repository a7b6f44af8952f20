// The test files that open databases, as one translation unit. Most of a test program's
// compile time is the library's templates (engine, recovery, compaction, transactions),
// compiled again in every translation unit that opens a database; here they are compiled
// once. Each file keeps its own Meson test: Catch2 tags every test with its file name
// (`-#`), and tests/meson.build runs each file's tests as a test of their own.
#include <entidb/segment/fault_injecting_factory.hpp>
#include <entidb/storage/fault_injecting_backend.hpp>

#include "suite_prelude.hpp"

#include "suite_public_files.inc"

// clang-format off
namespace suite_fault_injection {
#include "../crash/fault_injection_test.cpp"
}
namespace suite_kill {
#include "../crash/kill_test.cpp"
}
// clang-format on
