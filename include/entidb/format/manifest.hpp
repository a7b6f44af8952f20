// entidb/format/manifest.hpp — the MANIFEST file, byte for byte (SPEC.md §3).
//
// Contract: pure encode/decode of the whole file's bytes; no I/O (the caller replaces
// the file atomically). The layout (docs/file-format.md has the table):
//     magic "EMFN" | manifest_version u16 = 2 | format major u16 = 1 | format minor u16 = 0 |
//     next_collection_id u32 | collection_count u32 | { name_len u16, name, id u32 } sorted by name |
//     next_index_id u64 | index_count u32 | { index_id u64, collection_id u32, path_count u16,
//       { field_len u16, field }, kind u8, unique u8, created_at_seq u64 } sorted by id |
//     has_checkpoint u8 [, checkpoint_seq u64]
// and, in MANIFEST version 3 only (written when an index has options or `m.extension` holds
// a schema: manifest::extended(); else the file is version 2, byte for byte SPEC.md §3):
//     section_count u16 | { tag u16, length u32, body } by ascending tag, each tag once
//       tag 1, index options: count u32 | { index_id u64, options_len u16 (>= 1), options } by id
//       tag 2, schema: version u64 | count u32 | { version u64, name_len u16, name,
//              applied_at u64, steps_hash u64 } by ascending version
//       tag 3, segment publish (a migration's commit point, core/migration.hpp): publish_count u32 |
//              { segment number u32 } ascending | remove_count u32 | { segment number u32 } ascending
// A reader of version 2 (this build's older self, the reference engine) refuses version 3
// and changes nothing (docs/format-compatibility.md).
// A `manifest` value owns all its strings. Encoding is deterministic: collections are
// written sorted by name (bytewise), indexes by id, whatever order they are held in;
// decoding returns them in that order, so decode(encode(m)) == m when m is held sorted.
// Errors:
//   encode          errc::invalid_argument (nothing is returned) for: a format major other
//                   than 1, a name or path field over 65535 bytes or not valid UTF-8, more
//                   than 65535 path fields, duplicate collection names or ids, duplicate
//                   index ids, a collection id or an index's collection_id that is 0 or
//                   >= next_collection_id, an index id that is 0 or >= next_index_id,
//                   next_*_id of 0, an index kind that is not registered (hash, ordered, text), index
//                   options over 65535 bytes, applied migrations out of order, repeated, or
//                   above the schema version.
//   decode_manifest errc::unsupported_version when manifest_version is not 2 or 3, format
//                   major != 1, or a version-3 section has a tag this build does not know
//                   (the message names what was found and what is supported);
//                   errc::corruption, carrying `path_for_errors` and the byte offset, for
//                   anything else encode would not have produced: bad magic, truncation,
//                   trailing bytes, unsorted or duplicate collections or indexes, invalid
//                   UTF-8, kind/unique/has_checkpoint out of range, ids out of range.
//   A format minor newer than ours decodes fine: the caller opens read-only
//   (`opens_read_only`).
//
// Thread-safety: pure functions; `manifest` is a plain value.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../detail/utf8.hpp"
#include "../error.hpp"
#include "../index_kind.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

namespace detail {
// The byte helpers of entidb/detail/endian.hpp and the UTF-8 check of entidb/detail/utf8.hpp,
// visible as format::detail::*.
using entidb::detail::byte_reader;
using entidb::detail::find_invalid_utf8;
using entidb::detail::get_u16;
using entidb::detail::get_u32;
using entidb::detail::get_u64;
using entidb::detail::put_bytes;
using entidb::detail::put_u16;
using entidb::detail::put_u32;
using entidb::detail::put_u64;
using entidb::detail::put_u8;
using entidb::detail::utf8_valid;

}  // namespace detail

