// entidb/txn/snapshot.hpp — a registered snapshot and the lazy ranges that read from it.
//
// A `snapshot` pins one commit sequence: while it lives, the writer keeps every version
// it can see. Transactions and the ranges they return share it (std::shared_ptr), so a
// range stays valid — and consistent — even after the transaction object is gone.
//
// `entity_range` (a full scan, in id order) and `id_range` (the result of an index
// access path) are input ranges of `stored_entity`; they compose with std::views. Each
// step reads one payload from its segment (checked: CRC and key). `storage_range` (a full
// scan in storage order) yields `entity_view`s instead: the payload is not copied.
//
// Thread-safety: a snapshot may be shared by threads; an iterator belongs to one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "../core/engine.hpp"
#include "../entity_id.hpp"

namespace entidb {
inline namespace v1 {

// One entity as a range yields it.
struct stored_entity {
    entity_id id;
    byte_buffer bytes;  // canonical CBOR
};

// One entity as a scan in storage order yields it: its bytes are not copied. They are
// valid until the iterator that yielded it (or any copy of that iterator: copies share one
// position) is incremented or destroyed. They often point into the segment's mapping,
// but that is not promised (in-memory storage, and a scan that fell back to id order,
// read through a buffer that the next step reuses): copy what must outlive the step.
struct entity_view {
    entity_id id;
    bytes_view bytes;  // canonical CBOR
};

namespace detail {

template <typename Traits>
class snapshot {
public:
    explicit snapshot(std::shared_ptr<engine<Traits>> e)
        : engine_(std::move(e)),
          handle_(engine_->snapshots().add(engine_->published_sequence())),
          sequence_(handle_->first),
          catalog_(engine_->catalog_snapshot()) {}
    snapshot(const snapshot&) = delete;
    snapshot& operator=(const snapshot&) = delete;
    ~snapshot() { engine_->snapshots().remove(handle_); }

    [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
    [[nodiscard]] engine<Traits>& eng() const noexcept { return *engine_; }
    [[nodiscard]] const catalog& cat() const noexcept { return *catalog_; }

    [[nodiscard]] std::optional<byte_buffer> get(std::uint32_t collection, const entity_id& id) const {
        return engine_->get(collection, id, sequence_);
    }

    // The payload into `out` (its capacity reused); false if the entity is not visible.
    bool read_into(std::uint32_t collection, const entity_id& id, byte_buffer& out) const {
        const auto v = engine_->index().find(collection, id, sequence_);
        if (!v || v->tombstone) return false;
        engine_->read_payload_into(collection, id, *v, out);
        return true;
    }

private:
    std::shared_ptr<engine<Traits>> engine_;
    snapshot_registry::handle handle_;
    std::uint64_t sequence_;
    std::shared_ptr<const catalog> catalog_;
};

}  // namespace detail

template <typename Traits>
class storage_range;

namespace detail {

// What every whole-collection range shares: its snapshot, its collection, and a begin()
// that is already the end when the collection does not exist. Range is the derived range,
// whose iterator is built from the two.
template <typename Range, typename Traits>
class collection_view : public std::ranges::view_base {
public:
    collection_view() = default;
    collection_view(std::shared_ptr<const snapshot<Traits>> s, std::optional<std::uint32_t> collection)
        : snap_(std::move(s)), collection_(collection.value_or(0)) {}

    [[nodiscard]] auto begin() const {
        using iterator = typename Range::iterator;
        return collection_ == 0 ? iterator{} : iterator(snap_, collection_);
    }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<const snapshot<Traits>> snap_;
    std::uint32_t collection_ = 0;  // 0: the collection does not exist (ids start at 1)
};

}  // namespace detail

// Every live entity of one collection at a snapshot, in id order.
template <typename Traits>
class entity_range : public detail::collection_view<entity_range<Traits>, Traits> {
public:
    class iterator {
    public:
        using value_type = stored_entity;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        const stored_entity& operator*() const noexcept { return current_; }
        const stored_entity* operator->() const noexcept { return &current_; }
        iterator& operator++() {
            if (++pos_ >= batch_.size()) fetch(&batch_.back().first);
            load();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.done_; }

    private:
        friend class detail::collection_view<entity_range, Traits>;
        friend class storage_range<Traits>;  // its fallback
        static constexpr std::size_t batch_size = 64;

        iterator(std::shared_ptr<const detail::snapshot<Traits>> s, std::uint32_t collection)
            : snap_(std::move(s)), collection_(collection) {
            batch_.reserve(batch_size);
            if constexpr (viewable) views_.reserve(batch_size);
            fetch(nullptr);
            load();
        }

        // The next ids and versions, one index lock for a batch; the payloads are read
        // one at a time, into the one buffer (from views of the batch's records, found under
        // one segment-table lock, when segments are mapped).
        void fetch(const entity_id* after) {
            const entity_id last = after ? *after : entity_id{};
            snap_->eng().index().next_live_batch(collection_, after ? &last : nullptr, snap_->sequence(), batch_,
                                                 batch_size);
            pos_ = 0;
            if constexpr (viewable) snap_->eng().record_views(batch_, views_);
        }
        void load() {
            done_ = batch_.empty();
            if (done_) return;
            const auto& [id, version] = batch_[pos_];
            if constexpr (viewable) {
                snap_->eng().read_payload_into(collection_, id, version, views_[pos_], current_.bytes);
            } else {
                snap_->eng().read_payload_into(collection_, id, version, current_.bytes);
            }
            current_.id = id;
        }

        static constexpr bool viewable = segment_set<typename Traits::segment_factory>::viewable;

        std::shared_ptr<const detail::snapshot<Traits>> snap_;
        std::uint32_t collection_ = 0;
        std::vector<std::pair<entity_id, entity_version>> batch_;
        std::vector<bytes_view> views_;  // of batch_'s records, when segments are mapped
        std::size_t pos_ = 0;
        stored_entity current_{};
        bool done_ = true;
    };

    using detail::collection_view<entity_range, Traits>::collection_view;
};

// Selects scan(collection, in_storage_order): the entities in the order their records lie
// in the segment files, not in id order.
struct storage_order_t {
    explicit constexpr storage_order_t() = default;
};
inline constexpr storage_order_t in_storage_order{};

// Every live entity of one collection at a snapshot, each once, in storage order (roughly
// commit order; no order is promised), as entity_view: no copy of the payloads. It walks
// the segment files front to back through their mapping, checking every record, and takes
// the put records its snapshot can see: in a segment none of whose put records has been
// superseded (primary_index's count) each such record is current, so it needs no index
// lookup; elsewhere the index says whether a record is the version the snapshot sees.
// Sequential reads, no index walk: much faster than id order when the data do not fit in
// the CPU caches. While a compaction runs the scan walks the index instead (in id order),
// and a compaction waits, at most compact_options::scan_wait, for the storage-order scans
// that are open (engine::begin_storage_scan), then fails with errc::busy. A damaged
// record is errc::corruption, raised again by every later step (never a silent skip past
// it).
template <typename Traits>
class storage_range : public detail::collection_view<storage_range<Traits>, Traits> {
    using engine_type = detail::engine<Traits>;

public:
    class iterator {
    public:
        using value_type = entity_view;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        const entity_view& operator*() const noexcept { return s_->current(); }
        const entity_view* operator->() const noexcept { return &s_->current(); }
        iterator& operator++() {
            s_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.s_ || it.s_->done(); }

    private:
        friend class detail::collection_view<storage_range, Traits>;

        // A registration with the engine (begin_storage_scan), ended by its destructor: as
        // a member it is also ended when a later part of the state's construction throws
        // (a damaged first record), which would otherwise leave every compaction waiting.
        class registration {
        public:
            explicit registration(engine_type& e) : e_(e), held_(e.begin_storage_scan()) {}
            registration(const registration&) = delete;
            registration& operator=(const registration&) = delete;
            ~registration() {
                if (held_) e_.end_storage_scan();
            }
            explicit operator bool() const noexcept { return held_; }

        private:
            engine_type& e_;
            bool held_;
        };

        // Shared by an iterator's copies: one registration, one position.
        class state {
        public:
            state(std::shared_ptr<const detail::snapshot<Traits>> snap, std::uint32_t collection)
                : snap_(std::move(snap)), collection_(collection), storage_order_(snap_->eng()) {
                if (!storage_order_) {
                    by_id_ = typename entity_range<Traits>::iterator(snap_, collection_);
                    take_by_id();
                    return;
                }
                auto& e = snap_->eng();
                records_.emplace(e.segments_for_scan(), e.cfg().read_chunk_bytes, e.directory(),
                                 "scanning in storage order");
                std::vector<std::uint32_t> numbers;
                for (const auto& seg : records_->table()) numbers.push_back(seg.number);
                e.index().superseded(numbers, superseded_);
                next_in_storage_order();
            }
            state(const state&) = delete;
            state& operator=(const state&) = delete;

            [[nodiscard]] const entity_view& current() const noexcept { return current_; }
            [[nodiscard]] bool done() const noexcept { return done_; }

            void advance() {
                current_ = {};  // nothing stale to read if the step throws
                if (by_id_) {
                    ++*by_id_;
                    take_by_id();
                } else {
                    next_in_storage_order();
                }
            }

        private:
            // The fallback's entity, as a view of the id-order iterator's buffer.
            void take_by_id() {
                done_ = *by_id_ == std::default_sentinel;
                if (!done_) current_ = {(*by_id_)->id, (*by_id_)->bytes};
            }

            // The next record the snapshot sees as its collection's live version. Errors
            // come from the cursor, which raises a bad record's corruption on every call.
            void next_in_storage_order() {
                const auto& e = snap_->eng();
                const std::uint64_t seq = snap_->sequence();
                while (const auto* r = records_->next()) {
                    if (r->collection_id != collection_ || r->sequence > seq || r->tombstone()) continue;
                    if (superseded_[records_->segment_index()] != 0) {
                        const auto v = e.index().find(collection_, r->id, seq);
                        if (!v || v->tombstone || !(v->location == records_->location())) continue;
                    }
                    if constexpr (engine_type::encrypts) {  // the view is of the opened copy
                        const auto at = records_->location();
                        e.codec().open(*r, [&] { return e.error_place(at); }, plain_);
                        current_ = {r->id, plain_};
                    } else {
                        current_ = {r->id, r->payload};
                    }
                    return;
                }
                done_ = true;
            }

            std::shared_ptr<const detail::snapshot<Traits>> snap_;
            std::uint32_t collection_;
            registration storage_order_;  // before records_: ended after it, and if it throws
            std::optional<typename entity_range<Traits>::iterator> by_id_;  // the fallback
            std::optional<detail::segment_cursor<typename Traits::segment_factory>> records_;
            std::vector<std::uint64_t> superseded_;  // per entry of records_->table()
            entity_view current_{};
            byte_buffer plain_;  // an encrypted database's current entity, opened
            bool done_ = false;
        };

        iterator(std::shared_ptr<const detail::snapshot<Traits>> s, std::uint32_t collection)
            : s_(std::make_shared<state>(std::move(s), collection)) {}

        std::shared_ptr<state> s_;
    };

    using detail::collection_view<storage_range, Traits>::collection_view;
};

// The entities an index access path found, in the path's order, read at the snapshot.
template <typename Traits>
class id_range : public std::ranges::view_base {
public:
    class iterator {
    public:
        using value_type = stored_entity;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        const stored_entity& operator*() const noexcept { return current_; }
        const stored_entity* operator->() const noexcept { return &current_; }
        iterator& operator++() {
            ++pos_;
            load();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return !it.ids_ || it.pos_ >= it.ids_->size();
        }

    private:
        friend class id_range;
        explicit iterator(const id_range& r) : snap_(r.snap_), collection_(r.collection_), ids_(r.ids_) { load(); }
        void load() {
            for (; pos_ < ids_->size(); ++pos_) {
                const auto& id = (*ids_)[pos_];
                if (snap_->read_into(collection_, id, current_.bytes)) {
                    current_.id = id;
                    return;
                }
            }
        }
        std::shared_ptr<const detail::snapshot<Traits>> snap_;
        std::uint32_t collection_ = 0;
        std::shared_ptr<const std::vector<entity_id>> ids_;
        std::size_t pos_ = 0;
        stored_entity current_{};
    };

    id_range() = default;
    id_range(std::shared_ptr<const detail::snapshot<Traits>> s, std::uint32_t collection, std::vector<entity_id> ids)
        : snap_(std::move(s)), collection_(collection), ids_(std::make_shared<const std::vector<entity_id>>(std::move(ids))) {}

    [[nodiscard]] iterator begin() const { return iterator(*this); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }
    // The ids found, without reading any payload.
    [[nodiscard]] const std::vector<entity_id>& ids() const noexcept { return *ids_; }
    [[nodiscard]] std::size_t size() const noexcept { return ids_->size(); }
    [[nodiscard]] bool empty() const noexcept { return ids_->empty(); }

private:
    std::shared_ptr<const detail::snapshot<Traits>> snap_;
    std::uint32_t collection_ = 0;
    std::shared_ptr<const std::vector<entity_id>> ids_ = std::make_shared<const std::vector<entity_id>>();
};

}  // namespace v1
}  // namespace entidb
