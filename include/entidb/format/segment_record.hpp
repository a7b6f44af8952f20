// entidb/format/segment_record.hpp — one record of a segment file, byte for byte (SPEC.md §3).
//
// Contract: pure encode/decode over byte buffers; no I/O. The layout is
//     record_len u32 | collection_id u32 | entity_id (16) | flags u8 | sequence u64 | payload | crc32 u32
// where record_len counts the whole record (itself and the CRC included) and the CRC
// (format/crc32.hpp) covers every byte before it; docs/file-format.md has the table.
// Ownership: `segment_record::payload` is a view — of the caller's bytes on encode, of
// the decoder's input on decode (which must outlive it).
// Errors:
//   encode          errc::too_large if the whole record length does not fit u32;
//                   errc::invalid_argument for a tombstone with a payload or unknown flag
//                   bits. Both are thrown before anything is appended to `out`.
//   decode_segment, decode_segment_into
//                   never throw (except std::bad_alloc for `problem`); give a status:
//     incomplete    fewer than 4 bytes, or fewer than record_len;
//     malformed     record_len < 37 (no CRC needed); or, with a matching CRC, unknown flag
//                   bits or a tombstone with a non-empty payload;
//     bad_checksum  record_len bytes are present but the CRC does not match;
//     ok            a valid record.
//   `size` is record_len for ok, bad_checksum and malformed-after-a-good-CRC, otherwise 0.
//
// Thread-safety: pure functions over caller-owned bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "crc32.hpp"
#include "decode_status.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

namespace detail {
// The byte helpers of entidb/detail/endian.hpp, visible as format::detail::*.
using entidb::detail::byte_reader;
using entidb::detail::get_u16;
using entidb::detail::get_u32;
using entidb::detail::get_u64;
using entidb::detail::put_bytes;
using entidb::detail::put_u16;
using entidb::detail::put_u32;
using entidb::detail::put_u64;
using entidb::detail::put_u8;

}  // namespace detail

inline constexpr std::size_t segment_record_overhead = 37;  // len 4 + coll 4 + id 16 + flags 1 + seq 8 + crc 4
inline constexpr std::size_t segment_payload_offset = 33;   // where the payload starts
// Where the fixed fields lie (after record_len at 0), for decoding them in place.
inline constexpr std::size_t segment_collection_offset = 4, segment_id_offset = 8, segment_flags_offset = 24,
                             segment_sequence_offset = 25;
static_assert(segment_id_offset == segment_collection_offset + 4 && segment_flags_offset == segment_id_offset + 16 &&
              segment_sequence_offset == segment_flags_offset + 1 && segment_payload_offset == segment_sequence_offset + 8);
inline constexpr std::uint8_t flag_tombstone = 0x01, flag_encrypted = 0x02;
inline constexpr std::uint8_t segment_known_flags = flag_tombstone | flag_encrypted;
// The largest payload a record can carry (record_len is u32 and counts the overhead).
inline constexpr std::size_t segment_max_payload_size =
    std::numeric_limits<std::uint32_t>::max() - segment_record_overhead;

struct segment_record {
    std::uint32_t collection_id;
    entity_id id;
    std::uint8_t flags;
    std::uint64_t sequence;
    bytes_view payload;  // empty for a tombstone

    [[nodiscard]] bool tombstone() const noexcept { return (flags & flag_tombstone) != 0; }
    [[nodiscard]] bool encrypted() const noexcept { return (flags & flag_encrypted) != 0; }
};

struct segment_decoded {
    decode_status status;
    segment_record record;  // meaningful only when status == ok
    std::size_t size;       // bytes the record occupies (see the contract above)
    std::string problem;
};

// The whole record: overhead + payload.
[[nodiscard]] inline std::size_t encoded_size(const segment_record& r) noexcept {
    return segment_record_overhead + r.payload.size();
}

