// entidb/format/backup_file.hpp — the backup file, byte for byte (docs/file-format.md "Backup").
//
// Contract: constants and pure encoders of the three parts of a backup file; no I/O. The
// streaming reader that checks a file lives in backup.hpp. Layout (all integers
// little-endian):
//     header   magic "EBAK" | backup_version u16 | format major u16 | format minor u16 | sequence u64 |
//              version 1 (a plain database's backup):
//                manifest_len u32 | manifest (a MANIFEST, SPEC.md §3, without checkpoint)
//              version 2 (an encrypted database's backup):
//                key_len u32 | KEY (the source's KEY file, as it is: the wrapped data key) |
//                manifest_len u32 | manifest (a sealed MANIFEST, version 4: format/manifest_file.hpp)
//     entity   collection_id u32 (>= 1) | entity_id (16) | payload_len u32 | payload
//              ... one per live entity, ascending by (collection_id, entity_id). The payload is
//              canonical CBOR (version 1), or canonical CBOR sealed by the data key and bound to
//              record_place{collection_id, entity_id, sequence (the header's), kind 1} (version 2):
//              the bytes a segment record of the restored database holds.
//     trailer  end u32 = 0 | entity_count u64 | checksum u64
// `checksum` is XXH3-64 (seed 0) of every byte of the file before it. Nothing follows it.
// encode_backup_header(h, out, cipher) writes version 2, sealing the registry, when `cipher` is
// an encrypting cipher (not null), and version 1 otherwise; entities are sealed by the caller.
// Errors: encode_header → errc::invalid_argument for a MANIFEST encode refuses, or an
// encrypted header without the KEY's bytes; errc::too_large for a registry over 4 GiB;
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
#include "../crypto/cipher.hpp"
#include "manifest.hpp"
#include "manifest_file.hpp"
#include "segment_record.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

inline constexpr std::array<byte, 4> backup_magic{'E', 'B', 'A', 'K'};
inline constexpr std::uint16_t backup_version = 1;            // a plain database's backup
inline constexpr std::uint16_t backup_version_encrypted = 2;  // an encrypted database's backup
inline constexpr std::size_t backup_header_fixed = 4 + 2 + 2 + 2 + 8 + 4;  // up to the first length
inline constexpr std::size_t backup_entity_fixed = 4 + 16 + 4;             // up to the payload
inline constexpr std::size_t backup_trailer_size = 4 + 8 + 8;
inline constexpr std::size_t backup_max_payload = segment_max_payload_size;  // what a segment record can hold

struct backup_header {
    std::uint16_t format_major = current_format_major;
    std::uint16_t format_minor = current_format_minor;
    std::uint64_t sequence = 0;  // the commit the backup reflects
    manifest registry;           // collections and indexes (checkpoint_seq unused)
    byte_buffer key_file{};      // version 2: the source database's KEY file; empty in version 1
};

namespace detail {
inline void put_backup_length(byte_buffer& out, std::size_t n, std::string_view what) {
    if (n > std::numeric_limits<std::uint32_t>::max()) fail(errc::too_large, "{} does not fit a backup header", what);
    entidb::detail::put_u32(out, static_cast<std::uint32_t>(n));
}
}  // namespace detail

// The header; an encrypted one (version 2) when `cipher` is an encrypting cipher.
template <cipher_policy C = no_encryption>
void encode_backup_header(const backup_header& h, byte_buffer& out, const C* cipher = nullptr) {
    manifest m = h.registry;
    m.checkpoint_seq.reset();
    const bool sealed = C::encrypts && cipher != nullptr;
    if (sealed && h.key_file.empty()) fail(errc::invalid_argument, "an encrypted backup carries its database's KEY file");
    const byte_buffer registry = encode_manifest_file(m, cipher);
    out.insert(out.end(), backup_magic.begin(), backup_magic.end());
    entidb::detail::put_u16(out, sealed ? backup_version_encrypted : backup_version);
    entidb::detail::put_u16(out, h.format_major);
    entidb::detail::put_u16(out, h.format_minor);
    entidb::detail::put_u64(out, h.sequence);
    if (sealed) {
        detail::put_backup_length(out, h.key_file.size(), "the KEY file");
        entidb::detail::put_bytes(out, h.key_file);
    }
    detail::put_backup_length(out, registry.size(), "the collection and index registry");
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
