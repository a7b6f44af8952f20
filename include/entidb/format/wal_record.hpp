// entidb/format/wal_record.hpp — the write-ahead-log record, byte for byte (SPEC.md §3).
//
// Contract: pure encode/decode over byte buffers; no I/O. The layout is
//     magic "EWAL" (4) | version u16 = 1 | type u8 | length u32 | payload (length) | crc32 u32
// with the CRC (format/crc32.hpp) over every byte before it; docs/file-format.md has
// the payload tables. Ownership: `wal_put::after` is a view — on encode it views the
// caller's bytes, on decode it views the decoder's input, which must outlive it.
// Errors:
//   encode         errc::too_large if the payload length does not fit its u32 field;
//                  thrown before anything is appended to `out`.
//   decode_wal     never throws (except std::bad_alloc for `problem`); returns a status:
//     malformed    bytes that contradict the magic (checked on whatever prefix is
//                  present), or a complete header with the wrong version, an unknown type
//                  or a length impossible for its type — all reported without needing the
//                  CRC; or, with a matching CRC, a payload whose inner fields disagree
//                  (has_before_hash not 0/1, after_len not equal to the rest, trailing bytes);
//     incomplete   fewer bytes than the header, or than header + length + crc;
//     bad_checksum the whole extent is present but the CRC does not match;
//     ok           a valid record.
//   `size` is the record's extent for ok, bad_checksum and malformed-after-a-good-CRC,
//   otherwise 0. `problem` says what was wrong (empty when ok).
//
// Thread-safety: pure functions over caller-owned bytes.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

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

inline constexpr std::array<byte, 4> wal_magic{'E', 'W', 'A', 'L'};
inline constexpr std::uint16_t wal_version = 1;
inline constexpr std::size_t wal_header_size = 11;  // magic 4 + version 2 + type 1 + length 4
inline constexpr std::size_t wal_crc_size = 4;

enum class wal_type : std::uint8_t {
    begin = 1,
    put = 2,
    del = 3,
    commit = 4,
    abort = 5,
    checkpoint = 6,
    recycled = 7,  // the first record of a recycled wal.log (docs/file-format.md), nowhere else
};

using content_hash = std::array<byte, 32>;

struct wal_begin {
    std::uint64_t txid;
};
struct wal_put {
    std::uint64_t txid;
    std::uint32_t collection_id;
    entity_id id;
    std::optional<content_hash> before_hash;
    bytes_view after;  // views the caller's buffer (encode) or the decoder's input (decode)
};
struct wal_delete {
    std::uint64_t txid;
    std::uint32_t collection_id;
    entity_id id;
    std::optional<content_hash> before_hash;
};
struct wal_commit {
    std::uint64_t txid;
    std::uint64_t sequence;
};
struct wal_abort {
    std::uint64_t txid;
};
struct wal_checkpoint {
    std::uint64_t sequence;
};
// Marks a recycled log: bytes after the current lap may be an earlier lap's (no payload).
struct wal_recycled {};

// The alternatives are in type-number order: index() + 1 == the on-disk type.
using wal_record = std::variant<wal_begin, wal_put, wal_delete, wal_commit, wal_abort, wal_checkpoint, wal_recycled>;

struct wal_decoded {
    decode_status status;
    wal_record record;  // meaningful only when status == ok
    std::size_t size;   // bytes the record occupies (see the contract above)
    std::string problem;
};

// Payload sizes of the fixed parts (docs/file-format.md).
inline constexpr std::size_t wal_txid_payload_size = 8;       // BEGIN, ABORT: txid
inline constexpr std::size_t wal_commit_payload_size = 16;    // txid, sequence
inline constexpr std::size_t wal_checkpoint_payload_size = 8; // sequence
// A recycled log's first record, RECYCLED with no payload: where its laps start.
inline constexpr std::size_t wal_recycled_record_size = wal_header_size + wal_crc_size;
inline constexpr std::size_t wal_delete_min_payload_size = 8 + 4 + 16 + 1;           // 29
inline constexpr std::size_t wal_put_min_payload_size = wal_delete_min_payload_size + 4;  // 33
inline constexpr std::size_t wal_before_hash_size = std::tuple_size_v<content_hash>;      // 32
// The largest `after` a PUT can carry (with a before_hash; 32 bytes more without one).
inline constexpr std::size_t wal_max_after_size =
    std::numeric_limits<std::uint32_t>::max() - wal_put_min_payload_size - wal_before_hash_size;

[[nodiscard]] constexpr wal_type type_of(const wal_record& r) noexcept {
    return static_cast<wal_type>(r.index() + 1);
}

[[nodiscard]] constexpr std::string_view to_string(wal_type t) noexcept {
    switch (t) {
        case wal_type::begin: return "BEGIN";
        case wal_type::put: return "PUT";
        case wal_type::del: return "DELETE";
        case wal_type::commit: return "COMMIT";
        case wal_type::abort: return "ABORT";
        case wal_type::checkpoint: return "CHECKPOINT";
        case wal_type::recycled: return "RECYCLED";
    }
    return "unknown";
}

