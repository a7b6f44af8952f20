// entidb/database.hpp — the database, composed at compile time from a traits type.
//
//   struct my_traits {
//       using wal_backend = ...;      // a storage_backend for wal.log
//       using segment_factory = ...;  // a segment_factory for SEGMENTS/seg-NNNNNN.dat
//       static constexpr bool rotating = true;  // optional (default true)
//   };
//   entidb::basic_database<my_traits>
//
// The everyday aliases: `entidb::database` (file WAL, rotating file segments), opened only
// through `entidb::open(path, config)` — the one open path that takes the LOCK, reads or
// creates the MANIFEST, recovers from the WAL and the segments (SPEC.md §9 rule 1); and
// `entidb::memory_database` (nothing durable) from `entidb::open_in_memory(config)`.
// `basic_database<T>::open_with_backends` is an advanced hook over caller-supplied
// non-durable backends: it gives no directory contract (no LOCK, no MANIFEST file), and a
// durable composition given to it does not compile (it could not reopen its collections).
// A durable composition of any factory — `single_backend_factory` over a file_backend
// with `rotating = false` included — opens through `entidb::open<Traits>(dir)`.
//
// A handle is movable, not copyable; transactions keep the database's engine alive.
// Thread-safety: any number of threads may begin read transactions; write transactions
// are serialised at begin_write (one writer at a time).
#pragma once

#include <algorithm>
#include <concepts>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "change_feed.hpp"
#include "compaction.hpp"
#include "config.hpp"
#include "core/compaction.hpp"
#include "core/engine.hpp"
#include "core/migration.hpp"
#include "core/open.hpp"
#include "core/recovery.hpp"
#include "crypto/aes256gcm.hpp"
#include "crypto/any_cipher.hpp"
#include "crypto/xchacha20poly1305.hpp"
#include "directory/key_file.hpp"
#include "index_kind.hpp"
#include "migration.hpp"
#include "segment/factory.hpp"
#include "segment/file_factory.hpp"
#include "segment/memory_factory.hpp"
#include "segment/single_backend_factory.hpp"
#include "statistics.hpp"
#include "storage/file_backend.hpp"
#include "storage/memory_backend.hpp"
#include "txn/transaction.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {
struct backup_access;  // backup.hpp: the one reader of a database's engine outside this header
}  // namespace detail

// The requirements on a traits type, checked by one concept.
template <typename T>
concept database_traits = requires {
    typename T::wal_backend;
    typename T::segment_factory;
} && storage_backend<typename T::wal_backend> && segment_factory<typename T::segment_factory>;

// Whether a traits type allows segment rotation (default: yes).
template <typename T>
[[nodiscard]] consteval bool traits_rotating() {
    if constexpr (requires { T::rotating; })
        return T::rotating;
    else
        return true;
}

