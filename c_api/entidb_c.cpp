// c_api/entidb_c.cpp — the C ABI (include/entidb/c/entidb.h) over the C++ headers.
//
// One translation unit: this file holds the exported functions; the objects behind the
// handles and their table are c_api/handles.hpp, error capture c_api/errors.hpp, argument
// checks and output buffers c_api/conversions.hpp. Every exported function runs its body inside `guarded`, which turns
// every exception into a code and the calling thread's last-error message: entidb::error ->
// its errc and what(); std::bad_alloc -> ENTIDB_OUT_OF_MEMORY; any other exception ->
// ENTIDB_INTERNAL. Nothing is thrown across the boundary (the exported functions are noexcept,
// so a missed exception would terminate, never unwind into C).
//
// Handles are tokens of a process-wide table (`handle_table`): slot index in the low half,
// the slot's generation in the high half. A lookup checks index, generation and kind, so
// stale, closed, double-closed and made-up handles are refused (ENTIDB_CLOSED) rather than
// dereferenced. Objects are reference counted: a call holds its object while it runs, so a
// concurrent close cannot free it underneath.
//
// A handle names a plain database (entidb::database, from entidb_open) or an encrypted one
// (basic_database<encrypted_file_storage>, from entidb_open_encrypted), or a transaction or
// cursor of one. The objects are templates over the database's traits; each entry point is
// written once, as a generic lambda, and `with` (handles.hpp) calls it with the object of the
// right type.
//
// Locking (always in this order, never the reverse): a db object's mutex, then the table's
// mutex. A transaction's or cursor's mutex is taken with no other of our mutexes held, and
// the C++ writer lock (begin_write) is waited for with none held.
#include "entidb/c/entidb.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "entidb/cbor/json.hpp"
#include "entidb/cbor/reader.hpp"
#include "entidb/config.hpp"
#include "entidb/crypto/secret.hpp"
#include "entidb/database.hpp"
#include "entidb/directory/key_file.hpp"
#include "entidb/entity_id.hpp"
#include "entidb/error.hpp"
#include "entidb/version.hpp"

#include "errors.hpp"

#if ENTIDB_C_HAVE_SYNC
#include "entidb/sync/client.hpp"
#include "entidb/sync/http_transport.hpp"
#endif
#include "conversions.hpp"
#include "handles.hpp"

namespace {

const char* collection_arg(const char* collection, const char* fn) {
    require(collection, fn, "collection");
    return collection;
}

int begin_write_impl(entidb_db* h, entidb_txn** out, bool wait, const char* fn) {
    require(out, fn, "out");
    *out = nullptr;
    return with<db_object>(h, fn, [&](auto d) -> int {
        d->check_not_writer(fn);
        auto db = d->borrow(fn);
        auto t = new_txn(d);
        using write_txn = typename decltype(t)::element_type::write_txn;
        if (wait) {
            t->write.reset(new write_txn(db.begin_write()));  // waits; the prvalue initialises in place
        } else {
            t->tried.reset(new std::optional<write_txn>(db.try_begin_write()));
            if (!t->tried->has_value())
                return status(ENTIDB_WRITER_BUSY, fmt::format("{}: another write transaction is open", fn));
        }
        t->owner = std::this_thread::get_id();
        const handle id = register_child(*d, t, true, fn);  // on failure t aborts as it is destroyed
        *out = from_handle<entidb_txn>(id);
        return ENTIDB_OK;
    });
}

// ENTIDB_SCAN_ID_ORDER or ENTIDB_SCAN_STORAGE_ORDER, checked before anything is opened.
std::uint32_t order_arg(std::uint32_t order, const char* fn) {
    if (order != ENTIDB_SCAN_ID_ORDER && order != ENTIDB_SCAN_STORAGE_ORDER)
        entidb::fail(errc::invalid_argument, "{}: unknown scan order {}", fn, order);
    return order;
}

template <typename Traits>
int open_cursor(const std::shared_ptr<db_object<Traits>>& d, std::shared_ptr<typename txn_object<Traits>::read_txn> snapshot,
                const char* collection, std::uint32_t order, entidb_cursor** out, const char* fn) {
    using storage_range = typename cursor_object<Traits>::storage_range;
    using range = typename cursor_object<Traits>::range;
    auto c = std::make_shared<cursor_object<Traits>>(d);
    // Counts the scan; scan_forbidden here.
    if (order == ENTIDB_SCAN_STORAGE_ORDER)
        c->scan.template emplace<1>().items.reset(new storage_range(snapshot->scan(collection, entidb::in_storage_order)));
    else
        c->scan.template emplace<0>().items.reset(new range(snapshot->scan(collection)));
    c->snapshot = std::move(snapshot);
    const handle id = register_child(*d, c, false, fn);
    *out = from_handle<entidb_cursor>(id);
    return ENTIDB_OK;
}

int scan_open(entidb_txn* h, const char* collection, std::uint32_t order, entidb_cursor** out, const char* fn) {
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        order_arg(order, fn);
        return with<txn_object>(h, fn, [&](auto t) -> int {
            decltype(t->read) snapshot;
            {
                const auto lock = lock_live(*t, fn);
                collection_arg(collection, fn);
                readable_only(*t, fn, "scan");
                snapshot = t->read;
            }
            return open_cursor(t->parent, std::move(snapshot), collection, order, out, fn);
        });
    });
}

