// Compaction: the logical state never changes (model comparison over random operation logs,
// with snapshots open across compactions), bytes are reclaimed, tombstone retention, the
// change-feed horizon, and crash safety — faults injected at every WAL/segment operation of
// a compaction, and the directory captured at every step of the journal protocol (plus the
// states between two renames or removals, made by hand) must all reopen to the model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::small_segments;
using test_support::temp_dir;
namespace fs = std::filesystem;

namespace {

using key = std::pair<std::string, entidb::entity_id>;
using model = std::map<key, entidb::byte_buffer>;

// Everything a read transaction sees, by scan and by get.
template <typename Txn>
model state_of(const Txn& r) {
    model out;
    std::size_t in_storage_order = 0;
    for (const auto& c : r.collections()) {
        for (const auto& e : r.scan(c)) {
            CHECK(r.get(c, e.id) == e.bytes);
            out[{c, e.id}] = e.bytes;
        }
        // The scan in storage order yields the same entities, each once.
        for (const auto& e : r.scan(c, entidb::in_storage_order)) {
            static_assert(std::is_same_v<decltype(e), const entidb::entity_view&>);  // a view, no copy
            const auto it = out.find({c, e.id});
            CHECK((it != out.end() && std::ranges::equal(it->second, e.bytes)));
            ++in_storage_order;
        }
    }
    CHECK(in_storage_order == out.size());
    return out;
}

template <typename Db>
model state_of_db(const Db& db) {
    return state_of(db.begin_read());
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool has_temporaries(const fs::path& db) {
    for (const auto& n : names_in(db / "SEGMENTS"))
        if (n.ends_with(".compact")) return true;
    return false;
}

std::optional<entidb::format::compaction_state> journal_of(const fs::path& db) {
    if (!fs::exists(db / "COMPACTION")) return std::nullopt;
    return entidb::format::decode_compaction_state(entidb::read_file(db / "COMPACTION"), "COMPACTION");
}

void copy_dir(const fs::path& from, const fs::path& to) {
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
}

// A database directory after a crash at some point: it must open to `expected`, with no
// trace of an unfinished compaction, pass verify before and after, and keep working.
void check_recovers(const fs::path& db, const model& expected, entidb::config cfg,
                    const std::vector<std::string>& expected_segments = {}) {
    INFO("directory " << db.string());
    CHECK_NOTHROW(entidb::verify(db, cfg));  // the dry run understands the journal
    {
        auto d = entidb::open(db, cfg);
        CHECK(state_of_db(d) == expected);
    }
    CHECK_FALSE(has_temporaries(db));
    if (!expected_segments.empty()) CHECK(names_in(db / "SEGMENTS") == expected_segments);
    const auto j = journal_of(db);
    CHECK((!j || !j->pending()));
    CHECK_NOTHROW(entidb::verify(db, cfg));
    auto d = entidb::open(db, cfg);  // a second open finds nothing more to do
    CHECK(state_of_db(d) == expected);
    d.transaction([&](auto& txn) { txn.put("after", id_of(1), payload(1)); });
    model more = expected;
    more[{"after", id_of(1)}] = payload(1);
    d.close();
    auto again = entidb::open(db, cfg);
    CHECK(state_of_db(again) == more);
}

// A deterministic history: `rounds` overwrites of `keys` entities in two collections, some
// deletions, in small segments. Returns the model.
template <typename Db>
model write_history(Db& db, int rounds, int keys, int payload_size = 40) {
    model m;
    for (int t = 0; t < rounds; ++t)
        db.transaction([&](auto& txn) {
            for (int i = 0; i < keys; ++i) {
                const std::string coll = i % 2 ? "odd" : "even";
                if ((t + i) % 7 == 3 && m.contains({coll, id_of(i)})) {
                    txn.remove(coll, id_of(i));
                    m.erase({coll, id_of(i)});
                } else {
                    txn.put(coll, id_of(i), payload(static_cast<std::uint64_t>(t * 1000 + i), payload_size));
                    m[{coll, id_of(i)}] = payload(static_cast<std::uint64_t>(t * 1000 + i), payload_size);
                }
            }
        });
    return m;
}

// A record in the segment files, as the model sees it.
struct disk_record {
    std::uint64_t seq;
    key k;
    bool tombstone;
};

// What a compaction keeps of `disk` (every record in the segments, in commit order) with
// readers at `readers` (the open snapshots' sequences and the latest one): of each entity,
// the newest record at or below each reader, less the oldest of those while they are
// tombstones (they hide nothing kept); an entity left with none keeps only its tombstones
// within the retention or of the newest commit. Raises `dropped_max` to the largest
// sequence it drops (the history horizon).
std::vector<disk_record> expected_kept(const std::vector<disk_record>& disk, const std::vector<std::uint64_t>& readers,
                                       std::uint64_t last, std::uint64_t retention, std::uint64_t& dropped_max) {
    std::map<key, std::vector<const disk_record*>> by_key;  // oldest first
    std::uint64_t merge_max = 0;
    for (const auto& r : disk) {
        by_key[r.k].push_back(&r);
        merge_max = std::max(merge_max, r.seq);
    }
    const std::uint64_t keep_above = last > retention ? last - retention : 0;
    std::set<const disk_record*> keep;
    for (const auto& [k, records] : by_key) {
        std::map<std::uint64_t, const disk_record*> seen;  // by sequence
        for (const auto reader : readers) {
            const disk_record* newest = nullptr;
            for (const auto* r : records)
                if (r->seq <= reader) newest = r;
            if (newest) seen[newest->seq] = newest;
        }
        while (!seen.empty() && seen.begin()->second->tombstone) seen.erase(seen.begin());  // hides nothing kept
        if (!seen.empty()) {
            for (const auto& [_, r] : seen) keep.insert(r);
            continue;
        }
        for (const auto* r : records)
            if (r->tombstone && (r->seq > keep_above || r->seq == merge_max)) keep.insert(r);
    }
    std::vector<disk_record> out;
    for (const auto& r : disk) {
        if (keep.contains(&r))
            out.push_back(r);
        else
            dropped_max = std::max(dropped_max, r.seq);
    }
    return out;
}

struct single_segment_traits {
    using wal_backend = entidb::memory_backend;
    using segment_factory = entidb::single_backend_factory<entidb::memory_backend>;
    static constexpr bool rotating = false;
};

}  // namespace

TEST_CASE("compaction keeps the state, reclaims the bytes and survives a reopen", "[compaction]") {
    temp_dir dir;
    const auto path = dir / "db";
    const auto cfg = small_segments();
    model m;
    entidb::compaction_report r;
    {
        auto db = entidb::open(path, cfg);
        m = write_history(db, 40, 12);
        const auto last = db.last_sequence();
        r = db.compact();
        CHECK(r.sequence == last);
        CHECK(state_of_db(db) == m);
        CHECK(r.bytes_reclaimed == r.bytes_before - r.bytes_after);
        CHECK(r.bytes_after < r.bytes_before / 10);
        // one version per live entity (no snapshot is open), plus a deletion in the newest
        // commit, kept so that the segments still reach the MANIFEST's checkpoint
        CHECK(r.records_kept == m.size() + r.tombstones_kept);
        CHECK(r.tombstones_kept <= 1);
        CHECK(r.tombstones_dropped > 0);
        CHECK(r.records_dropped + r.records_kept > 40 * 12 - 1);
        CHECK(r.history_horizon > 0);
        CHECK(r.history_horizon <= last);
        WARN("compaction of 40 rounds x 12 entities (" << m.size() << " live): " << r.segments_before << " files, "
             << r.bytes_before << " bytes -> " << r.segments_after << " files, " << r.bytes_after << " bytes; reclaimed "
             << r.bytes_reclaimed << " bytes, dropped " << r.records_dropped << " records");
        // the active segment is the highest-numbered file and the only one written from now on
        const auto files = names_in(path / "SEGMENTS");
        CHECK(files.size() == r.segments_after);
        CHECK_FALSE(has_temporaries(path));
        CHECK(files.front() != "seg-000001.dat");  // gaps: the numbers moved up
        CHECK(fs::file_size(path / "SEGMENTS" / files.back()) == 0);
        db.transaction([&](auto& txn) { txn.put("even", id_of(1000), payload(1)); });
        m[{"even", id_of(1000)}] = payload(1);
        CHECK(fs::file_size(path / "SEGMENTS" / files.back()) > 0);
        CHECK(db.stats().segment_count == files.size());
    }
    const auto j = journal_of(path);
    REQUIRE(j);
    CHECK_FALSE(j->pending());
    CHECK(j->history_horizon == r.history_horizon);
    auto v = entidb::verify(path, cfg);
    CHECK(v.entities_checked == m.size());
    auto db = entidb::open(path, cfg);
    CHECK(state_of_db(db) == m);
    CHECK(db.history_horizon() == r.history_horizon);
    // a second compaction right away has nothing left to drop but that deletion
    const auto again = db.compact();
    CHECK(again.records_dropped == r.tombstones_kept);
    CHECK(again.records_kept == m.size());
    CHECK(state_of_db(db) == m);
}

TEST_CASE("changes_since below the history horizon is a typed error, above it complete", "[compaction]") {
    temp_dir dir;
    const auto path = dir / "db";
    std::uint64_t horizon = 0, last = 0;
    {
        auto db = entidb::open(path);
        for (int t = 1; t <= 10; ++t) db.transaction([&](auto& txn) { txn.put("c", id_of(t % 3), payload(t)); });
        CHECK(db.changes_since(0).size() == 10);  // nothing compacted yet: the whole history
        horizon = db.compact().history_horizon;
        CHECK(horizon == 7);  // entity 1 was last overwritten at 10, 2 at 8, 0 at 9: the put at 7 is gone
        CHECK(code_of([&] { (void)db.changes_since(horizon - 1); }) == errc::invalid_argument);
        CHECK(code_of([&] { (void)db.changes_since(0); }) == errc::invalid_argument);
        const auto after = db.changes_since(horizon);
        REQUIRE(after.size() == 3);
        CHECK(after[0].sequence == 8);
        CHECK(after[1].sequence == 9);
        CHECK(after[2].sequence == 10);
        CHECK(after[2].payload == payload(10));
        db.transaction([&](auto& txn) { txn.remove("c", id_of(1)); });
        last = db.last_sequence();
    }
    auto db = entidb::open(path);  // the horizon is durable
    CHECK(db.history_horizon() == horizon);
    CHECK(code_of([&] { (void)db.changes_since(horizon - 1); }) == errc::invalid_argument);
    const auto after = db.changes_since(horizon);
    REQUIRE(after.size() == 4);
    CHECK(after.back().sequence == last);
    CHECK(after.back().kind == entidb::change_kind::remove);
}

TEST_CASE("tombstones within the retention are kept, older ones dropped", "[compaction]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    for (int i = 0; i < 10; ++i) db.transaction([&](auto& txn) { txn.put("c", id_of(i), payload(i)); });
    for (int i = 0; i < 10; ++i) db.transaction([&](auto& txn) { txn.remove("c", id_of(i)); });  // seqs 11..20
    SECTION("retention 5 keeps the deletions of commits 16..20") {
        const auto r = db.compact({.tombstone_retention = 5});
        CHECK(r.tombstones_kept == 5);
        CHECK(r.tombstones_dropped == 5);
        CHECK(r.history_horizon == 15);
        const auto feed = db.changes_since(15);
        REQUIRE(feed.size() == 5);
        for (const auto& c : feed) CHECK(c.kind == entidb::change_kind::remove);
    }
    SECTION("retention 0 keeps only the newest commit's deletion (the segments must reach the checkpoint)") {
        const auto r = db.compact();
        CHECK(r.tombstones_kept == 1);
        CHECK(r.records_kept == 1);
        CHECK(r.history_horizon == 19);
    }
    CHECK(state_of_db(db).empty());
    db.close();
    CHECK_NOTHROW(entidb::verify(dir / "db"));
    auto again = entidb::open(dir / "db");
    CHECK(state_of_db(again).empty());
}

TEST_CASE("snapshots open across a compaction keep their state; old files go when they close", "[compaction]") {
    temp_dir dir;
    const auto cfg = small_segments();
    auto db = entidb::open(dir / "db", cfg);
    const auto m1 = write_history(db, 10, 8);
    auto r1 = db.begin_read();
    model m2 = m1;
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 8; i += 2) {
            const std::string coll = i % 2 ? "odd" : "even";
            if (m2.erase({coll, id_of(i)}))
                txn.remove(coll, id_of(i));
            else {
                txn.put(coll, id_of(i), payload(99));
                m2[{coll, id_of(i)}] = payload(99);
            }
        }
        txn.put("odd", id_of(1), payload(77));
        m2[{"odd", id_of(1)}] = payload(77);
    });
    auto r2 = db.begin_read();
    const auto m3 = write_history(db, 5, 8);
    const auto r = db.compact();
    CHECK(r.records_kept > m3.size());  // older versions the snapshots see were copied too
    CHECK(state_of(r1) == m1);
    CHECK(state_of(r2) == m2);
    CHECK(state_of_db(db) == m3);
    CHECK(db.stats().retired_segments > 0);  // r1 and r2 may still read the old files
    db.transaction([&](auto& txn) { txn.put("x", id_of(1), payload(1)); });
    CHECK(db.stats().retired_segments > 0);
    CHECK(state_of(r1) == m1);
    r1 = db.begin_read();
    r2 = db.begin_read();  // both old snapshots are gone now
    db.transaction([&](auto& txn) { txn.put("x", id_of(2), payload(2)); });
    CHECK(db.stats().retired_segments == 0);
    // a compaction while these snapshots are open keeps what they see
    const auto seen = state_of(r2);
    (void)db.compact();
    CHECK(state_of(r2) == seen);
}