// Appends one record to `out`; throws (nothing appended) as the contract says.
inline void encode(const segment_record& r, byte_buffer& out) {
    if (r.payload.size() > segment_max_payload_size)
        fail(errc::too_large,
             "a segment record payload of {} bytes does not fit the u32 record_len field (at most {} bytes)",
             r.payload.size(), segment_max_payload_size);
    if ((r.flags & ~segment_known_flags) != 0)
        fail(errc::invalid_argument, "segment record flags {:#04x} have unknown bits (known: {:#04x})", r.flags,
             segment_known_flags);
    if (r.tombstone() && !r.payload.empty())
        fail(errc::invalid_argument, "a segment tombstone must have an empty payload, this one has {} bytes",
             r.payload.size());

    const std::size_t total = encoded_size(r);
    const std::size_t start = out.size();
    entidb::detail::reserve_more(out, total);  // no reallocation below
    detail::put_u32(out, static_cast<std::uint32_t>(total));
    detail::put_u32(out, r.collection_id);
    detail::put_bytes(out, r.id.bytes());
    detail::put_u8(out, r.flags);
    detail::put_u64(out, r.sequence);
    detail::put_bytes(out, r.payload);
    detail::put_u32(out, crc32(bytes_view(out).subspan(start)));
}

// record_len of the record at the start of `in`, if its 4 bytes are there (unchecked).
[[nodiscard]] inline std::optional<std::uint32_t> peek_record_length(bytes_view in) noexcept {
    if (in.size() < 4) return std::nullopt;
    return detail::get_u32(in.data());
}

// Decodes the record at the start of `in` (bytes after it are ignored) into `out`, and
// returns its status. Scans decode one record per entity into the same struct, so the
// success path writes only status, record and size — no string is built, moved or freed;
// `problem` is written only when the record does not decode (and keeps its last text
// otherwise: read it only when status != ok).
inline decode_status decode_segment_into(bytes_view in, segment_decoded& out) {
    const auto reject = [&out](decode_status s, std::size_t size, std::string problem) {
        out.status = s;
        out.record = {};
        out.size = size;
        out.problem = std::move(problem);
        return s;
    };

    const std::optional<std::uint32_t> len = peek_record_length(in);
    if (!len)
        return reject(decode_status::incomplete, 0,
                      fmt::format("{} bytes left, a segment record's length field needs 4", in.size()));
    if (*len < segment_record_overhead)
        return reject(decode_status::malformed, 0,
                      fmt::format("segment record_len {} is below the {}-byte minimum", *len,
                                  segment_record_overhead));
    const std::size_t total = *len;
    if (in.size() < total)
        return reject(decode_status::incomplete, 0,
                      fmt::format("{} bytes left, the segment record needs {}", in.size(), total));

    const std::size_t body = total - 4;
    const std::uint32_t stored = detail::get_u32(in.data() + body);
    const std::uint32_t computed = crc32(in.first(body));
    if (stored != computed)
        return reject(decode_status::bad_checksum, total,
                      fmt::format("segment record: stored crc32 {:08x}, computed {:08x}", stored, computed));

    // total >= segment_record_overhead was checked: the fixed fields are all there, so
    // they are read at their offsets (docs/file-format.md) without a bounds-checking reader.
    const byte* at = in.data();
    const std::uint8_t flags = at[segment_flags_offset];
    const bytes_view payload = in.subspan(segment_payload_offset, total - segment_record_overhead);
    if ((flags & ~segment_known_flags) != 0)
        return reject(decode_status::malformed, total,
                      fmt::format("segment record flags {:#04x} have unknown bits (known: {:#04x})", flags,
                                  segment_known_flags));
    if ((flags & flag_tombstone) != 0 && !payload.empty())
        return reject(decode_status::malformed, total,
                      fmt::format("segment tombstone with a {}-byte payload (must be empty)", payload.size()));
    auto& r = out.record;
    r.collection_id = detail::get_u32(at + segment_collection_offset);
    r.id = entity_id::from_bytes(in.subspan(segment_id_offset, entity_id::size));
    r.flags = flags;
    r.sequence = detail::get_u64(at + segment_sequence_offset);
    r.payload = payload;
    out.status = decode_status::ok;
    out.size = total;
    return decode_status::ok;
}

// The same as a value (point reads and tests; a failed decode's problem is its own).
[[nodiscard]] inline segment_decoded decode_segment(bytes_view in) {
    segment_decoded out{};
    (void)decode_segment_into(in, out);
    return out;
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
