// Tests for entidb/index/primary_index.hpp: the flat index against a reference model (a map
// of version lists, the straightforward implementation of the same contract) on random
// histories with random snapshots, bulk builds as open does them, replay, and memory.
#include <entidb/index/primary_index.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "test_steps.hpp"

using entidb::entity_id;
using entidb::entity_version;
using entidb::primary_index;
using entidb::record_location;

namespace {

constexpr std::uint64_t no_readers = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t latest = no_readers - 1;

// The contract, written the obvious way: every key maps to its versions, newest first.
class model_index {
public:
    void apply(std::uint32_t c, const entity_id& id, const entity_version& v, std::uint64_t oldest) {
        auto& map = collections_[c];
        auto [it, inserted] = map.try_emplace(id);
        auto& versions = it->second;
        if (!inserted) {
            if (v.sequence < versions.front().sequence) return;
            if (v.sequence == versions.front().sequence) {
                versions.front() = v;
                return;
            }
        }
        versions.insert(versions.begin(), v);
        prune(versions, oldest);
        if (versions.size() == 1 && versions.front().tombstone && versions.front().sequence <= oldest) map.erase(it);
    }

    [[nodiscard]] std::optional<entity_version> find(std::uint32_t c, const entity_id& id, std::uint64_t snapshot) const {
        const auto m = collections_.find(c);
        if (m == collections_.end()) return std::nullopt;
        const auto it = m->second.find(id);
        return it == m->second.end() ? std::nullopt : visible(it->second, snapshot);
    }

    [[nodiscard]] std::optional<std::pair<entity_id, entity_version>> next_live(std::uint32_t c, const entity_id* after,
                                                                               std::uint64_t snapshot) const {
        const auto m = collections_.find(c);
        if (m == collections_.end()) return std::nullopt;
        for (auto it = after ? m->second.upper_bound(*after) : m->second.begin(); it != m->second.end(); ++it)
            if (auto v = visible(it->second, snapshot); v && !v->tombstone) return std::pair{it->first, *v};
        return std::nullopt;
    }

    // Keeps the newest version and, for each reader, the newest version at or below it,
    // then drops the oldest kept while they are tombstones (they hide nothing).
    void prune_all(const std::vector<std::uint64_t>& readers) {
        for (auto& [_, map] : collections_)
            for (auto it = map.begin(); it != map.end();) {
                std::vector<entity_version> kept;
                for (const auto& v : it->second)
                    if (kept.empty() || std::any_of(readers.begin(), readers.end(), [&](std::uint64_t r) {
                            return visible(it->second, r) && visible(it->second, r)->sequence == v.sequence;
                        }))
                        kept.push_back(v);
                while (!kept.empty() && kept.back().tombstone) kept.pop_back();
                it->second = kept;
                it = kept.empty() ? map.erase(it) : std::next(it);
            }
    }

    [[nodiscard]] std::optional<std::uint32_t> first_collection_not_below(std::uint32_t bound) const {
        for (const auto& [c, map] : collections_)
            if (c >= bound && !map.empty()) return c;
        return std::nullopt;
    }

    [[nodiscard]] bool holds(std::uint32_t c, const entity_id& id, const record_location& loc) const {
        const auto versions = versions_of(c, id);
        return std::any_of(versions.begin(), versions.end(), [&](const auto& v) { return v.location == loc; });
    }

    [[nodiscard]] std::uint64_t version_count() const {
        std::uint64_t n = 0;
        for (const auto& [_, map] : collections_)
            for (const auto& [id, vs] : map) n += vs.size();
        return n;
    }

    bool relocate(std::uint32_t c, const entity_id& id, std::uint64_t sequence, const record_location& to) {
        const auto m = collections_.find(c);
        if (m == collections_.end()) return false;
        const auto it = m->second.find(id);
        if (it == m->second.end()) return false;
        for (auto& v : it->second)
            if (v.sequence == sequence) {
                v.location = to;
                return true;
            }
        return false;
    }

