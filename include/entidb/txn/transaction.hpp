// entidb/txn/transaction.hpp — read and write transactions.
//
// `read_transaction`: a snapshot as of its start (the last published commit sequence). It
// has no way to write: the type has no mutating member. Any number may be open, on any
// threads, while a writer commits; they never see a partial commit.
//
// `write_transaction`: the single writer. It holds the database's writer lock from begin
// to commit/abort (SPEC.md §5: one writer, enforced at begin). It sees the snapshot it
// began on plus its own writes. Writes are validated when made — size first (errc::
// too_large, before the bytes are even read), then canonical CBOR (errc::invalid_cbor /
// errc::non_canonical) — so nothing invalid ever reaches the WAL. Destroying an
// uncommitted write transaction aborts it; nothing of it reaches disk.
//
// Both keep the database's engine alive; use them from one thread at a time each.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "../cbor/encoder.hpp"
#include "../cbor/reader.hpp"
#include "../detail/engine.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {

// One entity as a scan yields it.
struct stored_entity {
    entity_id id;
    byte_buffer bytes;  // canonical CBOR
};

// A lazy, id-ordered range over one collection at one snapshot. Each step looks the next
// key up under a short shared lock and reads its payload from the segment.
template <typename Traits>
class entity_range {
public:
    class iterator {
    public:
        using value_type = stored_entity;
        using difference_type = std::ptrdiff_t;
        using reference = const stored_entity&;

        iterator() = default;
        const stored_entity& operator*() const noexcept { return current_; }
        const stored_entity* operator->() const noexcept { return &current_; }
        iterator& operator++() {
            step(&current_.id);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.done_; }

    private:
        friend class entity_range;
        iterator(const entity_range* range) : range_(range) { step(nullptr); }

        void step(const entity_id* after) {
            const auto next = range_->engine_->index().next_live(range_->collection_, after, range_->snapshot_);
            if (!next) {
                done_ = true;
                return;
            }
            current_.bytes = range_->engine_->read_payload(range_->collection_, next->first, next->second);
            current_.id = next->first;
            done_ = false;
        }

        const entity_range* range_ = nullptr;
        stored_entity current_{};
        bool done_ = true;
    };

    entity_range(std::shared_ptr<detail::engine<Traits>> e, std::optional<std::uint32_t> collection,
                 std::uint64_t snapshot)
        : engine_(std::move(e)), collection_(collection.value_or(0)), snapshot_(snapshot) {}

    [[nodiscard]] iterator begin() const { return collection_ == 0 ? iterator{} : iterator(this); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<detail::engine<Traits>> engine_;
    std::uint32_t collection_;  // 0: the collection does not exist (ids start at 1)
    std::uint64_t snapshot_;
};

namespace detail {

// What read and write transactions share: a snapshot registered with the engine.
template <typename Traits>
class snapshot_holder {
public:
    explicit snapshot_holder(std::shared_ptr<engine<Traits>> e)
        : engine_(std::move(e)),
          handle_(engine_->snapshots().add(engine_->published_sequence())),
          sequence_(*handle_),
          catalog_(engine_->catalog_snapshot()) {}
    snapshot_holder(const snapshot_holder&) = delete;
    snapshot_holder& operator=(const snapshot_holder&) = delete;
    ~snapshot_holder() { engine_->snapshots().remove(handle_); }

    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }

    [[nodiscard]] std::optional<byte_buffer> get(std::string_view collection, const entity_id& id) const {
        const auto c = catalog_->find(collection);
        if (!c) return std::nullopt;
        return engine_->get(*c, id, sequence_);
    }

    [[nodiscard]] entity_range<Traits> scan(std::string_view collection) const {
        if (engine_->cfg().forbid_full_scan)
            fail(errc::scan_forbidden, "full scan of '{}' refused: the configuration forbids full scans",
                 collection);
        engine_->count_scan();
        return entity_range<Traits>(engine_, catalog_->find(collection), sequence_);
    }

    // Live entities of the collection at the snapshot (walks the index, reads no payload).
    [[nodiscard]] std::uint64_t count(std::string_view collection) const {
        const auto c = catalog_->find(collection);
        if (!c) return 0;
        std::uint64_t n = 0;
        std::optional<entity_id> last;
        while (auto next = engine_->index().next_live(*c, last ? &*last : nullptr, sequence_)) {
            last = next->first;
            ++n;
        }
        return n;
    }

