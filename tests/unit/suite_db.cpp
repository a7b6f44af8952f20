// The test files that open databases, as one translation unit. Most of a test program's
// compile time is the library's templates (engine, recovery, compaction, transactions),
// compiled again in every translation unit that opens a database; here they are compiled
// once. Each file keeps its own Meson test: Catch2 tags every test with its file name
// (`-#`), and tests/meson.build runs each file's tests as a test of their own.
// suite_single.cpp is the same suite against single_include/.
#include "suite_prelude.hpp"

#include "suite_public_files.inc"
