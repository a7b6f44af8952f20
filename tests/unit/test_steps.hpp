// How long randomised model tests run (shared by every suite; includes nothing of entidb).
#pragma once

#include <cstddef>

namespace test_support {

// Randomised model tests run their full length in optimised builds. Unoptimised and
// sanitizer builds (tests/meson.build defines ENTIDB_TEST_QUICK there) run an eighth of the
// steps: the same operations and checks, over a shorter history, where each step costs ten
// to fifty times as much.
#ifndef ENTIDB_TEST_QUICK
#define ENTIDB_TEST_QUICK 0
#endif
constexpr std::size_t steps(std::size_t full) noexcept { return ENTIDB_TEST_QUICK ? full / 8 : full; }

}  // namespace test_support