int db_scan_open(entidb_db* h, const char* collection, std::uint32_t order, entidb_cursor** out, const char* fn) {
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        order_arg(order, fn);
        return with<db_object>(h, fn, [&](auto d) -> int {
            collection_arg(collection, fn);
            auto snapshot = std::make_shared<typename decltype(d)::element_type::read_txn>(d->borrow(fn).begin_read());
            return open_cursor(d, std::move(snapshot), collection, order, out, fn);
        });
    });
}

// Whether `options` (struct_size-versioned) holds the field at `offset` of `field` bytes.
bool options_have(const entidb_options* options, std::size_t offset, std::size_t field) {
    return options->struct_size >= offset + field;
}

// ENTIDB_TEXT_* flags as the C++ options, checked before anything is declared.
entidb::text_index_options text_options_arg(std::uint32_t flags, const char* fn) {
    constexpr std::uint32_t known = ENTIDB_TEXT_STEM_ENGLISH | ENTIDB_TEXT_KEEP_DIACRITICS;
    if ((flags & ~known) != 0)
        entidb::fail(errc::invalid_argument, "{}: unknown text index flags {:#x}", fn, flags & ~known);
    using entidb::text::stemmer;
    return {.keep_diacritics = (flags & ENTIDB_TEXT_KEEP_DIACRITICS) != 0,
            .stem = (flags & ENTIDB_TEXT_STEM_ENGLISH) != 0 ? stemmer::english : stemmer::none};
}

// ENTIDB_QUERY_FTS5 or ENTIDB_QUERY_PLAIN as the C++ syntax.
entidb::query_syntax syntax_arg(std::uint32_t syntax, const char* fn) {
    if (syntax == ENTIDB_QUERY_FTS5) return entidb::query_syntax::fts5;
    if (syntax == ENTIDB_QUERY_PLAIN) return entidb::query_syntax::plain;
    entidb::fail(errc::invalid_argument, "{}: unknown query syntax {}", fn, syntax);
}

// The configuration of entidb_options (NULL: the defaults), after checking `path`.
entidb::config open_args(const char* path, const entidb_options* options, const char* fn) {
    require(path, fn, "path");
    if (*path == '\0') entidb::fail(errc::invalid_argument, "{}: `path` is empty", fn);
    entidb::config cfg;
    if (options == nullptr) return cfg;
    const std::size_t size = options->struct_size;
    if (!options_have(options, offsetof(entidb_options, flags), sizeof options->flags))
        entidb::fail(errc::invalid_argument, "{}: options->struct_size is {}; set it to sizeof(entidb_options)", fn,
                     size);
    constexpr std::uint32_t known =
        ENTIDB_OPEN_NO_CREATE | ENTIDB_OPEN_FORBID_FULL_SCAN | ENTIDB_OPEN_READ_ONLY | ENTIDB_OPEN_RECYCLED_WAL;
    if ((options->flags & ~known) != 0)
        entidb::fail(errc::invalid_argument, "{}: unknown option flags {:#x}", fn, options->flags & ~known);
    cfg.create_if_missing = (options->flags & ENTIDB_OPEN_NO_CREATE) == 0;
    cfg.forbid_full_scan = (options->flags & ENTIDB_OPEN_FORBID_FULL_SCAN) != 0;
    cfg.read_only = (options->flags & ENTIDB_OPEN_READ_ONLY) != 0;
    if ((options->flags & ENTIDB_OPEN_RECYCLED_WAL) != 0) cfg.wal = entidb::wal_mode::recycled;
    if (options_have(options, offsetof(entidb_options, max_wal_size), 8) && options->max_wal_size != 0)
        cfg.max_wal_size = options->max_wal_size;
    if (options_have(options, offsetof(entidb_options, max_segment_size), 8) && options->max_segment_size != 0)
        cfg.max_segment_size = options->max_segment_size;
    if (options_have(options, offsetof(entidb_options, max_entity_bytes), 8) && options->max_entity_bytes != 0)
        cfg.max_entity_bytes = options->max_entity_bytes;
    return cfg;
}