template <typename Traits>
class basic_database {
    static_assert(database_traits<Traits>,
                  "entidb: a database traits type needs `using wal_backend = <storage_backend>;` and "
                  "`using segment_factory = <segment_factory>;` (see entidb::file_storage)");
    static_assert(cipher_policy<cipher_of_t<Traits>> &&
                      (!encrypts_v<Traits> || encrypting_cipher<cipher_of_t<Traits>>),
                  "entidb: `using cipher = ...;` in the traits names a cipher policy: entidb::no_encryption, or an "
                  "encrypting cipher such as entidb::xchacha20poly1305 (crypto/cipher.hpp lists what it needs)");
    // SPEC.md §9 rule 2: never rotate a durable database into non-durable segments.
    static_assert(!Traits::wal_backend::durable || Traits::segment_factory::backend_type::durable,
                  "entidb: a durable WAL backend needs a segment factory whose backends are durable too, "
                  "or commits acknowledged as durable are lost once a segment rotates. Use "
                  "entidb::file_segment_factory (or entidb::file_storage), or a non-durable WAL backend "
                  "such as entidb::memory_backend for a database that is meant to live in memory.");
    static_assert(!traits_rotating<Traits>() || Traits::segment_factory::rotates,
                  "entidb: these traits rotate segments but the segment factory cannot make a second "
                  "segment (rotates == false). Use a rotating factory such as entidb::file_segment_factory, "
                  "or declare `static constexpr bool rotating = false;` in the traits.");
    // Compaction of durable segments must go through the COMPACTION journal, or a crash in
    // the middle of it loses or duplicates records; the factory's declaration decides
    // (segment/factory.hpp), so a missing member is a compile error, never the other path.
    static_assert(!factory_journaled<typename Traits::segment_factory>() ||
                      segment_file_members<typename Traits::segment_factory>,
                  "entidb: the segment factory declares `journaled = true` but lacks members of the compaction "
                  "journal's protocol (segment_file_protocol): create_temporary(n), open_temporary(n), "
                  "publish_temporary(n), remove(n), remove_temporary(n), temporaries(), has(n), has_temporary(n) "
                  "and sync(), with the signatures of entidb::file_segment_factory.");
    static_assert(!(Traits::segment_factory::backend_type::durable && Traits::segment_factory::rotates) ||
                      factory_journaled<typename Traits::segment_factory>(),
                  "entidb: the segment factory makes durable segments and rotates (rotates == true) but is not "
                  "journaled, so compaction could not be made crash-safe. Declare `static constexpr bool "
                  "journaled = true;` in the factory and give it the members of segment_file_protocol "
                  "(create_temporary(n), open_temporary(n), publish_temporary(n), remove(n), remove_temporary(n), "
                  "temporaries(), has(n), has_temporary(n), sync(); see entidb::file_segment_factory), or make it "
                  "non-rotating (rotates == false).");

public:
    using traits_type = Traits;
    using engine_type = detail::engine<Traits>;
    using read_transaction = basic_read_transaction<Traits>;
    using write_transaction = basic_write_transaction<Traits>;

    explicit basic_database(std::shared_ptr<engine_type> e) : engine_(std::move(e)) {}

    // Advanced hook, NOT the directory contract: runs the database over caller-supplied
    // backends with no LOCK and no MANIFEST file (collections live only in memory). For
    // tests and embedders that bring their own storage; persistent databases use open().
    // Only for compositions where nothing is durable: the collection catalog would not
    // outlive the handle, so durable backends would reopen with their data unreachable.
    [[nodiscard]] static basic_database open_with_backends(std::unique_ptr<typename Traits::wal_backend> wal,
                                                           typename Traits::segment_factory factory,
                                                           const config& cfg = {}) {
        static_assert(!encrypts_v<Traits>,
                      "entidb: an encrypted database keeps its data key in the KEY file of its directory; open it "
                      "with entidb::open<Traits>(dir, cfg, {.key = ...}) (see entidb::encrypted_file_storage)");
        static_assert(!Traits::wal_backend::durable && !Traits::segment_factory::backend_type::durable,
                      "entidb: open_with_backends keeps the collection catalog only in memory, so a database on "
                      "durable backends would reopen with its data unreachable. Open a persistent database with "
                      "entidb::open<Traits>(dir), which keeps the catalog in the MANIFEST (traits with an "
                      "`environment`, `open_wal` and `make_segment_factory`, like entidb::file_storage), or use "
                      "non-durable backends such as entidb::memory_backend here.");
        cfg.validate();
        auto e = std::make_shared<engine_type>(cfg, std::move(wal), std::move(factory), format::manifest{},
                                               std::nullopt, std::nullopt);
        detail::recovery<Traits>(*e).run();
        e->prepare_wal();
        e->build_indexes();
        return basic_database(std::move(e));
    }

    // A snapshot of the last commit. Never blocks on the writer.
    [[nodiscard]] read_transaction begin_read() const { return read_transaction(live()); }

