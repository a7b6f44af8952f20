// The persisted primary index (index/primary_index_file.hpp, core/index_file.hpp): a clean
// close leaves primary.index, the next open maps it and streams only what it does not
// cover; a stale, damaged, truncated or foreign file is detected, left unused (the report
// says why) and the index rebuilt, with every entity still there.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

namespace fs = std::filesystem;

// Entities [from, from + n) in "c" (and, every third, in "d"), in commits of 50.
void fill(entidb::database& db, std::uint64_t from, std::uint64_t n) {
    for (std::uint64_t i = from; i < from + n; i += 50)
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = i; k < std::min(from + n, i + 50); ++k) {
                txn.put("c", id_of(k), payload(k));
                if (k % 3 == 0) txn.put("d", id_of(k), payload(k + 1));
            }
        });
}

// Every entity [0, n) reads back as written, and nothing else is in "c".
void check_all(entidb::database& db, std::uint64_t n, std::uint64_t deleted_below = 0) {
    auto r = db.begin_read();
    for (std::uint64_t k = 0; k < n; ++k) {
        const auto got = r.get("c", id_of(k));
        if (k < deleted_below) {
            REQUIRE_FALSE(got.has_value());
            continue;
        }
        REQUIRE(got.has_value());
        REQUIRE(*got == payload(k));
        if (k % 3 == 0) REQUIRE(r.get("d", id_of(k)) == payload(k + 1));
    }
    std::uint64_t count = 0;
    for (const auto& e : r.scan("c")) {
        (void)e;
        ++count;
    }
    REQUIRE(count == n - deleted_below);
}

fs::path index_path(const temp_dir& dir) { return dir.path() / "primary.index"; }

// These databases are small: persist their index all the same.
entidb::config persisted(entidb::config cfg = {}) {
    cfg.index_file_min_entries = 0;
    return cfg;
}

void flip_byte(const fs::path& p, std::uint64_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
}

}  // namespace

TEST_CASE("index file: a clean close leaves it and the next open maps it", "[index_file]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, 3000);
        CHECK_FALSE(db.recovery().primary_index_from_file);
    }
    REQUIRE(fs::exists(index_path(dir)));
    auto db = entidb::open(dir.path(), persisted());
    CHECK(db.recovery().primary_index_from_file);
    CHECK(db.recovery().primary_index_file_problem.empty());
    CHECK(db.recovery().segment_records == 0);  // nothing streamed: the file covered it all
    check_all(db, 3000);
    // Writes after a mapped open: updates land in the mapped slots, new keys beside them.
    db.transaction([&](auto& txn) {
        txn.put("c", id_of(5), payload(5));
        txn.remove("c", id_of(0));
    });
    fill(db, 3000, 2000);
    db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(0)); });
    check_all(db, 5000);
}

TEST_CASE("index file: records past what it covers are streamed on top of it", "[index_file]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, 4000);
    }
    {
        auto db = entidb::open(dir.path(), persisted());
        REQUIRE(db.recovery().primary_index_from_file);
        // Fewer changes than 1/64 of the entries: the close leaves the file as it was.
        db.transaction([&](auto& txn) {
            txn.remove("c", id_of(0));
            txn.remove("c", id_of(1));
            txn.put("c", id_of(4000), payload(4000));
        });
    }
    auto db = entidb::open(dir.path(), persisted());
    CHECK(db.recovery().primary_index_from_file);
    CHECK(db.recovery().segment_records == 3);
    check_all(db, 4001, 2);
}

TEST_CASE("index file: damaged, truncated, foreign or stale files are never used", "[index_file]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, 3000);
    }
    const auto size = fs::file_size(index_path(dir));
    const auto saved = dir.path() / "saved.index";
    fs::copy_file(index_path(dir), saved);
    const auto restore = [&] { fs::copy_file(saved, index_path(dir), fs::copy_options::overwrite_existing); };
    const auto reopen_rebuilds = [&](const std::string& problem) {
        auto db = entidb::open(dir.path(), persisted());
        CHECK_FALSE(db.recovery().primary_index_from_file);
        CHECK_THAT(db.recovery().primary_index_file_problem, Catch::Contains(problem));
        CHECK(db.recovery().segment_records > 0);
        check_all(db, 3000);
    };
    SECTION("a flipped byte in a slot array") {
        flip_byte(index_path(dir), 4096 + 1000);
        reopen_rebuilds("checksum");
    }
    SECTION("a flipped byte in the metadata") {
        flip_byte(index_path(dir), size - 20);
        reopen_rebuilds("checksum");
    }
    SECTION("a flipped byte in the header") {
        flip_byte(index_path(dir), 9);
        reopen_rebuilds("checksum");
    }
    SECTION("cut short") {
        fs::resize_file(index_path(dir), size - 100);
        reopen_rebuilds("size");
    }
    SECTION("not an index file") {
        std::ofstream(index_path(dir), std::ios::binary | std::ios::trunc) << std::string(5000, 'x');
        reopen_rebuilds("magic");
    }
    SECTION("from another database") {
        temp_dir other;
        {
            auto db = entidb::open(other.path(), persisted());
            fill(db, 7, 3000);
        }
        fs::copy_file(index_path(other), index_path(dir), fs::copy_options::overwrite_existing);
        reopen_rebuilds("segment");
    }
    SECTION("a segment it covers changed") {
        const auto seg = dir.path() / "SEGMENTS" / "seg-000001.dat";
        fs::resize_file(seg, fs::file_size(seg) - 10);  // a torn tail the WAL still covers
        reopen_rebuilds("segment 1");
    }
    SECTION("restored, it is used again") {
        restore();
        auto db = entidb::open(dir.path(), persisted());
        CHECK(db.recovery().primary_index_from_file);
        check_all(db, 3000);
    }
}