inline constexpr std::array<byte, 4> manifest_magic{'E', 'M', 'F', 'N'};
inline constexpr std::uint16_t manifest_version = 2;
// The version written when the MANIFEST carries sections beyond SPEC.md §3 (manifest_extension).
inline constexpr std::uint16_t manifest_version_extended = 3;
// The on-disk format version this build writes (SPEC.md §3: format version 1.0).
inline constexpr std::uint16_t current_format_major = 1;
inline constexpr std::uint16_t current_format_minor = 0;
inline constexpr std::size_t manifest_max_string_size = std::numeric_limits<std::uint16_t>::max();
inline constexpr std::size_t manifest_max_path_fields = std::numeric_limits<std::uint16_t>::max();

struct manifest_collection {
    std::string name;  // UTF-8, at most 65535 bytes, unique
    std::uint32_t id;  // 1 <= id < next_collection_id, unique

    friend bool operator==(const manifest_collection&, const manifest_collection&) = default;
};

// The MANIFEST's kind byte (SPEC.md §3). Only the encoding uses it: a manifest_index holds
// the public entidb::index_kind, and index_kind_bytes below is the one map between the two.
// The registry of kinds (index/index_kinds.hpp, a layer above) names each kind's byte
// again and static_asserts that it matches this table.
// Byte 2 (text) is ours, not SPEC.md §3's: a reader of format 1.0 refuses it
// (docs/format-compatibility.md); a text index always has options, so its MANIFEST is
// version 3 as well.
enum class index_kind : std::uint8_t { hash = 0, btree = 1, text = 2 };

inline constexpr std::array<std::pair<entidb::index_kind, index_kind>, 3> index_kind_bytes{{
    {entidb::index_kind::hash, index_kind::hash},
    {entidb::index_kind::ordered, index_kind::btree},
    {entidb::index_kind::text, index_kind::text},
}};

// The byte that stores `k`, or nullopt for a value that is no index kind.
[[nodiscard]] constexpr std::optional<std::uint8_t> manifest_kind_byte(entidb::index_kind k) noexcept {
    for (const auto& [kind, on_disk] : index_kind_bytes)
        if (kind == k) return static_cast<std::uint8_t>(on_disk);
    return std::nullopt;
}

// The kind a MANIFEST byte stores, or nullopt for a byte that stores none.
[[nodiscard]] constexpr std::optional<entidb::index_kind> index_kind_of_byte(std::uint8_t b) noexcept {
    for (const auto& [kind, on_disk] : index_kind_bytes)
        if (static_cast<std::uint8_t>(on_disk) == b) return kind;
    return std::nullopt;
}

struct manifest_index {
    std::uint64_t id;             // 1 <= id < next_index_id, unique
    std::uint32_t collection_id;  // 1 <= collection_id < next_collection_id
    std::vector<std::string> path;  // field names, each UTF-8 and at most 65535 bytes
    entidb::index_kind kind;      // stored as a format::index_kind byte
    bool unique;
    std::uint64_t created_at_seq;
    // The kind's own options beyond SPEC.md §3's fields, in its own encoding (at most 65535
    // bytes); stored in a version-3 section, so an index with options makes the file version 3.
    byte_buffer options{};

    friend bool operator==(const manifest_index&, const manifest_index&) = default;
};

// One migration applied to the database.
struct manifest_migration {
    std::uint64_t version;     // the schema version it brought the database to
    std::string name;          // UTF-8, at most 65535 bytes
    std::uint64_t applied_at;  // as the caller gave it (the engine writes no clock of its own)
    std::uint64_t steps_hash;  // of its step list: a changed list is refused

    friend bool operator==(const manifest_migration&, const manifest_migration&) = default;
};

struct manifest_schema {
    std::uint64_t version = 0;
    std::vector<manifest_migration> applied;  // by ascending version, each at most `version`

    friend bool operator==(const manifest_schema&, const manifest_schema&) = default;
};

// Segment files a migration wrote as temporaries and the MANIFEST that names this makes
// current: open renames `publish` into place and deletes `remove` before it reads any
// segment, then writes the MANIFEST again without it (core/migration.hpp). Both ascending.
struct manifest_publish {
    std::vector<std::uint32_t> publish;
    std::vector<std::uint32_t> remove;

