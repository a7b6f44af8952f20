// The durable engine: transactions, snapshots, the open path, recovery, checkpoints.
#include <chrono>
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {

entidb::byte_buffer bytes_of(std::initializer_list<std::uint8_t> b) { return entidb::byte_buffer(b); }

template <typename Db>
std::size_t count(const Db& db, std::string_view coll) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : db.begin_read().scan(coll)) ++n;
    return n;
}

// A database of the storage under test: in memory, or in `dir`/db.
template <typename Storage>
auto open_db(const temp_dir& dir) {
    if constexpr (std::is_same_v<Storage, entidb::memory_storage>)
        return entidb::open_in_memory();
    else
        return entidb::open(dir / "db");
}

}  // namespace

TEMPLATE_TEST_CASE("put, get, remove and scan", "[engine]", entidb::memory_storage, entidb::file_storage) {
    temp_dir dir;
    auto db = open_db<TestType>(dir);
    const auto seq = db.transaction([&](auto& txn) {
        for (int i = 0; i < 10; ++i) txn.put("users", id_of(i), payload(i));
        txn.put("notes", id_of(1), payload(100));
    });
    CHECK(seq == 1);
    CHECK(db.last_sequence() == 1);
    auto r = db.begin_read();
    CHECK(r.get("users", id_of(3)) == payload(3));
    CHECK(r.get("notes", id_of(1)) == payload(100));
    CHECK_FALSE(r.get("notes", id_of(2)));
    CHECK_FALSE(r.get("nothing", id_of(2)));
    CHECK(r.collections() == std::vector<std::string>{"notes", "users"});

    {
        auto w = db.begin_write();
        CHECK(w.remove("users", id_of(3)));
        CHECK_FALSE(w.remove("users", id_of(99)));
        CHECK_FALSE(w.get("users", id_of(3)));  // sees its own delete
        w.put("users", id_of(4), payload(44));
        CHECK(w.get("users", id_of(4)) == payload(44));
        CHECK(w.commit() == 2);
    }
    CHECK(r.get("users", id_of(3)) == payload(3));  // the old snapshot is unchanged
    CHECK(r.get("users", id_of(4)) == payload(4));
    auto r2 = db.begin_read();
    CHECK_FALSE(r2.get("users", id_of(3)));
    CHECK(r2.get("users", id_of(4)) == payload(44));

    std::vector<entidb::entity_id> ids;
    for (const auto& e : r2.scan("users")) ids.push_back(e.id);
    CHECK(ids.size() == 9);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(count(db, "users") == 9);
    CHECK(db.stats().full_scans >= 2);
}

TEST_CASE("a write transaction that is not committed leaves nothing") {
    auto db = entidb::open_in_memory();
    {
        auto w = db.begin_write();
        w.put("c", id_of(1), payload(1));
    }  // destroyed: aborted
    CHECK_FALSE(db.begin_read().get("c", id_of(1)));
    CHECK_THROWS_AS(db.transaction([](auto& txn) {
        txn.put("c", id_of(2), payload(2));
        throw std::runtime_error("boom");
    }),
                    std::runtime_error);
    CHECK_FALSE(db.begin_read().get("c", id_of(2)));
    CHECK(db.last_sequence() == 0);
    auto w = db.begin_write();
    w.abort();
    CHECK(code_of([&] { w.put("c", id_of(1), payload(1)); }) == errc::closed);
}

TEST_CASE("one writer at a time, enforced at begin", "[threads]") {
    auto db = entidb::open_in_memory();
    auto w = db.begin_write();
    CHECK_FALSE(db.try_begin_write().has_value());
    std::atomic<bool> second_started{false};
    std::thread t([&] {
        auto w2 = db.begin_write();  // waits for w
        second_started = true;
        w2.put("c", id_of(2), payload(2));
        w2.commit();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_FALSE(second_started.load());
    w.put("c", id_of(1), payload(1));
    w.commit();
    t.join();
    CHECK(second_started.load());
    CHECK(db.last_sequence() == 2);
    CHECK(db.try_begin_write().has_value());
}

TEST_CASE("puts are validated before anything reaches the WAL") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    const auto wal_before = std::filesystem::file_size(dir / "db" / "wal.log");
    auto w = db.begin_write();
    CHECK(code_of([&] { w.put("c", id_of(1), bytes_of({0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x02})); }) ==
          errc::non_canonical);
    CHECK(code_of([&] { w.put("c", id_of(1), bytes_of({0x19, 0x00, 0x01})); }) == errc::non_canonical);
    CHECK(code_of([&] { w.put("c", id_of(1), bytes_of({0xff})); }) == errc::invalid_cbor);
    CHECK(code_of([&] { w.put("c", id_of(1), bytes_of({0x01, 0x02})); }) == errc::invalid_cbor);
    CHECK(code_of([&] { w.put("", id_of(1), payload(1)); }) == errc::invalid_argument);

    SECTION("over max_entity_bytes") {
        entidb::byte_buffer big = payload(1, 17u << 20);
        CHECK(code_of([&] { w.put("c", id_of(1), big); }) == errc::too_large);
    }
    SECTION("over 4 GiB, without touching 4 GiB of memory") {
        const std::size_t len = (std::size_t{1} << 32) + 1;
        void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        REQUIRE(p != MAP_FAILED);
        const entidb::bytes_view huge(static_cast<const std::uint8_t*>(p), len);
        CHECK(code_of([&] { w.put("c", id_of(1), huge); }) == errc::too_large);
        ::munmap(p, len);
    }
    CHECK(w.commit() == 0);  // nothing valid was put: nothing committed
    CHECK(std::filesystem::file_size(dir / "db" / "wal.log") == wal_before);
}

TEST_CASE("a config that allows more than the length fields can hold is refused") {
    entidb::config cfg;
    cfg.max_entity_bytes = entidb::config::payload_limit + 1;
    CHECK(code_of([&] { (void)entidb::open_in_memory(cfg); }) == errc::invalid_argument);
}

TEST_CASE("the directory layout and reopen") {
    temp_dir dir;
    const auto path = dir / "db";
    {
        auto db = entidb::open(path);
        db.transaction([&](auto& txn) { txn.put("users", id_of(1), payload(1)); });
        db.transaction([&](auto& txn) { txn.put("users", id_of(2), payload(2)); });
    }
    CHECK(std::filesystem::is_regular_file(path / "MANIFEST"));
    CHECK(std::filesystem::is_regular_file(path / "LOCK"));
    CHECK(std::filesystem::is_regular_file(path / "wal.log"));
    CHECK(std::filesystem::is_regular_file(path / "SEGMENTS" / "seg-000001.dat"));
    CHECK_FALSE(std::filesystem::exists(path / "MANIFEST.tmp"));
    auto db = entidb::open(path);
    CHECK(db.last_sequence() == 2);
    CHECK(db.begin_read().get("users", id_of(2)) == payload(2));
    CHECK(db.recovery().transactions_replayed == 0);  // idempotent: nothing re-appended
    const auto seg_size = std::filesystem::file_size(path / "SEGMENTS" / "seg-000001.dat");
    db.close();
    auto again = entidb::open(path);
    CHECK(std::filesystem::file_size(path / "SEGMENTS" / "seg-000001.dat") == seg_size);
    again.transaction([&](auto& txn) { txn.put("users", id_of(3), payload(3)); });
    CHECK(again.last_sequence() == 3);
}

TEST_CASE("a second open of the same directory is refused with locked") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::locked);
    db.close();
    CHECK_NOTHROW(entidb::open(dir / "db"));
}

