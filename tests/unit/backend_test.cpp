// Tests for the storage backends: one contract suite run over every backend, then
// file-specific behaviour (errors, durable_replace, the retry loop) and fault plans.
#include <entidb/format/record_scanner.hpp>
#include <entidb/segment/factory.hpp>
#include <entidb/segment/file_factory.hpp>
#include <entidb/segment/memory_factory.hpp>
#include <entidb/segment/single_backend_factory.hpp>
#include <entidb/segment/fault_injecting_factory.hpp>
#include <entidb/storage/backend.hpp>
#include <entidb/storage/fault_injecting_backend.hpp>
#include <entidb/storage/file_backend.hpp>
#include <entidb/storage/filesystem.hpp>
#include <entidb/storage/memory_backend.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;
using namespace entidb;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("entidb-backend-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// Runs `f`, requires it to throw entidb::error with `code`, and returns the error.
template <typename F>
error expect_error(errc code, F&& f) {
    try {
        f();
    } catch (const error& e) {
        INFO(e.what());
        REQUIRE(e.value() == code);
        return e;
    }
    FAIL("no entidb::error thrown; expected " << to_string(code));
    throw std::logic_error("unreachable");
}

std::string read_string(const auto& backend, std::uint64_t offset, std::size_t n) {
    std::string s(n, '\0');
    backend.read_at(offset, mutable_bytes(reinterpret_cast<byte*>(s.data()), n));
    return s;
}

std::string contents_of(const auto& backend) { return read_string(backend, 0, backend.size()); }

// How each backend under the contract suite is made (and, for files, reopened).
template <typename B>
struct harness;

template <>
struct harness<memory_backend> {
    memory_backend backend;
};

template <>
struct harness<file_backend> {
    temp_dir dir;
    fs::path file = dir.path() / "data.bin";
    file_backend backend = file_backend::open(file, file_mode::create_new);
};

template <>
struct harness<fault_injecting_backend<memory_backend>> {
    std::shared_ptr<fault_plan> plan = std::make_shared<fault_plan>();
    fault_injecting_backend<memory_backend> backend{plan};
};

}  // namespace

static_assert(storage_backend<memory_backend> && !memory_backend::durable);
static_assert(durable_backend<file_backend>);
static_assert(durable_backend<fault_injecting_backend<file_backend>>);
static_assert(!durable_backend<fault_injecting_backend<memory_backend>>);

// ---------------------------------------------------------------------------------
// The contract every backend meets.

