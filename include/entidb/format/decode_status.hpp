// entidb/format/decode_status.hpp — the outcome of decoding one framed record.
//
// Contract: the WAL and segment decoders (format/wal_record.hpp,
// format/segment_record.hpp) never throw on bad input; they classify the bytes at the
// start of their input as one of these and leave the policy (truncate a torn tail,
// refuse to open) to the caller. docs/file-format.md lists what maps to which.
//
// Thread-safety: a plain enum and a pure function.
#pragma once

#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace entidb {
inline namespace v1 {
namespace format {

enum class decode_status : std::uint8_t {
    ok,            // a whole, valid record
    incomplete,    // the input ends before the record does (a torn-tail candidate)
    bad_checksum,  // the record's extent is present but its CRC does not match
    malformed,     // bytes no writer of this format version produces
};

[[nodiscard]] constexpr std::string_view to_string(decode_status s) noexcept {
    switch (s) {
        case decode_status::ok: return "ok";
        case decode_status::incomplete: return "incomplete";
        case decode_status::bad_checksum: return "bad checksum";
        case decode_status::malformed: return "malformed";
    }
    return "unknown decode status";
}

}  // namespace format
}  // namespace v1
}  // namespace entidb

template <>
struct fmt::formatter<entidb::format::decode_status> : fmt::formatter<std::string_view> {
    template <typename Ctx>
    auto format(entidb::format::decode_status s, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(entidb::format::to_string(s), ctx);
    }
};