TEST_CASE("close refuses with busy while transactions or scans hold the database; then the LOCK is free") {
    temp_dir dir;
    const auto path = dir / "db";
    auto db = entidb::open(path);
    db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); });
    const auto refused = [&] {
        try {
            db.close();
        } catch (const entidb::error& e) {
            CHECK_THAT(e.what(), Catch::Matchers::Contains("1 transaction(s), scan(s) or other handle(s)"));
            return e.value();
        }
        return errc::ok;
    };
    {
        auto r = db.begin_read();
        CHECK(refused() == errc::busy);
        CHECK(db.is_open());  // nothing closed: the handle and the transaction go on
        CHECK(r.get("c", id_of(1)) == payload(1));
        db.transaction([&](auto& txn) { txn.put("c", id_of(2), payload(2)); });
    }
    {
        auto w = db.begin_write();
        CHECK(refused() == errc::busy);
        w.put("c", id_of(3), payload(3));
        (void)w.commit();
    }
    {
        std::optional<entidb::database::read_transaction> r(db.begin_read());
        auto range = r->scan("c", entidb::in_storage_order);
        r.reset();  // the range keeps the snapshot, and with it the database
        CHECK(refused() == errc::busy);
    }
    CHECK(code_of([&] { (void)entidb::open(path); }) == errc::locked);
    db.close();
    CHECK_FALSE(db.is_open());
    CHECK_NOTHROW(db.close());  // closing a closed handle does nothing
    auto again = entidb::open(path);  // the LOCK went with the close
    CHECK(again.get("c", id_of(3)) == payload(3));
    // The destructor does not refuse: the LOCK then goes with the last transaction.
    std::optional<entidb::database::read_transaction> r(again.begin_read());
    { const entidb::database gone(std::move(again)); }
    CHECK(code_of([&] { (void)entidb::open(path); }) == errc::locked);
    CHECK(r->get("c", id_of(2)) == payload(2));
    r.reset();
    CHECK_NOTHROW(entidb::open(path));
}

TEST_CASE("a database open in another process is refused with locked") {
    temp_dir dir;
    { auto db = entidb::open(dir / "db"); }
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child holds the database until the parent says so
        int rc = 0;
        try {
            auto db = entidb::open(dir / "db");
            char c = 'o';
            rc = ::write(to_parent[1], &c, 1) == 1 ? 0 : 1;
            rc |= ::read(to_child[0], &c, 1) == 1 ? 0 : 2;
        } catch (...) {
            rc = 3;
        }
        ::_exit(rc);
    }
    char c;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::locked);
    REQUIRE(::write(to_child[1], "x", 1) == 1);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_NOTHROW(entidb::open(dir / "db"));  // the lock died with the holder
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

TEST_CASE("bad directories are typed errors and stay unchanged") {
    temp_dir dir;
    SECTION("a path that is a file") {
        std::ofstream(dir / "file") << "x";
        CHECK(code_of([&] { (void)entidb::open(dir / "file"); }) == errc::invalid_argument);
    }
    SECTION("a directory that is not a database") {
        std::filesystem::create_directories(dir / "other");
        std::ofstream(dir / "other" / "notes.txt") << "x";
        CHECK(code_of([&] { (void)entidb::open(dir / "other"); }) == errc::invalid_argument);
        CHECK_FALSE(std::filesystem::exists(dir / "other" / "MANIFEST"));
    }
    SECTION("missing and not to be created") {
        entidb::config cfg;
        cfg.create_if_missing = false;
        CHECK(code_of([&] { (void)entidb::open(dir / "none", cfg); }) == errc::not_found);
        CHECK_FALSE(std::filesystem::exists(dir / "none"));
    }
    SECTION("MANIFEST damage") {
        { auto db = entidb::open(dir / "db"); }
        const auto manifest = dir / "db" / "MANIFEST";
        std::string bytes;
        {
            std::ifstream in(manifest, std::ios::binary);
            bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        auto write = [&](std::string b) { std::ofstream(manifest, std::ios::binary | std::ios::trunc) << b; };
        std::string other_major = bytes;
        other_major[6] = 2;  // format major u16 at offset 6
        write(other_major);
        CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::unsupported_version);
        write("garbage");
        CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::corruption);
        const auto files = test_support::snapshot_files(dir / "db");
        CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::corruption);  // still refused
        CHECK(test_support::snapshot_files(dir / "db") == files);
    }
}

