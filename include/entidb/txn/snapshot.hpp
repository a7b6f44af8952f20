// entidb/txn/snapshot.hpp — a registered snapshot and the lazy ranges that read from it.
//
// A `snapshot` pins one commit sequence: while it lives, the writer keeps every version
// it can see. Transactions and the ranges they return share it (std::shared_ptr), so a
// range stays valid — and consistent — even after the transaction object is gone.
//
// `entity_range` (a full scan, in id order) and `id_range` (the result of an index
// access path) are input ranges of `stored_entity`; they compose with std::views. Each
// step reads one payload from its segment (checked: CRC and key).
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

#include "../detail/engine.hpp"
#include "../entity_id.hpp"

namespace entidb {
inline namespace v1 {

// One entity as a range yields it.
struct stored_entity {
    entity_id id;
    byte_buffer bytes;  // canonical CBOR
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

// Every live entity of one collection at a snapshot, in id order.
template <typename Traits>
class entity_range : public std::ranges::view_base {
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
        friend class entity_range;
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

    entity_range() = default;
    entity_range(std::shared_ptr<const detail::snapshot<Traits>> s, std::optional<std::uint32_t> collection)
        : snap_(std::move(s)), collection_(collection.value_or(0)) {}

    [[nodiscard]] iterator begin() const { return collection_ == 0 ? iterator{} : iterator(snap_, collection_); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<const detail::snapshot<Traits>> snap_;
    std::uint32_t collection_ = 0;  // 0: the collection does not exist (ids start at 1)
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
