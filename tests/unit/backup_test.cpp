// Backup and restore: a backup taken while a writer commits (and compacts) restores exactly
// the state of its snapshot; the file follows the documented format; damaged, truncated or
// extended files are refused with a typed error and leave no directory behind.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;
namespace fs = std::filesystem;

namespace {

using key = std::pair<std::string, entidb::entity_id>;
using model = std::map<key, entidb::byte_buffer>;

template <typename Db>
model state_of(const Db& db) {
    model out;
    const auto r = db.begin_read();
    for (const auto& c : r.collections())
        for (const auto& e : r.scan(c)) out[{c, e.id}] = e.bytes;
    return out;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// {"city": city, "n": n} in canonical CBOR.
entidb::byte_buffer city_payload(const std::string& city, std::uint64_t n) {
    entidb::byte_buffer out{0xa2, 0x61, 'n'};
    test_support::put_head(out, 0, n);
    out.insert(out.end(), {0x64, 'c', 'i', 't', 'y'});
    out.push_back(static_cast<std::uint8_t>(0x60 + city.size()));
    out.insert(out.end(), city.begin(), city.end());
    return out;  // keys sorted by encoded bytes: "n" (0x61..) before "city" (0x64..)
}

std::uint64_t le(const std::string& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(b[at + static_cast<std::size_t>(i)]);
    return v;
}

}  // namespace

TEST_CASE("backup and restore round trip: entities, collection ids, indexes, sequence", "[backup]") {
    temp_dir dir;
    model m;
    std::uint64_t seq = 0;
    std::map<std::string, std::uint32_t> ids;
    {
        auto db = entidb::open(dir / "db");
        db.declare_index("people", "city", entidb::index_kind::hash);
        db.declare_index("people", "n", entidb::index_kind::ordered, true);
        db.declare_index("empty", "x", entidb::index_kind::ordered);  // a collection with no entity
        for (std::uint64_t i = 0; i < 20; ++i)
            db.transaction([&](auto& txn) {
                txn.put("people", id_of(i), city_payload(i % 2 ? "Oslo" : "Lima", i));
                txn.put("notes", id_of(100 + i), payload(i, i * 3u));
            });
        db.transaction([&](auto& txn) {
            txn.remove("people", id_of(3));
            txn.remove("notes", id_of(104));
        });
        (void)db.compact();
        m = state_of(db);
        seq = db.last_sequence();
        for (const auto& c : db.describe().collections) ids[c.name] = c.id;
        const auto info = entidb::backup(db, dir / "backup.bin");
        CHECK(info.sequence == seq);
        CHECK(info.entities == m.size());
        CHECK(info.collections == 3);
        CHECK(info.indexes == 3);
        CHECK(info.bytes == fs::file_size(dir / "backup.bin"));
        CHECK_FALSE(fs::exists(dir / "backup.bin.tmp"));
        CHECK(code_of([&] { (void)entidb::backup(db, dir / "backup.bin"); }) == errc::invalid_argument);
    }
    const auto info = entidb::read_backup(dir / "backup.bin");
    CHECK(info.sequence == seq);
    CHECK(info.entities == m.size());

    const auto restored_info = entidb::restore(dir / "backup.bin", dir / "restored");
    CHECK(restored_info.checksum == info.checksum);
    CHECK_FALSE(fs::exists(dir / "restored.restoring"));
    CHECK_NOTHROW(entidb::verify(dir / "restored"));
    auto db = entidb::open(dir / "restored");
    CHECK(state_of(db) == m);
    CHECK(db.last_sequence() == seq);
    CHECK(db.history_horizon() == seq);
    CHECK(code_of([&] { (void)db.changes_since(seq - 1); }) == errc::invalid_argument);
    CHECK(db.changes_since(seq).empty());
    for (const auto& c : db.describe().collections) CHECK(ids.at(c.name) == c.id);
    const auto r = db.begin_read();
    CHECK(r.collections() == std::vector<std::string>{"empty", "notes", "people"});
    CHECK(r.has_index("people", "city", entidb::index_kind::hash));
    CHECK(r.has_index("people", "n", entidb::index_kind::ordered));
    CHECK(r.has_index("empty", "x"));
    CHECK(r.find("people", "city", entidb::cbor::value(std::string("Oslo"))).size() == 9);  // 10 minus the deleted 3
    db.transaction([&](auto& txn) { txn.put("people", id_of(50), city_payload("Oslo", 50)); });
    CHECK(db.last_sequence() == seq + 1);
    CHECK(code_of([&] {
              db.transaction([&](auto& txn) { txn.put("people", id_of(51), city_payload("Rome", 50)); });
          }) == errc::unique_violation);  // the unique index came back too
    CHECK(code_of([&] { (void)entidb::restore(dir / "backup.bin", dir / "restored"); }) == errc::invalid_argument);
}

TEST_CASE("a backup taken while a writer commits and compacts restores exactly its snapshot", "[backup]") {
    temp_dir dir;
    entidb::config cfg;
    cfg.max_segment_size = 64 * 1024;
    auto db = entidb::open(dir / "db", cfg);
    // The log of every commit, so the state at any sequence can be replayed.
    struct op {
        std::uint64_t seq;
        key k;
        std::optional<entidb::byte_buffer> value;
    };
    std::vector<op> log;
    std::mutex log_mutex;
    std::mt19937 rng(7);
    model live;
    const auto commit_random = [&](int n) {
        std::map<key, std::optional<entidb::byte_buffer>> ops;
        for (int i = 0; i < n; ++i) {
            const key k{rng() % 2 ? "a" : "b", id_of(rng() % 600)};
            if (live.contains(k) && rng() % 4 == 0)
                ops[k] = std::nullopt;
            else
                ops[k] = payload(rng() % 100000, 50 + rng() % 150);
        }
        const auto seq = db.transaction([&](auto& txn) {
            for (const auto& [k, v] : ops)
                if (v)
                    txn.put(k.first, k.second, *v);
                else
                    txn.remove(k.first, k.second);
        });
        std::lock_guard lock(log_mutex);
        for (const auto& [k, v] : ops) {
            if (v)
                live[k] = *v;
            else
                live.erase(k);
            log.push_back({seq, k, v});
        }
    };
    for (int t = 0; t < 100; ++t) commit_random(20);

    std::atomic<bool> stop{false};
    std::atomic<int> commits_during{0};
    std::thread writer([&] {
        int t = 0;
        while (!stop) {
            commit_random(5);
            ++commits_during;
            if (++t % 40 == 0) (void)db.compact();
        }
    });
    while (commits_during < 5) std::this_thread::yield();
    std::vector<entidb::backup_info> infos;
    // At least three backups, and more until a commit has landed while one was being
    // written (on a loaded machine the writer may not get a core during the first ones).
    bool overtaken = false;
    for (int b = 0; b < 3 || (!overtaken && b < 200); ++b) {
        infos.push_back(entidb::backup(db, dir / ("backup" + std::to_string(b))));
        overtaken = overtaken || db.last_sequence() > infos.back().sequence;
        if (!overtaken) std::this_thread::yield();
    }
    stop = true;
    writer.join();
    CHECK(overtaken);  // the writer went on meanwhile

    for (std::size_t b = 0; b < infos.size(); ++b) {
        INFO("backup " << b << " at sequence " << infos[b].sequence);
        model expected;
        for (const auto& o : log) {
            if (o.seq > infos[b].sequence) break;
            if (o.value)
                expected[o.k] = *o.value;
            else
                expected.erase(o.k);
        }
        CHECK(infos[b].entities == expected.size());
        const auto target = dir / ("restored" + std::to_string(b));
        (void)entidb::restore(dir / ("backup" + std::to_string(b)), target, cfg);
        auto restored = entidb::open(target, cfg);
        CHECK(restored.last_sequence() == infos[b].sequence);
        CHECK(state_of(restored) == expected);
    }
}

TEST_CASE("the backup file has the documented layout", "[backup]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([&](auto& txn) {
        txn.put("c", id_of(2), payload(2));
        txn.put("c", id_of(1), payload(1));
    });
    (void)entidb::backup(db, dir / "b");
    const auto b = read_all(dir / "b");
    REQUIRE(b.size() > 22 + 20);
    CHECK(b.substr(0, 4) == "EBAK");
    CHECK(le(b, 4, 2) == 1);   // backup version
    CHECK(le(b, 6, 2) == 1);   // format major
    CHECK(le(b, 8, 2) == 0);   // format minor
    CHECK(le(b, 10, 8) == 1);  // sequence
    const auto mlen = le(b, 18, 4);
    const auto registry = entidb::format::decode_manifest(
        entidb::bytes_view(reinterpret_cast<const std::uint8_t*>(b.data()) + 22, mlen), "registry");
    REQUIRE(registry.collections.size() == 1);
    CHECK(registry.collections[0].name == "c");
    std::size_t at = 22 + mlen;
    for (std::uint64_t n : {1u, 2u}) {  // ascending ids
        CHECK(le(b, at, 4) == registry.collections[0].id);
        CHECK(le(b, at + 4, 8) == 0);
        CHECK(static_cast<std::uint8_t>(b[at + 4 + 15]) == n);
        const auto len = le(b, at + 20, 4);
        const auto expected = payload(n);
        CHECK(b.substr(at + 24, len) == std::string(expected.begin(), expected.end()));
        at += 24 + len;
    }
    CHECK(le(b, at, 4) == 0);      // end marker
    CHECK(le(b, at + 4, 8) == 2);  // entity count
    const auto sum = entidb::hash64(entidb::bytes_view(reinterpret_cast<const std::uint8_t*>(b.data()), at + 12));
    CHECK(le(b, at + 12, 8) == sum);  // XXH3-64 of everything before it
    CHECK(b.size() == at + 20);
}