TEST_CASE("readers keep consistent snapshots while the writer commits and compacts", "[compaction][threads]") {
    temp_dir dir;
    entidb::config cfg = small_segments();
    auto db = entidb::open(dir / "db", cfg);
    // Invariant of every commit: entities 0..9 all hold the same n.
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 10; ++i) txn.put("c", id_of(i), payload(0));
    });
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, reads{0};
    auto reader = [&] {
        do {
            auto r = db.begin_read();
            std::set<entidb::byte_buffer> seen;
            std::size_t n = 0;
            for (const auto& e : r.scan("c")) {
                seen.insert(e.bytes);
                ++n;
            }
            if (seen.size() != 1 || n != 10) ++bad;
            ++reads;
        } while (!stop);
    };
    // Point reads register no snapshot: a compaction must still not destroy the segment
    // one of them is reading (ASan would see the unmapped bytes), and they never miss.
    std::atomic<int> missed{0};
    auto point_reader = [&] {
        entidb::byte_buffer buf;
        for (int i = 0; !stop || i < 10; ++i)
            if (!db.get_into("c", id_of(i % 10), buf)) ++missed;
    };
    std::thread t1(reader), t2(reader), t3(point_reader);
    for (int n = 1; n <= 120; ++n) {
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 10; ++i) txn.put("c", id_of(i), payload(n));
        });
        if (n % 15 == 0) (void)db.compact();
    }
    stop = true;
    t1.join();
    t2.join();
    t3.join();
    CHECK(missed == 0);
    CHECK(bad == 0);
    CHECK(reads > 0);
    CHECK(state_of_db(db).size() == 10);
}

