// entidb/core/open.hpp — a database directory opened into a recovered engine.
//
// directory/open.hpp checks the path, takes the LOCK and opens the files; the engine is
// built on them here. open_engine then recovers it (a new database gets segment 1 from the
// engine's own factory), writes a new database's MANIFEST last (finish_creation: a
// creation that fails leaves none) and builds the secondary indexes. Only then may the
// engine write its primary index file (core/index_file.hpp). Before any of that: an open
// that requires a schema version checks the MANIFEST's (errc::schema_mismatch, nothing
// touched), and a MANIFEST that publishes a migration's segments has them made current
// (finish_published_segments; core/migration.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "../directory/open.hpp"
#include "../segment/factory.hpp"
#include "../storage/filesystem.hpp"
#include "engine.hpp"
#include "payload_codec.hpp"
#include "recovery.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

[[nodiscard]] inline std::uint64_t schema_version_of(const format::manifest& m) noexcept {
    return m.extension.schema ? m.extension.schema->version : 0;
}

// Refuses an open that requires another schema version (config::required_schema_version).
inline void check_schema_version(const format::manifest& m, const config& cfg, const std::filesystem::path& dir) {
    if (!cfg.required_schema_version) return;
    const auto have = schema_version_of(m);
    if (have != *cfg.required_schema_version)
        fail_at(errc::schema_mismatch, {.path = (dir / "MANIFEST").string()},
                "the database is at schema version {}, and {} is required{}", have, *cfg.required_schema_version,
                have < *cfg.required_schema_version ? " (open it with the migrations that lead there)" : "");
}

// Step 5 of a migration (core/migration.hpp), idempotent: the segments the MANIFEST's publish
// section names are renamed into place and those it removes deleted, then the MANIFEST is
// written without the section. Runs before anything reads a segment. A read-only open
// cannot do it: errc::needs_reopen, nothing touched.
template <typename Traits>
void finish_published_segments(const std::filesystem::path& dir, const config& cfg, directory_parts<Traits>& parts) {
    auto& m = parts.manifest;
    if (!m.extension.publish) return;
    const auto manifest_path = (dir / "MANIFEST").string();
    if constexpr (segment_file_protocol<typename Traits::segment_factory>) {
        if (cfg.read_only)
            fail_at(errc::needs_reopen, {.path = manifest_path},
                    "a migration was published but its segment files are not in place yet; open the database "
                    "read-write once to finish it");
        auto& f = parts.factory;
        for (const auto n : m.extension.publish->publish) {
            if (f.has_temporary(n))
                f.publish_temporary(n);
            else if (!f.has(n))
                fail_at(errc::corruption, {.path = manifest_path},
                        "the MANIFEST publishes segment {} but neither {} nor {} exists", n, segment_file_name(n),
                        temporary_segment_file_name(n));
        }
        for (const auto n : m.extension.publish->remove) f.remove(n);
        f.sync();
        // It covered the segments the migration superseded: the next open rebuilds the index.
        std::error_code ignored;
        std::filesystem::remove(dir / primary_index_file_name, ignored);
        m.extension.publish.reset();
        durable_replace(dir / "MANIFEST", format::encode_manifest_file(m, parts.cipher.get()));
    } else {
        fail_at(errc::corruption, {.path = manifest_path},
                "the MANIFEST publishes segment files, which this storage does not keep");
    }
}

// The engine over an opened directory, not yet recovered (verify runs a dry recovery on it).
template <typename Traits>
[[nodiscard]] std::shared_ptr<engine<Traits>> engine_over(const std::filesystem::path& dir, const config& cfg,
                                                          directory_parts<Traits> parts) {
    using codec = typename engine<Traits>::codec_type;
    if constexpr (codec::encrypts)
        return std::make_shared<engine<Traits>>(cfg, std::move(parts.wal), std::move(parts.factory),
                                                std::move(parts.manifest), dir, std::move(parts.lock),
                                                codec(std::move(parts.cipher)));
    else
        return std::make_shared<engine<Traits>>(cfg, std::move(parts.wal), std::move(parts.factory),
                                                std::move(parts.manifest), dir, std::move(parts.lock));
}

template <typename Traits>
[[nodiscard]] std::shared_ptr<engine<Traits>> open_engine(const std::filesystem::path& dir, const config& cfg,
                                                          typename Traits::environment& env) {
    auto parts = open_directory<Traits>(dir, cfg, env);
    check_schema_version(parts.manifest, cfg, dir);
    finish_published_segments(dir, cfg, parts);
    const bool created = parts.created;
    auto db = engine_over<Traits>(dir, cfg, std::move(parts));
    try {
        recovery<Traits>(*db).run();
    } catch (const error& x) {
        // A block of the index file failed its check when recovery first read it (the file
        // is gone now): recover again, from the segments, as if it had never been there.
        if (!db->index_file_was_damaged()) throw;
        const std::string problem = x.what();
        db.reset();  // releases the LOCK
        db = engine_over<Traits>(dir, cfg, open_directory<Traits>(dir, cfg, env));
        recovery<Traits>(*db).run();
        db->report().primary_index_file_problem = problem;
    }
    if (created) finish_creation(dir, db->manifest(), db->codec().cipher_or_null());
    db->prepare_wal();  // once the MANIFEST exists: a crash here leaves a database
    db->build_indexes();
    db->mark_opened();
    return db;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