namespace detail {

// The payload length a record encodes to (may exceed u32: encode checks).
[[nodiscard]] inline std::size_t wal_payload_size(const wal_record& r) noexcept {
    return std::visit(
        [](const auto& rec) -> std::size_t {
            using T = std::decay_t<decltype(rec)>;
            if constexpr (std::is_same_v<T, wal_put>)
                return wal_put_min_payload_size + (rec.before_hash ? wal_before_hash_size : 0) +
                       rec.after.size();
            else if constexpr (std::is_same_v<T, wal_delete>)
                return wal_delete_min_payload_size + (rec.before_hash ? wal_before_hash_size : 0);
            else if constexpr (std::is_same_v<T, wal_commit>)
                return wal_commit_payload_size;
            else if constexpr (std::is_same_v<T, wal_checkpoint>)
                return wal_checkpoint_payload_size;
            else if constexpr (std::is_same_v<T, wal_recycled>)
                return 0;
            else
                return wal_txid_payload_size;  // BEGIN, ABORT
        },
        r);
}

// Whether a header's length can belong to its type at all (checked before the CRC).
[[nodiscard]] constexpr bool wal_length_possible(wal_type t, std::uint32_t len) noexcept {
    switch (t) {
        case wal_type::begin:
        case wal_type::abort: return len == wal_txid_payload_size;
        case wal_type::commit: return len == wal_commit_payload_size;
        case wal_type::checkpoint: return len == wal_checkpoint_payload_size;
        case wal_type::del:
            return len == wal_delete_min_payload_size ||
                   len == wal_delete_min_payload_size + wal_before_hash_size;
        case wal_type::put: return len >= wal_put_min_payload_size;
        case wal_type::recycled: return len == 0;
    }
    return false;
}

[[nodiscard]] inline std::string hex_prefix(bytes_view b, std::size_t max = 8) {
    std::string s;
    for (std::size_t i = 0; i < b.size() && i < max; ++i) s += fmt::format("{:02x}", b[i]);
    return s;
}

inline void put_entity_id(byte_buffer& out, const entity_id& id) { put_bytes(out, id.bytes()); }

inline void put_optional_hash(byte_buffer& out, const std::optional<content_hash>& h) {
    put_u8(out, h ? 1 : 0);
    if (h) put_bytes(out, *h);
}

}  // namespace detail

// The whole record: header + payload + crc.
[[nodiscard]] inline std::size_t encoded_size(const wal_record& r) noexcept {
    return wal_header_size + detail::wal_payload_size(r) + wal_crc_size;
}

// Appends one record to `out`. Throws errc::too_large (nothing appended) if the payload
// length does not fit u32; the strong guarantee holds for std::bad_alloc too.
inline void encode(const wal_record& r, byte_buffer& out) {
    const std::size_t payload = detail::wal_payload_size(r);
    if (payload > std::numeric_limits<std::uint32_t>::max())
        fail(errc::too_large,
             "a WAL {} payload of {} bytes does not fit the record's u32 length field (at most {} bytes)",
             to_string(type_of(r)), payload, std::numeric_limits<std::uint32_t>::max());

    const std::size_t start = out.size();
    entidb::detail::reserve_more(out, wal_header_size + payload + wal_crc_size);  // no reallocation below
    detail::put_bytes(out, wal_magic);
    detail::put_u16(out, wal_version);
    detail::put_u8(out, static_cast<std::uint8_t>(type_of(r)));
    detail::put_u32(out, static_cast<std::uint32_t>(payload));
    std::visit(
        [&out](const auto& rec) {
            using T = std::decay_t<decltype(rec)>;
            if constexpr (std::is_same_v<T, wal_put>) {
                detail::put_u64(out, rec.txid);
                detail::put_u32(out, rec.collection_id);
                detail::put_entity_id(out, rec.id);
                detail::put_optional_hash(out, rec.before_hash);
                detail::put_u32(out, static_cast<std::uint32_t>(rec.after.size()));
                detail::put_bytes(out, rec.after);
            } else if constexpr (std::is_same_v<T, wal_delete>) {
                detail::put_u64(out, rec.txid);
                detail::put_u32(out, rec.collection_id);
                detail::put_entity_id(out, rec.id);
                detail::put_optional_hash(out, rec.before_hash);
            } else if constexpr (std::is_same_v<T, wal_commit>) {
                detail::put_u64(out, rec.txid);
                detail::put_u64(out, rec.sequence);
            } else if constexpr (std::is_same_v<T, wal_checkpoint>) {
                detail::put_u64(out, rec.sequence);
            } else if constexpr (std::is_same_v<T, wal_recycled>) {
                // no payload
            } else {  // BEGIN, ABORT
                detail::put_u64(out, rec.txid);
            }
        },
        r);
    detail::put_u32(out, crc32(bytes_view(out).subspan(start)));
}

