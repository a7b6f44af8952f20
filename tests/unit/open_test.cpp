// The directory open path (directory/open.hpp): what counts as an unfinished creation,
// creating over one, and the refusals — each typed, each leaving the directory as it was.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& contents) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << contents;
}

// Every entry below `dir`, relative path → contents ("<dir>" for a directory, "-> target"
// for a symbolic link, which is not followed: it may loop).
std::map<std::string, std::string> tree_of(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const auto name = e.path().lexically_relative(dir).string();  // relative() would follow links
        const auto type = e.symlink_status().type();
        if (type == fs::file_type::symlink) {
            out[name] = "-> " + fs::read_symlink(e.path()).string();
        } else if (type == fs::file_type::directory) {
            out[name] = "<dir>";
        } else {
            std::ifstream in(e.path(), std::ios::binary);
            out[name] = std::string(std::istreambuf_iterator<char>(in), {});
        }
    }
    return out;
}

// Replaces `p` (if any) by a symbolic link to itself: every attempt to follow it fails (ELOOP).
void make_loop(const fs::path& p) {
    fs::remove_all(p);
    fs::create_symlink(p.filename(), p);
}

// What a creation interrupted before its MANIFEST leaves: LOCK, an empty wal.log,
// MANIFEST.tmp, and SEGMENTS holding an empty segment 1.
void leave_unfinished_creation(const fs::path& dir) {
    fs::create_directories(dir / "SEGMENTS");
    write_file(dir / "LOCK", "");
    write_file(dir / "wal.log", "");
    write_file(dir / "MANIFEST.tmp", "partial");
    write_file(dir / "SEGMENTS" / "seg-000001.dat", "");
}

// Opening `dir` fails with `code` and changes nothing in it.
void refused_unchanged(const fs::path& dir, errc code, const entidb::config& cfg = {}) {
    const auto before = tree_of(dir);
    CHECK(code_of([&] { (void)entidb::open(dir, cfg); }) == code);
    CHECK(tree_of(dir) == before);
}

// A complete database in `dir` holding one entity, closed.
void make_database(const fs::path& dir) {
    auto db = entidb::open(dir);
    db.transaction([](auto& txn) { txn.put("c", id_of(1), payload(1)); });
}

}  // namespace