// The Argon2id cost of a new database's passphrase (since ABI 1.4; zero fields: the C++ default).
entidb::kdf_params kdf_arg(const entidb_options* options, const char* fn) {
    entidb::kdf_params kdf;
    if (options == nullptr) return kdf;
    if (options_have(options, offsetof(entidb_options, kdf_opslimit), 8) && options->kdf_opslimit != 0)
        kdf.opslimit = options->kdf_opslimit;
    if (options_have(options, offsetof(entidb_options, kdf_memlimit), 8) && options->kdf_memlimit != 0)
        kdf.memlimit = options->kdf_memlimit;
    if (!entidb::detail::kdf_in_range(kdf))
        entidb::fail(errc::invalid_argument, "{}: kdf_opslimit {} or kdf_memlimit {} is outside Argon2id's limits", fn,
                     kdf.opslimit, kdf.memlimit);
    return kdf;
}

// The cipher of a new encrypted database (since ABI 1.5; zero: the C++ default).
entidb::cipher_id cipher_arg(const entidb_options* options, const char* fn) {
    if (options == nullptr || !options_have(options, offsetof(entidb_options, cipher), 4) || options->cipher == 0)
        return entidb::cipher_id::xchacha20poly1305;
    if (options->cipher != ENTIDB_CIPHER_XCHACHA20POLY1305 && options->cipher != ENTIDB_CIPHER_AES256GCM)
        entidb::fail(errc::invalid_argument, "{}: unknown cipher {}: use ENTIDB_CIPHER_XCHACHA20POLY1305 or "
                     "ENTIDB_CIPHER_AES256GCM", fn, options->cipher);
    return static_cast<entidb::cipher_id>(options->cipher);
}

// The key of entidb_open_encrypted as a key_source (copied into memory that is wiped when the
// database no longer needs it). Its bytes never reach a message: only the kind and length do.
entidb::key_source key_arg(const std::uint8_t* key, std::size_t len, std::uint32_t kind, const char* fn) {
    const auto bytes = input_bytes(key, len, fn, "key");
    if (kind == ENTIDB_KEY_RAW) {
        if (len != entidb::key_bytes)
            entidb::fail(errc::invalid_argument, "{}: a raw key is exactly {} bytes, not {}", fn, entidb::key_bytes, len);
        return entidb::raw_key_from(bytes);
    }
    if (kind != ENTIDB_KEY_PASSPHRASE) entidb::fail(errc::invalid_argument, "{}: unknown key kind {}", fn, kind);
    if (len == 0) entidb::fail(errc::invalid_argument, "{}: an empty passphrase protects nothing", fn);
    return entidb::passphrase{entidb::secret_bytes::copy_of(bytes)};
}

// Opens the directory through the C++ open path (SPEC.md §9 rule 1) and hands out its handle.
template <typename Traits>
int open_handle(const char* path, const entidb::config& cfg, typename Traits::environment env, entidb_db** out) {
    auto d = std::make_shared<db_object<Traits>>(entidb::open<Traits>(path, cfg, std::move(env)));
    *out = from_handle<entidb_db>(table().add(d));
    return ENTIDB_OK;
}

}  // namespace

// ---- exported functions ----------------------------------------------------------------------