// Decodes the record at the start of `in` (bytes after it are ignored).
[[nodiscard]] inline wal_decoded decode_wal(bytes_view in) {
    const auto result = [](decode_status s, std::size_t size, std::string problem) {
        return wal_decoded{s, wal_record{}, size, std::move(problem)};
    };

    const std::size_t magic_present = std::min(in.size(), wal_magic.size());
    if (magic_present > 0 && std::memcmp(in.data(), wal_magic.data(), magic_present) != 0)
        return result(decode_status::malformed, 0,
                      fmt::format("bad magic: expected 4557414c (\"EWAL\"), found {}",
                                  detail::hex_prefix(in.first(magic_present))));
    if (in.size() < wal_header_size)
        return result(decode_status::incomplete, 0,
                      fmt::format("{} bytes left, a WAL record header needs {}", in.size(), wal_header_size));

    const std::uint16_t version = detail::get_u16(in.data() + 4);
    const std::uint8_t raw_type = in[6];
    const std::uint32_t length = detail::get_u32(in.data() + 7);
    if (version != wal_version)
        return result(decode_status::malformed, 0,
                      fmt::format("WAL record version {}, this build reads version {}", version, wal_version));
    if (raw_type < static_cast<std::uint8_t>(wal_type::begin) ||
        raw_type > static_cast<std::uint8_t>(wal_type::recycled))
        return result(decode_status::malformed, 0, fmt::format("unknown WAL record type {}", raw_type));
    const auto type = static_cast<wal_type>(raw_type);
    if (!detail::wal_length_possible(type, length))
        return result(decode_status::malformed, 0,
                      fmt::format("a WAL {} record cannot have a {}-byte payload", to_string(type), length));

    const std::size_t body = wal_header_size + std::size_t{length};
    const std::size_t total = body + wal_crc_size;
    if (in.size() < total)
        return result(decode_status::incomplete, 0,
                      fmt::format("{} bytes left, the WAL {} record needs {}", in.size(), to_string(type), total));

    const std::uint32_t stored = detail::get_u32(in.data() + body);
    const std::uint32_t computed = crc32(in.first(body));
    if (stored != computed)
        return result(decode_status::bad_checksum, total,
                      fmt::format("WAL {} record: stored crc32 {:08x}, computed {:08x}", to_string(type), stored,
                                  computed));

    // The CRC vouches for the extent; now every inner field must agree with it.
    detail::byte_reader p(in.subspan(wal_header_size, length));
    const auto malformed = [&](std::string why) {
        return result(decode_status::malformed, total,
                      fmt::format("WAL {} record: {} (payload offset {})", to_string(type), why, p.offset()));
    };
    const auto read_id = [&p] { return entity_id::from_bytes(p.bytes(entity_id::size)); };
    // has_before_hash and the optional hash; false if malformed (message in `why`).
    const auto read_hash = [&p](std::optional<content_hash>& h, std::string& why) {
        const std::uint8_t flag = p.u8();
        if (flag > 1) {
            why = fmt::format("has_before_hash is {}, must be 0 or 1", flag);
            return false;
        }
        if (flag == 1) {
            if (p.remaining() < wal_before_hash_size) {
                why = fmt::format("has_before_hash is 1 but only {} payload bytes remain for the 32-byte hash",
                                  p.remaining());
                return false;
            }
            content_hash hash;
            const bytes_view b = p.bytes(hash.size());
            std::copy(b.begin(), b.end(), hash.begin());
            h = hash;
        }
        return true;
    };

    wal_record rec;
    std::string why;
    switch (type) {
        case wal_type::begin: rec = wal_begin{p.u64()}; break;
        case wal_type::abort: rec = wal_abort{p.u64()}; break;
        case wal_type::checkpoint: rec = wal_checkpoint{p.u64()}; break;
        case wal_type::recycled: rec = wal_recycled{}; break;
        case wal_type::commit: {
            const std::uint64_t txid = p.u64();
            rec = wal_commit{txid, p.u64()};
            break;
        }
        case wal_type::del: {
            wal_delete d{};
            d.txid = p.u64();
            d.collection_id = p.u32();
            d.id = read_id();
            if (!read_hash(d.before_hash, why)) return malformed(std::move(why));
            rec = d;
            break;
        }
        case wal_type::put: {
            wal_put w{};
            w.txid = p.u64();
            w.collection_id = p.u32();
            w.id = read_id();
            if (!read_hash(w.before_hash, why)) return malformed(std::move(why));
            if (p.remaining() < 4)
                return malformed(fmt::format("{} bytes left for the 4-byte after_len", p.remaining()));
            const std::uint32_t after_len = p.u32();
            if (after_len != p.remaining())
                return malformed(
                    fmt::format("after_len is {} but {} payload bytes follow it", after_len, p.remaining()));
            w.after = p.bytes(after_len);
            rec = w;
            break;
        }
    }
    if (!p.empty())
        return malformed(fmt::format("{} trailing bytes inside the payload", p.remaining()));
    if (p.overrun()) return malformed("payload ends inside a field");  // unreachable: lengths were checked
    return {decode_status::ok, rec, total, {}};
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