TEST_CASE("a damaged backup is refused with a typed error and leaves no directory", "[backup]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir / "db");
        for (int i = 0; i < 30; ++i) db.transaction([&](auto& txn) { txn.put("c", id_of(i), payload(i, 30)); });
        db.declare_index("c", "n", entidb::index_kind::ordered);
        (void)entidb::backup(db, dir / "good");
    }
    const auto good = read_all(dir / "good");
    const auto target = dir / "restored";
    const auto refused = [&](const std::string& bytes, std::initializer_list<errc> codes) {
        write_all(dir / "bad", bytes);
        const auto read = code_of([&] { (void)entidb::read_backup(dir / "bad"); });
        const auto restored = code_of([&] { (void)entidb::restore(dir / "bad", target); });
        CHECK(std::find(codes.begin(), codes.end(), read) != codes.end());
        CHECK(restored == read);
        CHECK_FALSE(fs::exists(target));
        CHECK_FALSE(fs::exists(dir / "restored.restoring"));
    };
    SECTION("truncated anywhere") {
        for (std::size_t len = 0; len < good.size(); len += (len < 64 || len + 64 > good.size()) ? 1 : 37) {
            INFO("truncated to " << len << " of " << good.size() << " bytes");
            refused(good.substr(0, len), {errc::corruption});
        }
    }
    SECTION("one byte changed anywhere") {
        for (std::size_t at = 0; at < good.size(); at += (at < 64 || at + 64 > good.size()) ? 1 : 29) {
            INFO("byte " << at << " changed");
            std::string bad = good;
            bad[at] = static_cast<char>(bad[at] ^ 0x20);
            // the version fields say "a backup this build cannot read"
            if (at >= 4 && at < 10)
                refused(bad, {errc::corruption, errc::unsupported_version});
            else
                refused(bad, {errc::corruption});
        }
    }
    SECTION("bytes after the trailer") { refused(good + "x", {errc::corruption}); }
    SECTION("not a backup at all") { refused("hello, world", {errc::corruption}); }
    SECTION("missing") {
        CHECK(code_of([&] { (void)entidb::restore(dir / "none", target); }) == errc::not_found);
        CHECK_FALSE(fs::exists(target));
    }
    SECTION("a directory, not a file") {
        fs::create_directory(dir / "a-directory");
        CHECK(code_of([&] { (void)entidb::restore(dir / "a-directory", target); }) == errc::invalid_argument);
        CHECK(code_of([&] { (void)entidb::read_backup(dir / "a-directory"); }) == errc::invalid_argument);
        CHECK_FALSE(fs::exists(target));
    }
    // and the good one still restores
    (void)entidb::restore(dir / "good", dir / "fine");
    auto db = entidb::open(dir / "fine");
    CHECK(state_of(db).size() == 30);
}

