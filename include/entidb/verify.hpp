// entidb/verify.hpp — check a database directory without changing it.
//
// `verify(path)` takes the LOCK, reads the MANIFEST, streams every segment and WAL record
// through the same checks as open (checksums, structure, torn tail vs corruption) but
// truncates and replays nothing, then reads every live entity back (checksum, key, and
// canonical CBOR) and checks that every record names a collection the MANIFEST knows.
// The first problem is thrown as a typed entidb::error naming file and offset
// (errc::corruption for damage). A torn tail — the normal result of a crash, which the
// next open truncates — is not a problem; it is reported in the result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "cbor/reader.hpp"
#include "database.hpp"

namespace entidb {
inline namespace v1 {

struct verify_result {
    std::uint64_t segment_records = 0;
    std::uint64_t wal_records = 0;
    std::uint64_t entities_checked = 0;
    std::optional<std::uint64_t> wal_torn_at;      // the next open truncates the WAL here
    std::optional<std::uint64_t> segment_torn_at;  // ... and the active segment here
};

[[nodiscard]] inline verify_result verify(const std::filesystem::path& path, config cfg = {}) {
    cfg.create_if_missing = false;
    if (!std::filesystem::exists(path / "MANIFEST"))
        fail_at(errc::not_found, {.path = path.string()}, "no EntiDB database here (no MANIFEST)");
    file_storage::environment env;
    auto e = detail::open_directory<file_storage>(path, cfg, env);
    detail::recovery<file_storage> check(*e, /*dry_run=*/true);
    check.run();

    verify_result out;
    out.segment_records = e->report().segment_records;
    out.wal_records = e->report().wal_records;
    if (check.segment_cut()) out.segment_torn_at = check.segment_cut();
    if (check.wal_end() < e->wal().size()) out.wal_torn_at = check.wal_end();

    const auto next_id = e->manifest().next_collection_id;
    for (std::uint32_t c = 1; c < next_id; ++c) {
        std::optional<entity_id> last;
        while (auto next = e->index().next_live(c, last ? &*last : nullptr, detail::no_readers)) {
            last = next->first;
            const auto bytes = e->read_payload(c, next->first, next->second);
            try {
                cbor::validate(bytes);
            } catch (const error& err) {
                fail_at(errc::corruption,
                        {.path = e->segment_path(next->second.location.segment),
                         .offset = next->second.location.offset},
                        "entity {} holds bytes that are not canonical CBOR: {}", next->first.to_hex(), err.detail());
            }
            ++out.entities_checked;
        }
    }
    if (const auto stray = e->index().first_collection_not_below(next_id))
        fail_at(errc::corruption, {.path = (path / "MANIFEST").string()},
                "segment records name collection id {}, which the MANIFEST does not know", *stray);
    return out;
}

}  // namespace v1
}  // namespace entidb