    friend bool operator==(const manifest_publish&, const manifest_publish&) = default;
};

// What a MANIFEST holds beyond SPEC.md §3 besides index options (manifest_index::options):
// with any of it, the file is written as MANIFEST version 3, which readers of version 2 refuse.
struct manifest_extension {
    std::optional<manifest_schema> schema;
    std::optional<manifest_publish> publish;

    friend bool operator==(const manifest_extension&, const manifest_extension&) = default;
};

struct manifest {
    std::uint16_t format_major = current_format_major, format_minor = current_format_minor;
    std::uint32_t next_collection_id = 1;
    std::vector<manifest_collection> collections;
    std::uint64_t next_index_id = 1;
    std::vector<manifest_index> indexes;
    std::optional<std::uint64_t> checkpoint_seq;
    manifest_extension extension;

    // Whether the file is written as version 3: it holds something SPEC.md §3 has no field for.
    [[nodiscard]] bool extended() const noexcept {
        return extension.schema || extension.publish || std::any_of(indexes.begin(), indexes.end(),
                                               [](const manifest_index& x) { return !x.options.empty(); });
    }

    friend bool operator==(const manifest&, const manifest&) = default;
};

// True when the manifest was written by a newer minor version of the format: it
// decodes, but this build must not write to the database.
[[nodiscard]] inline bool opens_read_only(const manifest& m) noexcept {
    return m.format_minor > current_format_minor;
}

