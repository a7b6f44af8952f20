// entidb/index/secondary_index.hpp — one secondary index: field value → entity ids, by snapshot.
//
// An index is defined by the MANIFEST's registry entry (collection, field path, hash or
// ordered, unique) and derives every key from raw canonical CBOR (cbor::find_path +
// make_index_key), so it is rebuilt on open by streaming records, without the C++ type.
// Each key holds postings {id, from, to}: the entity has the key for commit sequences
// in [from, to). A snapshot S sees the postings with from <= S < to, so a reader never
// sees an index ahead of or behind the data its snapshot shows. Closed postings are
// dropped once no open snapshot can see them.
//
// Memory (docs/indexes.md): per indexed entity one posting (32 bytes) in a vector per
// distinct key, plus per distinct key its bytes and one node of the key map.
//
// Thread-safety: internally synchronised; readers take a shared lock per query, the
// single writer an exclusive lock per change.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../cbor/reader.hpp"
#include "../entity_id.hpp"
#include "../format/manifest.hpp"
#include "index_key.hpp"

namespace entidb {
inline namespace v1 {

inline constexpr std::uint64_t open_ended = std::numeric_limits<std::uint64_t>::max();

// A bound of a range query on an ordered index.
struct key_bound {
    index_key key;
    bool inclusive = true;
};

class secondary_index {
public:
    explicit secondary_index(format::manifest_index def) : def_(std::move(def)) {
        path_views_.assign(def_.path.begin(), def_.path.end());
    }
    secondary_index(const secondary_index&) = delete;
    secondary_index& operator=(const secondary_index&) = delete;

    [[nodiscard]] const format::manifest_index& definition() const noexcept { return def_; }
    [[nodiscard]] bool ordered() const noexcept { return def_.kind == format::index_kind::btree; }
    [[nodiscard]] bool unique() const noexcept { return def_.unique; }

    // The key an entity with this payload has, or nullopt if the field is absent.
    [[nodiscard]] std::optional<index_key> key_of(bytes_view payload) const {
        const auto field = cbor::find_path(payload, std::span<const std::string_view>(path_views_));
        if (!field) return std::nullopt;
        return make_index_key(*field);
    }

    // ---- the writer ----

    void add(const index_key& key, const entity_id& id, std::uint64_t from) {
        std::unique_lock lock(mutex_);
        with_map([&](auto& map) { map[key].push_back({id, from, open_ended}); });
    }

    // Ends the entity's posting under `key` at sequence `at` and prunes what no snapshot
    // at or above `oldest_snapshot` can see.
    void remove(const index_key& key, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) {
        std::unique_lock lock(mutex_);
        with_map([&](auto& map) {
            const auto it = map.find(key);
            if (it == map.end()) return;
            auto& postings = it->second;
            for (auto& p : postings)
                if (p.id == id && p.to == open_ended) p.to = at;
            std::erase_if(postings, [&](const posting& p) { return p.to <= oldest_snapshot; });
            if (postings.empty()) map.erase(it);
        });
    }

    // ---- readers ----

    // Entities with exactly `key` at `snapshot`, in id order.
    [[nodiscard]] std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        std::vector<entity_id> out;
        with_map([&](const auto& map) {
            if (const auto it = map.find(key); it != map.end()) collect(it->second, snapshot, out);
        });
        std::sort(out.begin(), out.end());
        return out;
    }

    // Ordered indexes: entities whose key lies within the bounds, in key order (then id),
    // or in reverse.
    [[nodiscard]] std::vector<entity_id> range(const std::optional<key_bound>& lo, const std::optional<key_bound>& hi,
                                               std::uint64_t snapshot, bool reverse = false) const {
        std::shared_lock lock(mutex_);
        auto first = lo ? (lo->inclusive ? ordered_.lower_bound(lo->key) : ordered_.upper_bound(lo->key))
                        : ordered_.begin();
        auto last = hi ? (hi->inclusive ? ordered_.upper_bound(hi->key) : ordered_.lower_bound(hi->key))
                       : ordered_.end();
        std::vector<entity_id> out;
        if (lo && hi && lo->key > hi->key) return out;
        collect_range(first, last, snapshot, reverse, out);
        return out;
    }

    // Ordered indexes: entities whose key starts with `prefix` (text prefixes), in key order.
    [[nodiscard]] std::vector<entity_id> prefix(const index_key& prefix, std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        auto first = ordered_.lower_bound(prefix);
        auto last = first;
        while (last != ordered_.end() && std::string_view(last->first).starts_with(prefix)) ++last;
        std::vector<entity_id> out;
        collect_range(first, last, snapshot, false, out);
        return out;
    }

    // How many (key, entity) entries `snapshot` sees (verify compares it with a scan).
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        std::uint64_t n = 0;
        with_map([&](const auto& map) {
            for (const auto& [key, postings] : map)
                for (const auto& p : postings) n += (p.from <= snapshot && snapshot < p.to) ? 1 : 0;
        });
        return n;
    }

    // Live holders of `key` at the newest state (unique checks, under the writer lock).
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key& key) const {
        return find(key, open_ended - 1);
    }

private:
    struct posting {
        entity_id id;
        std::uint64_t from;
        std::uint64_t to;
    };
    using postings_t = std::vector<posting>;

    template <typename F>
    void with_map(F&& f) {
        if (ordered())
            f(ordered_);
        else
            f(hashed_);
    }
    template <typename F>
    void with_map(F&& f) const {
        if (ordered())
            f(ordered_);
        else
            f(hashed_);
    }

    static void collect(const postings_t& postings, std::uint64_t snapshot, std::vector<entity_id>& out) {
        for (const auto& p : postings)
            if (p.from <= snapshot && snapshot < p.to) out.push_back(p.id);
    }

    template <typename It>
    static void collect_range(It first, It last, std::uint64_t snapshot, bool reverse, std::vector<entity_id>& out) {
        for (auto it = first; it != last; ++it) {
            const auto before = out.size();
            collect(it->second, snapshot, out);
            std::sort(out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
        }
        if (reverse) std::reverse(out.begin(), out.end());
    }

    format::manifest_index def_;
    std::vector<std::string_view> path_views_;  // views into def_.path
    mutable std::shared_mutex mutex_;
    std::map<index_key, postings_t> ordered_;
    std::unordered_map<index_key, postings_t> hashed_;
};

}  // namespace v1
}  // namespace entidb