    [[nodiscard]] std::vector<entity_version> versions_of(std::uint32_t c, const entity_id& id) const {
        const auto m = collections_.find(c);
        if (m == collections_.end()) return {};
        const auto it = m->second.find(id);
        return it == m->second.end() ? std::vector<entity_version>{} : it->second;
    }

private:
    static std::optional<entity_version> visible(const std::vector<entity_version>& versions, std::uint64_t snapshot) {
        for (const auto& v : versions)
            if (v.sequence <= snapshot) return v;
        return std::nullopt;
    }
    static void prune(std::vector<entity_version>& versions, std::uint64_t oldest) {
        for (std::size_t i = 0; i < versions.size(); ++i)
            if (versions[i].sequence <= oldest) {
                versions.resize(i + 1);
                return;
            }
    }

    std::map<std::uint32_t, std::map<entity_id, std::vector<entity_version>>> collections_;
};

std::string show(const std::optional<entity_version>& v) {
    if (!v) return "none";
    return fmt::format("{{seq {} at {}/{}/{}{}}}", v->sequence, v->location.segment, v->location.offset,
                       v->location.length, v->tombstone ? " tombstone" : "");
}

bool same(const std::optional<entity_version>& a, const std::optional<entity_version>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->sequence == b->sequence && a->location == b->location && a->tombstone == b->tombstone);
}

// Id shapes: random (UUID-like), small sequential integers (as the fixtures use), and
// clustered (random low bits under a long shared prefix).
// two_runs: half the ids count up from 00.., half from ff..: too uneven to spread.
enum class id_shape { random, sequential, clustered, two_runs };

std::vector<entity_id> make_ids(id_shape shape, std::size_t n, std::mt19937_64& rng) {
    std::vector<entity_id> ids;
    for (std::size_t i = 0; i < n; ++i) {
        std::array<entidb::byte, 16> b{};
        const std::uint64_t r1 = rng(), r2 = rng();
        for (std::size_t j = 0; j < 8; ++j) {
            switch (shape) {
                case id_shape::random:
                    b[j] = static_cast<entidb::byte>(r1 >> (8 * j));
                    b[j + 8] = static_cast<entidb::byte>(r2 >> (8 * j));
                    break;
                case id_shape::sequential:
                    b[15 - j] = static_cast<entidb::byte>((i + 1) >> (8 * j));
                    break;
                case id_shape::clustered:
                    b[0] = 0x42;
                    b[8 + j] = j < 3 ? static_cast<entidb::byte>(r2 >> (8 * j)) : 0;
                    break;
                case id_shape::two_runs:
                    b[0] = i % 2 == 0 ? 0x00 : 0xff;
                    b[15 - j] = static_cast<entidb::byte>((i / 2 + 1) >> (8 * j));
                    break;
            }
        }
        ids.emplace_back(b);
    }
    return ids;
}

// Both indexes, every read compared.
struct pair_under_test {
    primary_index ix;
    model_index model;

    void apply(std::uint32_t c, const entity_id& id, const entity_version& v, std::uint64_t oldest) {
        ix.apply(c, id, v, oldest);
        model.apply(c, id, v, oldest);
    }

    void check_key(std::uint32_t c, const entity_id& id, std::uint64_t snapshot) const {
        INFO("collection " << c << " id " << id.to_hex() << " snapshot " << snapshot);
        const auto got = ix.find(c, id, snapshot), want = model.find(c, id, snapshot);
        INFO("index " << show(got) << " model " << show(want));
        CHECK(same(got, want));
        for (const auto& v : model.versions_of(c, id)) CHECK(ix.holds(c, id, v.location));
        CHECK_FALSE(ix.holds(c, id, {999, 40, 0}));  // random_location never makes segment 999
    }

    // A whole scan at `snapshot`, one next_live step at a time.
    void check_scan(std::uint32_t c, std::uint64_t snapshot) const {
        INFO("scan of collection " << c << " at " << snapshot);
        std::optional<entity_id> at;
        for (std::size_t steps = 0;; ++steps) {
            const auto got = ix.next_live(c, at ? &*at : nullptr, snapshot);
            const auto want = model.next_live(c, at ? &*at : nullptr, snapshot);
            REQUIRE(got.has_value() == want.has_value());
            if (!got) break;
            REQUIRE(got->first == want->first);
            REQUIRE(same(got->second, want->second));
            at = got->first;
            REQUIRE(steps < 1'000'000);
        }
    }

