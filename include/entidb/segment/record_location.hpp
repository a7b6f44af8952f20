// entidb/segment/record_location.hpp — where a version of an entity lives in the segments.
//
// The segment set hands these out when it appends records; the primary index keeps them.
#pragma once

#include <cstdint>

namespace entidb {
inline namespace v1 {

// Where a segment record lives: segment number, byte offset, whole record length.
struct record_location {
    std::uint32_t segment = 0;
    std::uint32_t length = 0;
    std::uint64_t offset = 0;
    friend bool operator==(const record_location&, const record_location&) = default;
};

struct entity_version {
    std::uint64_t sequence = 0;
    record_location location{};
    bool tombstone = false;
};

}  // namespace v1
}  // namespace entidb