    // Point reads of the last commit without a read transaction: no snapshot to register,
    // so cheaper than begin_read().get() for one entity; several calls may see different
    // commits (use a read transaction for a consistent view of several entities).
    // get_into reuses `out`'s capacity and returns false when there is no such entity.
    [[nodiscard]] std::optional<byte_buffer> get(std::string_view collection, const entity_id& id) const {
        byte_buffer out;
        if (!get_into(collection, id, out)) return std::nullopt;
        return out;
    }
    bool get_into(std::string_view collection, const entity_id& id, byte_buffer& out) const {
        const auto& e = *live_ref();
        const auto c = e.collection_id(collection);
        return c && e.read_published(*c, id, out);
    }

    // Waits until no other write transaction is open, then starts one.
    [[nodiscard]] write_transaction begin_write() {
        auto e = live();
        return write_transaction(e, std::unique_lock(e->writer_mutex()));
    }

    // Starts a write transaction, or returns nullopt at once if another is open.
    [[nodiscard]] std::optional<write_transaction> try_begin_write() {
        auto e = live();
        std::unique_lock lock(e->writer_mutex(), std::try_to_lock);
        if (!lock.owns_lock()) return std::nullopt;
        return std::optional<write_transaction>(std::in_place, e, std::move(lock));
    }

    // Runs `f(txn)` in a write transaction: commits when f returns, aborts if it throws.
    // Returns f's result, or the commit sequence when f returns void.
    template <typename F>
        requires std::invocable<F&, write_transaction&>
    auto transaction(F&& f) {
        auto txn = begin_write();
        if constexpr (std::is_void_v<std::invoke_result_t<F&, write_transaction&>>) {
            f(txn);
            return txn.commit();
        } else {
            auto result = f(txn);
            txn.commit();
            return result;
        }
    }

    // Writes a checkpoint (SPEC.md §5) and truncates the WAL. Waits for the writer lock.
    void checkpoint() {
        auto e = live();
        std::lock_guard lock(e->writer_mutex());
        e->checkpoint(true);
    }

    // Merges the sealed segments, dropping versions nobody can see and tombstones past
    // `options.tombstone_retention` (compaction.hpp; docs/operations.md). Runs as a writer
    // (waits for the writer lock) while readers continue; the logical state is unchanged.
    // Errors: those of checkpoint(); errc::corruption for a damaged sealed segment (nothing
    // changed); errc::rotation_unsupported for a factory that cannot make new segments. A
    // failure after the journal is durable refuses further writes until a reopen finishes it.
    // Waits first, at most options.scan_wait, for the scans in storage order that are open
    // to end (scans started meanwhile walk the index), then fails with errc::busy (nothing
    // changed): close such scans, including this thread's own, before compacting.
    compaction_report compact(const compact_options& options = {}) {
        auto e = live();
        const detail::scan_gate::exclusion no_storage_scans(e->storage_scans(), options.scan_wait);
        std::lock_guard lock(e->writer_mutex());
        // Whatever the outcome, the segments may have changed under the index file (even
        // one that the compaction's own checkpoint wrote).
        const struct stale_after {
            engine_type& e;
            ~stale_after() { e.index_file_stale(); }
        } index_file{*e};
        return detail::compactor<Traits>(*e, options).run();
    }

    // Declares a secondary index on a field path ("address.city"); builds it from the
    // collection's entities and records it in the MANIFEST. Idempotent for the same
    // declaration; errc::invalid_argument for a conflicting one on the same path;
    // errc::unique_violation when a unique index meets repeated keys; errc::invalid_argument
    // for a collection name a write would refuse (the declaration creates a missing collection).
    // Waits for the writer. A text index (index_kind::text) takes its default options
    // (text_index_options{}).
    void declare_index(std::string_view collection, std::string_view path, index_kind kind,
                       bool unique = false) {
        declare(collection, path, kind, unique,
                kind == index_kind::text ? detail::encode_text_options({}) : byte_buffer{});
    }
    // Declares a full-text index on a text field (docs/indexes.md, "Full-text indexes"), with
    // how it cuts and folds words; search it with read_transaction::search. As declare_index.
    void declare_index(std::string_view collection, std::string_view path, const text_index_options& options) {
        declare(collection, path, index_kind::text, false, detail::encode_text_options(options));
    }