TEST_CASE("segments rotate at max_segment_size and every segment is read back") {
    temp_dir dir;
    entidb::config cfg;
    cfg.max_segment_size = 4096;
    {
        auto db = entidb::open(dir / "db", cfg);
        for (int t = 0; t < 20; ++t)
            db.transaction([&](auto& txn) {
                for (int i = 0; i < 10; ++i) txn.put("c", id_of(t * 10 + i), payload(t * 10 + i, 64));
            });
    }
    std::size_t segments = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / "db" / "SEGMENTS")) {
        ++segments;
        CHECK(std::filesystem::file_size(e.path()) <= 4096);
    }
    CHECK(segments > 5);
    auto db = entidb::open(dir / "db", cfg);
    CHECK(count(db, "c") == 200);
    CHECK(db.begin_read().get("c", id_of(157)) == payload(157, 64));
}

namespace {

// One segment file and rotation off, opened through the directory path: the composition of
// a build that keeps its data in a single storage file.
struct single_file_storage {
    using wal_backend = entidb::file_backend;
    using segment_factory = entidb::single_backend_factory<entidb::file_backend>;
    static constexpr bool rotating = false;
    struct environment {
        bool no_segment = false;  // hand the factory no backend: creating segment 1 fails
    };
    static entidb::file_mode mode(bool read_only) {
        return read_only ? entidb::file_mode::private_view : entidb::file_mode::create_or_open;
    }
    static std::unique_ptr<entidb::file_backend> open_wal(environment&, const std::filesystem::path& path,
                                                          bool read_only) {
        return std::make_unique<entidb::file_backend>(entidb::file_backend::open(path, mode(read_only)));
    }
    static segment_factory make_segment_factory(environment& env, const std::filesystem::path& dir, bool read_only) {
        if (env.no_segment) return segment_factory(nullptr);
        return segment_factory(std::make_unique<entidb::file_backend>(
            entidb::file_backend::open(dir / entidb::segment_file_name(1), mode(read_only))));
    }
};

// Nothing durable, one segment: what open_with_backends accepts.
struct memory_single_storage {
    using wal_backend = entidb::memory_backend;
    using segment_factory = entidb::single_backend_factory<entidb::memory_backend>;
    static constexpr bool rotating = false;
};

// payload(n) for n < 24 is 15 bytes of CBOR: its segment record takes 37 + 15 = 52 bytes,
// a tombstone's 37. Three puts fill 156 of 200.
constexpr std::uint64_t record_bytes = entidb::format::segment_record_overhead + 15;
entidb::config single_segment_config() {
    entidb::config cfg;
    cfg.max_segment_size = 200;
    return cfg;
}

std::string file_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Collection names, ascending, as a reader sees them.
template <typename Db>
std::vector<std::string> collection_names(const Db& db) {
    return db.begin_read().collections();
}

}  // namespace

TEST_CASE("single segment: entidb::open creates, writes, closes and reopens it", "[engine][single]") {
    temp_dir dir;
    {
        auto db = entidb::open<single_file_storage>(dir / "db", single_segment_config());
        CHECK(db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); }) == 1);
    }
    CHECK(std::filesystem::file_size(dir / "db" / "SEGMENTS" / "seg-000001.dat") == record_bytes);
    auto db = entidb::open<single_file_storage>(dir / "db", single_segment_config());
    CHECK(db.last_sequence() == 1);
    CHECK(db.begin_read().get("c", id_of(1)) == payload(1));
    CHECK(collection_names(db) == std::vector<std::string>{"c"});
}

TEST_CASE("single segment: a creation that fails leaves no MANIFEST and can be started again", "[engine][single]") {
    temp_dir dir;
    single_file_storage::environment broken{.no_segment = true};
    CHECK(code_of([&] { (void)entidb::open<single_file_storage>(dir / "db", {}, broken); }) ==
          errc::rotation_unsupported);
    CHECK_FALSE(std::filesystem::exists(dir / "db" / "MANIFEST"));
    {
        auto db = entidb::open<single_file_storage>(dir / "db");
        db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); });
    }
    auto db = entidb::open<single_file_storage>(dir / "db");
    CHECK(db.begin_read().get("c", id_of(1)) == payload(1));
}