extern "C" {

ENTIDB_C_API uint32_t entidb_abi_version(void) { return ENTIDB_ABI_VERSION; }

// library_version views a string literal, so the byte after it is the literal's NUL.
static_assert(entidb::library_version.data()[entidb::library_version.size()] == '\0');
ENTIDB_C_API const char* entidb_library_version(void) { return entidb::library_version.data(); }

ENTIDB_C_API const char* entidb_error_name(int code) {
    if (code >= 0 && code <= ENTIDB_BAD_KEY) return code_names[code];
    if (code == ENTIDB_OUT_OF_MEMORY) return "out_of_memory";
    if (code == ENTIDB_INTERNAL) return "internal";
    if (code == ENTIDB_SYNC_UNREACHABLE) return "sync_unreachable";
    if (code == ENTIDB_SYNC_REFUSED) return "sync_refused";
    return "unknown";
}

ENTIDB_C_API const char* entidb_last_error_message(void) { return t_last_message.c_str(); }

ENTIDB_C_API int entidb_last_error_code(void) { return t_last_code; }

ENTIDB_C_API void entidb_buffer_free(entidb_buffer* buffer) {
    if (buffer == nullptr) return;
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->len = 0;
}

ENTIDB_C_API int entidb_open(const char* path, const entidb_options* options, entidb_db** out) {
    static constexpr const char* fn = "entidb_open";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        const auto cfg = open_args(path, options, fn);
        return open_handle<entidb::file_storage>(path, cfg, {}, out);
    });
}

ENTIDB_C_API int entidb_open_encrypted(const char* path, const entidb_options* options, const uint8_t* key,
                                       size_t key_len, uint32_t key_kind, entidb_db** out) {
    static constexpr const char* fn = "entidb_open_encrypted";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        const auto cfg = open_args(path, options, fn);
        entidb::encrypted_file_storage::environment env{.key = key_arg(key, key_len, key_kind, fn),
                                                        .kdf = kdf_arg(options, fn),
                                                        .cipher = cipher_arg(options, fn)};
        return open_handle<entidb::encrypted_file_storage>(path, cfg, std::move(env), out);
    });
}