namespace detail {

// Bytewise (unsigned) order, the order names are stored in.
[[nodiscard]] inline int compare_bytewise(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::min(a.size(), b.size());
    const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
    if (c != 0) return c;
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

inline void check_manifest_string(std::string_view s, std::string_view what) {
    if (s.size() > manifest_max_string_size)
        fail(errc::invalid_argument, "{} is {} bytes; the MANIFEST stores at most {}", what, s.size(),
             manifest_max_string_size);
    if (const std::size_t bad = find_invalid_utf8(as_bytes(s)); bad != utf8_valid)
        fail(errc::invalid_argument, "{} is not valid UTF-8 (byte {})", what, bad);
}

inline void put_manifest_string(byte_buffer& out, std::string_view s) {
    put_u16(out, static_cast<std::uint16_t>(s.size()));
    put_bytes(out, as_bytes(s));
}

// A cursor that throws errc::corruption (with the file and offset) on any shortfall.
class manifest_reader {
public:
    manifest_reader(bytes_view in, const std::string& path) : r_(in), path_(path) {}

    [[nodiscard]] std::size_t offset() const noexcept { return r_.offset(); }
    [[nodiscard]] std::size_t remaining() const noexcept { return r_.remaining(); }

    template <typename... Args>
    [[noreturn]] void corrupt(std::size_t at, fmt::format_string<Args...> f, Args&&... args) const {
        fail_at(errc::corruption, {.path = path_, .offset = at}, "MANIFEST: {}",
                fmt::format(f, std::forward<Args>(args)...));
    }

    void need(std::size_t n, std::string_view what) const {
        if (r_.remaining() < n)
            corrupt(r_.offset(), "truncated: {} needs {} bytes, {} remain", what, n, r_.remaining());
    }

    [[nodiscard]] std::uint8_t u8(std::string_view what) {
        need(1, what);
        return r_.u8();
    }
    [[nodiscard]] std::uint16_t u16(std::string_view what) {
        need(2, what);
        return r_.u16();
    }
    [[nodiscard]] std::uint32_t u32(std::string_view what) {
        need(4, what);
        return r_.u32();
    }
    [[nodiscard]] std::uint64_t u64(std::string_view what) {
        need(8, what);
        return r_.u64();
    }
    [[nodiscard]] bytes_view bytes(std::size_t n, std::string_view what) {
        need(n, what);
        return r_.bytes(n);
    }

    // name_len u16 + UTF-8 bytes.
    [[nodiscard]] std::string string(std::string_view what) {
        const std::size_t len = u16(what);
        const std::size_t at = offset();
        const std::string_view s = as_chars(bytes(len, what));
        if (const std::size_t bad = find_invalid_utf8(as_bytes(s)); bad != utf8_valid)
            corrupt(at + bad, "{} is not valid UTF-8", what);
        return std::string(s);
    }

    // A count whose items take at least `min_item` bytes each must fit what remains
    // (so a corrupt count cannot make us reserve unbounded memory).
    void check_count(std::size_t at, std::uint64_t count, std::size_t min_item, std::string_view what) const {
        if (count > r_.remaining() / min_item)
            corrupt(at, "truncated: {} {} need at least {} bytes, {} remain", count, what, count * min_item,
                    r_.remaining());
    }

private:
    byte_reader r_;
    const std::string& path_;
};

inline constexpr std::size_t manifest_min_collection_size = 2 + 4;              // empty name
inline constexpr std::size_t manifest_min_index_size = 8 + 4 + 2 + 1 + 1 + 8;  // empty path
inline constexpr std::size_t manifest_min_options_size = 8 + 2;                 // empty options
inline constexpr std::size_t manifest_min_migration_size = 8 + 2 + 8 + 8;       // empty name

enum class manifest_section : std::uint16_t { index_options = 1, schema = 2, segment_publish = 3 };

// Checks what encode() would refuse in the sections; `indexes` sorted by id.
inline void check_extension(const manifest_extension& e, const std::vector<const manifest_index*>& indexes) {
    for (const auto* x : indexes)
        if (x->options.size() > manifest_max_string_size)
            fail(errc::invalid_argument, "options of index {} are {} bytes; the MANIFEST stores at most {}", x->id,
                 x->options.size(), manifest_max_string_size);
    if (e.publish)
        for (const auto* list : {&e.publish->publish, &e.publish->remove})
            if (std::adjacent_find(list->begin(), list->end(), std::greater_equal<>()) != list->end())
                fail(errc::invalid_argument, "segment numbers to publish or remove must be ascending, each once");
    if (!e.schema) return;
    const auto& applied = e.schema->applied;
    if (applied.size() > std::numeric_limits<std::uint32_t>::max())
        fail(errc::too_large, "{} applied migrations do not fit the MANIFEST's u32 count", applied.size());
    for (std::size_t i = 0; i < applied.size(); ++i) {
        check_manifest_string(applied[i].name, fmt::format("migration {} name", applied[i].version));
        if (i > 0 && applied[i - 1].version >= applied[i].version)
            fail(errc::invalid_argument, "applied migrations must be by ascending version, each once ({} after {})",
                 applied[i].version, applied[i - 1].version);
        if (applied[i].version > e.schema->version)
            fail(errc::invalid_argument, "migration {} is above the schema version {}", applied[i].version,
                 e.schema->version);
    }
}

inline void put_section(byte_buffer& out, manifest_section tag, const byte_buffer& body) {
    put_u16(out, static_cast<std::uint16_t>(tag));
    put_u32(out, static_cast<std::uint32_t>(body.size()));
    put_bytes(out, body);
}

// `indexes` sorted by id: those with options are the index options section.
inline void put_extension(byte_buffer& out, const manifest_extension& e, const std::vector<const manifest_index*>& indexes) {
    std::vector<const manifest_index*> with_options;
    for (const auto* x : indexes)
        if (!x->options.empty()) with_options.push_back(x);
    put_u16(out, static_cast<std::uint16_t>((with_options.empty() ? 0 : 1) + (e.schema ? 1 : 0) + (e.publish ? 1 : 0)));
    if (!with_options.empty()) {
        byte_buffer body;
        put_u32(body, static_cast<std::uint32_t>(with_options.size()));
        for (const auto* x : with_options) {
            put_u64(body, x->id);
            put_u16(body, static_cast<std::uint16_t>(x->options.size()));
            put_bytes(body, x->options);
        }
        put_section(out, manifest_section::index_options, body);
    }
    if (e.schema) {
        byte_buffer body;
        put_u64(body, e.schema->version);
        put_u32(body, static_cast<std::uint32_t>(e.schema->applied.size()));
        for (const auto& a : e.schema->applied) {
            put_u64(body, a.version);
            put_manifest_string(body, a.name);
            put_u64(body, a.applied_at);
            put_u64(body, a.steps_hash);
        }
        put_section(out, manifest_section::schema, body);
    }
    if (e.publish) {
        byte_buffer body;
        for (const auto* list : {&e.publish->publish, &e.publish->remove}) {
            put_u32(body, static_cast<std::uint32_t>(list->size()));
            for (const auto n : *list) put_u32(body, n);
        }
        put_section(out, manifest_section::segment_publish, body);
    }
}

}  // namespace detail

// The whole MANIFEST file. Throws errc::invalid_argument as the contract says.
[[nodiscard]] inline byte_buffer encode(const manifest& m) {
    if (m.format_major != current_format_major)
        fail(errc::invalid_argument, "cannot write format version {}.{}; this build writes format major version {}",
             m.format_major, m.format_minor, current_format_major);
    if (m.next_collection_id == 0) fail(errc::invalid_argument, "next_collection_id must be at least 1");
    if (m.next_index_id == 0) fail(errc::invalid_argument, "next_index_id must be at least 1");
    if (m.collections.size() > std::numeric_limits<std::uint32_t>::max())
        fail(errc::too_large, "{} collections do not fit the MANIFEST's u32 count", m.collections.size());
    if (m.indexes.size() > std::numeric_limits<std::uint32_t>::max())
        fail(errc::too_large, "{} indexes do not fit the MANIFEST's u32 count", m.indexes.size());

    std::vector<const manifest_collection*> colls;
    colls.reserve(m.collections.size());
    for (const auto& c : m.collections) {
        detail::check_manifest_string(c.name, fmt::format("collection name {:?}", c.name.substr(0, 64)));
        if (c.id == 0 || c.id >= m.next_collection_id)
            fail(errc::invalid_argument, "collection {:?} has id {}; ids run from 1 to next_collection_id - 1 = {}",
                 c.name, c.id, m.next_collection_id - 1);
        colls.push_back(&c);
    }
    std::sort(colls.begin(), colls.end(), [](const manifest_collection* a, const manifest_collection* b) {
        return detail::compare_bytewise(a->name, b->name) < 0;
    });
    for (std::size_t i = 1; i < colls.size(); ++i)
        if (colls[i - 1]->name == colls[i]->name)
            fail(errc::invalid_argument, "duplicate collection name {:?}", colls[i]->name);
    {
        std::set<std::uint32_t> ids;
        for (const auto* c : colls)
            if (!ids.insert(c->id).second) fail(errc::invalid_argument, "duplicate collection id {}", c->id);
    }

    std::vector<const manifest_index*> idxs;
    idxs.reserve(m.indexes.size());
    for (const auto& x : m.indexes) {
        if (x.id == 0 || x.id >= m.next_index_id)
            fail(errc::invalid_argument, "index id {}; ids run from 1 to next_index_id - 1 = {}", x.id,
                 m.next_index_id - 1);
        if (x.collection_id == 0 || x.collection_id >= m.next_collection_id)
            fail(errc::invalid_argument, "index {} names collection id {}, which was never allocated", x.id,
                 x.collection_id);
        if (x.path.size() > manifest_max_path_fields)
            fail(errc::invalid_argument, "index {} has a path of {} fields; the MANIFEST stores at most {}", x.id,
                 x.path.size(), manifest_max_path_fields);
        for (const auto& f : x.path)
            detail::check_manifest_string(f, fmt::format("index {} path field {:?}", x.id, f.substr(0, 64)));
        if (!manifest_kind_byte(x.kind))
            fail(errc::invalid_argument, "index {} has unknown kind {}", x.id, static_cast<unsigned>(x.kind));
        idxs.push_back(&x);
    }
    std::sort(idxs.begin(), idxs.end(),
              [](const manifest_index* a, const manifest_index* b) { return a->id < b->id; });
    for (std::size_t i = 1; i < idxs.size(); ++i)
        if (idxs[i - 1]->id == idxs[i]->id) fail(errc::invalid_argument, "duplicate index id {}", idxs[i]->id);
    detail::check_extension(m.extension, idxs);

    byte_buffer out;
    detail::put_bytes(out, manifest_magic);
    detail::put_u16(out, m.extended() ? manifest_version_extended : manifest_version);
    detail::put_u16(out, m.format_major);
    detail::put_u16(out, m.format_minor);
    detail::put_u32(out, m.next_collection_id);
    detail::put_u32(out, static_cast<std::uint32_t>(colls.size()));
    for (const auto* c : colls) {
        detail::put_manifest_string(out, c->name);
        detail::put_u32(out, c->id);
    }
    detail::put_u64(out, m.next_index_id);
    detail::put_u32(out, static_cast<std::uint32_t>(idxs.size()));
    for (const auto* x : idxs) {
        detail::put_u64(out, x->id);
        detail::put_u32(out, x->collection_id);
        detail::put_u16(out, static_cast<std::uint16_t>(x->path.size()));
        for (const auto& f : x->path) detail::put_manifest_string(out, f);
        detail::put_u8(out, *manifest_kind_byte(x->kind));  // checked above
        detail::put_u8(out, x->unique ? 1 : 0);
        detail::put_u64(out, x->created_at_seq);
    }
    detail::put_u8(out, m.checkpoint_seq ? 1 : 0);
    if (m.checkpoint_seq) detail::put_u64(out, *m.checkpoint_seq);
    if (m.extended()) detail::put_extension(out, m.extension, idxs);
    return out;
}

namespace detail {

inline void read_index_options(manifest_reader& r, manifest& m) {
    std::size_t at = r.offset();
    const std::uint32_t n = r.u32("index options count");
    r.check_count(at, n, manifest_min_options_size, "index options");
    std::uint64_t previous = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        at = r.offset();
        const std::uint64_t id = r.u64("options index id");
        if (i > 0 && previous >= id)
            r.corrupt(at, "index options are not by ascending index id: {} follows {}", id, previous);
        previous = id;
        const auto x = std::lower_bound(m.indexes.begin(), m.indexes.end(), id,
                                        [](const manifest_index& a, std::uint64_t b) { return a.id < b; });
        if (x == m.indexes.end() || x->id != id)
            r.corrupt(at, "options for index {}, which the MANIFEST does not hold", id);
        const std::size_t len_at = r.offset();
        const std::size_t len = r.u16("index options length");
        if (len == 0) r.corrupt(len_at, "index {} has empty options (an index without options is not listed)", id);
        const bytes_view b = r.bytes(len, "index options");
        x->options.assign(b.begin(), b.end());
    }
}

inline void read_schema(manifest_reader& r, manifest& m) {
    manifest_schema s;
    s.version = r.u64("schema version");
    std::size_t at = r.offset();
    const std::uint32_t n = r.u32("applied migration count");
    r.check_count(at, n, manifest_min_migration_size, "applied migrations");
    for (std::uint32_t i = 0; i < n; ++i) {
        at = r.offset();
        manifest_migration a;
        a.version = r.u64("migration version");
        if (!s.applied.empty() && s.applied.back().version >= a.version)
            r.corrupt(at, "applied migrations are not by ascending version: {} follows {}", a.version,
                      s.applied.back().version);
        if (a.version > s.version)
            r.corrupt(at, "migration {} is above the schema version {}", a.version, s.version);
        a.name = r.string("migration name");
        a.applied_at = r.u64("migration applied_at");
        a.steps_hash = r.u64("migration steps_hash");
        s.applied.push_back(std::move(a));
    }
    m.extension.schema = std::move(s);
}

inline void read_publish(manifest_reader& r, manifest& m) {
    manifest_publish p;
    for (auto* list : {&p.publish, &p.remove}) {
        std::size_t at = r.offset();
        const std::uint32_t n = r.u32("segment count");
        r.check_count(at, n, 4, "segment numbers");
        for (std::uint32_t i = 0; i < n; ++i) {
            at = r.offset();
            const std::uint32_t number = r.u32("segment number");
            if (!list->empty() && list->back() >= number)
                r.corrupt(at, "segment numbers are not ascending: {} follows {}", number, list->back());
            list->push_back(number);
        }
    }
    m.extension.publish = std::move(p);
}

// The sections of a version-3 MANIFEST. A section must be read to its exact length; an
// unknown tag is a MANIFEST of a newer build (its meaning is unknown: nothing is guessed).
inline void read_extension(manifest_reader& r, manifest& m, const std::string& path) {
    std::size_t at = r.offset();
    const std::uint16_t n = r.u16("section count");
    if (n == 0) r.corrupt(at, "a version-3 MANIFEST with no section (version 2 is written then)");
    int last_tag = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        at = r.offset();
        const std::uint16_t tag = r.u16("section tag");
        const std::uint32_t length = r.u32("section length");
        if (tag <= last_tag) r.corrupt(at, "sections are not by ascending tag: {} follows {}", tag, last_tag);
        last_tag = tag;
        r.need(length, "section body");
        const std::size_t end = r.offset() + length;
        switch (static_cast<manifest_section>(tag)) {
            case manifest_section::index_options: read_index_options(r, m); break;
            case manifest_section::schema: read_schema(r, m); break;
            case manifest_section::segment_publish: read_publish(r, m); break;
            default:
                fail_at(errc::unsupported_version, {.path = path, .offset = at},
                        "MANIFEST section {} is not known to this build (1 index options, 2 schema, 3 segment "
                        "publish)",
                        tag);
        }
        if (r.offset() != end)
            r.corrupt(at, "section {} is {} bytes long but its contents take {}", tag, length, r.offset() - (end - length));
    }
}

}  // namespace detail

