// entidb/txn/transaction.hpp — read and write transactions.
//
// `read_transaction`: a snapshot as of its start (the last published commit sequence). It
// has no way to write: the type has no mutating member. Any number may be open, on any
// threads, while a writer commits; they never see a partial commit. Copies share the
// snapshot; ranges it returns keep the snapshot alive.
//
// Access paths (SPEC.md §6; no query language — filter the results in C++):
//   get(collection, id)                     primary key
//   find(collection, path, value)           equality on a declared index (hash or ordered)
//   range(collection, path, lo, hi, order)  bounds on an ordered index (either bound open)
//   prefix(collection, path, text)          text prefix on an ordered index
//   search(collection, path, query, limit)  the best hits of a full-text query on a text
//                                           index, with their BM25 scores
//   scan(collection)                        the explicit full scan: counted, and refused
//                                           with errc::scan_forbidden when configured so
//   scan(collection, in_storage_order)      the same in storage order (faster, unordered),
//                                           as entity_view: the bytes are not copied (an
//                                           encrypted database's are opened into a buffer
//                                           of the scan's)
// index_memory_bytes(collection, path) reports an index's size in memory (no access path).
// An access path naming an index that is not declared is errc::no_such_index. Indexes
// never change results, only speed.
//
// `write_transaction`: the single writer. It holds the database's writer lock from begin
// until its commit is in the WAL, or it aborts (SPEC.md §5: one writer, enforced at begin;
// the next writer may start while this commit waits for its flush: group commit, see
// docs/transactions.md). `get` sees its own writes and every commit before it.
// Writes are validated when made — size first (errc::too_large, before the bytes are even
// read), then canonical CBOR (errc::invalid_cbor / errc::non_canonical) — so nothing
// invalid reaches the WAL. Destroying an uncommitted write transaction aborts it.
//
// Use each transaction object from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../cbor/encoder.hpp"
#include "../cbor/reader.hpp"
#include "../cbor/value.hpp"
#include "../core/engine.hpp"
#include "../detail/utf8.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../index/index_key.hpp"
#include "../index_kind.hpp"
#include "snapshot.hpp"