TEST_CASE("compaction keeps only the versions the open snapshots and the latest state see", "[compaction]") {
    // 200 entities written 10 times, a snapshot held at the 5th write, 50 of them deleted:
    // the snapshot reads 200 versions, the latest state 150 puts and 50 tombstones.
    temp_dir dir;
    const auto path = dir / "db";
    const auto cfg = small_segments();
    auto db = entidb::open(path, cfg);
    std::optional<entidb::database::read_transaction> at5;
    std::uint64_t tenth = 0;
    for (int v = 1; v <= 10; ++v) {
        tenth = db.transaction([&](auto& txn) {
            for (int i = 0; i < 200; ++i)
                txn.put("c", id_of(static_cast<std::uint64_t>(i)), payload(static_cast<std::uint64_t>(v * 1000 + i)));
        });
        if (v == 5) at5.emplace(db.begin_read());
    }
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 50; ++i) txn.remove("c", id_of(static_cast<std::uint64_t>(i)));
    });
    const auto seen5 = state_of(*at5);
    const auto latest = state_of_db(db);
    REQUIRE(seen5.size() == 200);
    REQUIRE(latest.size() == 150);
    const auto r = db.compact();
    CHECK(r.records_kept == 400);
    CHECK(r.records_dropped == 2050 - 400);
    CHECK(r.tombstones_kept == 50);
    CHECK(r.tombstones_dropped == 0);
    // the newest record dropped: the 10th write of a deleted entity (between the snapshot
    // and the deletion, no reader sees it)
    CHECK(r.history_horizon == tenth);
    CHECK(db.history_horizon() == tenth);
    CHECK(state_of(*at5) == seen5);
    CHECK(state_of_db(db) == latest);
    CHECK(code_of([&] { (void)db.changes_since(tenth - 1); }) == errc::invalid_argument);
    CHECK(db.changes_since(tenth).size() == 50);  // the deletions
    // a second compaction with the snapshot still open finds nothing more to drop
    const auto again = db.compact();
    CHECK(again.records_kept == 400);
    CHECK(again.records_dropped == 0);
    at5.reset();
    db.close();
    auto reopened = entidb::open(path, cfg);
    CHECK(state_of_db(reopened) == latest);
    // No snapshot now: the 5th writes go; the deletions stay, being the newest commit's.
    const auto last = reopened.compact();
    CHECK(last.records_kept == 150 + 50);
    CHECK(last.tombstones_kept == 50);
    CHECK(state_of_db(reopened) == latest);
}