    void check_totals() const {
        CHECK(ix.version_count() == model.version_count());
        for (std::uint32_t c = 0; c < 6; ++c) CHECK(ix.first_collection_not_below(c) == model.first_collection_not_below(c));
    }
};

record_location random_location(std::mt19937_64& rng) {
    return {static_cast<std::uint32_t>(rng() % 50), static_cast<std::uint32_t>(40 + rng() % 1000), rng() % (1u << 30)};
}

// Random writes (new commits, replays of old ones, rewrites at the same sequence), deletes,
// snapshot horizons and prunes, with reads compared at random snapshots and a scan that
// advances one step per write, interleaved with them.
void random_history(id_shape shape, std::uint64_t seed, std::size_t keys, std::size_t writes) {
    std::mt19937_64 rng(seed);
    const auto ids = make_ids(shape, keys, rng);
    pair_under_test t;
    std::uint64_t seq = 0;
    std::uint64_t horizon = 0;  // the oldest open snapshot, moving forward in jumps
    std::optional<entity_id> cursor;
    std::uint64_t cursor_snapshot = 0;
    const auto pick = [&] { return ids[rng() % ids.size()]; };
    const auto random_snapshot = [&] { return rng() % 8 == 0 ? latest : rng() % (seq + 2); };

    for (std::size_t w = 0; w < writes; ++w) {
        const auto c = static_cast<std::uint32_t>(1 + rng() % 3);
        const auto id = pick();
        entity_version v{.sequence = 0, .location = random_location(rng), .tombstone = rng() % 5 == 0};
        const auto held = t.model.versions_of(c, id);
        switch (rng() % 10) {
            case 0:  // a replay of an older commit: ignored
                v.sequence = rng() % (seq + 1);
                break;
            case 1:  // the same commit's record found again: moves the location
                v.sequence = held.empty() ? seq : held.front().sequence;
                break;
            default:
                v.sequence = ++seq;
        }
        if (rng() % 50 == 0) horizon = seq;  // every reader closed
        else if (rng() % 20 == 0) horizon = std::max(horizon, seq - std::min<std::uint64_t>(seq, rng() % 20));
        const std::uint64_t oldest = rng() % 100 == 0 ? no_readers : std::min(horizon, seq);
        t.apply(c, id, v, oldest);

        t.check_key(c, pick(), random_snapshot());
        t.check_key(c, id, random_snapshot());
        if (rng() % 4 == 0) {
            const auto moved_to = random_location(rng);
            const auto target = held.empty() ? v.sequence : held[rng() % held.size()].sequence;
            CHECK(t.ix.relocate(c, id, target, moved_to) == t.model.relocate(c, id, target, moved_to));
        }
        if (rng() % 500 == 0) {
            // readers: the oldest open snapshot, a few above it, and the latest state
            std::vector<std::uint64_t> readers{std::min(horizon, seq)};
            for (auto n = rng() % 4; n-- > 0;) readers.push_back(readers.front() + rng() % (seq - readers.front() + 1));
            readers.push_back(seq);
            std::sort(readers.begin(), readers.end());
            readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
            t.ix.prune_all(readers);
            t.model.prune_all(readers);
        }
        // One step of a scan of collection 1 that the writes keep interleaving with.
        if (!cursor) cursor_snapshot = random_snapshot();
        const auto got = t.ix.next_live(1, cursor ? &*cursor : nullptr, cursor_snapshot);
        const auto want = t.model.next_live(1, cursor ? &*cursor : nullptr, cursor_snapshot);
        REQUIRE(got.has_value() == want.has_value());
        if (got) {
            REQUIRE(got->first == want->first);
            REQUIRE(same(got->second, want->second));
        }
        cursor = got ? std::optional{got->first} : std::nullopt;

        if (w % 997 == 0) {
            t.check_totals();
            t.check_scan(1 + static_cast<std::uint32_t>(rng() % 3), random_snapshot());
        }
    }
    t.check_totals();
    for (std::uint32_t c = 1; c <= 3; ++c) {
        t.check_scan(c, latest);
        t.check_scan(c, seq / 2);
    }
    for (const auto& id : ids) t.check_key(1, id, random_snapshot());
}

