// Entity ids for tests (shared by every suite; includes only entidb/entity_id.hpp).
#pragma once

#include <array>
#include <cstdint>

// The library's own header where the include path has it; the single header (which holds it)
// in the configuration that builds the suites against single_include/ alone.
#if __has_include(<entidb/entity_id.hpp>)
#include <entidb/entity_id.hpp>
#else
#include <entidb/entidb.hpp>
#endif

namespace test_support {

// An id whose last 8 bytes are `n` big-endian (ids sort like numbers).
inline entidb::entity_id id_of(std::uint64_t n) {
    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<std::uint8_t>(n >> (8 * i));
    return entidb::entity_id::from_bytes(b);
}

}  // namespace test_support
