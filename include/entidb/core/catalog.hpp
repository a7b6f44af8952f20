// entidb/core/catalog.hpp — collections and secondary indexes, as the MANIFEST records them.
//
// Readers take an immutable snapshot (a shared_ptr to a const catalog) so a lookup never
// races a writer that adds a collection or an index; the writer publishes a new catalog
// after the MANIFEST naming the addition is durable. Index objects are shared between
// catalog versions: they carry their own snapshot visibility (postings by sequence).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../format/manifest.hpp"
#include "../index/secondary_index.hpp"
#include "../index_kind.hpp"
#include "index_set.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class catalog {
public:
    catalog() = default;
    catalog(const format::manifest& m, index_set indexes)
        : indexes_(std::move(indexes)), schema_(m.extension.schema) {
        for (const auto& c : m.collections) by_name_.emplace(c.name, c.id);
    }

    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view name) const {
        const auto it = by_name_.find(name);
        if (it == by_name_.end()) return std::nullopt;
        return it->second;
    }
    [[nodiscard]] const std::map<std::string, std::uint32_t, std::less<>>& names() const noexcept {
        return by_name_;
    }
    [[nodiscard]] std::string name_of(std::uint32_t id) const {
        for (const auto& [name, cid] : by_name_)
            if (cid == id) return name;
        return {};
    }

    [[nodiscard]] const index_set& indexes() const noexcept { return indexes_; }
    // The schema version and migrations applied (docs/migrations.md), if any: a backup carries them.
    [[nodiscard]] const std::optional<format::manifest_schema>& schema() const noexcept { return schema_; }

    // The index of `collection` on `path` (any kind when `kind` is empty), or null.
    [[nodiscard]] std::shared_ptr<secondary_index> index_on(std::uint32_t collection,
                                                            const std::vector<std::string>& path,
                                                            std::optional<index_kind> kind = {}) const {
        for (const auto& ix : indexes_) {
            const auto& d = ix->definition();
            if (d.collection_id == collection && d.path == path && (!kind || d.kind == *kind)) return ix;
        }
        return nullptr;
    }

private:
    std::map<std::string, std::uint32_t, std::less<>> by_name_;
    index_set indexes_;
    std::optional<format::manifest_schema> schema_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