TEMPLATE_TEST_CASE("backend contract", "[backend]", memory_backend, file_backend,
                   fault_injecting_backend<memory_backend>) {
    harness<TestType> h;
    TestType& b = h.backend;
    REQUIRE(b.size() == 0);

    SECTION("append returns offsets and read_at returns the exact bytes") {
        CHECK(b.append(as_bytes("hello")) == 0);
        CHECK(b.append(as_bytes(", ")) == 5);
        CHECK(b.append(as_bytes("world")) == 7);
        CHECK(b.append({}) == 12);  // an empty append changes nothing
        CHECK(b.size() == 12);
        CHECK(contents_of(b) == "hello, world");
        CHECK(read_string(b, 7, 5) == "world");
        CHECK(read_string(b, 3, 4) == "lo, ");
        CHECK(read_string(b, 12, 0).empty());  // a zero-length read at the end is fine
    }

    SECTION("read past the end throws corruption") {
        (void)b.append(as_bytes("0123456789"));
        CHECK(expect_error(errc::corruption, [&] { (void)read_string(b, 8, 3); }).offset() == 8u);
        expect_error(errc::corruption, [&] { (void)read_string(b, 11, 0); });
        expect_error(errc::corruption, [&] { (void)read_string(b, 100, 1); });
        expect_error(errc::corruption, [&] { (void)read_string(b, ~std::uint64_t{0}, 2); });
    }

    SECTION("truncate then append") {
        (void)b.append(as_bytes("abcdefgh"));
        b.truncate(3);
        CHECK(b.size() == 3);
        expect_error(errc::corruption, [&] { (void)read_string(b, 2, 2); });
        CHECK(b.append(as_bytes("XY")) == 3);
        CHECK(contents_of(b) == "abcXY");
        b.truncate(5);  // to the current size: a no-op
        CHECK(contents_of(b) == "abcXY");
        b.truncate(0);
        CHECK(b.size() == 0);
        expect_error(errc::invalid_argument, [&] { b.truncate(1); });
    }

    SECTION("flush keeps size and contents") {
        (void)b.append(as_bytes("durable?"));
        b.flush();
        b.flush();  // idempotent
        CHECK(b.size() == 8);
        CHECK(contents_of(b) == "durable?");
    }

    SECTION("large appends round-trip") {
        std::mt19937 rng(7);
        std::string big(1 << 20, '\0');
        for (auto& c : big) c = static_cast<char>(rng());
        CHECK(b.append(as_bytes("x")) == 0);
        CHECK(b.append(as_bytes(big)) == 1);
        CHECK(read_string(b, 1, big.size()) == big);
    }

    if constexpr (std::is_same_v<TestType, file_backend>) {
        SECTION("reopening a file_backend sees the bytes") {
            (void)b.append(as_bytes("persisted"));
            b.flush();
            b.truncate(7);
            {
                const file_backend again = file_backend::open(h.file, file_mode::open_existing);
                CHECK(again.size() == 7);
                CHECK(contents_of(again) == "persist");
            }
            h.backend = file_backend::open(h.file, file_mode::create_or_open);  // move-assign closes the old fd
            CHECK(h.backend.append(as_bytes("ed")) == 7);
            CHECK(contents_of(file_backend::open(h.file, file_mode::read_only)) == "persisted");
        }
    }
}

// ---------------------------------------------------------------------------------
// file_backend specifics.