TEST_CASE("random operation logs with compactions at random points match a model", "[compaction]") {
    const auto seed = static_cast<std::uint32_t>(GENERATE(1, 2, 3, 4));
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    temp_dir dir;
    const auto path = dir / "db";
    entidb::config cfg;
    cfg.max_segment_size = 1024 + 512 * static_cast<std::uint64_t>(pick(4));
    auto db = entidb::open(path, cfg);
    model m;
    struct change_entry {
        std::uint64_t seq;
        std::string coll;
        entidb::entity_id id;
        bool remove;
        entidb::byte_buffer payload;
    };
    std::vector<change_entry> history;
    std::vector<disk_record> disk;  // what the segment files hold
    std::uint64_t horizon_model = 0;
    struct open_snapshot {
        entidb::database::read_transaction txn;
        model state;
    };
    std::vector<open_snapshot> snaps;
    const char* colls[] = {"a", "b", "c"};
    int compactions = 0;
    for (int step = 0; step < 300; ++step) {
        const int what = pick(100);
        if (what < 80) {
            std::map<key, std::optional<entidb::byte_buffer>> ops;
            const int n = 1 + pick(4);
            for (int k = 0; k < n; ++k) {
                const key kk{colls[pick(3)], id_of(static_cast<std::uint64_t>(pick(25)))};
                const bool live = ops.contains(kk) ? ops[kk].has_value() : m.contains(kk);
                if (live && pick(3) == 0)
                    ops[kk] = std::nullopt;
                else
                    ops[kk] = payload(static_cast<std::uint64_t>(step * 10 + k), static_cast<std::size_t>(pick(60)));
            }
            const auto seq = db.transaction([&](auto& txn) {
                for (const auto& [kk, v] : ops) {
                    if (v)
                        txn.put(kk.first, kk.second, *v);
                    else
                        txn.remove(kk.first, kk.second);
                }
            });
            for (const auto& [kk, v] : ops) {
                if (v) {
                    m[kk] = *v;
                    history.push_back({seq, kk.first, kk.second, false, *v});
                    disk.push_back({seq, kk, false});
                } else if (m.erase(kk)) {  // (removing an entity that is not live writes nothing)
                    history.push_back({seq, kk.first, kk.second, true, {}});
                    disk.push_back({seq, kk, true});
                }
            }
        } else if (what < 88) {
            const auto retention = static_cast<std::uint64_t>(pick(3) * 5);
            std::vector<std::uint64_t> readers{db.last_sequence()};
            for (const auto& sn : snaps) readers.push_back(sn.txn.sequence());
            const auto kept = expected_kept(disk, readers, db.last_sequence(), retention, horizon_model);
            const auto tombstones = [](const std::vector<disk_record>& v) {
                const auto n = std::count_if(v.begin(), v.end(), [](const auto& r) { return r.tombstone; });
                return static_cast<std::uint64_t>(n);
            };
            const auto r = db.compact({.tombstone_retention = retention});
            ++compactions;
            CHECK(r.bytes_reclaimed == r.bytes_before - r.bytes_after);
            // exactly what some reader sees (plus the retained tombstones), nothing else
            CHECK(r.records_kept == kept.size());
            CHECK(r.records_dropped == disk.size() - kept.size());
            CHECK(r.tombstones_kept == tombstones(kept));
            CHECK(r.tombstones_dropped == tombstones(disk) - tombstones(kept));
            CHECK(r.history_horizon == horizon_model);
            disk = kept;
        } else if (what < 92) {
            db.checkpoint();
        } else if (what < 96) {
            snaps.push_back({db.begin_read(), m});
        } else if (what < 98 && !snaps.empty()) {
            snaps.erase(snaps.begin() + pick(static_cast<int>(snaps.size())));
        } else {
            snaps.clear();
            db.close();
            db = entidb::open(path, cfg);
        }
        if (step % 10 == 0 || what >= 80) {
            REQUIRE(state_of_db(db) == m);
            for (const auto& s : snaps) REQUIRE(state_of(s.txn) == s.state);
            // the change feed from the horizon on is exactly the history after it
            const auto horizon = db.history_horizon();
            const auto feed = db.changes_since(horizon);
            std::vector<change_entry> expected;
            for (const auto& h : history)
                if (h.seq > horizon) expected.push_back(h);
            REQUIRE(feed.size() == expected.size());
            std::multiset<std::tuple<std::uint64_t, std::string, entidb::entity_id, bool, entidb::byte_buffer>> a, b;
            for (const auto& c : feed)
                a.insert({c.sequence, c.collection, c.id, c.kind == entidb::change_kind::remove, c.payload});
            for (const auto& h : expected) b.insert({h.seq, h.coll, h.id, h.remove, h.payload});
            REQUIRE(a == b);
            for (std::size_t i = 1; i < feed.size(); ++i) REQUIRE(feed[i - 1].sequence <= feed[i].sequence);
            if (horizon > 0) REQUIRE(code_of([&] { (void)db.changes_since(horizon - 1); }) == errc::invalid_argument);
        }
    }
    CHECK(compactions > 10);
    snaps.clear();
    db.close();
    CHECK_NOTHROW(entidb::verify(path, cfg));
    auto again = entidb::open(path, cfg);
    CHECK(state_of_db(again) == m);
}