    // The database's layout now (statistics.hpp): format version, last sequence, last
    // checkpoint, history horizon, collections with their ids, indexes with their public
    // index_kind, and the segment files with their sizes. A copy, consistent with itself:
    // it waits for the writer lock like checkpoint() (so not while this thread has a write
    // transaction open), and never changes the database.
    [[nodiscard]] database_description describe() const {
        auto e = live();
        std::lock_guard lock(e->writer_mutex());
        return describe_locked(*e);
    }

    // Another handle on the same open database, for layers that lend one per call (the C
    // ABI). Like a transaction it keeps the database open: close() refuses while it lives.
    [[nodiscard]] basic_database share() const { return basic_database(live()); }

    // Calls `cb` for every operation of every commit from now on, in commit order, on the
    // committing thread (change_feed.hpp). Returns a token for unsubscribe().
    std::uint64_t subscribe(change_callback cb) { return live()->feed().subscribe(std::move(cb)); }
    bool unsubscribe(std::uint64_t token) { return live()->feed().unsubscribe(token); }

    // Committed operations with a sequence above `after`, in commit order, read from the
    // segment files (so it works across restarts), at most `limit`. errc::invalid_argument
    // when `after` is below history_horizon(): a compaction (or a restore) dropped history.
    // The snapshot at history_horizon() or later is where a new follower starts.
    [[nodiscard]] std::vector<change> changes_since(std::uint64_t after,
                                                    std::size_t limit = std::numeric_limits<std::size_t>::max()) const {
        return live()->changes_since(after, limit);
    }

    [[nodiscard]] std::uint64_t history_horizon() const { return live()->history_horizon(); }
    [[nodiscard]] std::uint64_t last_sequence() const { return live()->last_sequence(); }
    // Counters since open and what open found and did (statistics.hpp).
    [[nodiscard]] statistics stats() const { return live()->stats(); }
    [[nodiscard]] const recovery_report& recovery() const { return live()->report(); }
    [[nodiscard]] const config& configuration() const { return live()->cfg(); }

    // Closes the database: the LOCK is free when close() returns. Refuses with errc::busy,
    // leaving the handle open, while anything else still holds the engine (the LOCK would
    // outlive the call): read or write transactions, scans and ranges taken from them, other
    // handles on the same engine. End them, then close again. A closed handle closes again
    // as a no-op. Not to be called while other threads use this handle. The destructor does
    // not refuse: it lets go, and the LOCK is released when the last holder ends.
    void close() {
        if (!engine_) return;
        if (const auto others = engine_.use_count() - 1; others > 0)
            fail(errc::busy,
                 "close: {} transaction(s), scan(s) or other handle(s) still hold the database; end them and close "
                 "again (the database stays open and keeps its LOCK meanwhile)",
                 others);
        engine_.reset();
    }
    [[nodiscard]] bool is_open() const noexcept { return engine_ != nullptr; }

private:
    friend struct detail::backup_access;

    // Both declare_index overloads: the collection name is checked as put checks it, since the
    // engine creates the collection when it is missing.
    void declare(std::string_view collection, std::string_view path, index_kind kind, bool unique,
                 byte_buffer options) {
        check_collection_name(collection);
        auto e = live();
        std::lock_guard lock(e->writer_mutex());
        (void)e->declare_index(collection, parse_field_path(path), kind, unique, std::move(options));
    }

