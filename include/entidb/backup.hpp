// entidb/backup.hpp — online backup into one file, and restore into a new directory.
//
//   auto info = entidb::backup(db, "nightly.entidb-backup");   // while writers continue
//   entidb::restore("nightly.entidb-backup", "/srv/restored");  // a fresh database directory
//   entidb::restore("nightly.entidb-backup", "/srv/restored", entidb::passphrase_from(pw));  // encrypted
//
// `backup(db, file)` takes a read snapshot and streams every live entity it sees (one
// payload in memory at a time) into `file` (format/backup_file.hpp, docs/file-format.md
// "Backup"): a header with the commit sequence and the collection/index registry, the
// entities in (collection id, entity id) order, and a trailer with the entity count and an
// XXH3-64 checksum of every byte before it. Writers go on committing meanwhile; the file
// reflects exactly the snapshot. It is written as `file.tmp`, flushed, renamed into place and
// its directory fsynced, so `file` either does not exist or is complete.
// The backup of an encrypted database is encrypted (backup version 2, docs/encryption.md
// "Backups"): its header carries the database's KEY file (the data key, wrapped) and the
// registry as a sealed MANIFEST, and every payload is sealed by the data key, bound to its
// collection, id and the backup's sequence. Nothing in it is readable without the key; a
// plain database's backup is version 1, as it always was.
//
// `read_backup(file)` checks a whole backup (structure, order, canonical CBOR of every
// payload, count, checksum) without restoring it; `read_backup(file, key)` the same for an
// encrypted backup, opening every payload with the data key `key` unwraps.
//
// `restore(file, dir)` checks the whole file first, then builds the database in
// `dir.restoring` through entidb::open (same collection ids and index declarations; every
// entity written with the backup's sequence; a checkpoint; the history horizon set to that
// sequence, since the history before it is not in the backup), closes it and renames it to
// `dir`. Any failure removes `dir.restoring`: `dir` is either a complete database or absent.
// `restore(file, dir, key)` restores an encrypted backup into an encrypted database: the
// backup's KEY file becomes `dir.restoring/KEY` before the database is opened there, so the
// restored database has the data key of the one backed up and opens with the same key; the
// sealed payloads are copied into its segment records as they are.
//
// Errors: errc::corruption (with the file and offset) for a damaged or truncated backup or a
// wrong checksum, and in an encrypted backup for a payload or registry that does not
// authenticate; errc::bad_key for an encrypted backup read or restored without a key, a plain
// one given a key, or a key that does not unwrap the backup's data key (nothing is created);
// errc::unsupported_version for a backup or format version this build cannot
// read; errc::invalid_argument when `file` (backup) or `dir` / `dir.restoring` (restore)
// already exists, or when the file to read is a directory; errc::not_found for a missing
// backup file; errc::io_error and errc::no_space from the file system; errc::closed for a
// closed database handle. The keyed overloads need libsodium (without it, calling them stops
// the build with a message naming the package).
//
// Thread-safety: backup() may run on any thread, concurrently with readers and the writer
// (also with a compaction: the snapshot keeps the files it reads). restore() touches only
// its own paths.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <cstdio>

#include "cbor/reader.hpp"
#include "database.hpp"
#include "storage/byte_window.hpp"
#include "core/compaction.hpp"
#include "format/backup_file.hpp"
#include "hash.hpp"
#include "storage/file_backend.hpp"
#include "storage/filesystem.hpp"

