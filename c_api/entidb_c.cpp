// c_api/entidb_c.cpp — the C ABI (include/entidb/c/entidb.h) over the C++ headers.
//
// One translation unit. Every exported function runs its body inside `guarded`, which turns
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
#include "entidb/database.hpp"
#include "entidb/entity_id.hpp"
#include "entidb/error.hpp"
#include "entidb/version.hpp"

namespace {

using entidb::errc;

// ---- the codes are entidb::errc ---------------------------------------------------------------

#define ENTIDB_SAME_CODE(c_name, cxx_name)                    \
    static_assert(c_name == static_cast<int>(errc::cxx_name), \
                  "include/entidb/c/entidb.h: " #c_name " must equal entidb::errc::" #cxx_name)
ENTIDB_SAME_CODE(ENTIDB_OK, ok);
ENTIDB_SAME_CODE(ENTIDB_NOT_FOUND, not_found);
ENTIDB_SAME_CODE(ENTIDB_INVALID_ARGUMENT, invalid_argument);
ENTIDB_SAME_CODE(ENTIDB_CORRUPTION, corruption);
ENTIDB_SAME_CODE(ENTIDB_LOCKED, locked);
ENTIDB_SAME_CODE(ENTIDB_IO_ERROR, io_error);
ENTIDB_SAME_CODE(ENTIDB_OUTCOME_UNKNOWN, outcome_unknown);
ENTIDB_SAME_CODE(ENTIDB_NO_SPACE, no_space);
ENTIDB_SAME_CODE(ENTIDB_NEEDS_REOPEN, needs_reopen);
ENTIDB_SAME_CODE(ENTIDB_READ_ONLY, read_only);
ENTIDB_SAME_CODE(ENTIDB_WRITER_BUSY, writer_busy);
ENTIDB_SAME_CODE(ENTIDB_TOO_LARGE, too_large);
ENTIDB_SAME_CODE(ENTIDB_UNSUPPORTED_VERSION, unsupported_version);
ENTIDB_SAME_CODE(ENTIDB_INVALID_CBOR, invalid_cbor);
ENTIDB_SAME_CODE(ENTIDB_NON_CANONICAL, non_canonical);
ENTIDB_SAME_CODE(ENTIDB_SCAN_FORBIDDEN, scan_forbidden);
ENTIDB_SAME_CODE(ENTIDB_UNIQUE_VIOLATION, unique_violation);
ENTIDB_SAME_CODE(ENTIDB_CLOSED, closed);
ENTIDB_SAME_CODE(ENTIDB_TYPE_MISMATCH, type_mismatch);
ENTIDB_SAME_CODE(ENTIDB_ROTATION_UNSUPPORTED, rotation_unsupported);
ENTIDB_SAME_CODE(ENTIDB_NO_SUCH_INDEX, no_such_index);
ENTIDB_SAME_CODE(ENTIDB_BUSY, busy);
#undef ENTIDB_SAME_CODE
// A code appended to entidb::errc must be added to the header and to code_names below.
static_assert(entidb::to_string(static_cast<errc>(ENTIDB_BUSY + 1)) == "unknown error",
              "entidb::errc has a code after busy: add its ENTIDB_ constant to "
              "include/entidb/c/entidb.h, its name to code_names in c_api/entidb_c.cpp, and a row to "
              "docs/c-abi.md");

constexpr const char* code_names[] = {
    "ok",          "not_found",     "invalid_argument", "corruption",          "locked",
    "io_error",    "outcome_unknown", "no_space",       "needs_reopen",        "read_only",
    "writer_busy", "too_large",     "unsupported_version", "invalid_cbor",     "non_canonical",
    "scan_forbidden", "unique_violation", "closed",     "type_mismatch",       "rotation_unsupported",
    "no_such_index", "busy",
};
static_assert(std::size(code_names) == ENTIDB_BUSY + 1);

// ---- the calling thread's last error ---------------------------------------------------------

thread_local int t_last_code = ENTIDB_OK;
thread_local std::string t_last_message;

int set_last(int code, std::string_view message) noexcept {
    t_last_code = code;
    try {
        t_last_message.assign(message);
    } catch (...) {  // out of memory while reporting: keep the code, drop the text
        t_last_message.clear();
    }
    return code;
}

// Absence (ENTIDB_NOT_FOUND) is a status, not an exception: returned with a message.
int status(int code, std::string_view message) noexcept { return set_last(code, message); }

int code_of_system_error(const std::system_error& e) noexcept {
    const auto& cat = e.code().category();
    if (cat == std::generic_category() || cat == std::system_category())
        return e.code().value() == ENOSPC ? ENTIDB_NO_SPACE : ENTIDB_IO_ERROR;
    return ENTIDB_INTERNAL;
}

// Runs `body` (which returns ENTIDB_OK or a status it has already reported) and reports any
// exception as a code. The only place exceptions stop.
template <typename F>
int guarded(const char* fn, F&& body) noexcept {
    try {
        const int rc = body();
        if (rc == ENTIDB_OK) set_last(ENTIDB_OK, {});
        return rc;
    } catch (const entidb::error& e) {
        return set_last(static_cast<int>(e.value()), e.what());
    } catch (const std::bad_alloc&) {
        return set_last(ENTIDB_OUT_OF_MEMORY, "out of memory");
    } catch (const std::system_error& e) {
        const int code = code_of_system_error(e);
        try {
            return set_last(code, fmt::format("{}: {}", fn, e.what()));
        } catch (...) {
            return set_last(code, e.what());
        }
    } catch (const std::exception& e) {
        try {
            return set_last(ENTIDB_INTERNAL, fmt::format("internal error in {}: {}", fn, e.what()));
        } catch (...) {
            return set_last(ENTIDB_INTERNAL, e.what());
        }
    } catch (...) {
        return set_last(ENTIDB_INTERNAL, "internal error: an exception of unknown type");
    }
}

// ---- argument checks --------------------------------------------------------------------------

template <typename T>
void require(const T* p, const char* fn, const char* name) {
    if (p == nullptr) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL", fn, name);
}

// (data, len) with NULL allowed only for the empty input.
entidb::bytes_view input_bytes(const std::uint8_t* data, std::size_t len, const char* fn, const char* name) {
    if (data == nullptr && len != 0) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL but its length is {}", fn, name, len);
    if (data == nullptr) return {};
    return {data, len};
}

std::string_view input_text(const char* data, std::size_t len, const char* fn, const char* name) {
    if (data == nullptr && len != 0) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL but its length is {}", fn, name, len);
    if (data == nullptr) return {};
    return {data, len};
}

entidb::entity_id input_id(const std::uint8_t* id, const char* fn) {
    require(id, fn, "id");
    return entidb::entity_id::from_bytes({id, entidb::entity_id::size});
}

// Fills a caller's buffer with a malloc'd copy plus a NUL byte (entidb_buffer_free frees it).
void fill_buffer(entidb_buffer* out, const void* data, std::size_t len) {
    out->data = nullptr;
    out->len = 0;
    auto* p = static_cast<std::uint8_t*>(std::malloc(len + 1));
    if (p == nullptr) throw std::bad_alloc();
    if (len != 0) std::memcpy(p, data, len);
    p[len] = 0;
    out->data = p;
    out->len = len;
}

void clear_buffer(entidb_buffer* out) noexcept {
    if (out != nullptr) *out = {nullptr, 0};
}

// ---- handle table -----------------------------------------------------------------------------

enum class kind : std::uint8_t { database, transaction, cursor };

constexpr const char* kind_name(kind k) noexcept {
    switch (k) {
        case kind::database: return "database";
        case kind::transaction: return "transaction";
        case kind::cursor: return "cursor";
    }
    return "?";
}

struct object {
    explicit object(kind k) : what(k) {}
    virtual ~object() = default;
    object(const object&) = delete;
    object& operator=(const object&) = delete;
    const kind what;
};

using handle = std::uintptr_t;
constexpr unsigned half_bits = sizeof(handle) * 4;
constexpr handle index_mask = (handle{1} << half_bits) - 1;

class handle_table {
public:
    handle add(std::shared_ptr<object> obj) {
        std::lock_guard lock(m_);
        std::size_t index;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else {
            if (slots_.size() >= index_mask) throw std::bad_alloc();
            slots_.emplace_back();
            index = slots_.size() - 1;
        }
        slot& s = slots_[index];
        s.obj = std::move(obj);
        return (static_cast<handle>(s.generation) << half_bits) | index;
    }

    // The live object of kind `k` named by `h`, or null.
    std::shared_ptr<object> find(handle h, kind k) {
        std::lock_guard lock(m_);
        const slot* s = at(h);
        if (s == nullptr || s->obj->what != k) return nullptr;
        return s->obj;
    }

    // The object's kind, if `h` names a live object (for messages).
    std::optional<kind> kind_of(handle h) {
        std::lock_guard lock(m_);
        const slot* s = at(h);
        if (s == nullptr) return std::nullopt;
        return s->obj->what;
    }

    // Retires `h` (its slot gets a new generation) and returns its object, or null if `h` is
    // not live.
    std::shared_ptr<object> remove(handle h) {
        std::lock_guard lock(m_);
        slot* s = at(h);
        if (s == nullptr) return nullptr;
        auto obj = std::move(s->obj);
        s->obj.reset();
        s->generation = s->generation == generation_mask ? 1 : s->generation + 1;
        free_.push_back(static_cast<std::size_t>(h & index_mask));
        return obj;
    }

private:
    static constexpr handle generation_mask = index_mask;
    struct slot {
        handle generation = 1;  // never 0, so no handle is ever NULL
        std::shared_ptr<object> obj;
    };

    slot* at(handle h) {
        const auto index = static_cast<std::size_t>(h & index_mask);
        const handle generation = h >> half_bits;
        if (index >= slots_.size()) return nullptr;
        slot& s = slots_[index];
        if (!s.obj || s.generation != generation) return nullptr;
        return &s;
    }

    std::mutex m_;
    std::vector<slot> slots_;
    std::vector<std::size_t> free_;
};

// Never destroyed: handles stay checkable during static destruction, and what the table holds
// at exit stays reachable (not a leak for LeakSanitizer).
handle_table& table() {
    static handle_table* t = new handle_table;
    return *t;
}

template <typename P>
handle to_handle(P* p) noexcept {
    return reinterpret_cast<handle>(p);
}
template <typename P>
P* from_handle(handle h) noexcept {
    return reinterpret_cast<P*>(h);
}

// ---- the objects behind the handles ----------------------------------------------------------

using database = entidb::database;
using read_txn = database::read_transaction;
using write_txn = database::write_transaction;
using range = entidb::entity_range<entidb::file_storage>;
using storage_range = entidb::storage_range<entidb::file_storage>;

struct db_object final : object {
    static constexpr kind tag = kind::database;
    explicit db_object(database d) : object(tag), db(std::move(d)) {}

    std::mutex m;  // guards db, closed, children
    database db;
    bool closed = false;
    std::unordered_set<handle> children;  // open transactions and cursors
    // The thread whose write transaction is open (default id: none). Set under `m` when the
    // transaction is registered; cleared before the C++ writer lock is released.
    std::atomic<std::thread::id> writer_thread{};

    // Another handle on the same engine for one call, so no lock is held while it runs.
    database borrow(const char* fn) {
        std::lock_guard lock(m);
        if (closed || !db.is_open()) entidb::fail(errc::closed, "{}: the database handle is closed", fn);
        return database(db.engine());
    }

    void check_not_writer(const char* fn) const {
        if (writer_thread.load() == std::this_thread::get_id())
            entidb::fail(errc::writer_busy,
                         "{}: this thread has a write transaction open on this database; commit or abort it first",
                         fn);
    }
};

struct txn_object final : object {
    static constexpr kind tag = kind::transaction;
    explicit txn_object(std::shared_ptr<db_object> p) : object(tag), parent(std::move(p)) {}

    std::mutex m;  // guards everything below
    std::shared_ptr<db_object> parent;
    handle self = 0;
    bool alive = true;
    std::shared_ptr<read_txn> read;        // a read transaction (shared with its cursors)
    std::unique_ptr<write_txn> write;      // a write transaction from begin_write
    std::unique_ptr<std::optional<write_txn>> tried;  // ... or from try_begin_write
    std::thread::id owner{};               // the thread that began the write transaction

    [[nodiscard]] write_txn* writer() noexcept {
        if (write) return write.get();
        if (tried && tried->has_value()) return &**tried;
        return nullptr;
    }

    // Ends the transaction (aborting a write); m must be held.
    void end() noexcept {
        if (writer() != nullptr) parent->writer_thread.store(std::thread::id{});
        write.reset();  // destroying an uncommitted write transaction aborts it
        tried.reset();
        read.reset();
        alive = false;
    }
};

struct cursor_object final : object {
    static constexpr kind tag = kind::cursor;
    explicit cursor_object(std::shared_ptr<db_object> p) : object(tag), parent(std::move(p)) {}

    // One scan of either order: the range on the heap (its iterator points into it).
    template <typename Range>
    struct walk {
        std::unique_ptr<Range> items;
        typename Range::iterator it;  // valid once started
    };

    std::mutex m;  // guards everything below
    std::shared_ptr<db_object> parent;
    handle self = 0;
    bool alive = true;
    std::shared_ptr<read_txn> snapshot;  // keeps the snapshot registered while the scan runs
    std::variant<walk<range>, walk<storage_range>> scan;
    bool started = false;
    bool done = false;

    // Moves to the next entity; false once the scan is exhausted.
    bool step() {
        return std::visit(
            [&](auto& w) {
                if (!started) {
                    w.it = w.items->begin();
                    started = true;
                } else {
                    ++w.it;
                }
                return w.it != std::default_sentinel;
            },
            scan);
    }
    // The current entity's id and payload (a view valid until the next step).
    [[nodiscard]] std::pair<const entidb::entity_id*, entidb::bytes_view> current() const {
        return std::visit([](const auto& w) { return std::pair{&w.it->id, entidb::bytes_view(w.it->bytes)}; }, scan);
    }

    // An exhausted scan lets go of its position (a storage-order one, of its engine
    // registration) before the cursor is closed.
    void end_walk() noexcept {
        std::visit([](auto& w) { w.it = {}; }, scan);
    }

    void end() noexcept {
        // Iterators first, then ranges (a storage-order range ends its engine registration).
        std::visit([](auto& w) { w.it = {}; w.items.reset(); }, scan);
        snapshot.reset();
        alive = false;
    }
};

template <typename T, typename P>
std::shared_ptr<T> lookup(P* p, const char* fn) {
    if (p == nullptr) entidb::fail(errc::invalid_argument, "{}: the {} handle is NULL", fn, kind_name(T::tag));
    const handle h = to_handle(p);
    if (auto obj = table().find(h, T::tag)) return std::static_pointer_cast<T>(obj);
    if (const auto k = table().kind_of(h))
        entidb::fail(errc::closed, "{}: expected a {} handle, got a {} handle", fn, kind_name(T::tag), kind_name(*k));
    entidb::fail(errc::closed, "{}: the {} handle is closed, already ended, or not a handle", fn, kind_name(T::tag));
}

// Registers a child (transaction or cursor) of `db`; fails if the database was closed
// meanwhile. For a write transaction, also records the writer thread.
template <typename T>
handle register_child(db_object& db, const std::shared_ptr<T>& child, bool is_writer, const char* fn) {
    std::lock_guard lock(db.m);
    if (db.closed) entidb::fail(errc::closed, "{}: the database handle was closed", fn);
    const handle h = table().add(child);
    try {
        db.children.insert(h);
    } catch (...) {
        table().remove(h);
        throw;
    }
    child->self = h;
    if (is_writer) db.writer_thread.store(std::this_thread::get_id());
    return h;
}

void unregister_child(db_object& db, handle h) noexcept {
    table().remove(h);
    std::lock_guard lock(db.m);
    db.children.erase(h);
}

// Locks a transaction and checks that it has not ended.
std::unique_lock<std::mutex> lock_live(txn_object& t, const char* fn) {
    std::unique_lock lock(t.m);
    if (!t.alive) entidb::fail(errc::closed, "{}: the transaction has already ended", fn);
    return lock;
}

write_txn& writable(txn_object& t, const char* fn) {
    write_txn* w = t.writer();
    if (w == nullptr) entidb::fail(errc::read_only, "{}: a read transaction cannot write", fn);
    if (t.owner != std::this_thread::get_id())
        entidb::fail(errc::invalid_argument, "{}: a write transaction may only be used on the thread that began it", fn);
    return *w;
}

read_txn& readable_only(txn_object& t, const char* fn, const char* what) {
    if (!t.read)
        entidb::fail(errc::invalid_argument,
                     "{}: a write transaction cannot {} (only read transactions can); use a read transaction", fn,
                     what);
    return *t.read;
}

const char* collection_arg(const char* collection, const char* fn) {
    require(collection, fn, "collection");
    return collection;
}

int begin_write_impl(entidb_db* h, entidb_txn** out, bool wait, const char* fn) {
    require(out, fn, "out");
    *out = nullptr;
    auto d = lookup<db_object>(h, fn);
    d->check_not_writer(fn);
    database db = d->borrow(fn);
    auto t = std::make_shared<txn_object>(d);
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
}

// ENTIDB_SCAN_ID_ORDER or ENTIDB_SCAN_STORAGE_ORDER, checked before anything is opened.
std::uint32_t order_arg(std::uint32_t order, const char* fn) {
    if (order != ENTIDB_SCAN_ID_ORDER && order != ENTIDB_SCAN_STORAGE_ORDER)
        entidb::fail(errc::invalid_argument, "{}: unknown scan order {}", fn, order);
    return order;
}

int open_cursor(const std::shared_ptr<db_object>& d, std::shared_ptr<read_txn> snapshot, const char* collection,
                std::uint32_t order, entidb_cursor** out, const char* fn) {
    auto c = std::make_shared<cursor_object>(d);
    // Counts the scan; scan_forbidden here.
    if (order == ENTIDB_SCAN_STORAGE_ORDER)
        c->scan.emplace<1>().items.reset(new storage_range(snapshot->scan(collection, entidb::in_storage_order)));
    else
        c->scan.emplace<0>().items.reset(new range(snapshot->scan(collection)));
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
        auto t = lookup<txn_object>(h, fn);
        std::shared_ptr<read_txn> snapshot;
        {
            const auto lock = lock_live(*t, fn);
            collection_arg(collection, fn);
            readable_only(*t, fn, "scan");
            snapshot = t->read;
        }
        return open_cursor(t->parent, std::move(snapshot), collection, order, out, fn);
    });
}