// What open does: every record of the segments in commit order (ids ascending within a
// commit, as commits write them), with no reader open; some keys are rewritten and some
// deleted later.
std::vector<std::pair<entity_id, entity_version>> replay_stream(const std::vector<entity_id>& ids, std::mt19937_64& rng,
                                                                std::uint64_t& seq) {
    std::vector<std::pair<entity_id, entity_version>> out;
    for (std::size_t i = 0; i < ids.size() * 2;) {
        ++seq;
        std::vector<entity_id> commit;
        for (std::size_t n = 1 + rng() % 40; n > 0 && i < ids.size() * 2; --n, ++i) commit.push_back(ids[rng() % ids.size()]);
        std::sort(commit.begin(), commit.end());
        commit.erase(std::unique(commit.begin(), commit.end()), commit.end());
        for (const auto& id : commit)
            out.push_back({id, {.sequence = seq, .location = random_location(rng), .tombstone = rng() % 6 == 0}});
    }
    return out;
}

}  // namespace

TEST_CASE("primary index: random histories match the model (random ids)", "[primary_index]") {
    for (std::uint64_t seed = 1; seed <= 3; ++seed)
        random_history(id_shape::random, seed, 3000, test_support::steps(20000));
}

TEST_CASE("primary index: random histories match the model (sequential small ids)", "[primary_index]") {
    for (std::uint64_t seed = 11; seed <= 13; ++seed)
        random_history(id_shape::sequential, seed, 3000, test_support::steps(20000));
}

TEST_CASE("primary index: random histories match the model (clustered ids)", "[primary_index]") {
    random_history(id_shape::clustered, 21, 5000, test_support::steps(20000));
}

TEST_CASE("primary index: random histories match the model (two runs of ids)", "[primary_index]") {
    random_history(id_shape::two_runs, 22, 5000, test_support::steps(20000));
}

TEST_CASE("primary index: few keys, many versions each", "[primary_index]") {
    random_history(id_shape::random, 31, 20, 5000);
    random_history(id_shape::sequential, 32, 3, 3000);
}

TEST_CASE("primary index: a bulk build at open equals applying each record", "[primary_index]") {
    for (const auto shape : {id_shape::random, id_shape::sequential, id_shape::clustered}) {
        std::mt19937_64 rng(41 + static_cast<int>(shape));
        const auto ids = make_ids(shape, 20000, rng);
        std::uint64_t seq = 0;
        pair_under_test t;
        for (const auto& [id, v] : replay_stream(ids, rng, seq)) t.apply(7, id, v, no_readers);
        t.check_totals();  // the first read finishes the build
        t.check_scan(7, latest);
        for (std::size_t i = 0; i < ids.size(); i += 7) t.check_key(7, ids[i], latest);

        // The writer carries on after open: a reader's snapshot keeps history.
        for (std::size_t i = 0; i < 5000; ++i) {
            const auto& id = ids[rng() % ids.size()];
            ++seq;
            t.apply(7, id, {.sequence = seq, .location = random_location(rng), .tombstone = rng() % 4 == 0}, seq - 100);
        }
        t.check_totals();
        t.check_scan(7, latest);
        t.check_scan(7, seq - 50);
        for (std::size_t i = 0; i < ids.size(); i += 3) t.check_key(7, ids[i], seq - 1 - i % 150);
    }
}

