// entidb/directory/open.hpp — the one open path of a database directory (SPEC.md §3, §9.1).
//
//   <db>/MANIFEST  <db>/LOCK  <db>/wal.log  <db>/SEGMENTS/seg-NNNNNN.dat
//
// Opening first looks for a database: a path that holds none (missing, or a directory
// without a MANIFEST) is created only when config::create_if_missing allows and the open
// is not read-only, else errc::not_found before anything is touched (not even LOCK). It
// then takes the LOCK (errc::locked if held; shared for a read-only open), then reads the
// MANIFEST, or creates a new database when the directory is missing or holds nothing but
// the remains of an interrupted creation. The MANIFEST is written last when creating
// (finish_creation, once recovery has made segment 1 through the engine's own factory: a
// factory may hand out its backend only once, like single_backend_factory), so its
// presence marks a complete database and a creation that fails leaves none. Every failure
// is typed and leaves the directory unchanged: a path that is a file, a directory that is
// not a database (errc::invalid_argument, before LOCK is created), a MANIFEST that does
// not parse (errc::corruption) or has another format version (errc::unsupported_version),
// a file the OS cannot examine, such as a symbolic link loop (errc::io_error). A read-only
// open writes nothing at all.
// core/open.hpp builds the engine from the parts returned here; recovery runs on it.
#pragma once

#include <filesystem>
#include <memory>
#include <utility>
#include <system_error>

#include "../config.hpp"
#include "../crypto/cipher.hpp"
#include "../format/manifest.hpp"
#include "../format/manifest_file.hpp"
#include "../storage/filesystem.hpp"
#include "../version.hpp"
#include "key_file.hpp"
#include "lock.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

namespace fs = std::filesystem;

// Whether `entry` is an empty regular file; false where the OS cannot tell (a link loop).
[[nodiscard]] inline bool is_empty_file(const fs::directory_entry& entry) {
    std::error_code ec;
    return entry.is_regular_file(ec) && entry.file_size(ec) == 0 && !ec;
}

// True if `dir` holds nothing but what an interrupted creation leaves: LOCK, an empty
// wal.log, MANIFEST.tmp, and a SEGMENTS directory of empty segment files. Anything the OS
// cannot examine is not such a remain.
[[nodiscard]] inline bool is_unfinished_creation(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name == "LOCK" || name == "MANIFEST.tmp" || name == "KEY" || name == "KEY.tmp") continue;
        if (name == "wal.log" && is_empty_file(*it)) continue;
        if (name == "SEGMENTS" && it->is_directory(ec) && !ec) {
            for (fs::directory_iterator seg(it->path(), ec); !ec && seg != end; seg.increment(ec))
                if (!is_empty_file(*seg)) return false;
            if (ec) return false;
            continue;
        }
        return false;
    }
    return !ec;
}

// Refuses to create a database in `dir` unless it is empty or an unfinished creation: the
// directory holds someone else's files.
inline void require_creatable(const fs::path& dir) {
    if (!is_unfinished_creation(dir))
        fail_at(errc::invalid_argument, {.path = dir.string()},
                "the directory is not empty and has no MANIFEST: not an EntiDB database");
}

inline void make_directory(const fs::path& dir) {
    std::error_code ec;
    if (!fs::create_directory(dir, ec) && ec)
        fail_at(errc::io_error, {.path = dir.string(), .sys_errno = ec.value()}, "cannot create directory");
}

// Checks the path and creates the directory if needed; returns true if the database
// has to be created (no MANIFEST yet). Where there is no database and the open may not
// create one, errc::not_found; where the directory holds other files,
// errc::invalid_argument: both with nothing touched (not even LOCK).
[[nodiscard]] inline bool prepare_directory(const fs::path& dir, const config& cfg) {
    // A new database is at schema version 0: an open that requires another creates nothing.
    const auto refuse_new = [&] {
        if (cfg.required_schema_version.value_or(0) != 0)
            fail_at(errc::schema_mismatch, {.path = dir.string()},
                    "no database here yet, and a new one would be at schema version 0, not the {} required (open it "
                    "with the migrations that lead there)",
                    *cfg.required_schema_version);
    };
    const bool present = path_exists(dir);
    std::error_code ec;
    if (present && !fs::is_directory(dir, ec))
        fail_at(errc::invalid_argument, {.path = dir.string()}, "not a directory");
    const bool may_create = cfg.create_if_missing && !cfg.read_only;
    if (!present) {
        if (!may_create)
            fail_at(errc::not_found, {.path = dir.string()}, "no EntiDB database here (the directory does not exist)");
        refuse_new();
        make_directory(dir);
        sync_directory(dir.has_parent_path() ? dir.parent_path() : fs::path("."));
        return true;
    }
    if (path_exists(dir / "MANIFEST")) return false;
    if (!may_create) fail_at(errc::not_found, {.path = dir.string()}, "no EntiDB database here (no MANIFEST)");
    require_creatable(dir);
    refuse_new();
    return true;
}