int db_scan_open(entidb_db* h, const char* collection, std::uint32_t order, entidb_cursor** out, const char* fn) {
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = nullptr;
        order_arg(order, fn);
        auto d = lookup<db_object>(h, fn);
        collection_arg(collection, fn);
        auto snapshot = std::make_shared<read_txn>(d->borrow(fn).engine());
        return open_cursor(d, std::move(snapshot), collection, order, out, fn);
    });
}

}  // namespace

// ---- exported functions ----------------------------------------------------------------------

extern "C" {

ENTIDB_C_API uint32_t entidb_abi_version(void) { return ENTIDB_ABI_VERSION; }

// library_version views a string literal, so the byte after it is the literal's NUL.
static_assert(entidb::library_version.data()[entidb::library_version.size()] == '\0');
ENTIDB_C_API const char* entidb_library_version(void) { return entidb::library_version.data(); }

ENTIDB_C_API const char* entidb_error_name(int code) {
    if (code >= 0 && code <= ENTIDB_BUSY) return code_names[code];
    if (code == ENTIDB_OUT_OF_MEMORY) return "out_of_memory";
    if (code == ENTIDB_INTERNAL) return "internal";
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
        require(path, fn, "path");
        if (*path == '\0') entidb::fail(errc::invalid_argument, "{}: `path` is empty", fn);
        entidb::config cfg;
        if (options != nullptr) {
            const std::size_t size = options->struct_size;
            const auto has = [&](std::size_t offset, std::size_t field) { return size >= offset + field; };
            if (!has(offsetof(entidb_options, flags), sizeof options->flags))
                entidb::fail(errc::invalid_argument, "{}: options->struct_size is {}; set it to sizeof(entidb_options)",
                             fn, size);
            constexpr std::uint32_t known = ENTIDB_OPEN_NO_CREATE | ENTIDB_OPEN_FORBID_FULL_SCAN | ENTIDB_OPEN_READ_ONLY;
            if ((options->flags & ~known) != 0)
                entidb::fail(errc::invalid_argument, "{}: unknown option flags {:#x}", fn, options->flags & ~known);
            cfg.create_if_missing = (options->flags & ENTIDB_OPEN_NO_CREATE) == 0;
            cfg.forbid_full_scan = (options->flags & ENTIDB_OPEN_FORBID_FULL_SCAN) != 0;
            cfg.read_only = (options->flags & ENTIDB_OPEN_READ_ONLY) != 0;
            if (has(offsetof(entidb_options, max_wal_size), 8) && options->max_wal_size != 0)
                cfg.max_wal_size = options->max_wal_size;
            if (has(offsetof(entidb_options, max_segment_size), 8) && options->max_segment_size != 0)
                cfg.max_segment_size = options->max_segment_size;
            if (has(offsetof(entidb_options, max_entity_bytes), 8) && options->max_entity_bytes != 0)
                cfg.max_entity_bytes = options->max_entity_bytes;
        }
        // SPEC.md §9 rule 1: exactly the C++ directory open path.
        auto d = std::make_shared<db_object>(entidb::open(path, cfg));
        *out = from_handle<entidb_db>(table().add(d));
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_close(entidb_db* h) {
    static constexpr const char* fn = "entidb_close";
    return guarded(fn, [&] {
        auto d = lookup<db_object>(h, fn);
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
                auto& t = static_cast<txn_object&>(*obj);
                std::lock_guard lock(t.m);
                if (t.alive) t.end();
            } else {
                auto& c2 = static_cast<cursor_object&>(*obj);
                std::lock_guard lock(c2.m);
                if (c2.alive) c2.end();
            }
        }
        std::lock_guard lock(d->m);
        // Let go the way the destructor does (C++ close() would refuse while another thread's
        // call still borrows the engine): the LOCK goes once no such call remains.
        { const database released(std::move(d->db)); }
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_checkpoint(entidb_db* h) {
    static constexpr const char* fn = "entidb_checkpoint";
    return guarded(fn, [&] {
        auto d = lookup<db_object>(h, fn);
        d->check_not_writer(fn);
        d->borrow(fn).checkpoint();
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_last_sequence(entidb_db* h, uint64_t* out) {
    static constexpr const char* fn = "entidb_last_sequence";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = lookup<db_object>(h, fn)->borrow(fn).last_sequence();
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
        const auto s = lookup<db_object>(h, fn)->borrow(fn).stats();
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
        auto d = lookup<db_object>(h, fn);
        auto t = std::make_shared<txn_object>(d);
        t->read = std::make_shared<read_txn>(d->borrow(fn).engine());
        *out = from_handle<entidb_txn>(register_child(*d, t, false, fn));
        return ENTIDB_OK;
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
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        *out = t->writer() != nullptr ? 1 : 0;
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_sequence(entidb_txn* h, uint64_t* out) {
    static constexpr const char* fn = "entidb_txn_sequence";
    return guarded(fn, [&] {
        require(out, fn, "out");
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        *out = t->read ? t->read->sequence() : t->writer()->sequence();
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_put(entidb_txn* h, const char* collection, const uint8_t id[16], const uint8_t* cbor,
                                size_t len) {
    static constexpr const char* fn = "entidb_txn_put";
    return guarded(fn, [&] {
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        write_txn& w = writable(*t, fn);
        const char* c = collection_arg(collection, fn);
        const auto key = input_id(id, fn);
        w.put(c, key, input_bytes(cbor, len, fn, "cbor"));
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_put_json(entidb_txn* h, const char* collection, const uint8_t id[16], const char* json,
                                     size_t len) {
    static constexpr const char* fn = "entidb_txn_put_json";
    return guarded(fn, [&] {
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        write_txn& w = writable(*t, fn);
        const char* c = collection_arg(collection, fn);
        const auto key = input_id(id, fn);
        const auto bytes = entidb::cbor::from_json(input_text(json, len, fn, "json"));
        w.put(c, key, bytes);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_delete(entidb_txn* h, const char* collection, const uint8_t id[16], int* existed) {
    static constexpr const char* fn = "entidb_txn_delete";
    return guarded(fn, [&] {
        if (existed != nullptr) *existed = 0;
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        write_txn& w = writable(*t, fn);
        const char* c = collection_arg(collection, fn);
        const bool removed = w.remove(c, input_id(id, fn));
        if (existed != nullptr) *existed = removed ? 1 : 0;
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_get(entidb_txn* h, const char* collection, const uint8_t id[16], entidb_buffer* out) {
    static constexpr const char* fn = "entidb_txn_get";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        auto t = lookup<txn_object>(h, fn);
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
}

ENTIDB_C_API int entidb_txn_count(entidb_txn* h, const char* collection, uint64_t* out) {
    static constexpr const char* fn = "entidb_txn_count";
    return guarded(fn, [&] {
        require(out, fn, "out");
        *out = 0;
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        const char* c = collection_arg(collection, fn);
        *out = readable_only(*t, fn, "count").count(c);
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_collections(entidb_txn* h, entidb_buffer* out) {
    static constexpr const char* fn = "entidb_txn_collections";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        auto t = lookup<txn_object>(h, fn);
        const auto lock = lock_live(*t, fn);
        std::string all;
        for (const auto& name : readable_only(*t, fn, "list collections").collections()) {
            all += name;
            all += '\0';
        }
        if (!all.empty()) fill_buffer(out, all.data(), all.size());
        return ENTIDB_OK;
    });
}

ENTIDB_C_API int entidb_txn_commit(entidb_txn* h, uint64_t* sequence) {
    static constexpr const char* fn = "entidb_txn_commit";
    return guarded(fn, [&] {
        if (sequence != nullptr) *sequence = 0;
        auto t = lookup<txn_object>(h, fn);
        bool ended = false;  // from here on the handle is retired whatever happens
        const auto retire = [&] {
            if (ended) unregister_child(*t->parent, t->self);
        };
        int rc = ENTIDB_OK;
        try {
            auto lock = lock_live(*t, fn);
            write_txn* w = t->writer();
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
                    txn_object& t;
                    ~ender() { t.end(); }
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
}

ENTIDB_C_API int entidb_txn_abort(entidb_txn* h) {
    static constexpr const char* fn = "entidb_txn_abort";
    return guarded(fn, [&] {
        auto t = lookup<txn_object>(h, fn);
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
}

ENTIDB_C_API int entidb_get(entidb_db* h, const char* collection, const uint8_t id[16], entidb_buffer* out) {
    static constexpr const char* fn = "entidb_get";
    return guarded(fn, [&] {
        require(out, fn, "out");
        clear_buffer(out);
        auto d = lookup<db_object>(h, fn);
        const char* c = collection_arg(collection, fn);
        const auto key = input_id(id, fn);
        const auto bytes = d->borrow(fn).begin_read().get(c, key);
        if (!bytes) return status(ENTIDB_NOT_FOUND, fmt::format("{}: no entity {} in collection '{}'", fn, key, c));
        fill_buffer(out, bytes->data(), bytes->size());
        return ENTIDB_OK;
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
        auto c = lookup<cursor_object>(h, fn);
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
}
ENTIDB_C_API int entidb_cursor_close(entidb_cursor* h) {
    static constexpr const char* fn = "entidb_cursor_close";
    return guarded(fn, [&] {
        auto c = lookup<cursor_object>(h, fn);
        {
            std::lock_guard lock(c->m);
            if (!c->alive) entidb::fail(errc::closed, "{}: the cursor is already closed", fn);
            c->end();
        }
        unregister_child(*c->parent, c->self);
        return ENTIDB_OK;
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
