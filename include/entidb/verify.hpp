// entidb/verify.hpp — check a database directory without changing it.
//
// `verify_report(path)` takes the LOCK and checks, in this order, collecting the first
// problems found (at most `max_problems`), each with its file and byte offset where there is
// one:
//   1. the MANIFEST: it decodes (magic, versions, ranges, sorting), every index names a
//      collection the MANIFEST lists, no two indexes share a collection and field path;
//   2. the COMPACTION journal, if any: it decodes, and after a crash during a compaction
//      every segment it publishes exists (the next open finishes that compaction; the
//      checks below run on the segments it describes);
//   3. every segment and WAL record, through the same checks as open (every checksum,
//      structure, torn tail vs corruption), truncating and replaying nothing;
//   4. every record names a collection the MANIFEST knows;
//   5. every live entity reads back (checksum, key) and is canonical CBOR;
//   6. every secondary index, built by the same code as on open, holds exactly the keys a
//      scan of its collection computes (and a unique index no key twice).
// A problem in 1–3 stops the check (open would refuse the directory); later ones are
// collected and the check goes on. A torn tail — the normal result of a crash, which the
// next open truncates — is not a problem; it is reported in the result, as are a pending
// compaction and stray compaction temporaries. Steps 4–6 see the segments only (committed
// transactions still only in the WAL are checked as WAL records).
// It opens the directory read-only (shared lock; runs beside read-only opens, not beside
// a writer). Errors thrown (not collected): errc::not_found (no database), errc::locked,
// errc::io_error, errc::invalid_argument (not a database directory), errc::bad_key.
//
// The checks themselves are core/verify.hpp (they need an engine that is never recovered);
// what they find is a verify_result (verify_result.hpp).
//
// `verify(path)` runs the same checks and throws the first problem as an entidb::error
// (errc::corruption, or errc::unsupported_version for a version this build cannot read).
//
// An encrypted database (docs/encryption.md) is verified with its key: `verify_report(path,
// key)` and `verify(path, key)` open its KEY first (errc::bad_key for a wrong key, thrown) and
// then run the same checks through the cipher: the MANIFEST must open, and every live record
// must authenticate at its place (a damaged, swapped or moved ciphertext is a corruption
// problem naming the segment file and the record's offset). Without a key, an encrypted
// database is errc::bad_key (thrown: it is not damage). The keyed overloads need libsodium.
#pragma once

#include <cstddef>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "core/verify.hpp"
#include "database.hpp"
#include "verify_result.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {

// The first problem of a report, thrown as an entidb::error (verify).
inline verify_result throw_first_problem(verify_result r) {
    if (r.ok()) return r;
    const auto& p = r.problems.front();
    const auto more = r.problems.size() - 1;
    throw error(p.code,
                more == 0 ? p.detail
                          : fmt::format("{} (and {}{} more problem{})", p.detail, more, r.more_problems ? "+" : "",
                                        more == 1 && !r.more_problems ? "" : "s"),
                {.path = p.path, .offset = p.offset});
}

}  // namespace detail

[[nodiscard]] inline verify_result verify_report(const std::filesystem::path& path, config cfg = {},
                                                 std::size_t max_problems = 16) {
    cfg.read_only = true;  // writes nothing, and works where the user may only read
    return detail::verify_directory<file_storage>(path, cfg, max_problems, {});
}

[[nodiscard]] inline verify_result verify(const std::filesystem::path& path, config cfg = {}) {
    return detail::throw_first_problem(verify_report(path, std::move(cfg)));
}

#if ENTIDB_HAVE_SODIUM

// The same checks of an encrypted database, with its key.
[[nodiscard]] inline verify_result verify_report(const std::filesystem::path& path, const key_source& key,
                                                 config cfg = {}, std::size_t max_problems = 16) {
    cfg.read_only = true;
    return detail::verify_directory<encrypted_file_storage>(path, cfg, max_problems,
                                                            {.key = detail::copy_key(key), .kdf = {}});
}

[[nodiscard]] inline verify_result verify(const std::filesystem::path& path, const key_source& key, config cfg = {}) {
    return detail::throw_first_problem(verify_report(path, key, std::move(cfg)));
}

#else  // no libsodium: the keyed overloads stop the build where they are called

#define ENTIDB_KEYED_NEEDS_SODIUM \
    "entidb: verifying an encrypted database needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) " \
    "and build with it"
template <typename Unused = void>
verify_result verify_report(const std::filesystem::path&, const key_source&, config = {}, std::size_t = 16) {
    static_assert(detail::sodium_required<Unused>, ENTIDB_KEYED_NEEDS_SODIUM);
    return {};
}
template <typename Unused = void>
verify_result verify(const std::filesystem::path&, const key_source&, config = {}) {
    static_assert(detail::sodium_required<Unused>, ENTIDB_KEYED_NEEDS_SODIUM);
    return {};
}
#undef ENTIDB_KEYED_NEEDS_SODIUM

#endif

}  // namespace v1
}  // namespace entidb
