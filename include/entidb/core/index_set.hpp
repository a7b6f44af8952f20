// entidb/core/index_set.hpp — the secondary indexes of one database and everything the engine
// does with them: declare and fill them (open, declare_index), maintain them inside commits,
// check unique keys against a commit and the commits ahead of it, drop them, and count
// their memory.
//
// An index_set is a value: a list of shared index handles (secondary_index.hpp), copied into
// every catalog version, so readers and the commit that applies a write use the list of the
// catalog they hold while the writer adds to its own copy. What it needs from the engine —
// the live entities of a collection, an entity's current payload, the operations of commits
// still in flight — it takes as callables, so it knows nothing of segments or the WAL.
//
// Thread-safety: the list itself is not synchronised (the writer's copy is changed only
// under the writer lock); the indexes are (postings.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../index/index_key.hpp"
#include "../index/index_kinds.hpp"
#include "../index/secondary_index.hpp"
#include "write_set.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

[[nodiscard]] inline std::string join_path(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
    return out;
}

class index_set {
public:
    using list = std::vector<std::shared_ptr<secondary_index>>;

    index_set() = default;
    index_set(list indexes) : indexes_(std::move(indexes)) {}  // NOLINT: a list is an index set

    [[nodiscard]] auto begin() const noexcept { return indexes_.begin(); }
    [[nodiscard]] auto end() const noexcept { return indexes_.end(); }
    [[nodiscard]] bool empty() const noexcept { return indexes_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return indexes_.size(); }
    [[nodiscard]] const std::shared_ptr<secondary_index>& operator[](std::size_t i) const { return indexes_[i]; }

    // ---- declaring, filling, dropping ----

    // A new index of `def`, filled with the live entities `live` streams: live(collection,
    // f) calls f(id, sequence, payload) for each, in id order (the bulk build). A unique
    // index over entities that share a key is errc::unique_violation; nothing is added.
    template <typename Live>
    [[nodiscard]] static std::shared_ptr<secondary_index> build(format::manifest_index def, Live&& live) {
        auto ix = make_secondary_index(std::move(def));
        fill(*ix, live);
        ix->built();
        return ix;
    }

    // Builds every index the MANIFEST declares and adds it (open, after recovery).
    template <typename Live>
    void open(const format::manifest& m, Live&& live) {
        for (const auto& def : m.indexes) add(build(def, live));
    }

    void add(std::shared_ptr<secondary_index> ix) { indexes_.push_back(std::move(ix)); }

    // One entity of a bulk build (build, and a migration's unique checks): its key, refused if
    // a unique `ix` already holds it (errc::unique_violation naming both entities).
    static void admit(secondary_index& ix, const entity_id& id, std::uint64_t seq, bytes_view payload) {
        const auto key = ix.key_of(payload);
        if (!key) return;
        if (ix.unique() && !ix.live_holders(*key).empty())
            fail(errc::unique_violation, "cannot create unique index on '{}': entities {} and {} share a key",
                 join_path(ix.definition().path), ix.live_holders(*key).front().to_hex(), id.to_hex());
        ix.add(*key, id, seq, seq);  // no snapshot reads the index from before it was built
    }

    // Removes the index with this MANIFEST id; false when there is none. Catalog versions
    // that hold it keep it until their readers let go.
    bool drop(std::uint64_t index_id) {
        return std::erase_if(indexes_, [&](const auto& ix) { return ix->definition().id == index_id; }) != 0;
    }

    // Bytes the indexes hold (docs/indexes.md, "Memory").
    [[nodiscard]] std::size_t memory_bytes() const {
        std::size_t n = 0;
        for (const auto& ix : indexes_) n += ix->memory_bytes();
        return n;
    }

    // ---- maintenance inside a commit ----

    // A secondary index entry an operation moves: `from` the key of the version it
    // replaces, `to` the key of what it writes (either may be absent).
    struct move {
        secondary_index* index;
        entity_id id;
        std::optional<index_key> from, to;
    };