TEST_CASE("file_backend open modes and their errors", "[backend][file]") {
    temp_dir dir;
    const fs::path missing = dir.path() / "missing.dat";

    SECTION("open_existing on a missing file: io_error with ENOENT and the path") {
        const error e = expect_error(errc::io_error, [&] { (void)file_backend::open(missing, file_mode::open_existing); });
        CHECK(e.sys_errno() == ENOENT);
        CHECK(e.path() == missing.string());
        CHECK_THAT(std::string(e.what()), Catch::Contains("missing.dat"));
        CHECK_FALSE(fs::exists(missing));
        expect_error(errc::io_error, [&] { (void)file_backend::open(missing, file_mode::read_only); });
    }

    SECTION("create_new creates, and fails on an existing file") {
        { (void)file_backend::open(missing, file_mode::create_new); }
        CHECK(fs::exists(missing));
        const error e = expect_error(errc::io_error, [&] { (void)file_backend::open(missing, file_mode::create_new); });
        CHECK(e.sys_errno() == EEXIST);
        CHECK(e.path() == missing.string());
    }

    SECTION("create_or_open keeps existing bytes") {
        { (void)file_backend::open(missing, file_mode::create_or_open).append(as_bytes("abc")); }
        const file_backend b = file_backend::open(missing, file_mode::create_or_open);
        CHECK(b.size() == 3);
    }

    SECTION("descriptors are close-on-exec and new files are 0644 before umask") {
        const file_backend b = file_backend::open(missing, file_mode::create_new);
        CHECK((::fcntl(b.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
        const mode_t mask = ::umask(0);
        ::umask(mask);
        CHECK((fs::status(missing).permissions() & fs::perms::all) ==
              (static_cast<fs::perms>(0644 & ~mask) & fs::perms::all));
    }

    SECTION("a directory is not a file") {
        CHECK(expect_error(errc::io_error, [&] { (void)file_backend::open(dir.path(), file_mode::read_only); })
                  .sys_errno() == EISDIR);
    }

    SECTION("read_only refuses writes but reads") {
        { (void)file_backend::open(missing, file_mode::create_new).append(as_bytes("ro")); }
        file_backend b = file_backend::open(missing, file_mode::read_only);
        CHECK(b.read_only());
        CHECK(contents_of(b) == "ro");
        expect_error(errc::read_only, [&] { (void)b.append(as_bytes("x")); });
        expect_error(errc::read_only, [&] { b.truncate(0); });
        b.flush();  // nothing to make durable; not an error
        CHECK(b.size() == 2);
    }
}

TEST_CASE("file_backend errors carry path and offset", "[backend][file]") {
    temp_dir dir;
    const fs::path file = dir.path() / "seg-000001.dat";
    file_backend b = file_backend::open(file, file_mode::create_new);
    (void)b.append(as_bytes("0123456789"));

    const error past = expect_error(errc::corruption, [&] { (void)read_string(b, 9, 2); });
    CHECK(past.path() == file.string());
    CHECK(past.offset() == 9u);

    // Shortened behind the backend's back: the tracked size promises bytes that are gone.
    fs::resize_file(file, 4);
    const error gone = expect_error(errc::corruption, [&] { (void)read_string(b, 2, 6); });
    CHECK(gone.path() == file.string());
    CHECK(gone.offset() == 4u);
}

TEST_CASE("file_backend is move-only and moves cleanly", "[backend][file]") {
    STATIC_REQUIRE(!std::is_copy_constructible_v<file_backend>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<file_backend>);
    temp_dir dir;
    std::vector<file_backend> files;
    for (int i = 0; i < 8; ++i) {  // growth moves the earlier elements
        files.push_back(file_backend::open(dir.path() / fmt::format("f{}", i), file_mode::create_new));
        (void)files.back().append(as_bytes(std::to_string(i)));
    }
    for (int i = 0; i < 8; ++i) CHECK(contents_of(files[static_cast<std::size_t>(i)]) == std::to_string(i));
    file_backend moved = std::move(files[0]);
    CHECK(moved.native_handle() >= 0);
    CHECK(moved.path() == dir.path() / "f0");
}

// /dev/full is the one portable way to make a real write fail with ENOSPC, and its
// fdatasync fails (EINVAL: no fsync on the device), which exercises the poisoning.
TEST_CASE("file_backend on /dev/full: ENOSPC and a failed flush", "[backend][file]") {
    if (::access("/dev/full", W_OK) != 0) {
        WARN("/dev/full not writable here; skipped");
        return;
    }
    file_backend b = file_backend::open("/dev/full", file_mode::open_existing);
    const error full = expect_error(errc::no_space, [&] { (void)b.append(as_bytes("data")); });
    CHECK(full.sys_errno() == ENOSPC);
    CHECK(full.path() == "/dev/full");
    CHECK(full.offset().has_value());
    CHECK(b.size() == 0);

    const error flush = expect_error(errc::outcome_unknown, [&] { b.flush(); });
    CHECK(flush.sys_errno() != 0);
    CHECK(b.poisoned());
    // Never retried-and-trusted: every later write is refused until reopen.
    expect_error(errc::outcome_unknown, [&] { b.flush(); });
    expect_error(errc::outcome_unknown, [&] { (void)b.append(as_bytes("x")); });
    expect_error(errc::outcome_unknown, [&] { b.truncate(0); });
}

// ---------------------------------------------------------------------------------
// The retry loop, with a fake system call (EINTR and short counts cannot be provoked).

namespace {
// A scripted fake: each step either transfers up to `count` bytes or fails with `err`.
struct fake_step {
    long long count;
    int err = 0;
};

struct fake_io {
    std::vector<fake_step> script{};
    std::string source{};
    std::string sink{};
    std::vector<std::size_t> seen_done{};  // the `done` each call was given
    std::size_t next = 0;

    long long operator()(std::size_t done) {
        seen_done.push_back(done);
        REQUIRE(next < script.size());
        const fake_step step = script[next++];
        if (step.count < 0) {
            errno = step.err;
            return -1;
        }
        const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(step.count), source.size() - done);
        sink.append(source, done, n);
        return static_cast<long long>(n);
    }
};
}  // namespace

TEST_CASE("transfer_fully retries EINTR and short transfers", "[backend][retry]") {
    SECTION("short counts and EINTR until complete") {
        fake_io io{.script = {{3}, {-1, EINTR}, {2}, {-1, EINTR}, {-1, EINTR}, {1}, {100}}, .source = "0123456789"};
        const detail::io_progress p = detail::transfer_fully(io.source.size(), io);
        CHECK(p.complete(10));
        CHECK(p.error == 0);
        CHECK(io.sink == io.source);
        CHECK(io.seen_done == std::vector<std::size_t>{0, 3, 3, 5, 5, 5, 6});
    }
    SECTION("a real error stops the loop with errno and the progress so far") {
        fake_io io{.script = {{4}, {-1, EINTR}, {-1, ENOSPC}}, .source = "0123456789"};
        const detail::io_progress p = detail::transfer_fully(io.source.size(), io);
        CHECK(p.done == 4);
        CHECK(p.error == ENOSPC);
        CHECK(io.sink == "0123");
    }
    SECTION("a zero count (end of file) stops without an error") {
        fake_io io{.script = {{6}, {0}}, .source = "0123456789"};
        const detail::io_progress p = detail::transfer_fully(io.source.size(), io);
        CHECK(p.done == 6);
        CHECK(p.error == 0);
        CHECK_FALSE(p.complete(10));
    }
    SECTION("nothing to do calls nothing") {
        fake_io io{};
        CHECK(detail::transfer_fully(0, io).complete(0));
        CHECK(io.seen_done.empty());
    }
}

// ---------------------------------------------------------------------------------
// Whole-file helpers.

TEST_CASE("durable_replace replaces atomically and leaves no temp file", "[backend][file]") {
    temp_dir dir;
    const fs::path target = dir.path() / "MANIFEST";

    durable_replace(target, as_bytes("first"));  // the target need not exist
    CHECK(as_chars(read_file(target)) == "first");
    durable_replace(target, as_bytes("second, longer"));
    CHECK(as_chars(read_file(target)) == "second, longer");
    durable_replace(target, bytes_view{});
    CHECK(read_file(target).empty());
    CHECK_FALSE(fs::exists(dir.path() / "MANIFEST.tmp"));
    CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);

    SECTION("a stale .tmp from a crash is overwritten") {
        std::ofstream(dir.path() / "MANIFEST.tmp") << "garbage from a crash, longer than the new contents";
        durable_replace(target, as_bytes("third"));
        CHECK(as_chars(read_file(target)) == "third");
        CHECK_FALSE(fs::exists(dir.path() / "MANIFEST.tmp"));
    }
    SECTION("a missing directory fails cleanly with the path") {
        const fs::path nowhere = dir.path() / "no-such-dir" / "MANIFEST";
        const error e = expect_error(errc::io_error, [&] { durable_replace(nowhere, as_bytes("x")); });
        CHECK(e.sys_errno() == ENOENT);
        CHECK_THAT(e.path(), Catch::Contains("no-such-dir"));
    }
}

TEST_CASE("read_file and sync_directory report typed errors", "[backend][file]") {
    temp_dir dir;
    const error missing = expect_error(errc::io_error, [&] { (void)read_file(dir.path() / "nope"); });
    CHECK(missing.sys_errno() == ENOENT);
    CHECK(expect_error(errc::io_error, [&] { (void)read_file(dir.path()); }).sys_errno() == EISDIR);

    sync_directory(dir.path());
    const error sync = expect_error(errc::outcome_unknown, [&] { sync_directory(dir.path() / "nope"); });
    CHECK(sync.sys_errno() == ENOENT);
    CHECK_THAT(sync.path(), Catch::Contains("nope"));
}

// ---------------------------------------------------------------------------------
// Fault plans.

namespace {
using mem_adapter = fault_injecting_backend<memory_backend>;
}

TEST_CASE("fault plan counts mutating operations across adapters", "[backend][fault]") {
    auto plan = std::make_shared<fault_plan>();
    mem_adapter wal(plan, std::make_shared<memory_backend>(), "wal.log");
    mem_adapter seg(plan, std::make_shared<memory_backend>(), "seg-000001.dat");

    (void)wal.append(as_bytes("a"));  // 0
    (void)seg.append(as_bytes("b"));  // 1
    (void)read_string(wal, 0, 1);     // reads are not counted
    (void)wal.size();
    wal.flush();                      // 2
    seg.truncate(0);                  // 3
    CHECK(plan->operations() == 4);
    CHECK_FALSE(plan->fired());

    SECTION("the Nth operation fails with the kind's errc, whichever adapter runs it") {
        plan->arm(5, fault_kind::no_space);
        (void)wal.append(as_bytes("c"));  // 4
        const error e = expect_error(errc::no_space, [&] { (void)seg.append(as_bytes("lost")); });  // 5
        CHECK(e.sys_errno() == ENOSPC);
        CHECK(e.path() == "seg-000001.dat");
        CHECK(seg.size() == 0);  // nothing written
        CHECK(plan->fired());
        (void)seg.append(as_bytes("again"));  // fires once only; the plan does not crash
        CHECK(contents_of(seg) == "again");
    }
    SECTION("io_error on append writes nothing") {
        plan->arm(4, fault_kind::io_error);
        CHECK(expect_error(errc::io_error, [&] { (void)wal.append(as_bytes("x")); }).sys_errno() == EIO);
        CHECK(contents_of(wal) == "a");
    }
    SECTION("a failed flush is outcome_unknown and poisons that adapter only") {
        plan->arm(5, fault_kind::flush_failure);
        (void)wal.append(as_bytes("fine"));  // 4
        CHECK(expect_error(errc::outcome_unknown, [&] { seg.flush(); }).path() == "seg-000001.dat");
        expect_error(errc::outcome_unknown, [&] { seg.flush(); });
        expect_error(errc::outcome_unknown, [&] { (void)seg.append(as_bytes("x")); });
        expect_error(errc::outcome_unknown, [&] { seg.truncate(0); });
        wal.flush();
        CHECK(contents_of(wal) == "afine");
    }
    SECTION("any kind on a flush is outcome_unknown; on a truncate it is the kind's error") {
        plan->arm(4, fault_kind::io_error);
        expect_error(errc::outcome_unknown, [&] { wal.flush(); });
        plan->arm(5, fault_kind::short_write);
        expect_error(errc::io_error, [&] { seg.truncate(0); });
    }
}

TEST_CASE("short_write leaves a prefix in the inner backend", "[backend][fault]") {
    auto plan = std::make_shared<fault_plan>();
    mem_adapter b(plan);
    (void)b.append(as_bytes("head|"));
    plan->arm(1, fault_kind::short_write);
    expect_error(errc::io_error, [&] { (void)b.append(as_bytes("0123456789")); });
    CHECK(contents_of(b.inner()) == "head|01234");  // half of it arrived

    plan->arm(2, fault_kind::short_write, {.short_write_bytes = 3});
    expect_error(errc::io_error, [&] { (void)b.append(as_bytes("abcdef")); });
    CHECK(contents_of(b) == "head|01234abc");
}

TEST_CASE("drop_unflushed simulates a power cut", "[backend][fault]") {
    auto plan = std::make_shared<fault_plan>();
    auto storage = std::make_shared<memory_backend>();
    mem_adapter b(plan, storage);
    (void)b.append(as_bytes("abc"));
    b.flush();
    (void)b.append(as_bytes("defgh"));
    CHECK(b.flushed_size() == 3);

    SECTION("everything unflushed is lost") {
        b.drop_unflushed();
        CHECK(contents_of(*storage) == "abc");
    }
    SECTION("a torn tail can be kept") {
        b.drop_unflushed(2);
        CHECK(contents_of(*storage) == "abcde");
        b.drop_unflushed(100);  // the survivor is now "on disk"; nothing more to drop
        CHECK(contents_of(*storage) == "abcde");
    }
    SECTION("a truncate below the flushed size lowers it") {
        b.truncate(1);
        (void)b.append(as_bytes("XYZ"));
        b.drop_unflushed();
        CHECK(contents_of(*storage) == "a");
    }
    SECTION("power_cut reaches every live adapter, also after they moved") {
        std::vector<mem_adapter> more;
        for (int i = 0; i < 5; ++i) {
            more.emplace_back(plan);
            (void)more.back().append(as_bytes("kept"));
            more.back().flush();
            (void)more.back().append(as_bytes("lost"));
        }
        plan->power_cut();
        CHECK(contents_of(*storage) == "abc");
        for (const auto& m : more) CHECK(contents_of(m.inner()) == "kept");
    }
}

TEST_CASE("crash_after_fault kills every adapter until reset", "[backend][fault]") {
    auto plan = std::make_shared<fault_plan>();
    mem_adapter wal(plan, std::make_shared<memory_backend>(), "wal.log");
    mem_adapter seg(plan, std::make_shared<memory_backend>(), "seg");
    (void)wal.append(as_bytes("committed"));
    wal.flush();
    plan->arm(3, fault_kind::short_write, {.crash_after_fault = true});
    (void)seg.append(as_bytes("s"));                                                  // 2
    expect_error(errc::io_error, [&] { (void)wal.append(as_bytes("torn-record")); });  // 3: fault
    CHECK(plan->crashed());

    const error dead = expect_error(errc::io_error, [&] { (void)read_string(seg, 0, 1); });
    CHECK_THAT(std::string(dead.what()), Catch::Contains("process is dead"));
    expect_error(errc::io_error, [&] { (void)wal.size(); });
    expect_error(errc::io_error, [&] { (void)wal.append(as_bytes("x")); });
    expect_error(errc::io_error, [&] { wal.flush(); });
    expect_error(errc::io_error, [&] { seg.truncate(0); });
    CHECK(plan->operations() == 4);  // a dead process starts nothing

    // The harness still sees the storage and cuts the power.
    CHECK(contents_of(wal.inner()) == "committedtorn-");
    plan->power_cut(2);
    CHECK(contents_of(wal.inner()) == "committedto");
    CHECK(contents_of(seg.inner()) == "s");  // within the 2 torn bytes allowed

    plan->reset();
    CHECK_FALSE(plan->crashed());
    CHECK(plan->operations() == 0);
    CHECK(contents_of(wal) == "committedto");
}

TEST_CASE("fault_injecting_backend over file_backend drops unflushed bytes on disk", "[backend][fault][file]") {
    temp_dir dir;
    const fs::path file = dir.path() / "wal.log";
    auto plan = std::make_shared<fault_plan>();
    {
        fault_injecting_backend<file_backend> b(plan, file_backend::open(file, file_mode::create_new), "wal.log");
        STATIC_REQUIRE(decltype(b)::durable);
        (void)b.append(as_bytes("flushed"));
        b.flush();
        (void)b.append(as_bytes("+unflushed"));
        plan->arm(3, fault_kind::io_error, {.crash_after_fault = true});
        expect_error(errc::io_error, [&] { (void)b.append(as_bytes("never")); });
        b.drop_unflushed(1);
    }
    CHECK(as_chars(read_file(file)) == "flushed+");
}

namespace {

// One segment record of collection 1 with `payload`, its CRC damaged if asked.
byte_buffer segment_record_bytes(std::string_view payload, bool damaged = false) {
    byte_buffer out;
    format::encode(format::segment_record{1, entity_id::from_bytes(byte_buffer(16, 7)), 0, 1, as_bytes(payload)}, out);
    if (damaged) out[format::segment_payload_offset] ^= 0x5a;
    return out;
}

// Steps `scanner` over one good record and a damaged one; the failure must repeat.
template <typename Scanner>
void check_sticky_failure(Scanner& scanner, std::uint64_t bad_offset) {
    const auto* good = scanner.next();
    REQUIRE(good != nullptr);
    CHECK(good->decoded.status == format::decode_status::ok);
    CHECK(as_chars(good->decoded.record.payload) == "first");
    const auto* bad = scanner.next();
    REQUIRE(bad != nullptr);
    CHECK(bad->decoded.status == format::decode_status::bad_checksum);
    CHECK(bad->offset == bad_offset);
    const std::string problem = bad->decoded.problem;
    for (int i = 0; i < 3; ++i) {  // never the end, never the records after it
        const auto* again = scanner.next();
        REQUIRE(again != nullptr);
        CHECK(again->decoded.status == format::decode_status::bad_checksum);
        CHECK(again->offset == bad_offset);
        CHECK(again->decoded.problem == problem);
    }
}

}  // namespace

TEST_CASE("record scanner: a failed step is returned again, buffered and mapped", "[backend][scanner]") {
    const auto first = segment_record_bytes("first");
    const auto rest = [] {
        byte_buffer b = segment_record_bytes("second", true);
        const auto third = segment_record_bytes("third");
        b.insert(b.end(), third.begin(), third.end());
        return b;
    }();
    SECTION("buffered (memory)") {
        memory_backend b;
        (void)b.append(first);
        (void)b.append(rest);
        detail::segment_scanner<memory_backend> scanner(b, 64, 1 << 20);
        check_sticky_failure(scanner, first.size());
    }
    SECTION("mapped (file)") {
        temp_dir dir;
        auto b = file_backend::open(dir.path() / "seg", file_mode::create_new);
        (void)b.append(first);
        (void)b.append(rest);
        detail::segment_scanner<file_backend> scanner(b, 64, 1 << 20, 0, true);
        check_sticky_failure(scanner, first.size());
    }
}

TEST_CASE("record scanner, mapped: reads up to the size the file had when it started", "[backend][scanner]") {
    temp_dir dir;
    auto b = file_backend::open(dir.path() / "seg", file_mode::create_new);
    const auto one = segment_record_bytes("first");
    (void)b.append(one);
    detail::segment_scanner<file_backend> scanner(b, 64, 1 << 20, 0, true);
    // Appends after the start, enough to make the file outgrow its first mapping (1 MiB):
    // the scan still sees exactly the one record, through its one view.
    const byte_buffer big = segment_record_bytes(std::string(300000, 'x'));
    for (int i = 0; i < 8; ++i) (void)b.append(big);
    const auto* s = scanner.next();
    REQUIRE(s != nullptr);
    CHECK(s->decoded.status == format::decode_status::ok);
    CHECK(as_chars(s->decoded.record.payload) == "first");
    CHECK(scanner.next() == nullptr);
    // A scanner started now sees them all, across the grown mapping.
    detail::segment_scanner<file_backend> later(b, 64, 1 << 20, 0, true);
    int n = 0;
    while (const auto* t = later.next()) {
        REQUIRE(t->decoded.status == format::decode_status::ok);
        ++n;
    }
    CHECK(n == 9);
}

namespace {
// Every member of the compaction journal's temporary-file protocol, declared only (the
// concepts never call them), but no `journaled` declaration.
struct undeclared_file_protocol_factory {
    using backend_type = memory_backend;
    using backend_ptr = std::unique_ptr<memory_backend>;
    static constexpr bool rotates = true;
    backend_ptr create(std::uint32_t);
    backend_ptr open(std::uint32_t);
    [[nodiscard]] std::vector<std::uint32_t> existing() const;
    backend_ptr create_temporary(std::uint32_t);
    backend_ptr open_temporary(std::uint32_t);
    void publish_temporary(std::uint32_t);
    void remove(std::uint32_t);
    void remove_temporary(std::uint32_t);
    [[nodiscard]] std::vector<std::uint32_t> temporaries() const;
    [[nodiscard]] bool has(std::uint32_t) const;
    [[nodiscard]] bool has_temporary(std::uint32_t) const;
    void sync();
};
}  // namespace

TEST_CASE("segment factories: the journaled declaration, not the members, picks the compaction path",
          "[backend][segment]") {
    STATIC_REQUIRE(segment_file_members<undeclared_file_protocol_factory>);
    STATIC_REQUIRE(!factory_journaled<undeclared_file_protocol_factory>());
    STATIC_REQUIRE(!segment_file_protocol<undeclared_file_protocol_factory>);

    STATIC_REQUIRE(segment_file_protocol<file_segment_factory>);
    STATIC_REQUIRE(!factory_journaled<memory_segment_factory>());
    STATIC_REQUIRE(!factory_journaled<single_backend_factory<file_backend>>());
    // The fault-injecting wrapper is journaled exactly when what it wraps is.
    STATIC_REQUIRE(segment_file_protocol<fault_injecting_factory<file_segment_factory>>);
    STATIC_REQUIRE(!factory_journaled<fault_injecting_factory<memory_segment_factory>>());
    STATIC_REQUIRE(!segment_file_protocol<fault_injecting_factory<memory_segment_factory>>);
}

// recyclable_backend: reserved bytes, set_end, and what a power cut does to bytes an
// append overwrote (a recycled wal.log's next lap over the last one).
TEST_CASE("recyclable backends: reserve, set_end, and overwrites undone by a power cut", "[backend][recycled]") {
    SECTION("file_backend: the reservation is in the file, size() is where appends go") {
        temp_dir dir;
        const fs::path file = dir.path() / "wal.log";
        auto b = file_backend::open(file, file_mode::create_new);
        (void)b.append(as_bytes("header"));
        b.reserve(64);
        b.flush();
        CHECK(b.size() == 6);
        CHECK(b.capacity() == 64);
        CHECK(fs::file_size(file) == 64);
        (void)b.append(as_bytes("lap-one"));
        b.set_end(6);
        (void)b.append(as_bytes("LAP"));
        CHECK(fs::file_size(file) == 64);  // overwritten in place
        CHECK(as_chars(read_file(file)).substr(0, 13) == "headerLAP-one");
        expect_error(errc::invalid_argument, [&] { b.set_end(65); });
        b.truncate(8);  // a real cut: the reservation goes with it
        CHECK(b.capacity() == 8);
        CHECK(fs::file_size(file) == 8);
        auto reopened = file_backend::open(file, file_mode::open_existing);
        CHECK(reopened.size() == 8);
    }
    SECTION("a power cut brings back what appends overwrote since the last flush") {
        auto plan = std::make_shared<fault_plan>();
        auto storage = std::make_shared<memory_backend>();
        mem_adapter b(plan, storage);
        (void)b.append(as_bytes("H-old-lap"));
        b.reserve(16);
        b.flush();
        b.set_end(2);
        (void)b.append(as_bytes("new"));
        (void)b.append(as_bytes("++"));
        CHECK(contents_of(*storage) == "H-new++");
        SECTION("nothing of it survives") {
            b.drop_unflushed();
            CHECK(storage->size() == 16);  // as a reopen sees the file: all of it
            CHECK(contents_of(*storage).substr(0, 9) == "H-old-lap");
        }
        SECTION("a torn write keeps the start of the newest one") {
            b.drop_unflushed(1);
            CHECK(contents_of(*storage).substr(0, 9) == "H-old+lap");
        }
        SECTION("after a flush it stays") {
            b.flush();
            b.drop_unflushed();
            CHECK(contents_of(*storage).substr(0, 9) == "H-new++ap");
        }
    }
    SECTION("an unflushed reserve is lost with the power") {
        auto plan = std::make_shared<fault_plan>();
        auto storage = std::make_shared<memory_backend>();
        mem_adapter b(plan, storage);
        (void)b.append(as_bytes("abc"));
        b.flush();
        b.reserve(32);
        b.drop_unflushed();
        CHECK(storage->capacity() == 3);
    }
}
