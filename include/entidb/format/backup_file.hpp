// entidb/format/backup_file.hpp — the backup file, byte for byte (docs/file-format.md "Backup").
//
// Contract: constants and pure encoders of the three parts of a backup file; no I/O. The
// streaming reader that checks a file lives in backup.hpp. Layout (all integers
// little-endian):
//     header   magic "EBAK" | backup_version u16 = 1 | format major u16 | format minor u16 |
//              sequence u64 | manifest_len u32 | manifest (a MANIFEST, SPEC.md §3, without checkpoint)
//     entity   collection_id u32 (>= 1) | entity_id (16) | payload_len u32 | payload (canonical CBOR)
//              ... one per live entity, ascending by (collection_id, entity_id)
//     trailer  end u32 = 0 | entity_count u64 | checksum u64
// `checksum` is XXH3-64 (seed 0) of every byte of the file before it. Nothing follows it.
// Errors: encode_header → errc::invalid_argument for a MANIFEST encode refuses;
// encode_entity → errc::too_large for a payload over config::payload_limit, and
// errc::invalid_argument for collection id 0.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "manifest.hpp"
#include "segment_record.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

inline constexpr std::array<byte, 4> backup_magic{'E', 'B', 'A', 'K'};
inline constexpr std::uint16_t backup_version = 1;
inline constexpr std::size_t backup_header_fixed = 4 + 2 + 2 + 2 + 8 + 4;  // up to the manifest
inline constexpr std::size_t backup_entity_fixed = 4 + 16 + 4;             // up to the payload
inline constexpr std::size_t backup_trailer_size = 4 + 8 + 8;
inline constexpr std::size_t backup_max_payload = segment_max_payload_size;  // what a segment record can hold

struct backup_header {
    std::uint16_t format_major = current_format_major;
    std::uint16_t format_minor = current_format_minor;
    std::uint64_t sequence = 0;  // the commit the backup reflects
    manifest registry;           // collections and indexes (checkpoint_seq unused)
};

inline void encode_backup_header(const backup_header& h, byte_buffer& out) {
    using entidb::detail::put_u16;
    using entidb::detail::put_u32;
    using entidb::detail::put_u64;
    manifest m = h.registry;
    m.checkpoint_seq.reset();
    const byte_buffer registry = encode(m);
    if (registry.size() > std::numeric_limits<std::uint32_t>::max())
        fail(errc::too_large, "the collection and index registry does not fit a backup header");
    out.insert(out.end(), backup_magic.begin(), backup_magic.end());
    put_u16(out, backup_version);
    put_u16(out, h.format_major);
    put_u16(out, h.format_minor);
    put_u64(out, h.sequence);
    put_u32(out, static_cast<std::uint32_t>(registry.size()));
    out.insert(out.end(), registry.begin(), registry.end());
}

inline void encode_backup_entity(std::uint32_t collection_id, const entity_id& id, bytes_view payload,
                                 byte_buffer& out) {
    if (collection_id == 0) fail(errc::invalid_argument, "collection id 0 marks the end of a backup's entities");
    if (payload.size() > backup_max_payload)
        fail(errc::too_large, "an entity of {} bytes does not fit a backup (at most {})", payload.size(),
             backup_max_payload);
    entidb::detail::put_u32(out, collection_id);
    entidb::detail::put_bytes(out, id.bytes());
    entidb::detail::put_u32(out, static_cast<std::uint32_t>(payload.size()));
    entidb::detail::put_bytes(out, payload);
}

// The end marker and count; the caller appends the checksum of everything before it.
inline void encode_backup_end(std::uint64_t entity_count, byte_buffer& out) {
    entidb::detail::put_u32(out, 0);
    entidb::detail::put_u64(out, entity_count);
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