namespace entidb {
inline namespace v1 {

struct backup_info {
    std::uint64_t sequence = 0;     // the commit the backup reflects
    std::uint64_t entities = 0;
    std::uint64_t collections = 0;
    std::uint64_t indexes = 0;
    std::uint64_t bytes = 0;        // size of the backup file
    std::uint64_t checksum = 0;     // the trailer's XXH3-64
};

namespace detail {

namespace fs = std::filesystem;

[[nodiscard]] inline fs::path with_suffix(const fs::path& p, std::string_view suffix) {
    fs::path out = p;
    out += std::string(suffix);
    return out;
}

// Opens an encrypted backup's sealed parts: the cipher over the data key that the KEY file in
// its header wraps, unwrapped with the caller's key. Kept for a second pass over the same file
// (restore reads it twice, paying Argon2id once for both); a different KEY is unwrapped anew.
template <cipher_policy C>
class backup_unlock;

#if ENTIDB_HAVE_SODIUM
template <cipher_policy C>
class backup_unlock {
public:
    explicit backup_unlock(const key_source& key) noexcept : key_(&key) {}

    // errc::bad_key for a key that does not unwrap it; a damaged KEY is open_key_file's errors.
    [[nodiscard]] const C& cipher(bytes_view key_file, const std::string& path) {
        if (!cipher_ || !std::equal(key_file.begin(), key_file.end(), key_file_.begin(), key_file_.end())) {
            cipher_ = cipher_from_key_file<C>(key_file, path, *key_);
            key_file_.assign(key_file.begin(), key_file.end());
        }
        return *cipher_;
    }

private:
    const key_source* key_;
    byte_buffer key_file_;
    std::shared_ptr<const C> cipher_;
};
#endif

// Streams a backup file and checks it as it goes: every entity it returns has passed the
// structural checks (and, in an encrypted backup, authenticated); the checksum and count are
// checked when next() reaches the end. C is no_encryption for a plain backup (an encrypted one
// is errc::bad_key), or the cipher of an encrypted one, opened by `unlock` (a plain one is
// errc::bad_key).
template <cipher_policy C = no_encryption>
class backup_reader {
public:
    struct entity {
        std::uint32_t collection;
        entity_id id;
        bytes_view payload;  // as stored (sealed, in an encrypted backup); valid until the next call to next()
        std::uint64_t offset;
    };

    explicit backup_reader(const fs::path& file, backup_unlock<C>* unlock = nullptr, std::size_t chunk = 1u << 20)
        : path_(file.string()), file_(open_file(file)), window_(file_, chunk), unlock_(unlock) {
        read_header();
    }
    backup_reader(const backup_reader&) = delete;
    backup_reader& operator=(const backup_reader&) = delete;

    [[nodiscard]] const format::backup_header& header() const noexcept { return header_; }

    // The next entity, or nullopt once the trailer has been read and checked.
    [[nodiscard]] std::optional<entity> next() {
        window_.advance(pending_);
        pending_ = 0;
        if (done_) return std::nullopt;
        const auto at = window_.position();
        const auto fixed = take(4, "an entity's collection id");
        const std::uint32_t coll = get_u32(fixed.data());
        if (coll == 0) {
            read_trailer();
            return std::nullopt;
        }
        if (!collections_.contains(coll))
            corrupt(at, "entity of collection id {}, which the backup's registry does not list", coll);
        const auto rest = take(16 + 4, "an entity's id and length");
        const auto id = entity_id::from_bytes(bytes_view(rest).first(16));
        const std::uint32_t len = get_u32(rest.data() + 16);
        if (last_ && std::pair(coll, id) <= *last_)
            corrupt(at, "entities out of order (collection {}, entity {} after collection {}, entity {})", coll,
                    id.to_hex(), last_->first, last_->second.to_hex());
        last_ = std::pair(coll, id);
        const auto payload_at = window_.position();
        const auto payload = peek(len, "an entity's payload");
        check_payload(coll, id, payload, payload_at);
        hasher_.update(payload);
        pending_ = len;
        ++count_;
        return entity{coll, id, payload, at};
    }

    [[nodiscard]] std::uint64_t entities() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t checksum() const noexcept { return checksum_; }
    [[nodiscard]] std::uint64_t size() const { return file_.size(); }

private:
    static file_backend open_file(const fs::path& file) {
        std::error_code ec;
        if (!fs::exists(file, ec)) fail_at(errc::not_found, {.path = file.string()}, "no backup file here");
        if (fs::is_directory(file, ec))  // a wrong path, not a failing disk
            fail_at(errc::invalid_argument, {.path = file.string()}, "a directory, not a backup file");
        return file_backend::open(file, file_mode::read_only);
    }

    static std::uint32_t get_u32(const byte* p) noexcept { return entidb::detail::get_u32(p); }

    template <typename... Args>
    [[noreturn]] void corrupt(std::uint64_t at, fmt::format_string<Args...> f, Args&&... args) const {
        fail_at(errc::corruption, {.path = path_, .offset = at}, "backup: {}", fmt::format(f, std::forward<Args>(args)...));
    }

    // The next n bytes, checked to be there; not consumed, not hashed.
    bytes_view peek(std::uint64_t n, std::string_view what) {
        if (window_.remaining() < n)
            corrupt(window_.position(), "truncated: {} needs {} bytes, {} remain", what, n, window_.remaining());
        return window_.view(n).first(static_cast<std::size_t>(n));
    }
    // Copies the next n (small) bytes out, hashes and consumes them.
    byte_buffer take(std::size_t n, std::string_view what) {
        const auto v = peek(n, what);
        byte_buffer out(v.begin(), v.end());
        hasher_.update(out);
        window_.advance(n);
        return out;
    }

    // A payload is canonical CBOR; an encrypted backup's opens first, at its place (the
    // backup's sequence), so one moved to another entity or another backup does not.
    void check_payload(std::uint32_t coll, const entity_id& id, bytes_view payload, std::uint64_t at) {
        bytes_view plain = payload;
        if constexpr (C::encrypts) {
            try {
                cipher_->open(payload, {.collection = coll, .id = id, .sequence = header_.sequence, .kind = put_record_kind},
                              plain_);
            } catch (const error& e) {
                corrupt(at, "entity {}: {}", id.to_hex(), e.detail());
            }
            plain = plain_;
        }
        try {
            cbor::validate(plain);
        } catch (const error& e) {
            corrupt(at, "entity {} is not canonical CBOR: {}", id.to_hex(), e.detail());
        }
    }

    void read_header() {
        const auto fixed = take(format::backup_header_fixed, "the header");
        if (!std::equal(format::backup_magic.begin(), format::backup_magic.end(), fixed.begin()))
            corrupt(0, "bad magic (expected \"EBAK\"): not an EntiDB backup");
        const auto version = entidb::detail::get_u16(fixed.data() + 4);
        if (version != format::backup_version && version != format::backup_version_encrypted)
            fail_at(errc::unsupported_version, {.path = path_, .offset = 4},
                    "backup version {}; this build reads versions {} and {}", version, format::backup_version,
                    format::backup_version_encrypted);
        if ((version == format::backup_version_encrypted) != C::encrypts)
            fail_at(errc::bad_key, {.path = path_, .offset = 4}, "{}",
                    C::encrypts ? "the backup is not encrypted: read or restore it without a key"
                                : "the backup is encrypted: give its key (the key of the database it was taken from)");
        header_.format_major = entidb::detail::get_u16(fixed.data() + 6);
        header_.format_minor = entidb::detail::get_u16(fixed.data() + 8);
        if (header_.format_major != format::current_format_major || header_.format_minor > format::current_format_minor)
            fail_at(errc::unsupported_version, {.path = path_, .offset = 6},
                    "backup of format {}.{}; this build writes {}.{}", header_.format_major, header_.format_minor,
                    format::current_format_major, format::current_format_minor);
        header_.sequence = entidb::detail::get_u64(fixed.data() + 10);
        std::uint32_t len = get_u32(fixed.data() + 18);
        if constexpr (C::encrypts) {
            const auto key_at = window_.position();
            header_.key_file = take(len, "the KEY file");
            cipher_ = &unlock(key_at);
            len = get_u32(take(4, "the registry's length").data());
        }
        const auto registry_at = window_.position();
        const auto registry = take(len, "the collection and index registry");
        try {
            header_.registry = format::decode_manifest_file(registry, path_ + " (registry)", cipher_);
        } catch (const error& e) {
            corrupt(registry_at + e.offset().value_or(0), "bad registry: {}", e.detail());
        }
        for (const auto& c : header_.registry.collections) collections_.insert(c.id);
    }

    // The cipher of the KEY file read at `at`: damage in it is the backup's, at its offset.
    const C& unlock(std::uint64_t at)
        requires C::encrypts
    {
        try {
            return unlock_->cipher(header_.key_file, path_);
        } catch (const error& e) {
            if (e.value() == errc::corruption) corrupt(at + e.offset().value_or(0), "{}", e.detail());
            if (e.value() == errc::unsupported_version)
                fail_at(e.value(), {.path = path_, .offset = at + e.offset().value_or(0)}, "backup: {}", e.detail());
            if (e.value() == errc::bad_key) fail_at(e.value(), {.path = path_}, "backup: {}", e.detail());
            throw;
        }
    }

    void read_trailer() {
        const auto count_at = window_.position();
        const auto count = take(8, "the entity count");
        if (entidb::detail::get_u64(count.data()) != count_)
            corrupt(count_at, "the trailer counts {} entities, the file holds {}", entidb::detail::get_u64(count.data()),
                    count_);
        const auto sum_at = window_.position();
        const auto stored = peek(8, "the checksum");
        checksum_ = entidb::detail::get_u64(stored.data());
        window_.advance(8);
        if (const auto computed = hasher_.digest64(); computed != checksum_)
            corrupt(sum_at, "checksum mismatch (stored XXH3-64 {:016x}, computed {:016x})", checksum_, computed);
        if (window_.remaining() != 0) corrupt(window_.position(), "{} bytes after the trailer", window_.remaining());
        done_ = true;
    }

    std::string path_;
    file_backend file_;
    byte_window<file_backend> window_;
    backup_unlock<C>* unlock_;
    const C* cipher_ = nullptr;  // an encrypted backup's, once its KEY is open
    byte_buffer plain_;          // an encrypted payload, opened to be checked
    xxh3_hasher hasher_;
    format::backup_header header_;
    std::set<std::uint32_t> collections_;
    std::optional<std::pair<std::uint32_t, entity_id>> last_;
    std::uint64_t pending_ = 0;  // payload bytes handed out by next(), consumed at the next call
    std::uint64_t count_ = 0;
    std::uint64_t checksum_ = 0;
    bool done_ = false;
};

// Appends through a buffer to a new file, hashing everything but the final checksum.
class backup_writer {
public:
    explicit backup_writer(const fs::path& tmp) : out_(file_backend::open(tmp, file_mode::create_new)) {}

    void write(bytes_view b) {
        buf_.insert(buf_.end(), b.begin(), b.end());
        if (buf_.size() >= (1u << 20)) drain();
    }
    // Writes the checksum and makes the file durable; returns {checksum, file size}.
    std::pair<std::uint64_t, std::uint64_t> finish() {
        drain();
        const std::uint64_t sum = hasher_.digest64();
        entidb::detail::put_u64(buf_, sum);
        out_.append(buf_);
        buf_.clear();
        out_.flush();
        return {sum, out_.size()};
    }

private:
    void drain() {
        if (buf_.empty()) return;
        hasher_.update(buf_);
        out_.append(buf_);
        buf_.clear();
    }

    file_backend out_;
    xxh3_hasher hasher_;
    byte_buffer buf_;
};

[[nodiscard]] inline format::manifest registry_of(const catalog& cat) {
    format::manifest m;
    for (const auto& [name, id] : cat.names()) {
        m.collections.push_back({name, id});
        m.next_collection_id = std::max(m.next_collection_id, id + 1);
    }
    for (const auto& ix : cat.indexes()) {
        m.indexes.push_back(ix->definition());
        m.next_index_id = std::max(m.next_index_id, ix->definition().id + 1);
    }
    std::sort(m.indexes.begin(), m.indexes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    m.extension.schema = cat.schema();  // a restored database is at the version it was
    return m;
}

// Backup and restore work below the transaction layer: a backup walks a snapshot's primary
// index with the registry (collection ids, index declarations) it was taken with, a restore
// loads records at the backup's sequence into a new database. basic_database lets this one
// struct, and nothing else outside database.hpp, reach its engine.
struct backup_access {
    template <typename Traits>
    [[nodiscard]] static std::shared_ptr<const snapshot<Traits>> snapshot_of(const basic_database<Traits>& db) {
        return std::make_shared<const snapshot<Traits>>(db.live());
    }
    template <typename Traits>
    [[nodiscard]] static auto& engine_of(basic_database<Traits>& db) {
        return *db.live_ref();
    }
};

// The payload as a backup stores it: as it is, or sealed for its place at the backup's sequence.
template <cipher_policy C>
[[nodiscard]] bytes_view backup_payload(bytes_view plain, const C* cipher, const record_place& place,
                                        byte_buffer& sealed) {
    if constexpr (C::encrypts) {
        sealed.clear();
        cipher->seal(plain, place, sealed);
        return sealed;
    } else {
        return plain;
    }
}

// Reads and checks a whole backup (read_backup, and pass 1 of restore); `header` gets its header.
template <cipher_policy C>
backup_info read_whole_backup(const fs::path& file, backup_unlock<C>* unlock, format::backup_header* header = nullptr) {
    backup_reader<C> r(file, unlock);
    while (r.next()) {
    }
    if (header != nullptr) *header = r.header();
    return {.sequence = r.header().sequence,
            .entities = r.entities(),
            .collections = r.header().registry.collections.size(),
            .indexes = r.header().registry.indexes.size(),
            .bytes = r.size(),
            .checksum = r.checksum()};
}

// Creates the database that restore and salvage fill, at `dir`. An encrypted one gets
// `key_file` (the KEY of the database its contents come from) before it is opened, so it keeps
// that data key and opens with the same key: open_cipher opens the KEY it finds there.
template <typename Traits>
[[nodiscard]] basic_database<Traits> create_database(const fs::path& dir, const config& cfg,
                                                     typename Traits::environment env, bytes_view key_file) {
    if constexpr (encrypts_v<Traits>) {
        if (!path_exists(dir)) make_directory(dir);
        durable_replace(key_file_path(dir), key_file);
    }
    return entidb::open<Traits>(dir, cfg, std::move(env));
}

// The one restore (see the header comment): Traits are file_storage for a plain backup, the
// encrypted traits for an encrypted one (`unlock` opens it, `env` the restored database).
template <typename Traits>
backup_info restore_backup(const fs::path& file, const fs::path& target, config cfg,
                           backup_unlock<cipher_of_t<Traits>>* unlock, typename Traits::environment env) {
    using C = cipher_of_t<Traits>;
    format::backup_header header;
    const auto info = read_whole_backup<C>(file, unlock, &header);  // pass 1: nothing is created from a damaged file
    const fs::path dir = target.has_filename() ? target : target.parent_path();  // "db/" → "db"
    const auto tmp = with_suffix(dir, ".restoring");
    for (const auto& p : {dir, tmp}) {
        std::error_code ec;
        if (fs::exists(p, ec) || ec)
            fail_at(errc::invalid_argument, {.path = p.string()},
                    "already exists: restore makes a new database directory (remove it or choose another path)");
    }
    cfg.create_if_missing = true;
    cfg.read_only = false;  // restore creates its target
    cfg.max_entity_bytes = config::payload_limit;  // whatever the backup holds fits
    try {
        {
            auto db = create_database<Traits>(tmp, cfg, std::move(env), header.key_file);
            auto& e = backup_access::engine_of(db);
            std::lock_guard lock(e.writer_mutex());
            backup_reader<C> r(file, unlock);  // pass 2, checked again as it is read
            auto& m = e.manifest();
            const auto checkpoint = m.checkpoint_seq;
            m = r.header().registry;
            m.checkpoint_seq = checkpoint;
            const auto seq = r.header().sequence;
            // The entities go to the segments the way commits do, in batches of a bounded size.
            // An encrypted backup's payloads are sealed for their place at `seq`, where they are
            // written: they are copied as they are.
            constexpr std::size_t batch_bytes = std::size_t{1} << 20;
            auto& batch = e.start_batch(seq);
            while (const auto ent = r.next()) {
                batch.add(ent->collection, ent->id, false, ent->payload, C::encrypts);
                if (batch.byte_size() < batch_bytes) continue;
                e.apply_batch(no_readers);
                batch.start(seq);
            }
            e.apply_batch(no_readers);
            if (r.entities() != info.entities || r.checksum() != info.checksum)
                fail_at(errc::corruption, {.path = file.string()}, "the backup changed while it was restored");
            e.set_recovered_state(seq, 1);
            e.build_indexes();
            e.checkpoint();  // segments durable, MANIFEST with the registry, WAL empty
            if (seq > 0) write_compaction_state(tmp, {.history_horizon = seq, .publish = {}, .remove = {}});
        }
        if (::rename(tmp.c_str(), dir.c_str()) != 0)
            fail_at(errc::io_error, {.path = dir.string(), .sys_errno = errno}, "cannot rename {} into place",
                    tmp.string());
        sync_directory(parent_or_current(dir));
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw;
    }
    return info;
}

}  // namespace detail

// Checks a whole plain backup file without restoring it (an encrypted one: errc::bad_key).
[[nodiscard]] inline backup_info read_backup(const std::filesystem::path& file) {
    return detail::read_whole_backup<no_encryption>(file, nullptr);
}

// Writes a backup of `db` as of a snapshot taken now (encrypted when `db` is).
template <typename Traits>
backup_info backup(const basic_database<Traits>& db, const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    if (!db.is_open()) fail(errc::closed, "the database handle is closed");
    std::error_code ec;
    if (fs::exists(file, ec) || ec)
        fail_at(errc::invalid_argument, {.path = file.string()}, "the backup file already exists (choose a new name)");
    const auto snap = detail::backup_access::snapshot_of(db);
    auto& e = snap->eng();
    const auto* cipher = e.codec().cipher_or_null();
    backup_info info{.sequence = snap->sequence()};
    format::backup_header header{.sequence = snap->sequence(), .registry = detail::registry_of(snap->cat())};
    // The database's LOCK is held, so its KEY (which rekey replaces) is the one its data key came from.
    if constexpr (encrypts_v<Traits>) header.key_file = detail::read_key_file(*e.directory());
    info.collections = header.registry.collections.size();
    info.indexes = header.registry.indexes.size();

    const auto tmp = detail::with_suffix(file, ".tmp");
    (void)::unlink(tmp.c_str());  // our own leftover from an interrupted backup
    try {
        detail::backup_writer out(tmp);
        byte_buffer buf, sealed;
        format::encode_backup_header(header, buf, cipher);
        out.write(buf);
        std::vector<std::uint32_t> ids;
        for (const auto& c : header.registry.collections) ids.push_back(c.id);
        std::sort(ids.begin(), ids.end());
        for (const auto coll : ids) {
            std::optional<entity_id> last;
            while (auto next = e.index().next_live(coll, last ? &*last : nullptr, snap->sequence())) {
                last = next->first;
                const auto payload = e.read_payload(coll, next->first, next->second);
                const record_place place{.collection = coll, .id = next->first, .sequence = info.sequence,
                                         .kind = detail::put_record_kind};
                buf.clear();
                format::encode_backup_entity(coll, next->first, detail::backup_payload(payload, cipher, place, sealed),
                                             buf);
                out.write(buf);
                ++info.entities;
            }
        }
        buf.clear();
        format::encode_backup_end(info.entities, buf);
        out.write(buf);
        std::tie(info.checksum, info.bytes) = out.finish();
        if (::rename(tmp.c_str(), file.c_str()) != 0)
            fail_at(errc::io_error, {.path = file.string(), .sys_errno = errno}, "cannot rename {} into place",
                    tmp.string());
    } catch (...) {
        (void)::unlink(tmp.c_str());
        throw;
    }
    sync_directory(detail::parent_or_current(file));
    return info;
}

// Restores a plain backup into a new database directory `target` (see the header comment; an
// encrypted backup: errc::bad_key, nothing created).
inline backup_info restore(const std::filesystem::path& file, const std::filesystem::path& target, config cfg = {}) {
    return detail::restore_backup<file_storage>(file, target, std::move(cfg), nullptr, {});
}

#if ENTIDB_HAVE_SODIUM

// Checks a whole encrypted backup with the key of the database it was taken from (a plain
// backup, or a key that does not open it: errc::bad_key).
[[nodiscard]] inline backup_info read_backup(const std::filesystem::path& file, const key_source& key) {
    detail::backup_unlock<cipher_of_t<encrypted_file_storage>> unlock(key);
    return detail::read_whole_backup(file, &unlock);
}

// Restores an encrypted backup into a new encrypted database directory `target`, which opens
// with the same key as the database backed up (see the header comment).
inline backup_info restore(const std::filesystem::path& file, const std::filesystem::path& target,
                           const key_source& key, config cfg = {}) {
    detail::backup_unlock<cipher_of_t<encrypted_file_storage>> unlock(key);
    return detail::restore_backup<encrypted_file_storage>(file, target, std::move(cfg), &unlock,
                                                          {.key = detail::copy_key(key), .kdf = {}});
}

#else  // no libsodium: the keyed overloads stop the build where they are called

#define ENTIDB_KEYED_NEEDS_SODIUM \
    "entidb: an encrypted backup needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build with it"
template <typename Unused = void>
backup_info read_backup(const std::filesystem::path&, const key_source&) {
    static_assert(detail::sodium_required<Unused>, ENTIDB_KEYED_NEEDS_SODIUM);
    return {};
}
template <typename Unused = void>
backup_info restore(const std::filesystem::path&, const std::filesystem::path&, const key_source&, config = {}) {
    static_assert(detail::sodium_required<Unused>, ENTIDB_KEYED_NEEDS_SODIUM);
    return {};
}
#undef ENTIDB_KEYED_NEEDS_SODIUM

#endif

}  // namespace v1
}  // namespace entidb
