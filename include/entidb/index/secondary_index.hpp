// entidb/index/secondary_index.hpp — one secondary index of an open database, whatever its
// kind: the type-erased handle the catalog, transactions and commits hold.
//
// A database learns its indexes' kinds at run time (the MANIFEST), so each index is an
// index_model<I> of a kind I that models index_implementation (index_implementation.hpp),
// made by make_secondary_index (index_kinds.hpp). Lookups a kind lacks (range and prefix
// on a kind that is not ordered, search on one that is not searchable) are refused with
// errc::invalid_argument; the transaction layer only asks a kind that has them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../index_kind.hpp"
#include "index_implementation.hpp"
#include "index_key.hpp"
#include "postings.hpp"
#include "text_index.hpp"

namespace entidb {
inline namespace v1 {

class secondary_index {
public:
    secondary_index() = default;
    secondary_index(const secondary_index&) = delete;
    secondary_index& operator=(const secondary_index&) = delete;
    virtual ~secondary_index() = default;

    [[nodiscard]] virtual const format::manifest_index& definition() const noexcept = 0;
    [[nodiscard]] virtual bool ordered() const noexcept = 0;
    [[nodiscard]] virtual bool searchable() const noexcept = 0;
    [[nodiscard]] bool unique() const noexcept { return definition().unique; }

    // The key an entity with this payload has, or nullopt if the field is absent.
    [[nodiscard]] virtual std::optional<index_key> key_of(bytes_view payload) const = 0;

    // ---- the writer ----
    // The entity has `key` from `from` on; `oldest_snapshot` (the oldest snapshot still
    // readable, or 0 when not known) lets a kind that keeps a log of changes trim it.
    virtual void add(const index_key& key, const entity_id& id, std::uint64_t from, std::uint64_t oldest_snapshot = 0) = 0;
    // A bulk build (one add per live entity, in id order) has ended: a kind may give back
    // the room it reserved while growing.
    virtual void built() = 0;
    // Ends the entity's posting under `key` at sequence `at`; what no snapshot at or above
    // `oldest_snapshot` can see may be dropped.
    virtual void remove(const index_key& key, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) = 0;

    // ---- readers ----
    // Entities with exactly `key` at `snapshot`, in id order.
    [[nodiscard]] virtual std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const = 0;
    // Ordered kinds: entities whose key lies within the bounds, in key order, or in reverse.
    [[nodiscard]] virtual std::vector<entity_id> range(const std::optional<key_bound>& lo,
                                                       const std::optional<key_bound>& hi, std::uint64_t snapshot,
                                                       bool reverse = false) const = 0;
    // Ordered kinds: entities whose key starts with `prefix`, in key order.
    [[nodiscard]] virtual std::vector<entity_id> prefix(const index_key& prefix, std::uint64_t snapshot) const = 0;
    // Searchable kinds: the best `limit` hits of a full-text query, best first.
    [[nodiscard]] virtual std::vector<text_hit> search(std::string_view query, query_syntax syntax,
                                                       std::uint64_t snapshot, std::size_t limit) const = 0;
    // How many (key, entity) entries `snapshot` sees (verify compares it with a scan).
    [[nodiscard]] virtual std::uint64_t entry_count(std::uint64_t snapshot) const = 0;
    // Live holders of `key` at the newest state (unique checks, under the writer lock).
    [[nodiscard]] virtual std::vector<entity_id> live_holders(const index_key& key) const = 0;
    // Bytes the index holds (docs/indexes.md, "Memory").
    [[nodiscard]] virtual std::size_t memory_bytes() const = 0;
};

// An index of kind I behind the handle.
template <index_implementation I>
class index_model final : public secondary_index {
public:
    explicit index_model(format::manifest_index def) : impl_(std::move(def)) {}

    [[nodiscard]] const I& implementation() const noexcept { return impl_; }

    [[nodiscard]] const format::manifest_index& definition() const noexcept override { return impl_.definition(); }
    [[nodiscard]] bool ordered() const noexcept override { return index_is_ordered<I>; }
    [[nodiscard]] bool searchable() const noexcept override { return index_is_searchable<I>; }
    [[nodiscard]] std::optional<index_key> key_of(bytes_view payload) const override { return impl_.key_of(payload); }
    void add(const index_key& key, const entity_id& id, std::uint64_t from, std::uint64_t oldest_snapshot = 0) override {
        if constexpr (requires { impl_.add(key, id, from, oldest_snapshot); }) impl_.add(key, id, from, oldest_snapshot);
        else impl_.add(key, id, from);
    }
    // The bulk build that fills a new index has ended (open, declare_index).
    void built() override {
        if constexpr (requires { impl_.built(); }) impl_.built();
    }
    void remove(const index_key& key, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) override {
        impl_.remove(key, id, at, oldest_snapshot);
    }
    [[nodiscard]] std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const override {
        return impl_.find(key, snapshot);
    }
    [[nodiscard]] std::vector<entity_id> range(const std::optional<key_bound>& lo, const std::optional<key_bound>& hi,
                                               std::uint64_t snapshot, bool reverse) const override {
        if constexpr (index_is_ordered<I>) {
            return index_range(impl_, lo, hi, snapshot, reverse);
        } else {
            refuse_ordered_lookup("range");
        }
    }
    [[nodiscard]] std::vector<entity_id> prefix(const index_key& prefix, std::uint64_t snapshot) const override {
        if constexpr (index_is_ordered<I>) {
            return index_prefix(impl_, prefix, snapshot);
        } else {
            refuse_ordered_lookup("prefix");
        }
    }
    [[nodiscard]] std::vector<text_hit> search(std::string_view query, query_syntax syntax, std::uint64_t snapshot,
                                               std::size_t limit) const override {
        if constexpr (index_is_searchable<I>) {
            return impl_.search(query, syntax, snapshot, limit);
        } else {
            fail(errc::invalid_argument, "a search needs a text index; index {} is a {} index", definition().id,
                 to_string(I::kind));
        }
    }
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t snapshot) const override {
        return impl_.entry_count(snapshot);
    }
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key& key) const override {
        return impl_.live_holders(key);
    }
    [[nodiscard]] std::size_t memory_bytes() const override { return impl_.memory_bytes(); }

private:
    [[noreturn]] void refuse_ordered_lookup(std::string_view what) const {
        fail(errc::invalid_argument, "a {} lookup needs an ordered index; index {} is a {} index", what,
             definition().id, to_string(I::kind));
    }

    I impl_;
};

}  // namespace v1
}  // namespace entidb