TEST_CASE("a restore that fails half-way removes what it made", "[backup]") {
    temp_dir dir;
    // A well-formed backup (right checksum) whose unique index two entities violate: the
    // file passes the first check, the restore fails while building the index.
    entidb::format::backup_header h;
    h.sequence = 5;
    h.registry.collections = {{"c", 1}};
    h.registry.next_collection_id = 2;
    h.registry.indexes = {{.id = 1,
                           .collection_id = 1,
                           .path = {"n"},
                           .kind = entidb::index_kind::hash,
                           .unique = true,
                           .created_at_seq = 0}};
    h.registry.next_index_id = 2;
    entidb::byte_buffer bytes;
    entidb::format::encode_backup_header(h, bytes);
    entidb::format::encode_backup_entity(1, id_of(1), payload(7), bytes);
    entidb::format::encode_backup_entity(1, id_of(2), payload(7), bytes);
    entidb::format::encode_backup_end(2, bytes);
    const auto sum = entidb::hash64(bytes);
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
    write_all(dir / "b", std::string(bytes.begin(), bytes.end()));
    CHECK(entidb::read_backup(dir / "b").entities == 2);
    CHECK(code_of([&] { (void)entidb::restore(dir / "b", dir / "db"); }) == errc::unique_violation);
    CHECK_FALSE(fs::exists(dir / "db"));
    CHECK_FALSE(fs::exists(dir / "db.restoring"));
}