TEST_CASE("single segment: a commit that does not fit is refused before the WAL; every acknowledged one survives",
          "[engine][single]") {
    temp_dir dir;
    const auto path = dir / "db";
    const auto cfg = single_segment_config();
    {
        auto db = entidb::open<single_file_storage>(path, cfg);
        for (std::uint64_t i = 1; i <= 3; ++i)
            CHECK(db.transaction([&](auto& txn) { txn.put("c", id_of(i), payload(i)); }) == i);
        const auto wal_before = std::filesystem::file_size(path / "wal.log");
        const auto manifest_before = file_text(path / "MANIFEST");
        // 52 more bytes do not fit the 44 left: refused, and nothing of it written anywhere
        // (not the WAL record, not the new collection's name).
        CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("other", id_of(4), payload(4)); }); }) ==
              errc::rotation_unsupported);
        CHECK(std::filesystem::file_size(path / "wal.log") == wal_before);
        CHECK(file_text(path / "MANIFEST") == manifest_before);
        CHECK(db.last_sequence() == 3);
        // Still writable by commits that fit: a tombstone takes 37 of the 44 bytes left.
        CHECK(db.transaction([&](auto& txn) { txn.remove("c", id_of(1)); }) == 4);
        CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.remove("c", id_of(2)); }); }) ==
              errc::rotation_unsupported);
        CHECK(db.last_sequence() == 4);
        CHECK(db.begin_read().get("c", id_of(2)) == payload(2));
    }
    CHECK(std::filesystem::file_size(path / "SEGMENTS" / "seg-000001.dat") == 3 * record_bytes + 37);
    auto check_state = [&](const auto& db) {
        CHECK(db.last_sequence() == 4);
        CHECK_FALSE(db.begin_read().get("c", id_of(1)));
        CHECK(db.begin_read().get("c", id_of(2)) == payload(2));
        CHECK(db.begin_read().get("c", id_of(3)) == payload(3));
        CHECK(collection_names(db) == std::vector<std::string>{"c"});
    };
    {
        auto db = entidb::open<single_file_storage>(path, cfg);
        check_state(db);
        CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("c", id_of(5), payload(5)); }); }) ==
              errc::rotation_unsupported);
        // A checkpoint keeps the one segment (it cannot start another) and empties the WAL;
        // compaction would need a second segment.
        db.checkpoint();
        CHECK(std::filesystem::file_size(path / "wal.log") == 0);
        CHECK(code_of([&] { (void)db.compact(); }) == errc::rotation_unsupported);
        check_state(db);
    }
    auto db = entidb::open<single_file_storage>(path, cfg);
    check_state(db);
}

TEST_CASE("open_with_backends runs a composition where nothing is durable", "[engine][single]") {
    // Durable backends do not compile here (tests/compile_fail/durable_open_with_backends.cpp):
    // the collections live only in this handle.
    auto db = entidb::basic_database<memory_single_storage>::open_with_backends(
        std::make_unique<entidb::memory_backend>(),
        entidb::single_backend_factory<entidb::memory_backend>(std::make_unique<entidb::memory_backend>()),
        single_segment_config());
    db.transaction([&](auto& txn) {
        txn.put("a", id_of(1), payload(1));
        txn.put("b", id_of(2), payload(2));
    });
    CHECK(collection_names(db) == std::vector<std::string>{"a", "b"});
    CHECK(db.begin_read().get("b", id_of(2)) == payload(2));
    CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("a", id_of(3), payload(3, 100)); }); }) ==
          errc::rotation_unsupported);
    CHECK(db.last_sequence() == 1);
}

TEST_CASE("single segment: durable WAL commits past max_segment_size are applied on open, not lost",
          "[engine][single]") {
    // The segment never received the records (as after a crash before they reached the
    // disk) and the WAL holds more than a smaller max_segment_size admits: those commits
    // are durable, so recovery applies them all; new commits are refused.
    temp_dir dir;
    const auto path = dir / "db";
    entidb::config roomy;
    roomy.max_segment_size = 1000;
    {
        auto db = entidb::open<single_file_storage>(path, roomy);
        for (std::uint64_t i = 1; i <= 5; ++i) db.transaction([&](auto& txn) { txn.put("c", id_of(i), payload(i)); });
    }
    std::filesystem::resize_file(path / "SEGMENTS" / "seg-000001.dat", 0);
    auto db = entidb::open<single_file_storage>(path, single_segment_config());
    CHECK(db.recovery().transactions_replayed == 5);
    CHECK(db.last_sequence() == 5);
    for (std::uint64_t i = 1; i <= 5; ++i) CHECK(db.begin_read().get("c", id_of(i)) == payload(i));
    CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.remove("c", id_of(1)); }); }) ==
          errc::rotation_unsupported);
}

TEST_CASE("checkpoint truncates the WAL and the state survives") {
    temp_dir dir;
    {
        auto db = entidb::open(dir / "db");
        db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); });
        CHECK(std::filesystem::file_size(dir / "db" / "wal.log") > 0);
        db.checkpoint();
        CHECK(std::filesystem::file_size(dir / "db" / "wal.log") == 0);
        CHECK(db.stats().checkpoints == 1);
        db.transaction([&](auto& txn) { txn.put("c", id_of(2), payload(2)); });
    }
    auto db = entidb::open(dir / "db");
    CHECK(db.last_sequence() == 2);
    CHECK(db.begin_read().get("c", id_of(1)) == payload(1));
    CHECK(db.begin_read().get("c", id_of(2)) == payload(2));
}

TEST_CASE("the WAL stays bounded by max_wal_size") {
    temp_dir dir;
    entidb::config cfg;
    cfg.max_wal_size = 16 * 1024;
    auto db = entidb::open(dir / "db", cfg);
    for (int t = 0; t < 200; ++t) {
        db.transaction([&](auto& txn) { txn.put("c", id_of(t), payload(t, 200)); });
        CHECK(std::filesystem::file_size(dir / "db" / "wal.log") <= cfg.max_wal_size);
    }
    CHECK(db.stats().checkpoints > 0);
    db.close();
    auto again = entidb::open(dir / "db", cfg);
    CHECK(count(again, "c") == 200);
}