namespace entidb {
inline namespace v1 {

enum class order { ascending, descending };

// A bound of a range query: a value (as canonical CBOR or a cbor::value) and whether the
// bound itself is included.
struct bound {
    cbor::value value;
    bool inclusive = true;
};

// Throws errc::invalid_argument unless `name` can name a collection: 1 to 65535 bytes of
// UTF-8 (the MANIFEST's u16 length field).
inline void check_collection_name(std::string_view name) {
    if (name.empty() || name.size() > 0xFFFF)
        fail(errc::invalid_argument, "a collection name must have 1 to 65535 bytes (got {})", name.size());
    if (const auto bad = entidb::detail::find_invalid_utf8(as_bytes(name)); bad != entidb::detail::utf8_valid)
        fail(errc::invalid_argument, "a collection name must be UTF-8 (invalid byte at {})", bad);
}

namespace detail {
[[nodiscard]] inline index_key key_of_value(const cbor::value& v) {
    byte_buffer bytes;
    cbor::encoder(bytes).write(v);
    return make_index_key(bytes);
}
}  // namespace detail

template <typename Traits>
class basic_read_transaction {
public:
    using snapshot_type = detail::snapshot<Traits>;

    explicit basic_read_transaction(std::shared_ptr<detail::engine<Traits>> e)
        : snap_(std::make_shared<const snapshot_type>(std::move(e))) {}

    // The commit sequence this snapshot shows.
    [[nodiscard]] std::uint64_t sequence() const noexcept { return snap_->sequence(); }

    // The entity's canonical CBOR bytes as of the snapshot, or nullopt.
    [[nodiscard]] std::optional<byte_buffer> get(std::string_view collection, const entity_id& id) const {
        const auto c = snap_->cat().find(collection);
        if (!c) return std::nullopt;
        return snap_->get(*c, id);
    }

    // Zero-copy: the entity's bytes inside the mapped segment file (checked like get),
    // valid while this transaction or a copy of it lives. Needs storage whose segments
    // are mapped (file_storage); in-memory segments move as they grow, so use get there.
    [[nodiscard]] std::optional<bytes_view> get_view(std::string_view collection, const entity_id& id) const {
        static_assert(segment_set<typename Traits::segment_factory>::viewable,
                      "entidb: get_view needs segments that can be mapped (entidb::file_storage); "
                      "use get(), which copies, with other storage");
        static_assert(!encrypts_v<Traits>,
                      "entidb: zero-copy views are not offered for encrypted payloads (the mapped bytes are "
                      "ciphertext); use get() or get_into(), which decrypt into your buffer");
        const auto c = snap_->cat().find(collection);
        if (!c) return std::nullopt;
        return snap_->eng().view(*c, id, snap_->sequence());
    }

    // Several entities at once, in the order asked (nullopt where absent).
    [[nodiscard]] std::vector<std::optional<byte_buffer>> get_many(std::string_view collection,
                                                                   std::span<const entity_id> ids) const {
        std::vector<std::optional<byte_buffer>> out;
        out.reserve(ids.size());
        for (const auto& id : ids) out.push_back(get(collection, id));
        return out;
    }

    // Every entity of the collection, in id order: the explicit full scan.
    [[nodiscard]] entity_range<Traits> scan(std::string_view collection) const {
        if (snap_->eng().cfg().forbid_full_scan)
            fail(errc::scan_forbidden, "full scan of '{}' refused: the configuration forbids full scans", collection);
        snap_->eng().count_scan();
        return entity_range<Traits>(snap_, snap_->cat().find(collection));
    }

    // The same entities in storage order (storage_range, txn/snapshot.hpp): no order is
    // promised, and on data larger than the CPU caches it is several times faster. Yields
    // entity_view: each entity's bytes are valid until the iterator moves on. Counted and
    // refused like scan(collection).
    [[nodiscard]] storage_range<Traits> scan(std::string_view collection, storage_order_t) const {
        if (snap_->eng().cfg().forbid_full_scan)
            fail(errc::scan_forbidden, "full scan of '{}' refused: the configuration forbids full scans", collection);
        snap_->eng().count_scan();
        return storage_range<Traits>(snap_, snap_->cat().find(collection));
    }

    // Entities whose field at `path` equals `value` (hash or ordered index), in id order.
    [[nodiscard]] id_range<Traits> find(std::string_view collection, std::string_view path,
                                        const cbor::value& value) const {
        const auto [coll, ix] = index_for(collection, path, std::nullopt);
        if (!ix) return {snap_, coll, {}};
        return {snap_, coll, ix->find(detail::key_of_value(value), sequence())};
    }

    // Entities whose field lies within the bounds (nullopt = unbounded), in field order
    // (ties in id order), or in reverse. Needs an ordered index.
    [[nodiscard]] id_range<Traits> range(std::string_view collection, std::string_view path,
                                         const std::optional<bound>& lo, const std::optional<bound>& hi,
                                         order direction = order::ascending) const {
        const auto [coll, ix] = index_for(collection, path, index_kind::ordered);
        if (!ix) return {snap_, coll, {}};
        auto to_key = [](const std::optional<bound>& b) -> std::optional<key_bound> {
            if (!b) return std::nullopt;
            return key_bound{detail::key_of_value(b->value), b->inclusive};
        };
        return {snap_, coll, ix->range(to_key(lo), to_key(hi), sequence(), direction == order::descending)};
    }

    // Entities whose text field starts with `text`, in field order. Needs an ordered index.
    [[nodiscard]] id_range<Traits> prefix(std::string_view collection, std::string_view path,
                                          std::string_view text) const {
        const auto [coll, ix] = index_for(collection, path, index_kind::ordered);
        if (!ix) return {snap_, coll, {}};
        return {snap_, coll, ix->prefix(make_text_prefix_key(text), sequence())};
    }

    // The best `limit` hits of a full-text query on the text index on `path`, best first
    // (each an entity id and its BM25 score, higher is better; docs/indexes.md, "Full-text
    // indexes"). `syntax` fts5 reads AND, OR, NOT, "phrases", prefix* and parentheses, and
    // fails with errc::invalid_argument and the column for a query it cannot parse; plain
    // takes the words as they are and never fails on them. Needs a text index.
    [[nodiscard]] std::vector<text_hit> search(std::string_view collection, std::string_view path,
                                               std::string_view query, std::size_t limit = 10,
                                               query_syntax syntax = query_syntax::fts5) const {
        const auto [coll, ix] = index_for(collection, path, index_kind::text);
        if (!ix) return {};
        return ix->search(query, syntax, sequence(), limit);
    }

    // Live entities in a collection (walks the primary index, reads no payload).
    [[nodiscard]] std::uint64_t count(std::string_view collection) const {
        const auto c = snap_->cat().find(collection);
        if (!c) return 0;
        std::uint64_t n = 0;
        std::optional<entity_id> last;
        while (auto next = snap_->eng().index().next_live(*c, last ? &*last : nullptr, sequence())) {
            last = next->first;
            ++n;
        }
        return n;
    }

    // Collection names known to the snapshot, sorted.
    [[nodiscard]] std::vector<std::string> collections() const {
        std::vector<std::string> out;
        for (const auto& [name, id] : snap_->cat().names()) out.push_back(name);
        return out;
    }

    // Whether `collection` has an index on `path` (of `kind`, if given) in this snapshot.
    [[nodiscard]] bool has_index(std::string_view collection, std::string_view path,
                                 std::optional<index_kind> kind = {}) const {
        const auto c = snap_->cat().find(collection);
        return c && snap_->cat().index_on(*c, parse_field_path(path), kind) != nullptr;
    }

    // The bytes the index on `path` holds in memory, by capacity, at the newest state rather
    // than this snapshot's (each kind's memory_bytes: docs/indexes.md, "Memory"); 0 when the
    // collection does not exist, errc::no_such_index when it has no index on `path`. For
    // sizing: it is not counted as an index lookup.
    [[nodiscard]] std::size_t index_memory_bytes(std::string_view collection, std::string_view path) const {
        const auto ix = declared_index(collection, path, std::nullopt).index;
        return ix ? ix->memory_bytes() : 0;
    }

private:
    struct located {
        std::uint32_t collection;               // 0 when the collection does not exist
        std::shared_ptr<secondary_index> index;  // null only when the collection does not exist
    };

    // The index an access path reads, counted as an index lookup.
    located index_for(std::string_view collection, std::string_view path,
                      std::optional<index_kind> kind) const {
        auto found = declared_index(collection, path, kind);
        if (found.index) snap_->eng().count_index_lookup();
        return found;
    }

    located declared_index(std::string_view collection, std::string_view path,
                           std::optional<index_kind> kind) const {
        const auto fields = parse_field_path(path);
        const auto c = snap_->cat().find(collection);
        if (!c) return {0, nullptr};
        auto ix = snap_->cat().index_on(*c, fields, kind);
        if (!ix)
            fail(errc::no_such_index, "collection '{}' has no {}index on '{}' (declare one, or use scan())",
                 collection, kind ? fmt::format("{} ", to_string(*kind)) : std::string(), path);
        return {*c, std::move(ix)};
    }

    std::shared_ptr<const snapshot_type> snap_;
};

template <typename Traits>
class basic_write_transaction {
public:
    basic_write_transaction(std::shared_ptr<detail::engine<Traits>> e, std::unique_lock<std::mutex> writer)
        : writer_(std::move(writer)), snap_(std::make_shared<const detail::snapshot<Traits>>(std::move(e))) {
        snap_->eng().ensure_writable();
    }
    basic_write_transaction(basic_write_transaction&& other) noexcept
        : writer_(std::move(other.writer_)), snap_(other.snap_), w_(std::move(other.w_)), done_(other.done_) {
        other.done_ = true;
    }
    basic_write_transaction& operator=(basic_write_transaction&&) = delete;
    basic_write_transaction(const basic_write_transaction&) = delete;

    // The commit sequence this transaction started from.
    [[nodiscard]] std::uint64_t sequence() const noexcept { return snap_->sequence(); }

    // Stores `cbor` (canonical CBOR, at most config::max_entity_bytes) as the entity.
    void put(std::string_view collection, const entity_id& id, bytes_view cbor) {
        check_open();
        const auto limit = snap_->eng().cfg().max_entity_bytes;
        if (cbor.size() > limit)
            fail(errc::too_large, "entity of {} bytes exceeds max_entity_bytes ({})", cbor.size(), limit);
        cbor::validate(cbor);
        w_.ops.put({collection_id_for_write(collection), id}, cbor);
    }

    // Stores a CBOR value (encoded canonically by the streaming encoder).
    void put(std::string_view collection, const entity_id& id, const cbor::value& v) {
        byte_buffer bytes;
        cbor::encoder(bytes).write(v);
        put(collection, id, bytes);
    }

    // Deletes the entity; returns false (and writes nothing) if it does not exist.
    bool remove(std::string_view collection, const entity_id& id) {
        check_open();
        const auto c = existing_collection(collection);
        if (!c) return false;
        const detail::entity_key key{*c, id};
        const bool in_db = snap_->eng().exists_newest(*c, id);
        const auto op = w_.ops.find(key);
        const bool visible = op ? !op->tombstone : in_db;
        if (!visible) return false;
        if (in_db)
            w_.ops.remove(key);
        else
            w_.ops.drop(key);  // put earlier in this transaction only
        return true;
    }

    // The entity as this transaction sees it (its own writes first).
    [[nodiscard]] std::optional<byte_buffer> get(std::string_view collection, const entity_id& id) const {
        check_open();
        const auto c = existing_collection(collection);
        if (!c) return std::nullopt;
        if (const auto op = w_.ops.find({*c, id})) {
            if (op->tombstone) return std::nullopt;
            return byte_buffer(op->payload.begin(), op->payload.end());
        }
        return snap_->eng().get_newest(*c, id);
    }

    // Makes the writes durable and visible; returns the commit sequence (the current one
    // if nothing was written). After an exception other than errc::outcome_unknown
    // nothing was committed.
    std::uint64_t commit() {
        check_open();
        done_ = true;
        try {
            w_.ops.seal();
            const auto seq = snap_->eng().commit(w_, writer_);
            release();
            return seq;
        } catch (...) {
            release();  // a failed commit ends the transaction: the next writer may begin
            throw;
        }
    }

    // Drops every write of this transaction.
    void abort() noexcept {
        done_ = true;
        release();
    }

    ~basic_write_transaction() { abort(); }

private:
    void check_open() const {
        if (done_) fail(errc::closed, "the write transaction has already committed or aborted");
    }
    void release() noexcept {
        w_.ops.clear();
        if (writer_.owns_lock()) writer_.unlock();
    }

    std::optional<std::uint32_t> existing_collection(std::string_view name) const {
        if (auto c = snap_->cat().find(name)) return c;
        for (const auto& [n, id] : w_.new_collections)
            if (n == name) return id;
        return std::nullopt;
    }

    std::uint32_t collection_id_for_write(std::string_view name) {
        if (auto c = existing_collection(name)) return *c;
        check_collection_name(name);
        const auto id = static_cast<std::uint32_t>(snap_->eng().next_collection_id() + w_.new_collections.size());
        w_.new_collections.emplace_back(std::string(name), id);
        return id;
    }

    std::unique_lock<std::mutex> writer_;
    std::shared_ptr<const detail::snapshot<Traits>> snap_;
    detail::pending_write w_;
    bool done_ = false;
};

}  // namespace v1
}  // namespace entidb
