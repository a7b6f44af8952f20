// Opens that must not write: a path holding no database with create_if_missing = false,
// and read-only opens (config::read_only): shared lock, recovery in memory, writes refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

namespace fs = std::filesystem;

// Every entry below `dir` (directories too), relative path → contents ("<dir>" for one).
std::map<std::string, std::string> tree_of(const fs::path& dir) {
    auto out = test_support::snapshot_files(dir);
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_directory()) out[fs::relative(e.path(), dir).string()] = "<dir>";
    return out;
}

entidb::config read_only() {
    entidb::config cfg;
    cfg.read_only = true;
    return cfg;
}

entidb::config no_create() {
    entidb::config cfg;
    cfg.create_if_missing = false;
    return cfg;
}

// A database of three commits, closed.
void make_database(const fs::path& path) {
    auto db = entidb::open(path);
    for (std::uint64_t i = 1; i <= 3; ++i) db.transaction([&](auto& txn) { txn.put("users", id_of(i), payload(i)); });
}

void cut_file(const fs::path& file, std::uintmax_t bytes) { fs::resize_file(file, fs::file_size(file) - bytes); }

}  // namespace

TEST_CASE("no database here: an open that may not create touches nothing", "[open][read_only]") {
    temp_dir dir;
    const auto check_untouched = [&](const fs::path& path, const entidb::config& cfg) {
        const bool existed = fs::exists(path);
        const auto before = existed ? tree_of(path) : std::map<std::string, std::string>{};
        try {
            (void)entidb::open(path, cfg);
            FAIL("the open succeeded");
        } catch (const entidb::error& e) {
            CHECK(e.value() == errc::not_found);
            CHECK_THAT(e.what(), Catch::Contains("no EntiDB database here"));
        }
        CHECK(fs::exists(path) == existed);
        if (existed) CHECK(tree_of(path) == before);
    };
    fs::create_directories(dir / "empty");
    fs::create_directories(dir / "unfinished" / "SEGMENTS");  // what an interrupted creation leaves
    std::ofstream(dir / "unfinished" / "wal.log").close();
    std::ofstream(dir / "unfinished" / "LOCK").close();
    for (const auto& cfg : {no_create(), read_only()}) {
        check_untouched(dir / "empty", cfg);
        check_untouched(dir / "missing", cfg);
        check_untouched(dir / "unfinished", cfg);
    }
    auto ro_create = read_only();
    ro_create.create_if_missing = true;  // read_only wins: never creates
    check_untouched(dir / "empty", ro_create);
    CHECK(code_of([&] { (void)entidb::verify(dir / "empty"); }) == errc::not_found);
    CHECK(tree_of(dir / "empty").empty());
}

TEST_CASE("a read-only open reads everything, refuses every write and writes nothing", "[open][read_only]") {
    temp_dir dir;
    const auto path = dir / "db";
    make_database(path);
    {
        auto db = entidb::open(path);
        db.declare_index("users", "n", entidb::index_kind::ordered);
    }
    const auto before = tree_of(path);
    auto db = entidb::open(path, read_only());
    CHECK(db.last_sequence() == 3);
    CHECK(db.get("users", id_of(2)) == payload(2));
    CHECK(db.begin_read().count("users") == 3);
    CHECK(db.changes_since(0).size() == 3);

    CHECK(code_of([&] { (void)db.begin_write(); }) == errc::read_only);
    CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("users", id_of(9), payload(9)); }); }) ==
          errc::read_only);
    CHECK(code_of([&] { db.transaction([&](auto& txn) { (void)txn.remove("users", id_of(1)); }); }) ==
          errc::read_only);
    CHECK(code_of([&] { db.checkpoint(); }) == errc::read_only);
    CHECK(code_of([&] { (void)db.compact(); }) == errc::read_only);
    CHECK(code_of([&] { db.declare_index("users", "m", entidb::index_kind::hash); }) == errc::read_only);
    CHECK(code_of([&] { (void)entidb::backup(db, dir / "backup"); }) == errc::ok);  // backup only reads the database
    CHECK(db.get("users", id_of(1)) == payload(1));
    db.close();
    CHECK(tree_of(path) == before);
}

TEST_CASE("read-only opens share the LOCK; a read-write open excludes them", "[open][read_only]") {
    temp_dir dir;
    const auto path = dir / "db";
    make_database(path);
    {
        auto writer = entidb::open(path);
        CHECK(code_of([&] { (void)entidb::open(path, read_only()); }) == errc::locked);
        CHECK(code_of([&] { (void)entidb::verify(path); }) == errc::locked);
    }
    {
        auto reader = entidb::open(path, read_only());
        auto second = entidb::open(path, read_only());  // readers coexist
        CHECK(code_of([&] { (void)entidb::verify(path); }) == errc::ok);
        CHECK(code_of([&] { (void)entidb::open(path); }) == errc::locked);
        reader.close();
        CHECK(code_of([&] { (void)entidb::open(path); }) == errc::locked);  // `second` still holds it
    }
    CHECK_NOTHROW(entidb::open(path));
}

TEST_CASE("a read-only open recovers in memory and leaves the files byte-identical", "[open][read_only]") {
    temp_dir dir;
    const auto path = dir / "db";
    make_database(path);
    // A crash after the WAL flush of the last commit, before its segment record was
    // complete: a torn segment tail the WAL covers, and a torn WAL tail after it.
    cut_file(path / "SEGMENTS" / "seg-000001.dat", 5);
    { std::ofstream(path / "wal.log", std::ios::binary | std::ios::app) << std::string("\x45\x4e\x57", 3); }
    const auto before = tree_of(path);
    {
        auto db = entidb::open(path, read_only());
        CHECK(db.last_sequence() == 3);
        for (std::uint64_t i = 1; i <= 3; ++i) CHECK(db.get("users", id_of(i)) == payload(i));
        CHECK(db.begin_read().count("users") == 3);
        CHECK(db.recovery().transactions_replayed == 1);
        CHECK(db.recovery().segment_bytes_truncated > 0);
        CHECK(db.recovery().wal_bytes_truncated == 3);
        CHECK(db.changes_since(2).size() == 1);  // the replayed commit, from the segment in memory
        CHECK(tree_of(path) == before);
    }
    CHECK(tree_of(path) == before);
    auto db = entidb::open(path);  // a read-write open does the same recovery on disk
    CHECK(db.recovery().transactions_replayed == 1);
    CHECK(db.get("users", id_of(3)) == payload(3));
}

TEST_CASE("a private view changes only the backend, never its file", "[backend][read_only]") {
    temp_dir dir;
    const auto file = dir / "f";
    { std::ofstream(file, std::ios::binary) << "0123456789"; }
    auto b = entidb::file_backend::open(file, entidb::file_mode::private_view);
    b.truncate(4);
    CHECK(b.append(entidb::bytes_view(reinterpret_cast<const std::uint8_t*>("abc"), 3)) == 4);
    entidb::byte_buffer out(7);
    b.read_at(0, out);
    CHECK(std::string(out.begin(), out.end()) == "0123abc");
    const auto tail = b.view_at(4, 3);
    CHECK(std::string(tail.begin(), tail.end()) == "abc");
    CHECK(code_of([&] { (void)b.view_at(2, 4); }) == errc::io_error);  // file and memory are not contiguous
    b.flush();
    CHECK(test_support::snapshot_files(dir.path()).at("f") == "0123456789");
}