TEST_CASE("the same operations give byte-identical files") {
    temp_dir a, b;
    for (const auto* d : {&a, &b}) {
        entidb::config cfg;
        cfg.max_segment_size = 2048;
        auto db = entidb::open(*d / "db", cfg);
        for (int t = 0; t < 10; ++t)
            db.transaction([&](auto& txn) {
                for (int i = 9; i >= 0; --i) txn.put(t % 2 ? "odd" : "even", id_of(i * 7 + t), payload(t + i, 50));
                if (t > 3) txn.remove("even", id_of(7 * 2 + 2));
            });
        db.checkpoint();
        db.transaction([&](auto& txn) { txn.put("odd", id_of(1000), payload(1)); });
    }
    CHECK(test_support::snapshot_files(a / "db") == test_support::snapshot_files(b / "db"));
}

TEST_CASE("snapshots stay consistent while a writer commits", "[threads]") {
    auto db = entidb::open_in_memory();
    // Invariant of every commit: entities 0..9 all hold the same n.
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 10; ++i) txn.put("c", id_of(i), payload(0));
    });
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, reads{0};
    auto reader = [&] {
        do {  // at least once, even if the writer is done before this thread runs
            auto r = db.begin_read();
            std::set<entidb::byte_buffer> seen;
            for (const auto& e : r.scan("c")) seen.insert(e.bytes);
            if (seen.size() != 1) ++bad;
            ++reads;
        } while (!stop);
    };
    std::thread r1(reader), r2(reader);
    for (int n = 1; n <= 200; ++n)
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 10; ++i) txn.put("c", id_of(i), payload(n));
        });
    stop = true;
    r1.join();
    r2.join();
    CHECK(bad == 0);
    CHECK(reads > 0);
}

namespace {

// A WAL whose flush waits at a gate the test opens: makes "commits arrive while a flush
// is in flight" happen on purpose instead of by timing.
class gated_wal {
public:
    static constexpr bool durable = false;
    struct gate {
        std::mutex m;
        std::condition_variable cv;
        bool open = true;
        int flushes = 0, waiting = 0;
        std::chrono::milliseconds delay{0};  // every flush takes at least this long
    };
    explicit gated_wal(std::shared_ptr<gate> g) : g_(std::move(g)) {}
    void read_at(std::uint64_t offset, entidb::mutable_bytes out) const { inner_.read_at(offset, out); }
    std::uint64_t append(entidb::bytes_view in) { return inner_.append(in); }
    std::uint64_t size() const { return inner_.size(); }
    void truncate(std::uint64_t n) { inner_.truncate(n); }
    void flush() {
        std::unique_lock lock(g_->m);
        ++g_->waiting;
        g_->cv.notify_all();
        g_->cv.wait(lock, [&] { return g_->open; });
        --g_->waiting;
        ++g_->flushes;
        const auto delay = g_->delay;
        lock.unlock();
        std::this_thread::sleep_for(delay);
    }

private:
    std::shared_ptr<gate> g_;
    entidb::memory_backend inner_;
};

struct gated_storage {
    using wal_backend = gated_wal;
    using segment_factory = entidb::memory_segment_factory;
};

// The same WAL over one segment, rotation off.
struct gated_single_storage {
    using wal_backend = gated_wal;
    using segment_factory = entidb::single_backend_factory<entidb::memory_backend>;
    static constexpr bool rotating = false;
};

}  // namespace

TEST_CASE("group commit: commits prepared during a flush share the next one", "[engine][group][threads]") {
    auto gate = std::make_shared<gated_wal::gate>();
    auto db = entidb::basic_database<gated_storage>::open_with_backends(std::make_unique<gated_wal>(gate),
                                                                         entidb::memory_segment_factory{});
    db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(0)); });
    const int before = gate->flushes;
    { std::lock_guard lock(gate->m); gate->open = false; }

    std::vector<std::thread> committers;
    std::vector<std::uint64_t> seqs(4);
    committers.emplace_back([&] { seqs[0] = db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); }); });
    {  // the first commit leads a flush and waits at the gate, its writer lock released
        std::unique_lock lock(gate->m);
        gate->cv.wait(lock, [&] { return gate->waiting == 1; });
    }
    for (int t = 1; t < 4; ++t)
        committers.emplace_back([&, t] {
            seqs[t] = db.transaction([&](auto& txn) {
                // The writer sees the commits ahead of it although readers do not yet.
                CHECK(txn.get("c", id_of(1)) == payload(1));
                txn.put("c", id_of(10 + t), payload(t));
            });
        });
    // Wait until all three appended: the writer lock is free again and nothing is visible.
    for (;;) {
        if (auto w = db.try_begin_write(); w && w->get("c", id_of(11)) && w->get("c", id_of(12)) && w->get("c", id_of(13)))
            break;
        std::this_thread::yield();
    }
    CHECK(db.last_sequence() == 1);  // nothing acknowledged, nothing visible
    CHECK_FALSE(db.begin_read().get("c", id_of(1)));
    { std::lock_guard lock(gate->m); gate->open = true; }
    gate->cv.notify_all();
    for (auto& t : committers) t.join();

    CHECK(gate->flushes - before == 2);  // the first commit's flush, then one for the other three
    std::sort(seqs.begin(), seqs.end());
    CHECK(seqs == std::vector<std::uint64_t>{2, 3, 4, 5});
    CHECK(db.last_sequence() == 5);
    for (int t = 1; t < 4; ++t) CHECK(db.begin_read().get("c", id_of(10 + t)) == payload(t));
}