TEST_CASE("an empty database backs up and restores", "[backup]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir / "db");
        const auto info = entidb::backup(db, dir / "b");
        CHECK(info.sequence == 0);
        CHECK(info.entities == 0);
    }
    (void)entidb::restore(dir / "b", dir / "r/");  // a trailing separator names the same directory
    CHECK(fs::is_directory(dir / "r"));
    CHECK_FALSE(fs::exists(dir / "r" / ".restoring"));
    auto db = entidb::open(dir / "r");
    CHECK(db.last_sequence() == 0);
    CHECK(state_of(db).empty());
    CHECK_NOTHROW(db.changes_since(0));
}

// ---- salvage ------------------------------------------------------------------------------

namespace {

struct record_at {
    std::uint64_t offset;
    std::uint64_t size;
    entidb::entity_id id;
};

// The records of a segment file, decoded by the format's own decoder.
std::vector<record_at> segment_records(const fs::path& file) {
    const auto bytes = read_all(file);
    const entidb::bytes_view all(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    std::vector<record_at> out;
    for (std::size_t at = 0; at < all.size();) {
        const auto d = entidb::format::decode_segment(all.subspan(at));
        REQUIRE(d.status == entidb::format::decode_status::ok);
        out.push_back({at, d.size, d.record.id});
        at += d.size;
    }
    return out;
}

// Offsets and sizes of the records of a WAL file.
std::vector<std::pair<std::uint64_t, std::uint64_t>> wal_records(const std::string& bytes) {
    const entidb::bytes_view all(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (std::size_t at = 0; at < all.size();) {
        const auto d = entidb::format::decode_wal(all.subspan(at));
        REQUIRE(d.status == entidb::format::decode_status::ok);
        out.emplace_back(at, d.size);
        at += d.size;
    }
    return out;
}

void flip_byte(const fs::path& file, std::uint64_t at) {
    auto bytes = read_all(file);
    bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
    write_all(file, bytes);
}

// A database with one sealed segment: people 0..29, person 5 rewritten, person 7 deleted,
// person 99 last; an ordered index on "n". Returns what it holds.
model make_salvage_db(const fs::path& dir) {
    auto db = entidb::open(dir);
    db.declare_index("people", "n", entidb::index_kind::ordered);
    for (std::uint64_t i = 0; i < 30; ++i) db.transaction([&](auto& txn) { txn.put("people", id_of(i), payload(i)); });
    db.transaction([&](auto& txn) { txn.put("people", id_of(5), payload(500)); });
    db.transaction([&](auto& txn) { txn.remove("people", id_of(7)); });
    db.transaction([&](auto& txn) { txn.put("people", id_of(99), payload(99)); });
    db.checkpoint();  // seals seg-000001; the WAL is empty
    return state_of(db);
}

// Salvages `db` into `out` and checks what holds whatever the damage: `db` is byte for byte
// as it was, `out` verifies and holds `expected`.
entidb::salvage_report salvage_and_check(const fs::path& db, const fs::path& out, const model& expected) {
    const auto before = test_support::snapshot_files(db);
    const auto report = entidb::salvage(db, out);
    CHECK(test_support::snapshot_files(db) == before);
    CHECK_NOTHROW(entidb::verify(out));
    auto salvaged = entidb::open(out);
    CHECK(state_of(salvaged) == expected);
    CHECK(report.entities == expected.size());
    return report;
}

const entidb::salvage_file& file_named(const entidb::salvage_report& r, const std::string& name) {
    const auto it = std::find_if(r.files.begin(), r.files.end(), [&](const auto& f) { return f.name == name; });
    REQUIRE(it != r.files.end());
    return *it;
}

}  // namespace

TEST_CASE("salvage of an intact database recovers every entity and its indexes", "[salvage]") {
    temp_dir dir;
    const auto m = make_salvage_db(dir / "db");
    const auto r = salvage_and_check(dir / "db", dir / "out", m);
    CHECK_FALSE(r.lost_anything());
    CHECK(r.collections == 1);
    CHECK(r.indexes == 1);
    CHECK(file_named(r, "SEGMENTS/seg-000001.dat").records_recovered == 33);
    auto out = entidb::open(dir / "out");
    CHECK(out.begin_read().has_index("people", "n", entidb::index_kind::ordered));
}

// An earlier lap's records after a recycled log's lap are neither damage nor data.
TEST_CASE("salvage of a recycled WAL reads its lap only", "[salvage][recycled]") {
    temp_dir dir;
    entidb::config cfg;
    cfg.wal = entidb::wal_mode::recycled;
    cfg.max_wal_size = 4096;
    model m;
    {
        auto db = entidb::open(dir / "db", cfg);
        for (std::uint64_t i = 0; i < 40; ++i) db.transaction([&](auto& txn) { txn.put("people", id_of(i % 7), payload(i)); });
        db.checkpoint();
        db.transaction([&](auto& txn) { txn.put("people", id_of(1), payload(1000)); });  // over the old lap's start
        m = state_of(db);
    }
    const auto r = salvage_and_check(dir / "db", dir / "out", m);
    CHECK_FALSE(r.lost_anything());
    CHECK(file_named(r, "wal.log").damaged.empty());
}

TEST_CASE("salvage skips a damaged sealed segment record and reports its bytes", "[salvage]") {
    temp_dir dir;
    auto m = make_salvage_db(dir / "db");
    const auto seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    const auto records = segment_records(seg);
    REQUIRE(records.size() == 33);
    std::size_t victim = 0;
    SECTION("a record with one version: the entity is lost") {
        victim = 12;
        m.erase({"people", id_of(12)});
    }
    SECTION("the newest version of a rewritten entity: the older version comes back") {
        victim = 30;
        m[{"people", id_of(5)}] = payload(5);
    }
    REQUIRE(records[victim].id == (victim == 12 ? id_of(12) : id_of(5)));
    flip_byte(seg, records[victim].offset + records[victim].size / 2);
    CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::corruption);

    const auto r = salvage_and_check(dir / "db", dir / "out", m);
    const auto& f = file_named(r, "SEGMENTS/seg-000001.dat");
    REQUIRE(f.damaged.size() == 1);
    CHECK(f.damaged[0].begin == records[victim].offset);
    CHECK(f.damaged[0].end == records[victim].offset + records[victim].size);
    CHECK(f.records_recovered == 32);
    CHECK(r.damaged_bytes() == records[victim].size);
    CHECK(r.lost_anything());
    CHECK(r.indexes == 1);
}

TEST_CASE("salvage of a truncated sealed segment keeps every whole record", "[salvage]") {
    temp_dir dir;
    auto m = make_salvage_db(dir / "db");
    const auto seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    const auto last = segment_records(seg).back();  // person 99
    REQUIRE(last.id == id_of(99));
    fs::resize_file(seg, last.offset + 20);
    m.erase({"people", id_of(99)});

    const auto r = salvage_and_check(dir / "db", dir / "out", m);
    const auto& f = file_named(r, "SEGMENTS/seg-000001.dat");
    REQUIRE(f.damaged.size() == 1);
    CHECK(f.damaged[0].begin == last.offset);
    CHECK(f.damaged[0].end == last.offset + 20);
    CHECK(f.records_recovered == 32);
}

TEST_CASE("salvage applies committed WAL transactions whole and drops torn or damaged ones", "[salvage]") {
    temp_dir dir;
    auto m = make_salvage_db(dir / "db");
    const auto base = test_support::snapshot_files(dir / "db");
    {
        auto db = entidb::open(dir / "db");
        db.transaction([&](auto& txn) {
            txn.put("people", id_of(200), payload(200));
            txn.put("people", id_of(201), payload(201));
            txn.put("people", id_of(0), payload(1000));
        });
    }
    const auto wal = read_all(dir / "db" / "wal.log");
    const auto recs = wal_records(wal);  // BEGIN, three PUTs, COMMIT
    REQUIRE(recs.size() == 5);
    // The state of a crash after the WAL was written but before the segment was: the
    // transaction is only in the WAL.
    fs::remove_all(dir / "db");
    for (const auto& [name, bytes] : base) {
        fs::create_directories((dir / "db" / name).parent_path());
        write_all(dir / "db" / name, bytes);
    }
    write_all(dir / "db" / "wal.log", wal);

    SECTION("committed: applied") {
        m[{"people", id_of(200)}] = payload(200);
        m[{"people", id_of(201)}] = payload(201);
        m[{"people", id_of(0)}] = payload(1000);
        const auto r = salvage_and_check(dir / "db", dir / "out", m);
        CHECK_FALSE(r.lost_anything());
        CHECK(file_named(r, "wal.log").records_recovered == 5);
    }
    SECTION("torn inside its COMMIT: dropped") {
        fs::resize_file(dir / "db" / "wal.log", wal.size() - 3);
        const auto r = salvage_and_check(dir / "db", dir / "out", m);
        const auto& f = file_named(r, "wal.log");
        REQUIRE(f.damaged.size() == 1);
        CHECK(f.damaged[0].begin == recs[4].first);
        CHECK(f.damaged[0].end == wal.size() - 3);
        CHECK(r.transactions_dropped == 1);
        CHECK(f.skipped.size() == 3);  // its three PUTs
    }
    SECTION("one PUT damaged, COMMIT intact: dropped whole") {
        flip_byte(dir / "db" / "wal.log", recs[2].first + recs[2].second - 2);
        const auto r = salvage_and_check(dir / "db", dir / "out", m);
        const auto& f = file_named(r, "wal.log");
        REQUIRE(f.damaged.size() == 1);
        CHECK(f.damaged[0].begin == recs[2].first);
        CHECK(f.damaged[0].end == recs[3].first);
        CHECK(r.transactions_dropped == 1);
        CHECK(f.skipped.size() == 3);  // the two PUTs that verify and the COMMIT
    }
}

TEST_CASE("salvage without a readable MANIFEST names collections by id", "[salvage]") {
    temp_dir dir;
    const auto m = make_salvage_db(dir / "db");
    flip_byte(dir / "db" / "MANIFEST", 0);
    model expected;
    for (const auto& [k, bytes] : m) expected[{"salvaged-1", k.second}] = bytes;
    const auto r = salvage_and_check(dir / "db", dir / "out", expected);
    REQUIRE(r.manifest_problem);
    CHECK(r.manifest_problem->find("magic") != std::string::npos);
    CHECK(r.indexes == 0);
    CHECK(r.lost_anything());
}

TEST_CASE("salvage refuses bad paths and a locked database, and writes nothing", "[salvage]") {
    temp_dir dir;
    (void)make_salvage_db(dir / "db");
    fs::remove(dir / "db" / "LOCK");
    const auto before = test_support::snapshot_files(dir / "db");
    fs::create_directories(dir / "full");
    write_all(dir / "full" / "x", "x");
    write_all(dir / "file", "x");
    CHECK(code_of([&] { (void)entidb::salvage(dir / "db", dir / "full"); }) == errc::invalid_argument);
    CHECK(test_support::snapshot_files(dir / "full") == std::map<std::string, std::string>{{"x", "x"}});
    CHECK(code_of([&] { (void)entidb::salvage(dir / "db", dir / "file"); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)entidb::salvage(dir / "db", dir / "db"); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)entidb::salvage(dir / "db/", dir / "db" / "out"); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)entidb::salvage(dir / "missing", dir / "out"); }) == errc::not_found);
    fs::create_directories(dir / "empty");
    CHECK(code_of([&] { (void)entidb::salvage(dir / "empty", dir / "out"); }) == errc::not_found);
    CHECK_FALSE(fs::exists(dir / "out"));
    CHECK(test_support::snapshot_files(dir / "db") == before);  // no LOCK created either

    fs::create_directories(dir / "out");  // an empty directory is a valid target
    CHECK(entidb::salvage(dir / "db", dir / "out").entities == 30);
    {
        auto db = entidb::open(dir / "db");
        CHECK(code_of([&] { (void)entidb::salvage(dir / "db", dir / "out2"); }) == errc::locked);
    }
    CHECK_FALSE(fs::exists(dir / "out2"));
}

