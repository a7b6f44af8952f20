// entidb/detail/catalog.hpp — collection names ↔ ids, as the MANIFEST records them.
//
// Readers take an immutable snapshot (a shared_ptr to a const catalog) so a lookup never
// races a writer that adds a collection; the writer publishes a new catalog after the
// MANIFEST naming the collection is durable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "../format/manifest.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class catalog {
public:
    catalog() = default;
    explicit catalog(const format::manifest& m) {
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

private:
    std::map<std::string, std::uint32_t, std::less<>> by_name_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