TEST_CASE("primary index: a record out of commit order ends the bulk build correctly", "[primary_index]") {
    std::mt19937_64 rng(51);
    const auto ids = make_ids(id_shape::random, 2000, rng);
    std::uint64_t seq = 0;
    auto stream = replay_stream(ids, rng, seq);
    // A deletion, then an older write of the same key: the older write must come back,
    // exactly as when each record is applied alone.
    const auto& victim = stream[stream.size() / 2].first;
    stream.push_back({victim, {.sequence = seq + 1, .location = {1, 40, 8}, .tombstone = true}});
    stream.push_back({victim, {.sequence = 3, .location = {2, 40, 16}, .tombstone = false}});
    stream.push_back({victim, {.sequence = 3, .location = {2, 40, 16}, .tombstone = false}});
    pair_under_test t;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        t.apply(2, stream[i].first, stream[i].second, no_readers);
        if (i == stream.size() / 3) t.apply(3, stream[i].first, stream[i].second, no_readers);  // another table
    }
    t.check_totals();
    t.check_scan(2, latest);
    t.check_scan(3, latest);
    t.check_key(2, victim, latest);
    for (const auto& id : ids) t.check_key(2, id, latest);
}

TEST_CASE("primary index: replay is idempotent and an equal sequence moves the location", "[primary_index]") {
    std::mt19937_64 rng(61);
    const auto ids = make_ids(id_shape::random, 3000, rng);
    primary_index ix;
    std::vector<std::pair<entity_id, entity_version>> log;
    std::uint64_t seq = 0;
    for (const auto& id : ids) log.push_back({id, {.sequence = ++seq, .location = random_location(rng)}});
    for (const auto& [id, v] : log) ix.apply(1, id, v, seq);
    REQUIRE(ix.version_count() == ids.size());

    // The same records again, at new locations: each moves, nothing else changes.
    for (auto& [id, v] : log) {
        v.location.offset += 1'000'000;
        ix.apply(1, id, v, seq);
    }
    // Older commits replayed: ignored.
    for (const auto& [id, v] : log)
        if (v.sequence > 1) ix.apply(1, id, {.sequence = v.sequence - 1, .location = {9, 9, 9}, .tombstone = true}, seq);
    REQUIRE(ix.version_count() == ids.size());
    for (const auto& [id, v] : log) {
        const auto got = ix.find(1, id, latest);
        REQUIRE(got);
        CHECK(got->sequence == v.sequence);
        CHECK(got->location == v.location);
        CHECK_FALSE(got->tombstone);
        CHECK(ix.holds(1, id, v.location));
        CHECK_FALSE(ix.find(1, id, v.sequence - 1));
    }
}

TEST_CASE("primary index: relocate and holds see versions kept for snapshots", "[primary_index]") {
    primary_index ix;
    const auto id = entity_id::generate();
    const record_location a{1, 50, 0}, b{1, 50, 50}, moved{4, 50, 0};
    ix.apply(1, id, {.sequence = 5, .location = a}, 4);
    ix.apply(1, id, {.sequence = 9, .location = b, .tombstone = true}, 6);  // a snapshot at 6 still sees seq 5
    CHECK(ix.version_count() == 2);
    CHECK(ix.holds(1, id, a));
    CHECK(ix.find(1, id, 8)->location == a);
    CHECK(ix.find(1, id, 9)->tombstone);
    CHECK_FALSE(ix.next_live(1, nullptr, 9));
    CHECK(ix.next_live(1, nullptr, 6)->first == id);
    CHECK(ix.relocate(1, id, 5, moved));
    CHECK(ix.find(1, id, 6)->location == moved);
    CHECK_FALSE(ix.relocate(1, id, 6, moved));
    ix.prune_all({9});  // no snapshot below 9 any more: a lone tombstone, gone
    CHECK(ix.version_count() == 0);
    CHECK_FALSE(ix.find(1, id, latest));
    CHECK_FALSE(ix.first_collection_not_below(0));
}

