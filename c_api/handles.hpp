// c_api/handles.hpp — the objects behind the opaque handles (entidb_db, entidb_txn,
// entidb_cursor) and the process-wide table that hands out and checks the handles (see
// entidb_c.cpp for the handle and locking rules).
//
// Private to c_api/entidb_c.cpp, the library's one translation unit: what is here has
// internal linkage (an anonymous namespace), so nothing of it is exported from libentidb_c,
// shared or static.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "entidb/c/entidb.h"
#include "entidb/database.hpp"
#include "entidb/error.hpp"

namespace {

using entidb::errc;

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

// Every object belongs to a database of one of two types: entidb::database, or
// basic_database<encrypted_file_storage> (opened with a key). `encrypted` says which, so that a
// lookup can hand the entry point the object of the right type (`with`).
struct object {
    object(kind k, bool enc) : what(k), encrypted(enc) {}
    virtual ~object() = default;
    object(const object&) = delete;
    object& operator=(const object&) = delete;
    const kind what;
    const bool encrypted;
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
//
// Each is a template over the database's traits (file_storage or encrypted_file_storage): the
// entry points are written once, as generic lambdas, and `with` picks the instantiation.

template <typename Traits>
inline constexpr bool is_encrypted = std::is_same_v<Traits, entidb::encrypted_file_storage>;

template <typename Traits>
struct db_object final : object {
    using traits = Traits;
    using database = entidb::basic_database<Traits>;
    using read_txn = typename database::read_transaction;
    static constexpr kind tag = kind::database;
    explicit db_object(database d) : object(tag, is_encrypted<Traits>), db(std::move(d)) {}

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
        return db.share();
    }

    void check_not_writer(const char* fn) const {
        if (writer_thread.load() == std::this_thread::get_id())
            entidb::fail(errc::writer_busy,
                         "{}: this thread has a write transaction open on this database; commit or abort it first",
                         fn);
    }
};

template <typename Traits>
struct txn_object final : object {
    using read_txn = typename entidb::basic_database<Traits>::read_transaction;
    using write_txn = typename entidb::basic_database<Traits>::write_transaction;
    static constexpr kind tag = kind::transaction;
    explicit txn_object(std::shared_ptr<db_object<Traits>> p) : object(tag, is_encrypted<Traits>), parent(std::move(p)) {}

    std::mutex m;  // guards everything below
    std::shared_ptr<db_object<Traits>> parent;
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

template <typename Traits>
struct cursor_object final : object {
    using read_txn = typename txn_object<Traits>::read_txn;
    using range = entidb::entity_range<Traits>;
    using storage_range = entidb::storage_range<Traits>;
    static constexpr kind tag = kind::cursor;
    explicit cursor_object(std::shared_ptr<db_object<Traits>> p) : object(tag, is_encrypted<Traits>), parent(std::move(p)) {}

    // One scan of either order: the range on the heap (its iterator points into it).
    template <typename Range>
    struct walk {
        std::unique_ptr<Range> items;
        typename Range::iterator it;  // valid once started
    };

    std::mutex m;  // guards everything below
    std::shared_ptr<db_object<Traits>> parent;
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

// Looks up the live object of kind Object named by `p` and returns `f(std::shared_ptr<Object<T>>)`
// for the traits T of its database: the one dispatch between plain and encrypted databases.
template <template <typename> class Object, typename P, typename F>
decltype(auto) with(P* p, const char* fn, F&& f) {
    constexpr kind tag = Object<entidb::file_storage>::tag;
    if (p == nullptr) entidb::fail(errc::invalid_argument, "{}: the {} handle is NULL", fn, kind_name(tag));
    const handle h = to_handle(p);
    if (auto obj = table().find(h, tag)) {
        if (obj->encrypted) return f(std::static_pointer_cast<Object<entidb::encrypted_file_storage>>(std::move(obj)));
        return f(std::static_pointer_cast<Object<entidb::file_storage>>(std::move(obj)));
    }
    if (const auto k = table().kind_of(h))
        entidb::fail(errc::closed, "{}: expected a {} handle, got a {} handle", fn, kind_name(tag), kind_name(*k));
    entidb::fail(errc::closed, "{}: the {} handle is closed, already ended, or not a handle", fn, kind_name(tag));
}

template <typename Traits>
std::shared_ptr<txn_object<Traits>> new_txn(const std::shared_ptr<db_object<Traits>>& d) {
    return std::make_shared<txn_object<Traits>>(d);
}

// Registers a child (transaction or cursor) of `db`; fails if the database was closed
// meanwhile. For a write transaction, also records the writer thread.
template <typename T, typename Traits>
handle register_child(db_object<Traits>& db, const std::shared_ptr<T>& child, bool is_writer, const char* fn) {
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

template <typename Traits>
void unregister_child(db_object<Traits>& db, handle h) noexcept {
    table().remove(h);
    std::lock_guard lock(db.m);
    db.children.erase(h);
}

// Locks a transaction and checks that it has not ended.
template <typename Traits>
std::unique_lock<std::mutex> lock_live(txn_object<Traits>& t, const char* fn) {
    std::unique_lock lock(t.m);
    if (!t.alive) entidb::fail(errc::closed, "{}: the transaction has already ended", fn);
    return lock;
}

template <typename Traits>
auto& writable(txn_object<Traits>& t, const char* fn) {
    auto* w = t.writer();
    if (w == nullptr) entidb::fail(errc::read_only, "{}: a read transaction cannot write", fn);
    if (t.owner != std::this_thread::get_id())
        entidb::fail(errc::invalid_argument, "{}: a write transaction may only be used on the thread that began it", fn);
    return *w;
}

template <typename Traits>
auto& readable_only(txn_object<Traits>& t, const char* fn, const char* what) {
    if (!t.read)
        entidb::fail(errc::invalid_argument,
                     "{}: a write transaction cannot {} (only read transactions can); use a read transaction", fn,
                     what);
    return *t.read;
}

}  // namespace
