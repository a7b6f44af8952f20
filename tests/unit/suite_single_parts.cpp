// The second half of the test files against single_include/ (suite_single.cpp has the first).
#define ENTIDB_SUITE_PART 2
#include "suite_prelude.hpp"

#include "suite_public_files.inc"