TEST_CASE("primary index: prune_all keeps, per reader, the newest version at or below it", "[primary_index]") {
    primary_index ix;
    const auto a = entity_id::generate(), b = entity_id::generate();
    const auto at = [](std::uint64_t seq) { return record_location{1, 50, seq * 50}; };
    for (std::uint64_t seq = 1; seq <= 10; ++seq)
        ix.apply(1, a, {.sequence = seq, .location = at(seq)}, 0);  // a snapshot at 0 keeps them all
    // b: put at 2, deleted at 4, put at 6, deleted at 8
    for (const std::uint64_t seq : {2, 4, 6, 8})
        ix.apply(1, b, {.sequence = seq, .location = at(seq), .tombstone = seq % 4 == 0}, 0);
    CHECK(ix.version_count() == 14);
    ix.prune_all({3, 7, 10});  // snapshots at 3 and 7, the latest state at 10
    CHECK(ix.version_count() == 6);  // a: 10, 7, 3; b: 8 (the latest sees it deleted), 6 (seen at 7), 2 (at 3)
    for (const std::uint64_t seq : {3, 7, 10}) CHECK(ix.holds(1, a, at(seq)));
    CHECK_FALSE(ix.holds(1, a, at(9)));
    CHECK_FALSE(ix.holds(1, a, at(5)));
    CHECK(ix.find(1, a, 7)->sequence == 7);
    CHECK(ix.find(1, b, 7)->sequence == 6);
    CHECK(ix.find(1, b, 3)->sequence == 2);
    CHECK(ix.find(1, b, 10)->tombstone);
    ix.prune_all({8, 10});  // every reader sees b deleted: b goes
    CHECK(ix.version_count() == 2);  // a: 10 and 7 (seen at 8)
    CHECK_FALSE(ix.find(1, b, 8));
    CHECK_FALSE(ix.find(1, b, 10));
    CHECK(ix.find(1, a, 8)->sequence == 7);
}

TEST_CASE("primary index: sequences beyond max_sequence are refused", "[primary_index]") {
    primary_index ix;
    const auto id = entity_id::generate();
    ix.apply(1, id, {.sequence = primary_index::max_sequence, .location = {1, 40, 0}, .tombstone = true}, 0);
    CHECK(ix.find(1, id, latest)->sequence == primary_index::max_sequence);
    try {
        ix.apply(1, id, {.sequence = primary_index::max_sequence + 1}, 0);
        FAIL("no error");
    } catch (const entidb::error& e) {
        CHECK(e.value() == entidb::errc::corruption);
    }
    CHECK(ix.version_count() == 1);
}

TEST_CASE("primary index: under 64 bytes per entity", "[primary_index][memory]") {
    constexpr std::size_t n = 200'000;
    std::mt19937_64 rng(71);
    const auto ids = make_ids(id_shape::random, n, rng);
    std::uint64_t seq = 0;

    SECTION("written one commit at a time, readers open") {
        primary_index ix;
        for (const auto& id : ids) {
            ++seq;
            ix.apply(1, id, {.sequence = seq, .location = random_location(rng)}, seq - 1);
        }
        const double per_entity = static_cast<double>(ix.memory_bytes()) / n;
        INFO("bytes per entity: " << per_entity);
        CHECK(per_entity < 64);
    }
    SECTION("built at open") {
        primary_index ix;
        std::vector<entity_id> stream = ids;  // commits of 1000 random ids, each commit in id order
        for (std::size_t i = 0; i < n; i += 1000) std::sort(stream.begin() + i, stream.begin() + std::min(n, i + 1000));
        for (std::size_t i = 0; i < n; ++i) {
            if (i % 1000 == 0) ++seq;
            ix.apply(1, stream[i], {.sequence = seq, .location = random_location(rng)}, no_readers);
        }
        const double per_entity = static_cast<double>(ix.memory_bytes()) / n;
        INFO("bytes per entity: " << per_entity);
        CHECK(per_entity < 64);
        CHECK(ix.version_count() == n);
    }
}

