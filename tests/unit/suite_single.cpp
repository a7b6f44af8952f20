// The test files that use the public header alone, compiled against single_include/ (the
// generated one-header library) as one translation unit; see suite_db.cpp.
#include "suite_prelude.hpp"

#include "suite_public_files.inc"
