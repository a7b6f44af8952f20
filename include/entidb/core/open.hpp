// entidb/core/open.hpp — a database directory opened into a recovered engine.
//
// directory/open.hpp checks the path, takes the LOCK and opens the files; the engine is
// built on them here. open_engine then recovers it (a new database gets segment 1 from the
// engine's own factory), writes a new database's MANIFEST last (finish_creation: a
// creation that fails leaves none) and builds the secondary indexes. Only then may the
// engine write its primary index file (core/index_file.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "../directory/open.hpp"
#include "engine.hpp"
#include "recovery.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// The engine over an opened directory, not yet recovered (verify runs a dry recovery on it).
template <typename Traits>
[[nodiscard]] std::shared_ptr<engine<Traits>> engine_over(const std::filesystem::path& dir, const config& cfg,
                                                          directory_parts<Traits> parts) {
    return std::make_shared<engine<Traits>>(cfg, std::move(parts.wal), std::move(parts.factory),
                                            std::move(parts.manifest), dir, std::move(parts.lock));
}

template <typename Traits>
[[nodiscard]] std::shared_ptr<engine<Traits>> open_engine(const std::filesystem::path& dir, const config& cfg,
                                                          typename Traits::environment& env) {
    auto parts = open_directory<Traits>(dir, cfg, env);
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
    if (created) finish_creation(dir, db->manifest());
    db->prepare_wal();  // once the MANIFEST exists: a crash here leaves a database
    db->build_indexes();
    db->mark_opened();
    return db;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