TEST_CASE("primary index: superseded put records are counted per segment", "[primary_index]") {
    const auto counts = [](const primary_index& ix) {
        std::vector<std::uint64_t> out;
        ix.superseded({1, 2, 3}, out);
        return out;
    };
    const auto a = entity_id::generate(), b = entity_id::generate(), c = entity_id::generate();
    const auto at = [](std::uint32_t seg, std::uint64_t off) { return record_location{seg, 50, off}; };
    SECTION("written one commit at a time") {
        primary_index ix;
        ix.apply(1, a, {.sequence = 1, .location = at(1, 0)}, 0);  // a reader may still see it
        ix.apply(1, b, {.sequence = 1, .location = at(1, 50)}, 0);
        ix.apply(1, c, {.sequence = 1, .location = at(1, 100)}, 0);
        CHECK(counts(ix) == std::vector<std::uint64_t>{0, 0, 0});
        ix.apply(1, a, {.sequence = 2, .location = at(2, 0)}, 0);  // a replaced
        ix.apply(1, b, {.sequence = 3, .location = at(2, 50), .tombstone = true}, 3);  // b deleted
        CHECK(counts(ix) == std::vector<std::uint64_t>{2, 0, 0});
        ix.apply(1, b, {.sequence = 4, .location = at(3, 0)}, 4);  // b again: a tombstone is not counted
        CHECK(counts(ix) == std::vector<std::uint64_t>{2, 0, 0});
        ix.apply(1, c, {.sequence = 1, .location = at(3, 50)}, 4);  // the same record found elsewhere
        ix.apply(1, a, {.sequence = 1, .location = at(3, 100)}, 4);  // an older one replayed
        CHECK(counts(ix) == std::vector<std::uint64_t>{3, 0, 1});
        ix.apply(1, c, {.sequence = 1, .location = at(3, 50)}, 4);  // the same record again: no change
        CHECK(counts(ix) == std::vector<std::uint64_t>{3, 0, 1});
    }
    SECTION("built in bulk at open") {
        primary_index ix;
        ix.apply(1, a, {.sequence = 1, .location = at(1, 0)}, 10);
        ix.apply(1, b, {.sequence = 1, .location = at(1, 50)}, 10);
        ix.apply(1, a, {.sequence = 2, .location = at(2, 0)}, 10);
        ix.apply(1, b, {.sequence = 3, .location = at(2, 50), .tombstone = true}, 10);
        ix.apply(1, c, {.sequence = 4, .location = at(3, 0)}, 10);
        CHECK(counts(ix) == std::vector<std::uint64_t>{2, 0, 0});
    }
}

TEST_CASE("flat_array: large blocks are mappings that grow and shrink in place of a copy", "[primary_index]") {
    using entidb::detail::flat_array;
    flat_array<std::uint64_t> a;
    const std::size_t big = 3 * flat_array<std::uint64_t>::map_from / sizeof(std::uint64_t);
    for (std::uint64_t i = 0; i < big; ++i) a.push_back(i * 7);
    CHECK(a.mapped());
    CHECK(a.capacity() * sizeof(std::uint64_t) % flat_array<std::uint64_t>::huge_page == 0);
    for (std::uint64_t i = 0; i < big; i += 4099) REQUIRE(a[i] == i * 7);
    flat_array<std::uint64_t> b(std::move(a));
    CHECK(b.size() == big);
    CHECK(a.empty());
    b.resize(100);
    b.shrink_to_fit();  // small again: back on the heap
    CHECK_FALSE(b.mapped());
    CHECK(b.capacity() == 100);
    for (std::uint64_t i = 0; i < 100; ++i) REQUIRE(b[i] == i * 7);
    b.resize(0);
    b.shrink_to_fit();
    CHECK(b.capacity() == 0);
}