    [[nodiscard]] static database_description describe_locked(engine_type& e) {
        const auto& m = e.manifest();
        database_description d{.format_major = m.format_major,
                               .format_minor = m.format_minor,
                               .last_sequence = e.last_sequence(),
                               .last_checkpoint = m.checkpoint_seq,
                               .history_horizon = e.history_horizon(),
                               .next_collection_id = m.next_collection_id,
                               .collections = {},
                               .indexes = {},
                               .segments = {},
                               .schema_version = 0,
                               .migrations = {}};
        const auto cat = e.catalog_snapshot();
        for (const auto& [name, id] : cat->names()) d.collections.push_back({.name = name, .id = id});
        for (const auto& ix : cat->indexes()) {
            const auto& def = ix->definition();
            d.indexes.push_back({.id = def.id,
                                 .collection_id = def.collection_id,
                                 .collection = cat->name_of(def.collection_id),
                                 .path = detail::join_path(def.path),
                                 .kind = def.kind,
                                 .unique = def.unique});
        }
        std::ranges::sort(d.indexes, {}, &index_description::id);
        for (const auto& s : e.segments().table())
            d.segments.push_back({.number = s.number, .file = segment_file_name(s.number), .bytes = s.backend->size()});
        if (const auto& schema = m.extension.schema) {
            d.schema_version = schema->version;
            for (const auto& a : schema->applied)
                d.migrations.push_back(
                    {.version = a.version, .name = a.name, .applied_at = a.applied_at, .steps_hash = a.steps_hash});
        }
        return d;
    }

    [[nodiscard]] std::shared_ptr<engine_type> live() const { return live_ref(); }
    // Without the reference-count traffic, for calls that do not outlive this handle.
    [[nodiscard]] const std::shared_ptr<engine_type>& live_ref() const {
        if (!engine_) fail(errc::closed, "the database handle is closed");
        return engine_;
    }

    std::shared_ptr<engine_type> engine_;
};

// File WAL + rotating file segments: the durable everyday composition.
struct file_storage {
    using wal_backend = file_backend;
    using segment_factory = file_segment_factory;
    struct environment {};

    // `read_only`: a read-only open (config::read_only), which writes no file. Any
    // environment: the encrypted composition below opens its files the same way.
    template <typename Environment>
    static std::unique_ptr<file_backend> open_wal(Environment&, const std::filesystem::path& path, bool read_only) {
        return std::make_unique<file_backend>(
            file_backend::open(path, read_only ? file_mode::private_view : file_mode::create_or_open));
    }
    template <typename Environment>
    static file_segment_factory make_segment_factory(Environment&, const std::filesystem::path& dir, bool read_only) {
        return file_segment_factory(dir, read_only);
    }
};

// file_storage with encryption at rest (docs/encryption.md): entity payloads in the WAL and
// the segments, the MANIFEST and backups are sealed under the database's data key, which the
// KEY file keeps wrapped by `key`, with the cipher the KEY file names: XChaCha20-Poly1305 (the
// default) or AES-256-GCM (2–3× faster on CPUs with AES-NI), chosen when the database is
// created. Needs libsodium.
//   auto db = entidb::open<entidb::encrypted_file_storage>(dir, {}, {.key = entidb::passphrase_from(pw)});
struct encrypted_file_storage : file_storage {
    using cipher = any_cipher;
    struct environment {
        key_source key;        // a passphrase (Argon2id) or a raw 32-byte key
        kdf_params kdf = {};   // the Argon2id cost of a new database's KEY file
        cipher_id cipher = cipher_id::xchacha20poly1305;  // a new database's cipher; an existing one keeps its own
    };
};

// Everything in memory: for tests and caches. Not durable, by declaration.
struct memory_storage {
    using wal_backend = memory_backend;
    using segment_factory = memory_segment_factory;
};

using database = basic_database<file_storage>;
using memory_database = basic_database<memory_storage>;

// Traits that can open a database directory (entidb::open<Traits>(dir)): besides the
// backends, an `environment` and the two hooks that open the WAL and make the segment
// factory inside the directory (`read_only`: a read-only open, which writes no file).
template <typename T>
concept directory_storage = database_traits<T> && requires(typename T::environment& env,
                                                           const std::filesystem::path& path, bool read_only) {
    { T::open_wal(env, path, read_only) } -> std::same_as<std::unique_ptr<typename T::wal_backend>>;
    { T::make_segment_factory(env, path, read_only) } -> std::same_as<typename T::segment_factory>;
};