TEST_CASE("compact fails with busy, changing nothing, while a scan in storage order stays open", "[compaction][threads]") {
    temp_dir dir;
    const auto cfg = small_segments();
    auto db = entidb::open(dir / "db", cfg);
    const auto m = write_history(db, 6, 8);
    const auto segments_before = names_in(dir / "db" / "SEGMENTS");
    auto r = db.begin_read();
    auto range = r.scan("even", entidb::in_storage_order);
    std::optional<decltype(range.begin())> open_scan(range.begin());  // registered, never advanced
    REQUIRE(*open_scan != std::default_sentinel);
    // A scan nobody closes (here: held by the thread that waits for the compaction) must not
    // hold the compaction forever: with the default options it gives up with a typed error.
    auto compaction = std::async(std::launch::async, [&] { return code_of([&] { (void)db.compact(); }); });
    const bool returned = compaction.wait_for(std::chrono::minutes(2)) == std::future_status::ready;
    if (!returned) open_scan.reset();  // end the scan so that the waiting compaction, and the test, can end
    CHECK(returned);
    CHECK(compaction.get() == errc::busy);
    if (!returned) return;
    // ... and at once with scan_wait 0, on the thread that holds the scan
    const auto at_once = [&] { (void)db.compact({.scan_wait = std::chrono::milliseconds(0)}); };
    CHECK(code_of(at_once) == errc::busy);
    try {
        at_once();
    } catch (const entidb::error& e) {
        CHECK_THAT(e.what(), Catch::Matchers::Contains("1 scan(s) in storage order still open"));
    }
    CHECK(names_in(dir / "db" / "SEGMENTS") == segments_before);
    CHECK(state_of(r) == m);
    // the scan goes on, and once it ends the compaction runs
    std::size_t seen = 0;
    for (auto& it = *open_scan; it != std::default_sentinel; ++it) ++seen;
    const auto evens = std::count_if(m.begin(), m.end(), [](const auto& e) { return e.first.first == "even"; });
    CHECK(seen == static_cast<std::size_t>(evens));
    open_scan.reset();
    CHECK(db.compact({.scan_wait = std::chrono::milliseconds(0)}).records_dropped > 0);
    CHECK(state_of_db(db) == m);
}

