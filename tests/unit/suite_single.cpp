// The test files that use the public header alone, compiled against single_include/ (the
// generated one-header library) in two translation units, this one and suite_single_parts.cpp
// (half the files each); see suite_db.cpp.
#define ENTIDB_SUITE_PART 1
#include "suite_prelude.hpp"

#include "suite_public_files.inc"