    [[nodiscard]] std::vector<std::string> collections() const {
        std::vector<std::string> out;
        for (const auto& [name, id] : catalog_->names()) out.push_back(name);
        return out;
    }

protected:
    std::shared_ptr<engine<Traits>> engine_;
    snapshot_registry::handle handle_;
    std::uint64_t sequence_;
    std::shared_ptr<const catalog> catalog_;
};

}  // namespace detail

template <typename Traits>
class basic_read_transaction : private detail::snapshot_holder<Traits> {
    using base = detail::snapshot_holder<Traits>;

public:
    explicit basic_read_transaction(std::shared_ptr<detail::engine<Traits>> e) : base(std::move(e)) {}

    // The commit sequence this snapshot shows.
    using base::sequence;
    // The entity's canonical CBOR bytes as of the snapshot, or nullopt.
    using base::get;
    // Every entity of the collection, in id order (an explicit full scan: counted, and
    // errc::scan_forbidden when the configuration forbids it).
    using base::scan;
    // Collection names known to the snapshot, sorted.
    using base::collections;
    // Live entities in a collection (from the index; not a full scan of payloads).
    using base::count;
};

template <typename Traits>
class basic_write_transaction : private detail::snapshot_holder<Traits> {
    using base = detail::snapshot_holder<Traits>;

public:
    basic_write_transaction(std::shared_ptr<detail::engine<Traits>> e, std::unique_lock<std::mutex> writer)
        : base(std::move(e)), writer_(std::move(writer)) {
        this->engine_->ensure_writable();
    }
    basic_write_transaction(basic_write_transaction&&) = delete;

    using base::sequence;

    // Stores `cbor` (canonical CBOR, at most config::max_entity_bytes) as the entity.
    void put(std::string_view collection, const entity_id& id, bytes_view cbor) {
        check_open();
        const auto limit = this->engine_->cfg().max_entity_bytes;
        if (cbor.size() > limit)
            fail(errc::too_large, "entity of {} bytes exceeds max_entity_bytes ({})", cbor.size(), limit);
        cbor::validate(cbor);
        w_.ops[{collection_id_for_write(collection), id}] = {false, byte_buffer(cbor.begin(), cbor.end())};
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
        const bool in_db = this->engine_->index().find(*c, id, this->sequence_).has_value() &&
                           !this->engine_->index().find(*c, id, this->sequence_)->tombstone;
        const auto it = w_.ops.find(key);
        const bool visible = it != w_.ops.end() ? !it->second.tombstone : in_db;
        if (!visible) return false;
        if (in_db)
            w_.ops[key] = {true, {}};
        else
            w_.ops.erase(key);  // put earlier in this transaction only
        return true;
    }

    // The entity as this transaction sees it (its own writes first).
    [[nodiscard]] std::optional<byte_buffer> get(std::string_view collection, const entity_id& id) const {
        check_open();
        if (const auto c = existing_collection(collection)) {
            const auto it = w_.ops.find({*c, id});
            if (it != w_.ops.end()) {
                if (it->second.tombstone) return std::nullopt;
                return it->second.payload;
            }
        }
        return base::get(collection, id);
    }

    // Makes the writes durable and visible; returns the commit sequence. After an
    // exception other than errc::outcome_unknown nothing was committed.
    std::uint64_t commit() {
        check_open();
        done_ = true;
        const auto seq = this->engine_->commit(w_);
        release();
        return seq;
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
        if (auto c = this->catalog_->find(name)) return c;
        for (const auto& [n, id] : w_.new_collections)
            if (n == name) return id;
        return std::nullopt;
    }

    std::uint32_t collection_id_for_write(std::string_view name) {
        if (auto c = existing_collection(name)) return *c;
        if (name.empty() || name.size() > 0xFFFF)
            fail(errc::invalid_argument, "a collection name must have 1 to 65535 bytes (got {})", name.size());
        const auto id = static_cast<std::uint32_t>(this->engine_->next_collection_id() + w_.new_collections.size());
        w_.new_collections.emplace_back(std::string(name), id);
        return id;
    }

    std::unique_lock<std::mutex> writer_;
    detail::pending_write w_;
    bool done_ = false;
};

}  // namespace v1
}  // namespace entidb
