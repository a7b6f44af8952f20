// entidb/index/field_index.hpp — what the hash and the ordered kind share: one field's value
// as the key (the MANIFEST entry's path, make_index_key) and MVCC postings (postings.hpp).
// A kind derives from it and adds its traits and the lookups it promises
// (index_implementation.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../cbor/reader.hpp"
#include "../entity_id.hpp"
#include "../format/manifest.hpp"
#include "index_key.hpp"
#include "postings.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class field_index {
public:
    explicit field_index(format::manifest_index def) : def_(std::move(def)) {
        path_views_.assign(def_.path.begin(), def_.path.end());
    }
    field_index(const field_index&) = delete;
    field_index& operator=(const field_index&) = delete;

    [[nodiscard]] const format::manifest_index& definition() const noexcept { return def_; }

    // The key an entity with this payload has, or nullopt if the field is absent.
    [[nodiscard]] std::optional<index_key> key_of(bytes_view payload) const {
        const auto field = cbor::find_path(payload, std::span<const std::string_view>(path_views_));
        if (!field) return std::nullopt;
        return make_index_key(*field);
    }

    // Adds to an empty index are its bulk build (postings.hpp).
    void add(const index_key& key, const entity_id& id, std::uint64_t from) { postings_.add(key, id, from); }
    void remove(const index_key& key, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) {
        postings_.remove(key, id, at, oldest_snapshot);
    }
    [[nodiscard]] std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const {
        return postings_.find(key, snapshot);
    }
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key& key) const { return postings_.live_holders(key); }
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t snapshot) const { return postings_.entry_count(snapshot); }
    [[nodiscard]] std::size_t memory_bytes() const { return postings_.memory_bytes(); }

protected:
    posting_list postings_;

private:
    format::manifest_index def_;
    std::vector<std::string_view> path_views_;  // views into def_.path
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