// Decodes a whole MANIFEST file; `path_for_errors` only labels errors.
[[nodiscard]] inline manifest decode_manifest(bytes_view in, const std::string& path_for_errors) {
    detail::manifest_reader r(in, path_for_errors);
    manifest m;

    const bytes_view magic = r.bytes(manifest_magic.size(), "magic");
    if (!std::equal(magic.begin(), magic.end(), manifest_magic.begin()))
        r.corrupt(0, "bad magic: expected 454d464e (\"EMFN\"), found {:02x}{:02x}{:02x}{:02x}", magic[0], magic[1],
                  magic[2], magic[3]);

    const std::uint16_t mv = r.u16("manifest_version");
    if (mv != manifest_version && mv != manifest_version_extended)
        fail_at(errc::unsupported_version, {.path = path_for_errors, .offset = 4},
                "MANIFEST version {} found; this build reads MANIFEST versions {} and {}", mv, manifest_version,
                manifest_version_extended);
    m.format_major = r.u16("format major");
    m.format_minor = r.u16("format minor");
    if (m.format_major != current_format_major)
        fail_at(errc::unsupported_version, {.path = path_for_errors, .offset = 6},
                "format version {}.{} found; this build supports format major version {} only ({}.0 to {}.{} "
                "read-write, newer {}.x read-only)",
                m.format_major, m.format_minor, current_format_major, current_format_major, current_format_major,
                current_format_minor, current_format_major);

    std::size_t at = r.offset();
    m.next_collection_id = r.u32("next_collection_id");
    if (m.next_collection_id == 0) r.corrupt(at, "next_collection_id is 0 (collection ids start at 1)");

    at = r.offset();
    const std::uint32_t ncoll = r.u32("collection_count");
    r.check_count(at, ncoll, detail::manifest_min_collection_size, "collections");
    m.collections.reserve(ncoll);
    std::set<std::uint32_t> coll_ids;
    for (std::uint32_t i = 0; i < ncoll; ++i) {
        const std::size_t entry_at = r.offset();
        manifest_collection c;
        c.name = r.string("collection name");
        const std::size_t id_at = r.offset();
        c.id = r.u32("collection id");
        if (!m.collections.empty()) {
            const int order = detail::compare_bytewise(m.collections.back().name, c.name);
            if (order == 0) r.corrupt(entry_at, "duplicate collection name {:?}", c.name);
            if (order > 0)
                r.corrupt(entry_at, "collections are not sorted by name: {:?} follows {:?}", c.name,
                          m.collections.back().name);
        }
        if (c.id == 0 || c.id >= m.next_collection_id)
            r.corrupt(id_at, "collection {:?} has id {}, outside 1..{} (next_collection_id {})", c.name, c.id,
                      m.next_collection_id - 1, m.next_collection_id);
        if (!coll_ids.insert(c.id).second) r.corrupt(id_at, "duplicate collection id {}", c.id);
        m.collections.push_back(std::move(c));
    }

    at = r.offset();
    m.next_index_id = r.u64("next_index_id");
    if (m.next_index_id == 0) r.corrupt(at, "next_index_id is 0 (index ids start at 1)");

    at = r.offset();
    const std::uint32_t nidx = r.u32("index_count");
    r.check_count(at, nidx, detail::manifest_min_index_size, "indexes");
    m.indexes.reserve(nidx);
    for (std::uint32_t i = 0; i < nidx; ++i) {
        manifest_index x;
        at = r.offset();
        x.id = r.u64("index id");
        if (x.id == 0 || x.id >= m.next_index_id)
            r.corrupt(at, "index id {} outside 1..{} (next_index_id {})", x.id, m.next_index_id - 1,
                      m.next_index_id);
        if (!m.indexes.empty() && m.indexes.back().id == x.id) r.corrupt(at, "duplicate index id {}", x.id);
        if (!m.indexes.empty() && m.indexes.back().id > x.id)
            r.corrupt(at, "indexes are not sorted by id: {} follows {}", x.id, m.indexes.back().id);
        at = r.offset();
        x.collection_id = r.u32("index collection_id");
        if (x.collection_id == 0 || x.collection_id >= m.next_collection_id)
            r.corrupt(at, "index {} names collection id {}, outside 1..{}", x.id, x.collection_id,
                      m.next_collection_id - 1);
        at = r.offset();
        const std::uint16_t nfields = r.u16("index path_count");
        r.check_count(at, nfields, 2, "path fields");
        x.path.reserve(nfields);
        for (std::uint16_t k = 0; k < nfields; ++k) x.path.push_back(r.string("index path field"));
        at = r.offset();
        const std::uint8_t kind = r.u8("index kind");
        const auto known = index_kind_of_byte(kind);
        if (!known) r.corrupt(at, "index {} has kind {} (0 hash, 1 btree, 2 text)", x.id, kind);
        x.kind = *known;
        at = r.offset();
        const std::uint8_t unique = r.u8("index unique");
        if (unique > 1) r.corrupt(at, "index {} has unique = {} (must be 0 or 1)", x.id, unique);
        x.unique = unique == 1;
        x.created_at_seq = r.u64("index created_at_seq");
        m.indexes.push_back(std::move(x));
    }

    at = r.offset();
    const std::uint8_t has_checkpoint = r.u8("has_checkpoint");
    if (has_checkpoint > 1) r.corrupt(at, "has_checkpoint is {} (must be 0 or 1)", has_checkpoint);
    if (has_checkpoint == 1) m.checkpoint_seq = r.u64("checkpoint_seq");
    if (mv == manifest_version_extended) detail::read_extension(r, m, path_for_errors);

    if (r.remaining() != 0) r.corrupt(r.offset(), "{} trailing bytes after the last field", r.remaining());
    return m;
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