TEST_CASE("primary index: evenly spread ids are found from their home slot, others through the guide",
          "[primary_index]") {
    using layout = entidb::detail::primary_table::layout;
    const auto [shape, expected] = GENERATE(table<id_shape, layout>({{id_shape::random, layout::spread},
                                                                     {id_shape::sequential, layout::spread},
                                                                     {id_shape::clustered, layout::spread},
                                                                     {id_shape::two_runs, layout::guided}}));
    const bool at_open = GENERATE(false, true);
    std::mt19937_64 rng(91);
    auto ids = make_ids(shape, 20'000, rng);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    primary_index ix;
    std::map<entity_id, record_location> where;
    std::uint64_t seq = 0;
    for (const auto& id : ids) {  // at open: one commit in id order; else one commit each
        const record_location loc = random_location(rng);
        where[id] = loc;
        ix.apply(1, id, {.sequence = at_open ? 1 : ++seq, .location = loc}, at_open ? no_readers : seq);
    }
    (void)ix.find(1, ids.front(), latest);  // finishes a bulk build
    INFO("shape " << static_cast<int>(shape) << (at_open ? ", built at open" : ", merged"));
    CHECK(ix.lookup_layout(1) == expected);
    for (const auto& [id, loc] : where) {
        const auto v = ix.find(1, id, latest);
        REQUIRE(v);
        CHECK(v->location == loc);
        auto bytes = id.bytes();  // a neighbour that is not stored: found nowhere
        bytes[15] ^= 0x80;
        if (!where.contains(entity_id(bytes))) CHECK_FALSE(ix.find(1, entity_id(bytes), latest));
    }
    std::vector<entity_id> walked;  // every key once, in order, gaps skipped
    for (auto e = ix.next_live(1, nullptr, latest); e; e = ix.next_live(1, &e->first, latest)) walked.push_back(e->first);
    CHECK(walked == ids);
    CHECK(ix.version_count() == ids.size());
    // Erasing every other key in place keeps the others found (the gaps stay gaps).
    for (std::size_t i = 0; i < ids.size(); i += 2) ix.apply(1, ids[i], {.sequence = ++seq + 1, .tombstone = true}, no_readers);
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(static_cast<bool>(ix.find(1, ids[i], latest)) == (i % 2 == 1));
}

TEST_CASE("chunked_map: random inserts, erasures and filters match a std::map", "[primary_index]") {
    using entidb::detail::chunked_map;
    using map_type = chunked_map<std::uint32_t, std::uint64_t, 8>;  // small chunks: many splits and joins
    std::mt19937_64 rng(5);
    map_type m;
    std::map<std::uint32_t, std::uint64_t> model;
    const auto same = [&] {
        REQUIRE(m.size() == model.size());
        REQUIRE(m.empty() == model.empty());
        std::vector<std::pair<std::uint32_t, std::uint64_t>> forward, backward;
        for (const auto& e : m) forward.emplace_back(e.first, e.second);
        for (auto r = m.rbegin(); r != m.rend(); ++r) backward.emplace_back(r->first, r->second);
        std::reverse(backward.begin(), backward.end());
        const std::vector<std::pair<std::uint32_t, std::uint64_t>> expected(model.begin(), model.end());
        REQUIRE(forward == expected);
        REQUIRE(backward == expected);
    };
    for (int round = 0; round < 40; ++round) {
        for (int op = 0; op < 500; ++op) {
            const auto k = static_cast<std::uint32_t>(rng() % 2000);
            switch (rng() % 4) {
                case 0:
                case 1: {
                    const auto v = rng();
                    const bool added = m.insert(k, v);
                    REQUIRE(added == model.emplace(k, v).second);
                    break;
                }
                case 2:
                    REQUIRE(m.erase(k) == (model.erase(k) == 1));
                    break;
                default: {
                    const auto* found = m.find(k);
                    const auto it = model.find(k);
                    REQUIRE((found != nullptr) == (it != model.end()));
                    if (found != nullptr) REQUIRE(*found == it->second);
                    const auto after = m.upper_bound(k);
                    const auto expected = model.upper_bound(k);
                    REQUIRE((after == m.end()) == (expected == model.end()));
                    if (expected != model.end()) REQUIRE(after->first == expected->first);
                }
            }
        }
        same();
        if (round % 10 == 9) {
            const auto odd = [](std::uint64_t v) { return v % 2 == 1; };
            m.erase_if([&](const auto&, std::uint64_t v) { return odd(v); });
            std::erase_if(model, [&](const auto& e) { return odd(e.second); });
            same();
        }
    }
    for (const auto& [k, v] : model) REQUIRE(m.erase(k));
    model.clear();
    same();
    REQUIRE(m.begin() == m.end());
    REQUIRE(m.insert(7, 1));  // usable again once emptied
    REQUIRE(m.find(7) != nullptr);
    m.clear();
    same();
}