template <cipher_policy C = no_encryption>
[[nodiscard]] format::manifest load_manifest(const fs::path& dir, const C* cipher = nullptr) {
    const auto path = dir / "MANIFEST";
    auto m = format::decode_manifest_file(read_file(path), path.string(), cipher);
    if (m.format_major != format_major || m.format_minor > format_minor)
        fail_at(errc::unsupported_version, {.path = path.string()},
                "format {}.{} is newer than this build's {}.{}; open it with a newer EntiDB", m.format_major,
                m.format_minor, format_major, format_minor);
    for (const char* required : {"wal.log", "SEGMENTS"})
        if (!path_exists(dir / required))
            fail_at(errc::corruption, {.path = (dir / required).string()}, "missing from the database directory");
    return m;
}

// What opening a directory yields before an engine exists: its LOCK (held), its MANIFEST
// (empty when the database is being created), its WAL and its segment factory, whether the
// database is new (no MANIFEST yet), and an encrypted database's cipher over its data key.
template <typename Traits>
struct directory_parts {
    directory_lock lock;
    format::manifest manifest;
    std::unique_ptr<typename Traits::wal_backend> wal;
    typename Traits::segment_factory factory;
    bool created = false;
    std::shared_ptr<const cipher_of_t<Traits>> cipher{};  // null unless encrypts_v<Traits>
};

// The key of an encrypted database comes from its traits' environment: `key` (a key_source)
// and `kdf` (the Argon2id cost a new database's KEY file is written with).
template <typename Traits>
concept keyed_environment = requires(typename Traits::environment& env) {
    { env.key } -> std::convertible_to<const key_source&>;
    { env.kdf } -> std::convertible_to<const kdf_params&>;
};

// The cipher a new database is created with: the environment's `cipher` where it has one
// (entidb::encrypted_file_storage's), else the traits' cipher's own.
template <typename Traits>
[[nodiscard]] cipher_id creation_cipher(const typename Traits::environment& env) {
    using C = cipher_of_t<Traits>;
    if constexpr (requires { env.cipher; }) {
        return env.cipher;
    } else {
        static_assert(requires { C::id; },
                      "entidb: this cipher is chosen when a database is created (entidb::any_cipher): the environment "
                      "needs `cipher_id cipher = ...;` to say which (see entidb::encrypted_file_storage)");
        return C::id;
    }
}

// The data key's cipher, after LOCK and before the MANIFEST is read (docs/encryption.md):
// a new database gets its KEY file (kept when an unfinished creation left one: it opens with
// the same key or not at all); an existing one must have a KEY that `env.key` opens
// (errc::bad_key otherwise, nothing changed). Without a cipher, a KEY file means the database
// is encrypted: errc::bad_key before anything is read.
template <typename Traits>
[[nodiscard]] std::shared_ptr<const cipher_of_t<Traits>> open_cipher(const fs::path& dir, bool create,
                                                                     typename Traits::environment& env) {
    using C = cipher_of_t<Traits>;
    if constexpr (!C::encrypts) {
        if (has_key_file(dir))
            fail_at(errc::bad_key, {.path = key_file_path(dir).string()},
                    "the database is encrypted: open it with its key (a passphrase or a raw key)");
        return nullptr;
    } else {
        static_assert(keyed_environment<Traits>,
                      "entidb: the traits of an encrypted database need `struct environment { key_source key; "
                      "kdf_params kdf; }` (see entidb::encrypted_file_storage)");
        if (create && !has_key_file(dir)) {
            const cipher_id chosen = creation_cipher<Traits>(env);
            if constexpr (requires { C::id; }) detail::require_cipher(chosen, C::id);  // before the KEY names it
            return std::make_shared<const C>(create_key_file(dir, env.key, env.kdf, chosen), chosen);
        }
        if (!has_key_file(dir))
            fail_at(errc::bad_key, {.path = dir.string()},
                    "a key was given but the database is not encrypted (it has no KEY file); open it without one");
        return cipher_from_key_file<C>(read_key_file(dir), key_file_path(dir).string(), env.key);
    }
}

template <typename Traits>
[[nodiscard]] directory_parts<Traits> open_directory(const fs::path& dir, const config& cfg,
                                                     typename Traits::environment& env) {
    cfg.validate();
    const bool create = prepare_directory(dir, cfg);
    auto lock = cfg.read_only ? directory_lock::acquire_shared(dir) : directory_lock::acquire(dir);
    format::manifest manifest;
    if (create) require_creatable(dir);  // again under the LOCK: the directory may have changed meanwhile
    auto cipher = open_cipher<Traits>(dir, create, env);
    if (create) {
        if (!path_exists(dir / "SEGMENTS")) make_directory(dir / "SEGMENTS");
    } else {
        manifest = load_manifest(dir, cipher.get());
    }
    auto wal = Traits::open_wal(env, dir / "wal.log", cfg.read_only);
    auto factory = Traits::make_segment_factory(env, dir / "SEGMENTS", cfg.read_only);
    if (create) sync_directory(dir);  // wal.log and SEGMENTS exist before the MANIFEST names them
    return {std::move(lock), std::move(manifest), std::move(wal), std::move(factory), create, std::move(cipher)};
}

// Completes a new database once recovery has opened (created) its segments: the MANIFEST,
// written last (sealed by `cipher` where there is one), marks it complete. Until then the
// directory reads as an unfinished creation, which the next open starts again.
template <cipher_policy C>
void finish_creation(const fs::path& dir, const format::manifest& manifest, const C* cipher) {
    durable_replace(dir / "MANIFEST", format::encode_manifest_file(manifest, cipher));
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