TEST_CASE("open: what an interrupted creation leaves is recognised, and nothing else", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    fs::create_directories(dir);
    CHECK(entidb::detail::is_unfinished_creation(dir));  // empty
    leave_unfinished_creation(dir);
    CHECK(entidb::detail::is_unfinished_creation(dir));

    SECTION("a wal.log with bytes") {
        write_file(dir / "wal.log", "x");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("a segment with bytes") {
        write_file(dir / "SEGMENTS" / "seg-000001.dat", "x");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("a directory inside SEGMENTS") {
        fs::create_directory(dir / "SEGMENTS" / "sub");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("SEGMENTS that is a file") {
        fs::remove_all(dir / "SEGMENTS");
        write_file(dir / "SEGMENTS", "");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("wal.log that is a directory") {
        fs::remove(dir / "wal.log");
        fs::create_directory(dir / "wal.log");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("any other file") {
        write_file(dir / "notes.txt", "");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
    }
    SECTION("a missing directory") {
        CHECK_FALSE(entidb::detail::is_unfinished_creation(tmp / "none"));
    }
}

TEST_CASE("open: an unfinished creation is created again, complete", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    leave_unfinished_creation(dir);
    {
        auto db = entidb::open(dir);
        CHECK(db.last_sequence() == 0);
        db.transaction([](auto& txn) { txn.put("c", id_of(1), payload(1)); });
    }
    CHECK(fs::is_regular_file(dir / "MANIFEST"));
    auto db = entidb::open(dir);
    CHECK(db.get("c", id_of(1)) == payload(1));
}

TEST_CASE("open: an empty directory becomes a database", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    fs::create_directories(dir);
    { auto db = entidb::open(dir); }
    for (const char* name : {"MANIFEST", "LOCK", "wal.log", "SEGMENTS/seg-000001.dat"})
        CHECK(fs::is_regular_file(dir / name));
}

TEST_CASE("open: a path that is a file is invalid_argument", "[open]") {
    temp_dir tmp;
    write_file(tmp / "file", "data");
    CHECK(code_of([&] { (void)entidb::open(tmp / "file"); }) == errc::invalid_argument);
    std::ifstream in(tmp / "file");
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "data");
}

TEST_CASE("open: a directory with other contents and no MANIFEST is refused untouched", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "other";
    fs::create_directories(dir);
    SECTION("a file of its own") {
        write_file(dir / "notes.txt", "mine");
    }
    SECTION("a database's files without the MANIFEST") {
        leave_unfinished_creation(dir);
        write_file(dir / "wal.log", "not empty");
    }
    SECTION("a subdirectory") {
        fs::create_directories(dir / "photos");
    }
    refused_unchanged(dir, errc::invalid_argument);  // not even a LOCK file left behind
    entidb::config read_only;
    read_only.read_only = true;
    refused_unchanged(dir, errc::not_found, read_only);
}

TEST_CASE("open: no database and none to create is not_found, nothing touched", "[open]") {
    temp_dir tmp;
    entidb::config cfg;
    cfg.create_if_missing = false;
    CHECK(code_of([&] { (void)entidb::open(tmp / "none", cfg); }) == errc::not_found);
    CHECK_FALSE(fs::exists(tmp / "none"));
    fs::create_directories(tmp / "empty");
    refused_unchanged(tmp / "empty", errc::not_found, cfg);
    leave_unfinished_creation(tmp / "unfinished");
    refused_unchanged(tmp / "unfinished", errc::not_found, cfg);
}

TEST_CASE("open: a MANIFEST of another format version is unsupported_version", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    make_database(dir);
    auto bytes = entidb::read_file(dir / "MANIFEST");
    // The format version: major u16 at offset 6, minor u16 at offset 8, little-endian.
    const auto set_u16 = [&](std::size_t at, unsigned v) {
        bytes[at] = static_cast<std::uint8_t>(v);
        bytes[at + 1] = static_cast<std::uint8_t>(v >> 8);
    };
    SECTION("a newer minor version") {
        set_u16(8, entidb::format_minor + 1u);
    }
    SECTION("a newer major version") {
        set_u16(6, entidb::format_major + 1u);
    }
    SECTION("an older major version") {
        set_u16(6, entidb::format_major - 1u);
    }
    entidb::durable_replace(dir / "MANIFEST", bytes);
    refused_unchanged(dir, errc::unsupported_version);
    entidb::config read_only;
    read_only.read_only = true;
    refused_unchanged(dir, errc::unsupported_version, read_only);
}

TEST_CASE("open: a database missing wal.log or SEGMENTS is corruption, not recreated", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    make_database(dir);
    SECTION("wal.log") {
        fs::remove(dir / "wal.log");
    }
    SECTION("SEGMENTS") {
        fs::remove_all(dir / "SEGMENTS");
    }
    refused_unchanged(dir, errc::corruption);
    entidb::config read_only;
    read_only.read_only = true;
    refused_unchanged(dir, errc::corruption, read_only);
}

TEST_CASE("open: a database file that cannot be examined is a typed error, nothing changed", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    entidb::config read_only;
    read_only.read_only = true;
    SECTION("MANIFEST") {
        make_database(dir);
        make_loop(dir / "MANIFEST");
        refused_unchanged(dir, errc::io_error);
        refused_unchanged(dir, errc::io_error, read_only);
    }
    SECTION("wal.log") {
        make_database(dir);
        make_loop(dir / "wal.log");
        refused_unchanged(dir, errc::io_error);
        refused_unchanged(dir, errc::io_error, read_only);
    }
    SECTION("SEGMENTS") {
        make_database(dir);
        make_loop(dir / "SEGMENTS");
        refused_unchanged(dir, errc::io_error);
        refused_unchanged(dir, errc::io_error, read_only);
    }
    SECTION("the database path itself") {
        fs::create_symlink(dir.filename(), dir);
        const auto before = tree_of(tmp.path());
        CHECK(code_of([&] { (void)entidb::open(dir); }) == errc::io_error);
        CHECK(code_of([&] { (void)entidb::open(dir, read_only); }) == errc::io_error);
        CHECK(tree_of(tmp.path()) == before);
    }
    SECTION("wal.log of a directory without a MANIFEST: not an unfinished creation") {
        leave_unfinished_creation(dir);
        make_loop(dir / "wal.log");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
        refused_unchanged(dir, errc::invalid_argument);
    }
    SECTION("a segment of a directory without a MANIFEST: not an unfinished creation") {
        leave_unfinished_creation(dir);
        make_loop(dir / "SEGMENTS" / "seg-000001.dat");
        CHECK_FALSE(entidb::detail::is_unfinished_creation(dir));
        refused_unchanged(dir, errc::invalid_argument);
    }
}

TEST_CASE("open: an open that fails leaves the database usable", "[open]") {
    temp_dir tmp;
    const auto dir = tmp / "db";
    make_database(dir);
    auto held = entidb::open(dir);
    refused_unchanged(dir, errc::locked);
    held.close();
    auto db = entidb::open(dir);
    CHECK(db.get("c", id_of(1)) == payload(1));
}

TEST_CASE("open: a bad configuration is refused before the directory is touched", "[open]") {
    temp_dir tmp;
    entidb::config cfg;
    cfg.max_entity_bytes = entidb::config::payload_limit + 1;
    CHECK(code_of([&] { (void)entidb::open(tmp / "db", cfg); }) == errc::invalid_argument);
    CHECK_FALSE(fs::exists(tmp / "db"));
}

// A recycled wal.log (config::wal) stays allocated across checkpoints and reopens, and a
// reopen over an earlier lap's bytes finds exactly the acknowledged state.
TEST_CASE("open: a recycled WAL keeps its size across laps and reopens to the acknowledged state",
          "[open][recycled]") {
    temp_dir dir;
    const auto db_path = dir.path() / "db";
    entidb::config cfg;
    cfg.wal = entidb::wal_mode::recycled;
    cfg.max_wal_size = 4096;
    std::map<std::uint64_t, entidb::byte_buffer> want;
    const auto commit = [&](entidb::database& db, std::uint64_t id, std::uint64_t value) {
        want[id] = payload(value, 40);
        db.transaction([&](auto& txn) { txn.put("c", id_of(id), want[id]); });
    };
    const auto check = [&](entidb::database& db) {
        for (const auto& [id, bytes] : want) CHECK(db.get("c", id_of(id)) == bytes);
        CHECK(db.begin_read().count("c") == want.size());
    };
    {
        auto db = entidb::open(db_path, cfg);
        CHECK(fs::file_size(db_path / "wal.log") == 4096);  // allocated by the first open
        for (std::uint64_t i = 1; i <= 6; ++i) commit(db, i, i);
        db.checkpoint();
        commit(db, 1, 100);  // the next lap: over the first one's first commit, same shape
    }
    {
        auto db = entidb::open(db_path, cfg);
        check(db);
        CHECK(db.recovery().wal_bytes_truncated == 0);
    }
    CHECK(entidb::verify(db_path, cfg).wal_torn_at == std::nullopt);  // the old lap's bytes are no torn tail
    {
        auto db = entidb::open(db_path, cfg);
        for (std::uint64_t i = 7; i <= 200; ++i) commit(db, i, i);  // several laps, automatic checkpoints
        CHECK(db.stats().checkpoints > 2);
    }
    // The commit that passes max_wal_size extends the file (by less than one commit); the
    // file never shrinks, so a lap's commits past the allocation are rare.
    const auto held = fs::file_size(db_path / "wal.log");
    CHECK(held >= 4096);
    CHECK(held < 4096 + 512);
    {
        auto db = entidb::open(db_path, cfg);
        check(db);
        for (std::uint64_t i = 1; i <= 200; ++i) commit(db, i, i + 1000);
    }
    CHECK(fs::file_size(db_path / "wal.log") >= held);
    CHECK(fs::file_size(db_path / "wal.log") < 4096 + 512);
    {
        auto read_only = cfg;
        read_only.read_only = true;
        const auto before = tree_of(db_path);
        auto db = entidb::open(db_path, read_only);  // replays the lap in memory
        check(db);
        CHECK(tree_of(db_path) == before);
    }
    // The default mode reads it too, and truncates it at its next checkpoint.
    auto db = entidb::open(db_path);
    check(db);
    db.checkpoint();
    CHECK(fs::file_size(db_path / "wal.log") == 0);
}
