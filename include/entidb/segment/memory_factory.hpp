// entidb/segment/memory_factory.hpp — segments in memory: rotating, not durable.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../error.hpp"
#include "../storage/memory_backend.hpp"
#include "factory.hpp"

namespace entidb {
inline namespace v1 {

// Segments in memory: rotating, not durable. For the in-memory database and tests.
class memory_segment_factory {
public:
    using backend_type = memory_backend;
    static constexpr bool rotates = true;
    static constexpr bool journaled = false;  // nothing outlives the process: no journal to write

    [[nodiscard]] std::unique_ptr<memory_backend> create(std::uint32_t) { return std::make_unique<memory_backend>(); }
    [[nodiscard]] std::unique_ptr<memory_backend> open(std::uint32_t n) {
        fail(errc::not_found, "memory segment {} does not exist", n);
    }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};

}  // namespace v1
}  // namespace entidb