TEST_CASE("index file: a rejected file is replaced at the next close", "[index_file]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, 2000);
    }
    flip_byte(index_path(dir), 4096 + 7);
    {
        auto db = entidb::open(dir.path(), persisted());
        REQUIRE_FALSE(db.recovery().primary_index_from_file);
    }
    auto db = entidb::open(dir.path(), persisted());
    CHECK(db.recovery().primary_index_from_file);
    check_all(db, 2000);
}

TEST_CASE("index file: a compaction makes it stale, and the close writes a new one", "[index_file]") {
    temp_dir dir;
    const auto cfg = persisted(test_support::small_segments(16 * 1024));
    {
        auto db = entidb::open(dir.path(), cfg);
        fill(db, 0, 3000);
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = 0; k < 100; ++k) txn.remove("c", id_of(k));
        });
    }
    {
        auto db = entidb::open(dir.path(), cfg);
        REQUIRE(db.recovery().primary_index_from_file);
        db.compact();
        check_all(db, 3000, 100);
    }
    auto db = entidb::open(dir.path(), cfg);
    CHECK(db.recovery().primary_index_from_file);
    check_all(db, 3000, 100);
}

TEST_CASE("index file: a checkpoint writes it, and a crash after leaves it usable", "[index_file]") {
    temp_dir dir;
    auto cfg = persisted();
    cfg.max_wal_size = 64 * 1024;  // checkpoints every few commits
    {
        auto db = entidb::open(dir.path(), cfg);
        fill(db, 0, 6000);
        REQUIRE(fs::exists(index_path(dir)));
        fill(db, 6000, 200);
        db.checkpoint();  // requested: it writes the file as a close would
        // Copy the directory as a crash would leave it: the file from the last checkpoint,
        // the segments and the WAL past it.
        fs::copy(dir.path(), dir.path() / ".." / (dir.path().filename().string() + "-crash"),
                 fs::copy_options::recursive);
    }
    const auto crashed = dir.path().parent_path() / (dir.path().filename().string() + "-crash");
    fs::remove(crashed / "LOCK");
    {
        auto db = entidb::open(crashed, cfg);
        CHECK(db.recovery().primary_index_from_file);
        CHECK(db.recovery().segment_records == 0);  // the file covered everything
        check_all(db, 6200);
    }
    fs::remove_all(crashed);
}

TEST_CASE("index file: databases below index_file_min_entries stream their segments instead", "[index_file]") {
    temp_dir dir;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, 1000);
    }
    REQUIRE(fs::exists(index_path(dir)));
    entidb::config cfg;
    cfg.index_file_min_entries = 2000;
    {
        auto db = entidb::open(dir.path(), cfg);
        CHECK(db.recovery().primary_index_from_file);  // read whatever the threshold
        db.compact();                                  // now stale, and below the threshold
    }
    CHECK_FALSE(fs::exists(index_path(dir)));  // a stale file is not left behind
    {
        auto db = entidb::open(dir.path(), cfg);
        CHECK_FALSE(db.recovery().primary_index_from_file);
        CHECK(db.recovery().primary_index_file_problem.empty());
        check_all(db, 1000);
    }
    CHECK_FALSE(fs::exists(index_path(dir)));
}

namespace {

// A primary index of `n` entities (ids 0..n-1) in collection 1, written as an index file.
std::vector<entidb::segment_coverage> write_index_of(const fs::path& path, std::uint64_t n) {
    entidb::primary_index ix;
    for (std::uint64_t k = 0; k < n; ++k)
        ix.apply(1, id_of(k), {.sequence = k + 1, .location = {.segment = 1, .length = 100, .offset = k * 100}}, 0);
    std::vector<entidb::segment_coverage> covered{{.number = 1, .size = n * 100, .min_sequence = 1, .max_sequence = n}};
    entidb::write_primary_index_file(path, ix, n, covered);
    return covered;
}

entidb::primary_index_image read_index(const fs::path& path) {
    return entidb::read_primary_index_file(path, [](const auto&) { return std::optional<std::string>{}; });
}

}  // namespace