TEST_CASE("salvage around a damaged byte anywhere in a sealed record of a multi-segment database", "[salvage]") {
    temp_dir dir;
    const auto cfg = test_support::small_segments(1024);
    model m;
    bool checkpointed = false;
    SECTION("the WAL still holds every commit: nothing is lost") {}
    SECTION("after a checkpoint: the damaged record is lost") { checkpointed = true; }
    {
        auto db = entidb::open(dir / "db", cfg);
        for (std::uint64_t t = 0; t < 12; ++t)
            db.transaction([&](auto& txn) {
                for (std::uint64_t i = 0; i < 3; ++i) txn.put("a", id_of(t * 3 + i), payload(t * 3 + i, 40));
            });
        if (checkpointed) db.checkpoint();
        m = state_of(db);
    }
    REQUIRE(fs::exists(dir / "db" / "SEGMENTS" / "seg-000003.dat"));  // seg 2 is sealed
    const auto seg = dir / "db" / "SEGMENTS" / "seg-000002.dat";
    const auto original = read_all(seg);
    const auto records = segment_records(seg);
    const auto victim = records[records.size() / 2];
    auto expected = m;
    if (checkpointed) expected.erase({"a", victim.id});
    // Every byte of the fixed fields and the checksum, and one of the payload.
    std::vector<std::uint64_t> bytes;
    for (std::uint64_t i = 0; i < 33; ++i) bytes.push_back(i);
    for (std::uint64_t i = victim.size - 4; i < victim.size; ++i) bytes.push_back(i);
    bytes.push_back(40);
    for (const auto i : bytes) {
        INFO("byte " << i << " of the record at " << victim.offset);
        auto damaged = original;
        damaged[victim.offset + i] = static_cast<char>(damaged[victim.offset + i] ^ 0x5a);
        write_all(seg, damaged);
        temp_dir out;
        const auto r = salvage_and_check(dir / "db", out / "db", expected);
        const auto& f = file_named(r, "SEGMENTS/seg-000002.dat");
        REQUIRE(f.damaged.size() == 1);
        CHECK(f.damaged[0].begin == victim.offset);
        CHECK(f.damaged[0].end == victim.offset + victim.size);
        CHECK(f.records_recovered == records.size() - 1);
    }
}

TEST_CASE("salvage reports garbage after the active segment's last record and keeps everything", "[salvage]") {
    temp_dir dir;
    model m;
    {
        auto db = entidb::open(dir / "db");
        for (std::uint64_t i = 0; i < 5; ++i) db.transaction([&](auto& txn) { txn.put("a", id_of(i), payload(i)); });
        m = state_of(db);
    }
    const auto seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    const auto size = fs::file_size(seg);
    write_all(seg, read_all(seg) + std::string(50, '\x7f'));
    const auto r = salvage_and_check(dir / "db", dir / "out", m);
    const auto& f = file_named(r, "SEGMENTS/seg-000001.dat");
    REQUIRE(f.damaged.size() == 1);
    CHECK(f.damaged[0].begin == size);
    CHECK(f.damaged[0].end == size + 50);
    CHECK(file_named(r, "wal.log").records_recovered == 15);  // the WAL holds the five commits too
}