TEST_CASE("group commit: a flush leader gathers as many commits as the last cycle had", "[engine][group][threads]") {
    auto gate = std::make_shared<gated_wal::gate>();
    auto db = entidb::basic_database<gated_storage>::open_with_backends(std::make_unique<gated_wal>(gate),
                                                                         entidb::memory_segment_factory{});
    db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(0)); });
    const int before = gate->flushes;
    // Slow flushes and two threads committing three times each. Without gathering they
    // alternate: each flush carries the one commit that arrived during the previous one
    // (six flushes). A leader that waits, at most half a flush, for the second commit
    // it saw in the last cycle lets the pairs share flushes.
    gate->delay = std::chrono::milliseconds(400);
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 3; ++i) db.transaction([&](auto& txn) { txn.put("c", id_of(1 + 3 * t + i), payload(i)); });
        });
    for (auto& t : ts) t.join();
    std::lock_guard lock(gate->m);
    CHECK(gate->flushes - before <= 4);
    CHECK(db.last_sequence() == 7);
}

TEST_CASE("group commit: concurrent read-modify-write transactions lose no update", "[engine][group][threads]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(0)); });
    auto value_of = [](const entidb::byte_buffer& b) { return entidb::cbor::decode(b).find("n")->as_uint(); };
    constexpr int threads = 4, rounds = 50;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < rounds; ++i)
                db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(value_of(*txn.get("c", id_of(0))) + 1)); });
        });
    for (auto& t : ts) t.join();
    CHECK(value_of(*db.begin_read().get("c", id_of(0))) == threads * rounds);
    CHECK(db.last_sequence() == threads * rounds + 1);
    // The feed and the files hold every commit once, in sequence order.
    const auto changes = db.changes_since(0);
    REQUIRE(changes.size() == threads * rounds + 1);
    for (std::size_t i = 0; i < changes.size(); ++i) CHECK(changes[i].sequence == i + 1);
}

TEST_CASE("group commit: a unique key claimed by a commit in flight is taken", "[engine][group][threads]") {
    auto gate = std::make_shared<gated_wal::gate>();
    auto db = entidb::basic_database<gated_storage>::open_with_backends(std::make_unique<gated_wal>(gate),
                                                                         entidb::memory_segment_factory{});
    db.declare_index("c", "n", entidb::index_kind::hash, true);
    { std::lock_guard lock(gate->m); gate->open = false; }
    std::thread first([&] { db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(7)); }); });
    {
        std::unique_lock lock(gate->m);
        gate->cv.wait(lock, [&] { return gate->waiting == 1; });
    }
    // In flight, not applied: the index does not hold it yet, the unique check must.
    CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("c", id_of(2), payload(7)); }); }) ==
          errc::unique_violation);
    // Deleting the holder in flight frees the key for the next writer.
    std::thread second([&] { db.transaction([&](auto& txn) { txn.remove("c", id_of(1)); }); });
    for (;;) {
        if (auto w = db.try_begin_write(); w && !w->get("c", id_of(1))) break;
        std::this_thread::yield();
    }
    std::thread third([&] { db.transaction([&](auto& txn) { txn.put("c", id_of(3), payload(7)); }); });
    { std::lock_guard lock(gate->m); gate->open = true; }
    gate->cv.notify_all();
    first.join();
    second.join();
    third.join();
    auto r = db.begin_read();
    CHECK_FALSE(r.get("c", id_of(1)));
    CHECK(r.get("c", id_of(3)) == payload(7));
}

TEST_CASE("group commit: the one segment's room counts the commits in flight", "[engine][group][single][threads]") {
    auto gate = std::make_shared<gated_wal::gate>();
    auto db = entidb::basic_database<gated_single_storage>::open_with_backends(
        std::make_unique<gated_wal>(gate),
        entidb::single_backend_factory<entidb::memory_backend>(std::make_unique<entidb::memory_backend>()),
        single_segment_config());
    db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(1)); });  // 52 of 200
    { std::lock_guard lock(gate->m); gate->open = false; }
    std::thread first([&] {
        db.transaction([&](auto& txn) {  // 104 more: 156 once applied
            txn.put("c", id_of(2), payload(2));
            txn.put("c", id_of(3), payload(3));
        });
    });
    {
        std::unique_lock lock(gate->m);
        gate->cv.wait(lock, [&] { return gate->waiting == 1; });
    }
    // In flight, not applied: the segment holds 52 bytes, but 156 are promised, and 52
    // more do not fit. Refused at once (accepting it would lose it after the flush).
    CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("c", id_of(4), payload(4)); }); }) ==
          errc::rotation_unsupported);
    { std::lock_guard lock(gate->m); gate->open = true; }
    gate->cv.notify_all();
    first.join();
    CHECK(db.last_sequence() == 2);
    CHECK(db.begin_read().get("c", id_of(3)) == payload(3));
    CHECK_FALSE(db.begin_read().get("c", id_of(4)));
    CHECK(db.transaction([&](auto& txn) { txn.remove("c", id_of(1)); }) == 3);  // 37 still fit
}

TEMPLATE_TEST_CASE("point reads without a transaction: get and get_into", "[engine][read]", entidb::memory_storage,
                   entidb::file_storage) {
    temp_dir dir;
    auto db = open_db<TestType>(dir);
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 50; ++i) txn.put("c", id_of(i), payload(i, 100 + i));
    });
    CHECK(db.get("c", id_of(7)) == payload(7, 107));
    CHECK_FALSE(db.get("c", id_of(99)));
    CHECK_FALSE(db.get("missing", id_of(7)));
    entidb::byte_buffer buf = payload(0, 4000);  // capacity reused, contents replaced
    const auto cap = buf.capacity();
    for (int i = 0; i < 50; ++i) {
        REQUIRE(db.get_into("c", id_of(i), buf));
        CHECK(buf == payload(i, 100 + i));
    }
    CHECK(buf.capacity() == cap);
    db.transaction([&](auto& txn) { txn.remove("c", id_of(7)); });
    CHECK_FALSE(db.get_into("c", id_of(7), buf));
    db.close();
    CHECK(code_of([&] { (void)db.get("c", id_of(1)); }) == errc::closed);
}

