// entidb/index/primary_index.hpp — (collection, entity id) → where each version lives.
//
// Payloads stay on disk: an entry holds record locations, never payload bytes, so memory
// grows with the number of live entities, not their size. Each key keeps its versions
// newest first; a reader with snapshot S sees the newest version whose sequence is <= S
// (MVCC by commit sequence). Versions no open snapshot can see are pruned when a key is
// written. Tombstones are versions too, until no snapshot can see what they hide.
//
// Thread-safety: internally synchronised. Lookups take a shared lock for the length of
// one lookup; the single writer takes it exclusively while it applies a commit. No
// reader ever holds the lock while doing I/O.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../entity_id.hpp"

namespace entidb {
inline namespace v1 {

// Where a segment record lives: segment number, byte offset, whole record length.
struct record_location {
    std::uint32_t segment = 0;
    std::uint32_t length = 0;
    std::uint64_t offset = 0;
    friend bool operator==(const record_location&, const record_location&) = default;
};

struct entity_version {
    std::uint64_t sequence = 0;
    record_location location{};
    bool tombstone = false;
};

class primary_index {
public:
    // Records `v` as the newest version of the key, keeping older versions only while a
    // snapshot at or above `oldest_snapshot` may still need them. A version whose sequence
    // is not above the newest held one is ignored (replay is idempotent), except that an
    // equal sequence moves the location (the same record written twice).
    void apply(std::uint32_t collection, const entity_id& id, const entity_version& v,
               std::uint64_t oldest_snapshot) {
        std::unique_lock lock(mutex_);
        auto& map = collections_[collection];
        auto [it, inserted] = map.try_emplace(id);
        auto& versions = it->second;
        if (!inserted && !versions.empty()) {
            if (v.sequence < versions.front().sequence) return;
            if (v.sequence == versions.front().sequence) {
                versions.front() = v;
                return;
            }
        }
        versions.insert(versions.begin(), v);
        prune(versions, oldest_snapshot);
        if (versions.size() == 1 && versions.front().tombstone && versions.front().sequence <= oldest_snapshot)
            map.erase(it);  // nobody can see anything but the deletion
    }

    // The version visible at `snapshot`, if any (a tombstone is returned as such).
    [[nodiscard]] std::optional<entity_version> find(std::uint32_t collection, const entity_id& id,
                                                     std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        const auto c = collections_.find(collection);
        if (c == collections_.end()) return std::nullopt;
        const auto it = c->second.find(id);
        if (it == c->second.end()) return std::nullopt;
        return visible(it->second, snapshot);
    }

    // The first live entity strictly after `after` (or from the start when `after` is
    // null) in id order, as seen at `snapshot`. One short lock per step: a scan never
    // blocks the writer for longer than one lookup.
    [[nodiscard]] std::optional<std::pair<entity_id, entity_version>> next_live(
        std::uint32_t collection, const entity_id* after, std::uint64_t snapshot) const {
        std::shared_lock lock(mutex_);
        const auto c = collections_.find(collection);
        if (c == collections_.end()) return std::nullopt;
        auto it = after ? c->second.upper_bound(*after) : c->second.begin();
        for (; it != c->second.end(); ++it)
            if (auto v = visible(it->second, snapshot); v && !v->tombstone) return std::pair{it->first, *v};
        return std::nullopt;
    }

    // Drops every version no snapshot at or above `oldest_snapshot` can see (after open,
    // where replay kept history no reader needs).
    void prune_all(std::uint64_t oldest_snapshot) {
        std::unique_lock lock(mutex_);
        for (auto& [_, map] : collections_)
            for (auto it = map.begin(); it != map.end();) {
                prune(it->second, oldest_snapshot);
                const auto& vs = it->second;
                it = (vs.size() == 1 && vs.front().tombstone && vs.front().sequence <= oldest_snapshot) ? map.erase(it)
                                                                                                      : std::next(it);
            }
    }

    // The smallest collection id >= `bound` that has entries (stray ids, for verify).
    [[nodiscard]] std::optional<std::uint32_t> first_collection_not_below(std::uint32_t bound) const {
        std::shared_lock lock(mutex_);
        std::optional<std::uint32_t> out;
        for (const auto& [c, map] : collections_)
            if (c >= bound && !map.empty() && (!out || c < *out)) out = c;
        return out;
    }

    // ---- compaction (detail/compaction.hpp), under the writer lock ----

    // True if some version of the key lives exactly at `loc` (compaction keeps it).
    [[nodiscard]] bool holds(std::uint32_t collection, const entity_id& id, const record_location& loc) const {
        std::shared_lock lock(mutex_);
        const auto c = collections_.find(collection);
        if (c == collections_.end()) return false;
        const auto it = c->second.find(id);
        if (it == c->second.end()) return false;
        return std::any_of(it->second.begin(), it->second.end(), [&](const auto& v) { return v.location == loc; });
    }

    // How many versions the index holds, over every key (tombstones included).
    [[nodiscard]] std::uint64_t version_count() const {
        std::shared_lock lock(mutex_);
        std::uint64_t n = 0;
        for (const auto& [_, map] : collections_)
            for (const auto& [id, vs] : map) n += vs.size();
        return n;
    }

    // Moves the key's version of commit `sequence` to `to` (a copy of the same record in a
    // compacted segment). A reader sees either location, both hold the same bytes. Returns
    // false if there is no such version.
    bool relocate(std::uint32_t collection, const entity_id& id, std::uint64_t sequence, const record_location& to) {
        std::unique_lock lock(mutex_);
        const auto c = collections_.find(collection);
        if (c == collections_.end()) return false;
        const auto it = c->second.find(id);
        if (it == c->second.end()) return false;
        for (auto& v : it->second)
            if (v.sequence == sequence) {
                v.location = to;
                return true;
            }
        return false;
    }

private:
    using versions_t = std::vector<entity_version>;  // newest first

    static std::optional<entity_version> visible(const versions_t& versions, std::uint64_t snapshot) {
        for (const auto& v : versions)
            if (v.sequence <= snapshot) return v;
        return std::nullopt;
    }

    // Keeps every version newer than the oldest snapshot plus the one that snapshot sees.
    static void prune(versions_t& versions, std::uint64_t oldest_snapshot) {
        for (std::size_t i = 0; i < versions.size(); ++i)
            if (versions[i].sequence <= oldest_snapshot) {
                versions.resize(i + 1);
                return;
            }
    }

    mutable std::shared_mutex mutex_;
    std::unordered_map<std::uint32_t, std::map<entity_id, versions_t>> collections_;
};

}  // namespace v1
}  // namespace entidb