namespace detail {
// The environment argument of open<Traits>: a placeholder where the traits have none, so that
// such traits reach open's static_assert (and its message) instead of failing overload resolution.
template <typename T>
struct environment_of {
    struct none {};
    using type = none;
};
template <typename T>
    requires requires { typename T::environment; }
struct environment_of<T> {
    using type = typename T::environment;
};
}  // namespace detail

// The one way to open a persistent database directory (creating it when
// config::create_if_missing allows and config::read_only is not set; a read-only open
// writes nothing: docs/transactions.md). Errors: errc::locked, errc::corruption,
// errc::unsupported_version, errc::invalid_argument (not a database directory, bad
// config), errc::not_found (no database there and none to be created: nothing touched),
// errc::read_only (a read-write open of a directory this process may not write),
// errc::io_error.
template <typename Traits = file_storage>
[[nodiscard]] basic_database<Traits> open(const std::filesystem::path& path, const config& cfg = {},
                                          typename detail::environment_of<Traits>::type env = {}) {
    static_assert(directory_storage<Traits>,
                  "entidb: open<Traits>(dir) opens a database directory, so the traits need `struct environment`, "
                  "`static std::unique_ptr<wal_backend> open_wal(environment&, const std::filesystem::path&, bool "
                  "read_only)` and `static segment_factory make_segment_factory(environment&, const "
                  "std::filesystem::path&, bool read_only)`, like entidb::file_storage. A database in memory opens "
                  "with entidb::open_in_memory() (or basic_database<Traits>::open_with_backends).");
    if constexpr (directory_storage<Traits>)
        return basic_database<Traits>(detail::open_engine<Traits>(path, cfg, env));
    else
        return basic_database<Traits>(nullptr);
}

// Runs the migrations of `plan` that the database at `path` still needs, each atomically
// (docs/migrations.md), and closes it. migrate_options::dry_run reports what would change
// and writes nothing. Errors: errc::schema_mismatch (a downgrade, a gap, an applied
// migration whose steps changed), errc::invalid_argument (a malformed plan, a step that
// does not fit the catalog or an entity), errc::unique_violation, errc::too_large, and
// every error of open; after any of them the database is at the last version reached.
template <typename Traits = file_storage>
migration_report migrate(const std::filesystem::path& path, const std::vector<migration>& plan,
                         const migrate_options& options = {}, const config& cfg = {},
                         typename detail::environment_of<Traits>::type env = {}) {
    static_assert(directory_storage<Traits>, "entidb: migrate<Traits>(dir) migrates a database directory: use "
                                             "traits like entidb::file_storage");
    migration_report report;
    if constexpr (directory_storage<Traits>) (void)detail::migrate_engine<Traits>(path, cfg, env, plan, options, report);
    return report;
}

// Opens the database at `path` after running the migrations of `plan` it still needs (as
// migrate does), up to config::required_schema_version if set (else the plan's last);
// errc::schema_mismatch if the database is not at the required version afterwards.
template <typename Traits = file_storage>
[[nodiscard]] basic_database<Traits> open(const std::filesystem::path& path, const config& cfg,
                                          const std::vector<migration>& plan, const migrate_options& options = {},
                                          typename detail::environment_of<Traits>::type env = {}) {
    static_assert(directory_storage<Traits>, "entidb: open<Traits>(dir, cfg, migrations) opens a database "
                                             "directory: use traits like entidb::file_storage");
    if (options.dry_run) fail(errc::invalid_argument, "open runs migrations for real: call migrate for a dry run");
    if constexpr (directory_storage<Traits>) {
        migration_report report;
        auto e = detail::migrate_engine<Traits>(path, cfg, env, plan, options, report);
        detail::check_schema_version(e->manifest(), cfg, path);
        return basic_database<Traits>(std::move(e));
    } else {
        return basic_database<Traits>(nullptr);
    }
}

[[nodiscard]] inline memory_database open_in_memory(const config& cfg = {}) {
    return memory_database::open_with_backends(std::make_unique<memory_backend>(), memory_segment_factory{}, cfg);
}

}  // namespace v1
}  // namespace entidb