ENTIDB_C_API int entidb_close(entidb_db* h) {
    static constexpr const char* fn = "entidb_close";
    return guarded(fn, [&] {
        return with<db_object>(h, fn, [&](auto d) -> int {
            std::unordered_set<handle> children;
            {
                std::lock_guard lock(d->m);
                if (d->closed) entidb::fail(errc::closed, "{}: the database handle is already closed", fn);
                const auto writer = d->writer_thread.load();
                if (writer != std::thread::id{} && writer != std::this_thread::get_id())
                    entidb::fail(errc::writer_busy,
                                 "{}: another thread has a write transaction open on this database; it must end first", fn);
                d->closed = true;
                children.swap(d->children);
            }
            table().remove(to_handle(h));
            for (const handle c : children) {
                const auto obj = table().remove(c);
                if (!obj) continue;
                if (obj->what == kind::transaction) {
                    auto& t = static_cast<txn_object<typename decltype(d)::element_type::traits>&>(*obj);
                    std::lock_guard lock(t.m);
                    if (t.alive) t.end();
                } else {
                    auto& c2 = static_cast<cursor_object<typename decltype(d)::element_type::traits>&>(*obj);
                    std::lock_guard lock(c2.m);
                    if (c2.alive) c2.end();
                }
            }
            std::lock_guard lock(d->m);
            // Let go the way the destructor does (C++ close() would refuse while another thread's
            // call still borrows the engine): the LOCK goes once no such call remains.
            { const auto released = std::move(d->db); }
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_checkpoint(entidb_db* h) {
    static constexpr const char* fn = "entidb_checkpoint";
    return guarded(fn, [&] {
        return with<db_object>(h, fn, [&](auto d) -> int {
            d->check_not_writer(fn);
            d->borrow(fn).checkpoint();
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_last_sequence(entidb_db* h, uint64_t* out) {
    static constexpr const char* fn = "entidb_last_sequence";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = with<db_object>(h, fn, [&](auto d) { return d->borrow(fn).last_sequence(); });
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_stats_get(entidb_db* h, entidb_stats* out) {
    static constexpr const char* fn = "entidb_stats_get";
    return guarded(fn, [&] {
        require(out, fn, "out");
        const std::size_t size = out->struct_size;
        if (size < offsetof(entidb_stats, last_sequence) + sizeof out->last_sequence)
            entidb::fail(errc::invalid_argument, "{}: out->struct_size is {}; set it to sizeof(entidb_stats)", fn, size);
        const auto s = with<db_object>(h, fn, [&](auto d) { return d->borrow(fn).stats(); });
        const auto put = [&](std::size_t offset, std::uint64_t v) {
            if (size >= offset + sizeof v) std::memcpy(reinterpret_cast<char*>(out) + offset, &v, sizeof v);
        };
        put(offsetof(entidb_stats, last_sequence), s.last_sequence);
        put(offsetof(entidb_stats, commits), s.commits);
        put(offsetof(entidb_stats, checkpoints), s.checkpoints);
        put(offsetof(entidb_stats, full_scans), s.full_scans);
        put(offsetof(entidb_stats, wal_bytes), s.wal_bytes);
        put(offsetof(entidb_stats, segment_count), s.segment_count);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_begin_read(entidb_db* h, entidb_txn** out) {
    static constexpr const char* fn = "entidb_begin_read";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        return with<db_object>(h, fn, [&](auto d) -> int {
            auto t = new_txn(d);
            t->read = std::make_shared<typename decltype(d)::element_type::read_txn>(d->borrow(fn).begin_read());
            *out = from_handle<entidb_txn>(register_child(*d, t, false, fn));
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_begin_write(entidb_db* h, entidb_txn** out) {
    return guarded("entidb_begin_write", [&] { return begin_write_impl(h, out, true, "entidb_begin_write"); });
}

ENTIDB_C_API int entidb_try_begin_write(entidb_db* h, entidb_txn** out) {
    return guarded("entidb_try_begin_write", [&] { return begin_write_impl(h, out, false, "entidb_try_begin_write"); });
}

ENTIDB_C_API int entidb_txn_is_write(entidb_txn* h, int* out) {
    static constexpr const char* fn = "entidb_txn_is_write";
    return guarded(fn, [&] {
        require(out, fn, "out");
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            *out = t->writer() != nullptr ? 1 : 0;
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_sequence(entidb_txn* h, uint64_t* out) {
    static constexpr const char* fn = "entidb_txn_sequence";
    return guarded(fn, [&] {
        require(out, fn, "out");
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            *out = t->read ? t->read->sequence() : t->writer()->sequence();
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_put(entidb_txn* h, const char* collection, const uint8_t id[16], const uint8_t* cbor,
                                size_t len) {
    static constexpr const char* fn = "entidb_txn_put";
    return guarded(fn, [&] {
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            auto& w = writable(*t, fn);
            const char* c = collection_arg(collection, fn);
            const auto key = input_id(id, fn);
            w.put(c, key, input_bytes(cbor, len, fn, "cbor"));
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_put_json(entidb_txn* h, const char* collection, const uint8_t id[16], const char* json,
                                     size_t len) {
    static constexpr const char* fn = "entidb_txn_put_json";
    return guarded(fn, [&] {
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            auto& w = writable(*t, fn);
            const char* c = collection_arg(collection, fn);
            const auto key = input_id(id, fn);
            const auto bytes = entidb::cbor::from_json(input_text(json, len, fn, "json"));
            w.put(c, key, bytes);
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_delete(entidb_txn* h, const char* collection, const uint8_t id[16], int* existed) {
    static constexpr const char* fn = "entidb_txn_delete";
    return guarded(fn, [&] {
        if (existed != nullptr) *existed = 0;
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            auto& w = writable(*t, fn);
            const char* c = collection_arg(collection, fn);
            const bool removed = w.remove(c, input_id(id, fn));
            if (existed != nullptr) *existed = removed ? 1 : 0;
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_get(entidb_txn* h, const char* collection, const uint8_t id[16], entidb_buffer* out) {
    static constexpr const char* fn = "entidb_txn_get";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            const char* c = collection_arg(collection, fn);
            const auto key = input_id(id, fn);
            std::optional<entidb::byte_buffer> bytes;
            if (t->read) {
                bytes = t->read->get(c, key);
            } else {
                if (t->owner != std::this_thread::get_id())
                    entidb::fail(errc::invalid_argument, "{}: a write transaction may only be used on the thread that began it",
                                 fn);
                bytes = t->writer()->get(c, key);
            }
            if (!bytes) return status(ENTIDB_NOT_FOUND, fmt::format("{}: no entity {} in collection '{}'", fn, key, c));
            fill_buffer(out, bytes->data(), bytes->size());
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_count(entidb_txn* h, const char* collection, uint64_t* out) {
    static constexpr const char* fn = "entidb_txn_count";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = 0;
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            const char* c = collection_arg(collection, fn);
            *out = readable_only(*t, fn, "count").count(c);
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_collections(entidb_txn* h, entidb_buffer* out) {
    static constexpr const char* fn = "entidb_txn_collections";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            std::string all;
            for (const auto& name : readable_only(*t, fn, "list collections").collections()) {
                all += name;
                all += '\0';
            }
            if (!all.empty()) fill_buffer(out, all.data(), all.size());
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_commit(entidb_txn* h, uint64_t* sequence) {
    static constexpr const char* fn = "entidb_txn_commit";
    return guarded(fn, [&] {
        if (sequence != nullptr) *sequence = 0;
        return with<txn_object>(h, fn, [&](auto t) -> int {
            bool ended = false;  // from here on the handle is retired whatever happens
            const auto retire = [&] {
                if (ended) unregister_child(*t->parent, t->self);
            };
            int rc = ENTIDB_OK;
            try {
                auto lock = lock_live(*t, fn);
                auto* w = t->writer();
                if (w == nullptr) {
                    ended = true;
                    t->end();
                    rc = status(ENTIDB_READ_ONLY, fmt::format("{}: a read transaction has nothing to commit (it is ended)", fn));
                } else {
                    if (t->owner != std::this_thread::get_id())
                        entidb::fail(errc::invalid_argument,
                                     "{}: a write transaction may only be committed on the thread that began it", fn);
                    ended = true;
                    struct ender {
                        typename decltype(t)::element_type& txn;
                        ~ender() { txn.end(); }
                    } end_it{*t};
                    t->parent->writer_thread.store(std::thread::id{});  // before commit releases the writer lock
                    const auto seq = w->commit();
                    if (sequence != nullptr) *sequence = seq;
                }
            } catch (...) {
                retire();
                throw;
            }
            retire();
            return rc;
        });
    });
}

ENTIDB_C_API int entidb_txn_abort(entidb_txn* h) {
    static constexpr const char* fn = "entidb_txn_abort";
    return guarded(fn, [&] {
        return with<txn_object>(h, fn, [&](auto t) -> int {
            {
                auto lock = lock_live(*t, fn);
                if (t->writer() != nullptr && t->owner != std::this_thread::get_id())
                    entidb::fail(errc::invalid_argument, "{}: a write transaction may only be aborted on the thread that began it",
                                 fn);
                t->end();
            }
            unregister_child(*t->parent, t->self);
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_get(entidb_db* h, const char* collection, const uint8_t id[16], entidb_buffer* out) {
    static constexpr const char* fn = "entidb_get";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        return with<db_object>(h, fn, [&](auto d) -> int {
            const char* c = collection_arg(collection, fn);
            const auto key = input_id(id, fn);
            const auto bytes = d->borrow(fn).begin_read().get(c, key);
            if (!bytes) return status(ENTIDB_NOT_FOUND, fmt::format("{}: no entity {} in collection '{}'", fn, key, c));
            fill_buffer(out, bytes->data(), bytes->size());
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_scan_open(entidb_txn* h, const char* collection, entidb_cursor** out) {
    return scan_open(h, collection, ENTIDB_SCAN_ID_ORDER, out, "entidb_scan_open");
}

ENTIDB_C_API int entidb_scan_open_ordered(entidb_txn* h, const char* collection, uint32_t order,
                                          entidb_cursor** out) {
    return scan_open(h, collection, order, out, "entidb_scan_open_ordered");
}

ENTIDB_C_API int entidb_db_scan_open(entidb_db* h, const char* collection, entidb_cursor** out) {
    return db_scan_open(h, collection, ENTIDB_SCAN_ID_ORDER, out, "entidb_db_scan_open");
}

ENTIDB_C_API int entidb_db_scan_open_ordered(entidb_db* h, const char* collection, uint32_t order,
                                             entidb_cursor** out) {
    return db_scan_open(h, collection, order, out, "entidb_db_scan_open_ordered");
}

ENTIDB_C_API int entidb_cursor_next(entidb_cursor* h, uint8_t id_out[16], entidb_buffer* value_out) {
    static constexpr const char* fn = "entidb_cursor_next";
    return guarded(fn, [&] {
        clear_buffer(value_out);
        require(id_out, fn, "id_out");
        return with<cursor_object>(h, fn, [&](auto c) -> int {
            std::lock_guard lock(c->m);
            if (!c->alive) entidb::fail(errc::closed, "{}: the cursor is closed", fn);
            if (!c->done && !c->step()) {
                c->done = true;
                c->end_walk();
            }
            if (c->done) return status(ENTIDB_NOT_FOUND, fmt::format("{}: the scan is exhausted", fn));
            const auto [id, bytes] = c->current();
            if (value_out != nullptr) fill_buffer(value_out, bytes.data(), bytes.size());
            std::memcpy(id_out, id->bytes().data(), entidb::entity_id::size);
            return ENTIDB_OK;
        });
    });
}
ENTIDB_C_API int entidb_cursor_close(entidb_cursor* h) {
    static constexpr const char* fn = "entidb_cursor_close";
    return guarded(fn, [&] {
        return with<cursor_object>(h, fn, [&](auto c) -> int {
            {
                std::lock_guard lock(c->m);
                if (!c->alive) entidb::fail(errc::closed, "{}: the cursor is already closed", fn);
                c->end();
            }
            unregister_child(*c->parent, c->self);
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_declare_text_index(entidb_db* h, const char* collection, const char* path, uint32_t flags) {
    static constexpr const char* fn = "entidb_declare_text_index";
    return guarded(fn, [&] {
        return with<db_object>(h, fn, [&](auto d) -> int {
            const char* c = collection_arg(collection, fn);
            require(path, fn, "path");
            const auto options = text_options_arg(flags, fn);
            d->check_not_writer(fn);  // declare_index waits for the writer lock
            d->borrow(fn).declare_index(c, path, options);
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_txn_search(entidb_txn* h, const char* collection, const char* path, const char* query,
                                   size_t query_len, uint32_t syntax, entidb_text_hit* hits, size_t capacity,
                                   size_t* count) {
    static constexpr const char* fn = "entidb_txn_search";
    return guarded(fn, [&] {
        require(count, fn, "count");
        *count = 0;
        if (hits == nullptr && capacity != 0)
            entidb::fail(errc::invalid_argument, "{}: `hits` is NULL but its capacity is {}", fn, capacity);
        return with<txn_object>(h, fn, [&](auto t) -> int {
            const auto lock = lock_live(*t, fn);
            const char* c = collection_arg(collection, fn);
            require(path, fn, "path");
            const auto text = input_text(query, query_len, fn, "query");
            const auto how = syntax_arg(syntax, fn);
            // The whole result first, so a failure leaves the caller's array untouched.
            const auto found = readable_only(*t, fn, "search").search(c, path, text, capacity, how);
            for (std::size_t i = 0; i < found.size(); ++i) {
                std::memcpy(hits[i].id, found[i].doc.bytes().data(), entidb::entity_id::size);
                hits[i].score = found[i].score;
            }
            *count = found.size();
            return ENTIDB_OK;
        });
    });
}

ENTIDB_C_API int entidb_id_generate(uint8_t out[16]) {
    static constexpr const char* fn = "entidb_id_generate";
    return guarded(fn, [&] {
        require(out, fn, "out");
        const auto id = entidb::entity_id::generate();
        std::memcpy(out, id.bytes().data(), entidb::entity_id::size);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_id_parse(const char* text, uint8_t out[16]) {
    static constexpr const char* fn = "entidb_id_parse";
    return guarded(fn, [&] {
        require(out, fn, "out");
        require(text, fn, "text");
        const auto id = entidb::entity_id::parse(text);
        std::memcpy(out, id.bytes().data(), entidb::entity_id::size);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_id_format(const uint8_t id[16], int hyphenated, char out[37]) {
    static constexpr const char* fn = "entidb_id_format";
    return guarded(fn, [&] {
        require(out, fn, "out");
        const auto key = input_id(id, fn);
        const std::string s = hyphenated != 0 ? key.to_uuid_string() : key.to_hex();
        std::memcpy(out, s.c_str(), s.size() + 1);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_json_to_cbor(const char* json, size_t len, entidb_buffer* out) {
    static constexpr const char* fn = "entidb_json_to_cbor";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        const auto bytes = entidb::cbor::from_json(input_text(json, len, fn, "json"));
        fill_buffer(out, bytes.data(), bytes.size());
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_cbor_to_json(const uint8_t* cbor, size_t len, entidb_buffer* out) {
    static constexpr const char* fn = "entidb_cbor_to_json";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        const std::string text = entidb::cbor::to_json(input_bytes(cbor, len, fn, "cbor"));
        fill_buffer(out, text.data(), text.size());
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_cbor_validate(const uint8_t* cbor, size_t len) {
    static constexpr const char* fn = "entidb_cbor_validate";
    return guarded(fn, [&] {
        entidb::cbor::validate(input_bytes(cbor, len, fn, "cbor"));
        return ENTIDB_OK;
    });
}

}  // extern "C"

// ---- sync (ABI 1.6) ------------------------------------------------------------------------

namespace {

// A struct_size that covers at least the fields of `Struct` up to and including `last_field_end`.
void check_struct_size(std::uint32_t size, std::size_t needed, const char* fn, const char* what) {
    if (size < needed)
        entidb::fail(errc::invalid_argument, "{}: {}->struct_size is {}; set it to sizeof the struct", fn, what, size);
}

}  // namespace

ENTIDB_C_API int entidb_sync(entidb_db* h, const entidb_sync_options* options, entidb_sync_report* report) {
    static constexpr const char* fn = "entidb_sync";
    return guarded(fn, [&]() -> int {
        require(options, fn, "options");
        check_struct_size(options->struct_size, offsetof(entidb_sync_options, ca_file) + sizeof options->ca_file, fn,
                          "options");
        if (report != nullptr)
            check_struct_size(report->struct_size, offsetof(entidb_sync_report, cursor) + sizeof report->cursor, fn,
                              "report");
        require(options->url, fn, "options->url");
#if ENTIDB_C_HAVE_SYNC
        namespace sync = entidb::sync;
        sync::client_options o;
        if (options->tenant != nullptr) o.db = options->tenant;
        if (options->device != nullptr)
            o.device = entidb::entity_id::from_bytes({options->device, entidb::entity_id::size});
        if (options->collections != nullptr) o.collections = sync::collection_list(options->collections);
        sync::http_transport server(options->url, {.token = options->token != nullptr ? options->token : "",
                                                   .ca_file = options->ca_file != nullptr ? options->ca_file : "",
                                                   .connect_timeout = std::chrono::milliseconds(5000),
                                                   .read_timeout = std::chrono::milliseconds(30000)});
        sync::sync_report r;
        try {
            r = with<db_object>(h, fn, [&](auto d) {
                d->check_not_writer(fn);
                auto db = d->borrow(fn);
                using traits = typename std::remove_cvref_t<decltype(db)>::traits_type;
                entidb::sync_client<traits, sync::http_transport> client(db, server, o);
                return client.sync();
            });
        } catch (const sync::unreachable& e) {
            return status(ENTIDB_SYNC_UNREACHABLE, e.what());
        } catch (const sync::refusal& e) {
            return status(ENTIDB_SYNC_REFUSED, e.what());
        }
        if (report != nullptr) {
            report->pulled = r.pulled;
            report->pushed = r.pushed;
            report->conflicts = r.conflicts;
            report->rejected = r.rejected;
            report->cursor = r.cursor;
        }
        return ENTIDB_OK;
#else
        (void)h;
        entidb::fail(errc::invalid_argument, "{}: this libentidb_c was built without sync (it needs Debian's "
                     "libcpp-httplib-dev)", fn);
#endif
    });
}