TEST_CASE("compact waits for a scan in storage order that another thread ends", "[compaction][threads]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db", small_segments());
    const auto m = write_history(db, 6, 8);
    std::promise<void> scan_open, end_scan;
    std::thread scanner([&] {
        auto r = db.begin_read();
        auto range = r.scan("odd", entidb::in_storage_order);
        [[maybe_unused]] const auto it = range.begin();  // registered until the thread ends
        scan_open.set_value();
        end_scan.get_future().wait();
    });
    scan_open.get_future().wait();
    // The compaction may start waiting before or after the scan ends: either way it runs.
    auto compaction = std::async(std::launch::async, [&] {
        return db.compact({.scan_wait = std::chrono::minutes(10)}).records_dropped;
    });
    end_scan.set_value();
    scanner.join();
    REQUIRE(compaction.wait_for(std::chrono::minutes(2)) == std::future_status::ready);
    CHECK(compaction.get() > 0);
    CHECK(state_of_db(db) == m);
}

TEST_CASE("a crash at every step of the journal protocol reopens to the same state", "[compaction][crash]") {
    temp_dir dir;
    const auto path = dir / "db";
    const auto cfg = small_segments();
    model m;
    std::vector<std::pair<entidb::compaction_step, fs::path>> captured;
    {
        auto db = entidb::open(path, cfg);
        m = write_history(db, 20, 10);
        // the last commit only in the WAL: the compaction's checkpoint must carry it over
        db.transaction([&](auto& txn) { txn.put("even", id_of(500), payload(5)); });
        m[{"even", id_of(500)}] = payload(5);
        int n = 0;
        (void)db.compact({.tombstone_retention = 0, .on_step = [&](entidb::compaction_step s) {
                              const auto copy = dir / ("step" + std::to_string(n++));
                              copy_dir(path, copy);
                              captured.emplace_back(s, copy);
                          }});
        CHECK(state_of_db(db) == m);
    }
    REQUIRE(captured.size() == 6);
    CHECK(captured[0].first == entidb::compaction_step::checkpointed);
    CHECK(captured[1].first == entidb::compaction_step::outputs_written);
    CHECK(captured[2].first == entidb::compaction_step::journal_written);
    CHECK(captured[5].first == entidb::compaction_step::finished);
    for (const auto& [s, captured_dir] : captured) {
        INFO("crash after step " << entidb::to_string(s));
        const auto copy = dir / "recovered";
        copy_dir(captured_dir, copy);  // the captured directory stays as it was for the cases below
        if (s == entidb::compaction_step::outputs_written) {
            CHECK(has_temporaries(copy));  // no journal: the next open deletes them
            const auto j = journal_of(copy);
            CHECK((!j || !j->pending()));
            const auto v = entidb::verify(copy, cfg);
            CHECK_FALSE(v.stray_temporaries.empty());
        }
        if (s == entidb::compaction_step::journal_written) {
            const auto v = entidb::verify(copy, cfg);
            CHECK(v.pending_compaction);
        }
        {  // a read-only open reads the same state through the journal and changes nothing
            const auto files = test_support::snapshot_files(copy);
            auto read_only = cfg;
            read_only.read_only = true;
            CHECK(state_of_db(entidb::open(copy, read_only)) == m);
            CHECK(test_support::snapshot_files(copy) == files);
        }
        check_recovers(copy, m, cfg);
    }

    // The states between two renames or two removals of the redo, made by hand from the
    // directory as it was when the journal became durable.
    const auto base = captured[2].second;
    const auto journal = journal_of(base);
    REQUIRE(journal);
    REQUIRE(journal->pending());
    REQUIRE(journal->publish.size() >= 2);
    REQUIRE(journal->remove.size() >= 2);
    const auto seg = [](const fs::path& db, std::uint32_t n, bool temporary) {
        return db / "SEGMENTS" / (temporary ? entidb::temporary_segment_file_name(n) : entidb::segment_file_name(n));
    };
    std::vector<std::string> published;  // what SEGMENTS/ holds once the compaction is finished
    for (const auto n : journal->publish) published.push_back(entidb::segment_file_name(n));
    for (const auto& [s, captured_dir] : captured)
        if (s >= entidb::compaction_step::journal_written) {
            const auto copy = dir / "recovered";
            copy_dir(captured_dir, copy);
            check_recovers(copy, m, cfg, published);
        }
    for (std::size_t renamed = 1; renamed <= journal->publish.size(); ++renamed) {
        const auto copy = dir / ("renamed" + std::to_string(renamed));
        copy_dir(base, copy);
        for (std::size_t i = 0; i < renamed; ++i)
            fs::rename(seg(copy, journal->publish[i], true), seg(copy, journal->publish[i], false));
        check_recovers(copy, m, cfg, published);
    }
    // Old files removed in either order (the journal promises none): with a dropped tombstone,
    // an old put that survived its tombstone's file would bring the entity back.
    for (const bool newest_first : {false, true})
        for (std::size_t removed = 1; removed <= journal->remove.size(); ++removed) {
            const auto copy = dir / ("removed" + std::to_string(removed));
            copy_dir(base, copy);
            for (const auto n : journal->publish) fs::rename(seg(copy, n, true), seg(copy, n, false));
            for (std::size_t i = 0; i < removed; ++i)
                fs::remove(seg(copy, journal->remove[newest_first ? journal->remove.size() - 1 - i : i], false));
            check_recovers(copy, m, cfg, published);
        }
    // A journal whose published segment is missing altogether is corruption, and open
    // changes nothing.
    {
        const auto copy = dir / "missing";
        copy_dir(base, copy);
        fs::remove(seg(copy, journal->publish.front(), true));
        const auto before = test_support::snapshot_files(copy);
        CHECK(code_of([&] { (void)entidb::open(copy, cfg); }) == errc::corruption);
        CHECK(code_of([&] { (void)entidb::verify(copy, cfg); }) == errc::corruption);
        CHECK(test_support::snapshot_files(copy) == before);
    }
    // A damaged journal is corruption too.
    {
        const auto copy = dir / "damaged";
        copy_dir(base, copy);
        std::fstream f(copy / "COMPACTION", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(8);
        f.put('\x7f');
        f.close();
        CHECK(code_of([&] { (void)entidb::open(copy, cfg); }) == errc::corruption);
        const auto v = entidb::verify_report(copy, cfg);
        REQUIRE_FALSE(v.ok());
        CHECK(v.problems.front().path.ends_with("COMPACTION"));
    }
}

TEST_CASE("faults injected at every operation of a compaction never lose or resurrect data", "[compaction][crash]") {
    temp_dir dir;
    const auto base = dir / "base";
    auto cfg = small_segments();
    cfg.max_segment_size = 1024;
    model m;
    {
        auto db = entidb::open(base, cfg);
        m = write_history(db, 8, 10, 20);
    }
    // How many WAL/segment operations a compaction of this directory makes.
    std::uint64_t ops = 0;
    {
        copy_dir(base, dir / "count");
        entidb::fault_injecting_file_storage::environment env;
        auto db = entidb::open<entidb::fault_injecting_file_storage>(dir / "count", cfg, env);
        const auto before = env.plan->operations();
        (void)db.compact();
        ops = env.plan->operations() - before;
    }
    REQUIRE(ops > 10);
    const entidb::fault_kind kinds[] = {entidb::fault_kind::io_error, entidb::fault_kind::short_write,
                                        entidb::fault_kind::flush_failure, entidb::fault_kind::no_space};
    int faults = 0;
    for (std::uint64_t n = 0; n < ops; ++n)
        for (const auto kind : kinds) {
            const bool crash = (n + static_cast<std::uint64_t>(kind)) % 2 == 0;
            INFO("fault " << entidb::to_string(kind) << " at compaction operation " << n << (crash ? ", crash" : ""));
            const auto path = dir / "run";
            copy_dir(base, path);
            model expected = m;
            {
                entidb::fault_injecting_file_storage::environment env;
                auto db = entidb::open<entidb::fault_injecting_file_storage>(path, cfg, env);
                env.plan->arm(env.plan->operations() + n, kind, {.crash_after_fault = crash});
                const auto code = code_of([&] { (void)db.compact(); });
                REQUIRE(env.plan->fired());
                ++faults;
                CHECK(code != errc::ok);
                if (!crash) {
                    // the process lives on: what it reads is still the model, and it either
                    // takes more writes or refuses them until a reopen
                    CHECK(state_of_db(db) == m);
                    const auto more = code_of([&] {
                        db.transaction([&](auto& txn) { txn.put("later", id_of(n), payload(n)); });
                    });
                    CHECK((more == errc::ok || more == errc::needs_reopen));
                    if (more == errc::ok) {
                        expected[{"later", id_of(n)}] = payload(n);
                        CHECK(state_of_db(db) == expected);
                    }
                }
                env.plan->power_cut(n % 3 == 0 ? 7 : 0);  // while the backends still exist
                db.close();
            }
            check_recovers(path, expected, cfg);
        }
    CHECK(faults == static_cast<int>(ops) * 4);
}

TEST_CASE("a damaged sealed segment stops the compaction before anything changes", "[compaction]") {
    temp_dir dir;
    const auto path = dir / "db";
    const auto cfg = small_segments();
    auto db = entidb::open(path, cfg);
    (void)write_history(db, 10, 6);
    db.checkpoint();
    const auto files = names_in(path / "SEGMENTS");
    REQUIRE(files.size() >= 3);
    {
        std::fstream f(path / "SEGMENTS" / files[1], std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.put('\x55');
    }
    CHECK(code_of([&] { (void)db.compact(); }) == errc::corruption);
    CHECK_FALSE(has_temporaries(path));
    CHECK_FALSE(fs::exists(path / "COMPACTION"));
    CHECK(names_in(path / "SEGMENTS").size() == files.size() + 0);  // the checkpoint's empty segment was there
}

TEST_CASE("compaction of an in-memory database and of a non-rotating factory", "[compaction]") {
    auto db = entidb::open_in_memory(small_segments());
    const auto m = write_history(db, 20, 8);
    auto r1 = db.begin_read();
    const auto r = db.compact();
    CHECK(r.bytes_reclaimed > 0);
    CHECK(state_of_db(db) == m);
    CHECK(state_of(r1) == m);
    db.transaction([&](auto& txn) { txn.put("even", id_of(1), payload(1)); });
    CHECK(db.begin_read().get("even", id_of(1)) == payload(1));

    using single = single_segment_traits;
    auto one = entidb::basic_database<single>::open_with_backends(
        std::make_unique<entidb::memory_backend>(),
        entidb::single_backend_factory<entidb::memory_backend>(std::make_unique<entidb::memory_backend>()));
    CHECK(code_of([&] { (void)one.compact(); }) == errc::rotation_unsupported);
}