TEST_CASE("index file: open checks the first and last blocks, lookups the blocks they read", "[index_file]") {
    temp_dir dir;
    constexpr std::uint64_t n = 100'000;
    (void)write_index_of(index_path(dir), n);
    auto image = read_index(index_path(dir));
    REQUIRE(image.tables.size() == 1);
    auto& a = image.tables[0].second;
    const std::size_t blocks = (a.size() + 1023) / 1024;
    REQUIRE(blocks > 50);
    CHECK(a.blocks_checked() == 2);
    const auto key = entidb::detail::key_of(id_of(n / 2));
    const auto i = a.lower_bound(key);
    REQUIRE(i < a.size());
    CHECK(a[i].key == key);
    CHECK(a.blocks_checked() <= 4);
    a.check_all();
    CHECK(a.blocks_checked() == blocks);
}

TEST_CASE("index file: a damaged block is found by the first lookup that reads it", "[index_file]") {
    temp_dir dir;
    constexpr std::uint64_t n = 100'000;
    (void)write_index_of(index_path(dir), n);
    // A byte of a slot in the middle of the array: the slot array starts at 4096.
    const std::uint64_t slot = n * 5 / 8;  // the array is spread: about 1.25 slots per key
    flip_byte(index_path(dir), 4096 + slot * 40 + 3);
    auto image = read_index(index_path(dir));  // open reads only the first and last blocks
    std::vector<std::string> heard;
    *image.on_damage = [&](const entidb::error& x) { heard.push_back(x.what()); };
    auto& a = image.tables[0].second;
    CHECK(a.lower_bound(entidb::detail::key_of(id_of(10))) < a.size());  // an undamaged block
    CHECK(heard.empty());
    bool failed = false;
    for (std::uint64_t k = n / 4; k < n && !failed; k += 97) {
        try {
            (void)a.lower_bound(entidb::detail::key_of(id_of(k)));
        } catch (const entidb::error& x) {
            failed = true;
            CHECK(x.value() == entidb::errc::corruption);
            CHECK_THAT(std::string(x.what()), Catch::Contains("slot block checksum mismatch"));
        }
    }
    CHECK(failed);
    REQUIRE(heard.size() == 1);
    CHECK_THROWS_AS(a.check_all(), entidb::error);  // the block stays unchecked: it fails again
}

TEST_CASE("index file: a damaged block found after open removes the file; reopening rebuilds", "[index_file]") {
    temp_dir dir;
    constexpr std::uint64_t n = 6000;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, n);
    }
    flip_byte(index_path(dir), 4096 + 40 * 1024 * 3 + 123);  // block 3 of the first collection's slots
    {
        auto db = entidb::open(dir.path(), persisted());
        REQUIRE(db.recovery().primary_index_from_file);
        auto r = db.begin_read();
        bool failed = false;
        for (std::uint64_t k = 0; k < n && !failed; ++k) {
            try {
                const auto got = r.get("c", id_of(k));  // (outside CHECK, which would catch the error)
                CHECK(got == payload(k));
            } catch (const entidb::error& x) {
                failed = true;
                CHECK(x.value() == entidb::errc::corruption);
            }
        }
        CHECK(failed);
        CHECK_FALSE(fs::exists(index_path(dir)));
        try {
            db.transaction([&](auto& txn) { txn.put("c", id_of(n), payload(n)); });
            FAIL("a write after the damage was accepted");
        } catch (const entidb::error& x) {
            CHECK(x.value() == entidb::errc::needs_reopen);
            CHECK_THAT(std::string(x.what()), Catch::Contains("reopen to rebuild the index"));
        }
    }
    {
        auto db = entidb::open(dir.path(), persisted());
        CHECK_FALSE(db.recovery().primary_index_from_file);
        check_all(db, n);
    }
    auto db = entidb::open(dir.path(), persisted());  // the last close wrote a new file
    CHECK(db.recovery().primary_index_from_file);
    check_all(db, n);
}

TEST_CASE("index file: a damaged block recovery reads makes open rebuild from the segments", "[index_file]") {
    temp_dir dir;
    constexpr std::uint64_t n = 6000;
    {
        auto db = entidb::open(dir.path(), persisted());
        fill(db, 0, n);
    }
    const auto crashed = dir.path().parent_path() / (dir.path().filename().string() + "-crash");
    {
        auto db = entidb::open(dir.path(), persisted());
        REQUIRE(db.recovery().primary_index_from_file);
        // Rewrites of every entity after the file: recovery applies them through its blocks.
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = 0; k < n; k += 7) txn.put("c", id_of(k), payload(k));
        });
        fs::copy(dir.path(), crashed, fs::copy_options::recursive);  // as a crash would leave it
    }
    fs::remove(crashed / "LOCK");
    flip_byte(crashed / "primary.index", 4096 + 40 * 1024 * 3 + 123);
    {
        auto db = entidb::open(crashed, persisted());
        CHECK_FALSE(db.recovery().primary_index_from_file);
        CHECK_THAT(db.recovery().primary_index_file_problem, Catch::Contains("slot block checksum mismatch"));
        check_all(db, n);
        db.transaction([&](auto& txn) { txn.put("c", id_of(n), payload(n)); });  // not poisoned
    }
    fs::remove_all(crashed);
}