    // The entries `ops` moves; old(collection, id) is the entity's payload before them
    // (std::optional<byte_buffer>), read once per entity of an indexed collection.
    template <typename OldPayload>
    [[nodiscard]] std::vector<move> moves(const write_set& ops, OldPayload&& old) const {
        std::vector<move> out;
        if (indexes_.empty()) return out;
        for (const auto& [key, op] : ops) {
            std::optional<byte_buffer> before;
            bool read_before = false;
            for (const auto& ix : indexes_) {
                if (ix->definition().collection_id != key.first) continue;
                if (!std::exchange(read_before, true)) before = old(key.first, key.second);
                auto from = before ? ix->key_of(*before) : std::nullopt;
                auto to = op.tombstone ? std::nullopt : ix->key_of(op.payload);
                if (from != to) out.push_back({ix.get(), key.second, std::move(from), std::move(to)});
            }
        }
        return out;
    }

    // Applies moves as commit `seq`; `oldest` is the oldest snapshot still open.
    static void apply(const std::vector<move>& moves, std::uint64_t seq, std::uint64_t oldest) {
        for (const auto& m : moves) {
            if (m.from) m.index->remove(*m.from, m.id, seq, oldest);
            if (m.to) m.index->add(*m.to, m.id, seq, oldest);
        }
    }

    // ---- unique checks ----

    // Unique indexes: no two live entities may share a key once `ops` is applied after the
    // commits still in flight. in_flight(collection, f) calls f(id, tombstone, payload) for
    // each operation of those commits on the collection, oldest first; name_of(collection)
    // names a collection for messages. errc::unique_violation names the entities.
    template <typename InFlight, typename NameOf>
    void check_unique(const write_set& ops, InFlight&& in_flight, NameOf&& name_of) const {
        for (const auto& ix : indexes_) {
            if (!ix->unique()) continue;
            const auto coll = ix->definition().collection_id;
            std::map<index_key, entity_id> claimed;
            for (const auto& [key, op] : ops) {
                if (key.first != coll || op.tombstone) continue;
                const auto k = ix->key_of(op.payload);
                if (!k) continue;
                if (const auto [it, fresh] = claimed.emplace(*k, key.second); !fresh)
                    fail(errc::unique_violation, "unique index on '{}' of collection '{}': entities {} and {} share a key",
                         join_path(ix->definition().path), name_of(coll), it->second.to_hex(), key.second.to_hex());
            }
            const auto ahead = keys_ahead(*ix, in_flight);
            for (const auto& [k, id] : claimed)
                for (const auto& holder : ahead.holders(*ix, k))
                    if (holder != id && !ops.contains({coll, holder}))
                        fail(errc::unique_violation,
                             "unique index on '{}' of collection '{}' already holds this key for entity {}",
                             join_path(ix->definition().path), name_of(coll), holder.to_hex());
        }
    }

private:
    // Streams the collection's live entities into `ix`, refusing a repeated key of a unique one.
    template <typename Live>
    static void fill(secondary_index& ix, Live& live) {
        live(ix.definition().collection_id,
             [&](const entity_id& id, std::uint64_t seq, bytes_view payload) { admit(ix, id, seq, payload); });
    }

    // The keys in-flight commits give the entities they write, for one index: with the
    // index they say who holds a key once those commits are applied.
    struct pending_keys {
        std::map<entity_id, std::optional<index_key>> of;  // entity → its key after the commits ahead

        [[nodiscard]] std::vector<entity_id> holders(const secondary_index& ix, const index_key& k) const {
            auto out = ix.live_holders(k);  // read after `of`: what it skipped as applied is here
            if (of.empty()) return out;
            std::erase_if(out, [&](const entity_id& id) { return of.contains(id); });
            for (const auto& [id, key] : of)
                if (key == k) out.push_back(id);
            return out;
        }
    };
    template <typename InFlight>
    [[nodiscard]] static pending_keys keys_ahead(const secondary_index& ix, InFlight& in_flight) {
        pending_keys out;
        in_flight(ix.definition().collection_id, [&](const entity_id& id, bool tombstone, bytes_view payload) {
            out.of[id] = tombstone ? std::nullopt : ix.key_of(payload);
        });
        return out;
    }

    list indexes_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