TEST_CASE("reads through the segment mapping see new segments and refuse a damaged record") {
    temp_dir dir;
    auto db = entidb::open(dir / "db", test_support::small_segments(4096));
    for (int t = 0; t < 30; ++t) {  // the active segment grows and rotates while mapped
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 5; ++i) txn.put("c", id_of(t * 5 + i), payload(t * 5 + i, 64));
        });
        for (int i = 0; i <= t * 5 + 4; i += 7) CHECK(db.get("c", id_of(i)) == payload(i, 64));
    }
    CHECK(count(db, "c") == 150);
    // Flip one payload byte of the first record on disk: the shared mapping sees it, the
    // CRC check refuses it with a typed error instead of returning wrong bytes.
    const auto seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    {
        std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.put('\x7f');
    }
    const auto e = [&] {
        try {
            (void)db.begin_read().get("c", id_of(0));
        } catch (const entidb::error& err) {
            return err;
        }
        FAIL("a damaged record was returned");
        return entidb::error(errc::ok, "");
    }();
    CHECK(e.value() == errc::corruption);
    CHECK(e.path().find("seg-000001.dat") != std::string::npos);
    CHECK(code_of([&] { (void)db.get("c", id_of(0)); }) == errc::corruption);
}

TEST_CASE("get_view: the bytes in the mapped segment, valid for the transaction's life") {
    temp_dir dir;
    auto db = entidb::open(dir / "db", test_support::small_segments(4096));
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 20; ++i) txn.put("c", id_of(i), payload(i, 64));
    });
    auto r = db.begin_read();
    const auto v = r.get_view("c", id_of(3));
    REQUIRE(v);
    CHECK(entidb::byte_buffer(v->begin(), v->end()) == payload(3, 64));
    CHECK_FALSE(r.get_view("c", id_of(99)));
    CHECK_FALSE(r.get_view("nothing", id_of(3)));
    // Overwrites, rotations and a compaction later, the view still shows the snapshot's bytes.
    for (int n = 0; n < 40; ++n)
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 20; ++i) txn.put("c", id_of(i), payload(1000 + n, 64));
        });
    (void)db.compact();
    CHECK(entidb::byte_buffer(v->begin(), v->end()) == payload(3, 64));
    CHECK(entidb::byte_buffer(r.get_view("c", id_of(3))->begin(), r.get_view("c", id_of(3))->end()) == payload(3, 64));
}

TEMPLATE_TEST_CASE("scans in storage order: every live entity once, at the snapshot", "[engine][scan]",
                   entidb::memory_storage, entidb::file_storage) {
    temp_dir dir;
    auto db = open_db<TestType>(dir);
    const auto storage_scan = [](const auto& txn, std::string_view c) {
        std::map<entidb::entity_id, entidb::byte_buffer> out;
        std::size_t n = 0;
        for (const auto& e : txn.scan(c, entidb::in_storage_order)) {
            out[e.id].assign(e.bytes.begin(), e.bytes.end());
            ++n;
        }
        CHECK(n == out.size());  // no entity twice
        return out;
    };
    const auto id_scan = [](const auto& txn, std::string_view c) {
        std::map<entidb::entity_id, entidb::byte_buffer> out;
        for (const auto& e : txn.scan(c)) out[e.id] = e.bytes;
        return out;
    };
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 40; ++i) txn.put("c", id_of(i), payload(i));
        txn.put("other", id_of(1), payload(1000));
    });
    auto before = db.begin_read();  // sees the first commit only
    // Overwrites, deletions and a deleted-then-recreated entity: the first segment's
    // records are now partly superseded.
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 40; i += 3) txn.put("c", id_of(i), payload(100 + i));
        for (int i = 1; i < 40; i += 5) txn.remove("c", id_of(i));
    });
    db.transaction([&](auto& txn) { txn.put("c", id_of(1), payload(7)); });
    auto now = db.begin_read();
    CHECK(storage_scan(now, "c") == id_scan(now, "c"));
    CHECK(storage_scan(before, "c") == id_scan(before, "c"));
    CHECK(storage_scan(before, "c").size() == 40);
    CHECK(storage_scan(now, "other").size() == 1);
    CHECK(storage_scan(now, "missing").empty());
    CHECK(now.get("c", id_of(1)) == payload(7));
}

namespace {

// A database in `dir`/db whose first segment is full of collection "c" (40-byte payloads).
void fill_segments(const temp_dir& dir, const entidb::config& cfg) {
    auto db = entidb::open(dir / "db", cfg);
    for (int t = 0; t < 20; ++t)
        db.transaction([&](auto& txn) {
            for (int i = 0; i < 10; ++i) txn.put("c", id_of(t * 10 + i), payload(t * 10 + i, 40));
        });
}

// The oldest segment file: where a scan in storage order starts.
std::filesystem::path first_segment(const std::filesystem::path& db_dir) {
    std::filesystem::path first;
    for (const auto& e : std::filesystem::directory_iterator(db_dir / "SEGMENTS"))
        if (e.file_size() != 0 && (first.empty() || e.path().filename() < first.filename())) first = e.path();
    return first;
}

// Flips one byte of `file` in place (an open database's mapping sees it).
void damage_byte(const std::filesystem::path& file, std::uint64_t offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    const char old = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(old ^ 0x5a));
}

