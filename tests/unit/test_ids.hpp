// Entity ids for tests (shared by every suite; includes only entidb/entity_id.hpp).
#pragma once

#include <array>
#include <cstdint>

#include <entidb/entity_id.hpp>

namespace test_support {

// An id whose last 8 bytes are `n` big-endian (ids sort like numbers).
inline entidb::entity_id id_of(std::uint64_t n) {
    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<std::uint8_t>(n >> (8 * i));
    return entidb::entity_id::from_bytes(b);
}

}  // namespace test_support