// The error `f` throws (FAIL if it throws none).
entidb::error error_of(auto&& f) {
    try {
        f();
    } catch (const entidb::error& err) {
        return err;
    }
    FAIL("no error was thrown");
    return entidb::error(errc::ok, "");
}

}  // namespace

TEST_CASE("scans in storage order: a damaged first record leaves no scan registered", "[engine][scan]") {
    temp_dir dir;
    const auto cfg = test_support::small_segments(4096);
    fill_segments(dir, cfg);
    auto db = entidb::open(dir / "db", cfg);
    damage_byte(first_segment(dir / "db"), 40);  // the payload of the very first record
    {
        auto r = db.begin_read();
        CHECK(code_of([&] { (void)r.scan("c", entidb::in_storage_order).begin(); }) == errc::corruption);
    }
    // A compaction first checks for open storage-order scans (failing with busy while one is
    // open): the failed one must not count, so it goes on and fails on the damaged record.
    CHECK(code_of([&] { (void)db.compact({.scan_wait = std::chrono::milliseconds(0)}); }) == errc::corruption);
}

TEST_CASE("scans in storage order: after a damaged record every step fails the same way", "[engine][scan]") {
    temp_dir dir;
    const auto cfg = test_support::small_segments(4096);
    fill_segments(dir, cfg);
    auto db = entidb::open(dir / "db", cfg);
    const auto seg = first_segment(dir / "db");
    std::uint32_t first_len = 0;  // the first record's record_len (little-endian u32)
    {
        std::ifstream f(seg, std::ios::binary);
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        first_len = b[0] | b[1] << 8 | b[2] << 16 | std::uint32_t{b[3]} << 24;
    }
    damage_byte(seg, first_len + 40);  // the second record's payload
    auto r = db.begin_read();
    auto range = r.scan("c", entidb::in_storage_order);
    auto it = range.begin();
    REQUIRE(it != std::default_sentinel);  // the first record is intact
    const auto first = error_of([&] { ++it; });
    CHECK(first.value() == errc::corruption);
    CHECK(first.path() == seg.string());
    CHECK(first.offset() == first_len);
    // Never a silent skip to the next segment: the same error, step after step.
    for (int i = 0; i < 3; ++i) {
        const auto again = error_of([&] { ++it; });
        CHECK(again.value() == errc::corruption);
        CHECK(again.path() == first.path());
        CHECK(again.offset() == first.offset());
    }
}

TEST_CASE("scans in storage order: reopened, damaged, forbidden, and beside a compaction", "[engine][scan][threads]") {
    temp_dir dir;
    const auto cfg = test_support::small_segments(4096);
    {
        auto db = entidb::open(dir / "db", cfg);
        for (int t = 0; t < 20; ++t)
            db.transaction([&](auto& txn) {
                for (int i = 0; i < 10; ++i) txn.put("c", id_of((t * 7 + i) % 60), payload(t * 10 + i, 40));
            });
    }
    auto db = entidb::open(dir / "db", cfg);  // superseded counts rebuilt from the files
    const auto ids_of = [](const auto& range) {
        std::vector<entidb::entity_id> out;
        for (const auto& e : range) out.push_back(e.id);
        return out;
    };
    std::vector<entidb::entity_id> by_id;
    {
        auto r = db.begin_read();
        by_id = ids_of(r.scan("c"));
        auto stored = ids_of(r.scan("c", entidb::in_storage_order));
        CHECK_FALSE(stored == by_id);  // a different order...
        std::sort(stored.begin(), stored.end());
        CHECK(stored == by_id);  // ...of the same entities
        // A compaction waits for the storage-order scan that is open; one started meanwhile
        // walks the index (id order) so that the compaction does not wait for it too.
        auto open_scan = r.scan("c", entidb::in_storage_order);
        auto it = open_scan.begin();
        std::atomic<bool> compacted{false};
        std::thread compactor([&] {
            db.compact();
            compacted = true;
        });
        bool fell_back = false;  // once the compaction has registered
        for (int i = 0; i < 2000 && !fell_back; ++i) {
            fell_back = ids_of(r.scan("c", entidb::in_storage_order)) == by_id;
            if (!fell_back) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        CHECK(fell_back);
        CHECK_FALSE(compacted);
        it = {};  // the last holder of the open scan
        compactor.join();
        CHECK(compacted);
        CHECK(ids_of(db.begin_read().scan("c", entidb::in_storage_order)).size() == by_id.size());
    }
    // Refused like any full scan when the configuration forbids them.
    db.close();
    entidb::config forbid = cfg;
    forbid.forbid_full_scan = true;
    {
        auto locked = entidb::open(dir / "db", forbid);
        CHECK(code_of([&] { (void)locked.begin_read().scan("c", entidb::in_storage_order); }) == errc::scan_forbidden);
    }
    // A damaged record is a typed error naming the file (the mapping sees the change).
    db = entidb::open(dir / "db", cfg);
    std::filesystem::path seg;
    for (const auto& e : std::filesystem::directory_iterator(dir / "db" / "SEGMENTS"))
        if (seg.empty() || e.file_size() > std::filesystem::file_size(seg)) seg = e.path();  // not an empty one
    {
        std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.put('\x7f');
    }
    const auto e = [&] {
        try {
            (void)ids_of(db.begin_read().scan("c", entidb::in_storage_order));
        } catch (const entidb::error& err) {
            return err;
        }
        FAIL("a damaged record was returned");
        return entidb::error(errc::ok, "");
    }();
    CHECK(e.value() == errc::corruption);
    CHECK(e.path() == seg.string());
}
