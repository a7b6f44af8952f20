// Real process kills (SIGKILL) in the middle of a write load (SPEC.md §5: crash recovery to
// the last acknowledged commit).
//
// 1. The tool: `entidb load DB c --txns 1000 --per-txn 3 --size 200 --max-wal-size 65536
//    --max-segment-size 32768` prints `committed <t> <seq>` after each durable commit. The test
//    kills it with SIGKILL after a random number of those lines (or after a random short
//    delay, which also lands in open/recovery), 30 times on the same directory (15 in sanitizer builds). After each
//    kill: `entidb verify DB` and entidb::verify pass on the crashed directory, and after
//    reopening, every acknowledged commit is there, at most one unacknowledged transaction
//    became durable, no transaction is partial (the count is a multiple of 3), and
//    last_sequence() matches the number of transactions.
// 2. In process: a fork()ed child opens the database and commits in a loop, writing each
//    acknowledged sequence to a pipe; the parent kills it and checks that every acknowledged
//    commit's data is present and the last acknowledged sequence <= last_sequence().
//
// The tool's path comes from the ENTIDB_TOOL environment variable (tests/meson.build sets it;
// ENTIDB_NO_TOOL=1 when the build has no tool). Directories live in /dev/shm when writable
// (override with ENTIDB_CRASH_TMPDIR): a SIGKILL does not lose the page cache, so real fsyncs
// would only make the test slower.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <entidb/entidb.hpp>

#include "../unit/test_support.hpp"

namespace fs = std::filesystem;
using test_support::id_of;
using test_support::payload;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif
#else
constexpr bool sanitized_build = false;
#endif

bool env_set(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

fs::path scratch_base() {
    if (const char* e = std::getenv("ENTIDB_CRASH_TMPDIR"); e != nullptr && *e != '\0') return e;
    std::error_code ec;
    if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
    return fs::temp_directory_path();
}

class scratch_dir {
public:
    scratch_dir() {
        static int counter = 0;
        path_ = scratch_base() / fmt::format("entidb-kill-{}-{}", ::getpid(), counter++);
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    [[nodiscard]] fs::path db() const { return path_ / "db"; }

private:
    fs::path path_;
};

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

int ms_until(clock_type::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

// A child process whose stdout is a pipe we read.
struct child {
    pid_t pid = -1;
    int out = -1;
};

child spawn(const std::vector<std::string>& argv) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);  // the duplicate does not have O_CLOEXEC
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    return {pid, fds[0]};
}

// Buffers a pipe and hands out complete lines (or raw bytes).
class pipe_reader {
public:
    explicit pipe_reader(int fd) : fd_(fd) {}
    ~pipe_reader() { ::close(fd_); }
    pipe_reader(const pipe_reader&) = delete;
    pipe_reader& operator=(const pipe_reader&) = delete;

    // Waits up to timeout_ms for data and appends it; false once the writer is gone.
    bool pump(int timeout_ms) {
        if (eof_) return false;
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, timeout_ms);
        if (r <= 0) return true;
        char tmp[4096];
        const ssize_t n = ::read(fd_, tmp, sizeof tmp);
        if (n > 0)
            buf_.append(tmp, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR)
            eof_ = true;
        return !eof_;
    }
    void drain() {
        while (pump(5000)) {
        }
    }
    std::optional<std::string> line() {
        const auto pos = buf_.find('\n');
        if (pos == std::string::npos) return std::nullopt;
        std::string l = buf_.substr(0, pos);
        buf_.erase(0, pos + 1);
        return l;
    }
    std::string& buffer() { return buf_; }
    [[nodiscard]] bool eof() const { return eof_; }

private:
    int fd_;
    std::string buf_;
    bool eof_ = false;
};

struct tool_result {
    int status = -1;
    std::string out;
};

tool_result run_tool(const std::vector<std::string>& argv) {
    const auto c = spawn(argv);
    pipe_reader r(c.out);
    r.drain();
    tool_result res;
    REQUIRE(::waitpid(c.pid, &res.status, 0) == c.pid);
    res.out = r.buffer();
    return res;
}

bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
    return fmt::format("status {}", status);
}

}  // namespace

TEST_CASE("SIGKILL of `entidb load` at random points never loses an acknowledged commit", "[crash][kill]") {
    const char* tool_env = std::getenv("ENTIDB_TOOL");
    if (tool_env == nullptr || *tool_env == '\0') {
        if (env_set("ENTIDB_NO_TOOL")) {
            WARN("built without the entidb tool: skipped");
            return;
        }
        FAIL("ENTIDB_TOOL is not set (tests/meson.build passes the tool's path)");
    }
    const std::string tool = tool_env;
    REQUIRE(::access(tool.c_str(), X_OK) == 0);

    scratch_dir dir;
    const std::string db = dir.db().string();
    std::mt19937_64 rng(std::random_device{}());
    const auto seed = rng();
    INFO("seed " << seed);
    rng.seed(seed);
    const int rounds = sanitized_build ? 15 : 30;  // each round starts the tool several times
    constexpr std::uint64_t txns_per_run = 100'000;
    const auto start = clock_type::now();

    std::uint64_t entities = 0;        // what the last reopen found
    std::uint64_t total_acked = 0;     // acknowledged transactions over all runs
    std::uint64_t last_acked_seq = 0;  // the highest acknowledged sequence so far
    int killed_by_lines = 0, killed_by_delay = 0, finished = 0;
    for (int round = 0; round < rounds; ++round) {
        // The first run must get far enough to create the database.
        const bool by_delay = round > 0 && rng() % 3 == 0;
        const std::uint64_t target = round == 0 ? 1 + rng() % 100 : rng() % 150;
        const auto delay = std::chrono::microseconds(rng() % 40'000);
        INFO("round " << round << (by_delay ? " kill after a delay of " : " kill after lines: ")
                      << (by_delay ? static_cast<std::uint64_t>(delay.count()) : target));

        // Far more transactions than a round lets through before its kill: a run that
        // finishes on its own (a stalled reader) is the exception, not a likely outcome.
        const auto c = spawn({tool, "load", db, "c", "--txns", std::to_string(txns_per_run), "--per-txn", "3",
                              "--size", "200",
                              "--max-wal-size", "65536", "--max-segment-size", "32768"});
        pipe_reader out(c.out);
        std::uint64_t acked = 0;  // acknowledged transactions of this run (t of the last line)
        std::string bad_line;
        const auto take_lines = [&] {
            while (auto l = out.line()) {
                unsigned long long t = 0, seq = 0;
                if (std::sscanf(l->c_str(), "committed %llu %llu", &t, &seq) != 2 || t != acked + 1 ||
                    seq <= last_acked_seq) {
                    if (bad_line.empty()) bad_line = *l;
                    continue;
                }
                acked = t;
                last_acked_seq = seq;
            }
        };
        const auto launched = clock_type::now();
        if (by_delay) {
            const auto deadline = launched + delay;
            while (clock_type::now() < deadline && out.pump(ms_until(deadline))) take_lines();
        } else {
            const auto give_up = launched + std::chrono::seconds(30);
            while (acked < target && clock_type::now() < give_up && out.pump(ms_until(give_up))) take_lines();
        }
        ::kill(c.pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
        out.drain();  // lines written before the kill were acknowledged too
        take_lines();
        CHECK(bad_line.empty());
        if (WIFSIGNALED(status)) {
            CHECK(WTERMSIG(status) == SIGKILL);
            (by_delay ? killed_by_delay : killed_by_lines)++;
        } else {
            INFO("the load ended on its own: " << describe(status));
            CHECK(exited_ok(status));
            CHECK(acked == txns_per_run);
            ++finished;
        }
        total_acked += acked;

        // The crashed directory: both verifiers accept it (a torn tail is not damage).
        const auto raw = run_tool({tool, "verify", db});
        INFO("entidb verify on the crashed directory: " << raw.out);
        CHECK(exited_ok(raw.status));
        CHECK_NOTHROW(entidb::verify(dir.db()));

        std::uint64_t count = 0, last_seq = 0;
        {
            auto d = entidb::open(dir.db());
            count = d.begin_read().count("c");
            last_seq = d.last_sequence();
        }
        INFO("acknowledged this run " << acked << ", in all " << total_acked << "; entities before " << entities
                                      << ", now " << count << "; last sequence " << last_seq);
        CHECK(count % 3 == 0);                     // no partial transaction
        CHECK(count >= entities + 3 * acked);      // every acknowledged commit
        CHECK(count <= entities + 3 * acked + 3);  // plus at most the one in flight
        CHECK(count >= 3 * total_acked);
        CHECK(last_seq == count / 3);  // one sequence per transaction, none lost or doubled
        CHECK(last_acked_seq <= last_seq);
        entities = count;

        CHECK_NOTHROW(entidb::verify(dir.db()));
        const auto recovered = run_tool({tool, "verify", db});
        CHECK(exited_ok(recovered.status));
        const auto counted = run_tool({tool, "count", db, "c"});
        CHECK(exited_ok(counted.status));
        CHECK(counted.out == fmt::format("{}\n", count));
    }
    fmt::print("tool kill test: {} rounds ({} killed after lines, {} after a delay, {} finished), {} transactions "
               "acknowledged, {} entities, {:.1f} s\n",
               rounds, killed_by_lines, killed_by_delay, finished, total_acked, entities, seconds_since(start));
    CHECK(killed_by_lines + killed_by_delay >= rounds * 5 / 6);  // nearly every round ended in a kill
    CHECK(total_acked > 0);
}

namespace {

// The child: commits forever, reporting each acknowledged sequence on `fd`. Never returns.
// The databases the in-process kill test runs: the file storage, and the same encrypted at
// rest under a raw key (docs/encryption.md).
template <typename Traits>
typename Traits::environment environment_for() {
    if constexpr (entidb::encrypts_v<Traits>) {
        std::array<entidb::byte, entidb::key_bytes> k{};
        k.fill(0x2b);
        return {.key = entidb::raw_key_from(k), .kdf = {}};
    } else {
        return {};
    }
}
template <typename Traits>
entidb::basic_database<Traits> open_for(const fs::path& db, const entidb::config& cfg = {}) {
    return entidb::open<Traits>(db, cfg, environment_for<Traits>());
}
template <typename Traits>
entidb::verify_result verify_for(const fs::path& db) {
    if constexpr (entidb::encrypts_v<Traits>)
        return entidb::verify(db, environment_for<Traits>().key);
    else
        return entidb::verify(db);
}

template <typename Traits>
[[noreturn]] void committing_child(const fs::path& db, int fd, entidb::wal_mode wal) {
    int code = 0;
    try {
        entidb::config cfg;
        cfg.wal = wal;
        cfg.max_wal_size = 16 * 1024;
        cfg.max_segment_size = 8 * 1024;
        cfg.index_file_min_entries = 0;
        std::optional<entidb::basic_database<Traits>> d(open_for<Traits>(db, cfg));
        for (int i = 0; i < 1'000'000 && code == 0; ++i) {
            if (i % 37 == 36) {  // a clean close writes the primary index file: kills land there too
                d.reset();
                d.emplace(open_for<Traits>(db, cfg));
            }
            const std::uint64_t s = d->last_sequence() + 1;
            const auto seq = d->transaction([&](auto& txn) {
                txn.put("k", id_of(s), payload(s, 60));
                txn.put("k2", id_of(s), payload(s + 1, 10));
                if (s > 1 && s % 5 == 0) txn.remove("k2", id_of(s - 1));
            });
            if (seq != s) code = 3;
            else if (::write(fd, &seq, sizeof seq) != static_cast<ssize_t>(sizeof seq))
                code = 4;
        }
    } catch (...) {
        code = 2;
    }
    ::_exit(code);
}

}  // namespace

namespace {

template <typename Traits>
void kill_writer_rounds(entidb::wal_mode wal) {
    INFO("recycled WAL: " << (wal == entidb::wal_mode::recycled) << ", encrypted: " << entidb::encrypts_v<Traits>);
    scratch_dir dir;
    std::mt19937_64 rng(std::random_device{}());
    const auto seed = rng();
    INFO("seed " << seed);
    rng.seed(seed);
    // Encrypted, half as many under the sanitizers: what differs is the payloads' sealing,
    // which the unencrypted rounds' kills already land around.
    const int rounds = sanitized_build ? (entidb::encrypts_v<Traits> ? 5 : 10) : 20;
    const auto start = clock_type::now();
    std::uint64_t last_acked = 0;
    int opened_from_index_file = 0;
    for (int round = 0; round < rounds; ++round) {
        const bool by_delay = round > 0 && rng() % 3 == 0;
        const std::uint64_t target = round == 0 ? 1 + rng() % 200 : rng() % 400;
        const auto delay = std::chrono::microseconds(rng() % 30'000);
        INFO("round " << round << (by_delay ? " by delay" : " by count"));

        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        std::fflush(nullptr);  // nothing buffered may be written twice
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            committing_child<Traits>(dir.db(), fds[1], wal);
        }
        ::close(fds[1]);
        pipe_reader in(fds[0]);
        std::uint64_t acked_this_round = 0;
        bool ordered = true;
        const auto take = [&] {
            auto& b = in.buffer();
            while (b.size() >= 8) {
                std::uint64_t seq = 0;
                std::memcpy(&seq, b.data(), 8);
                b.erase(0, 8);
                if (seq != last_acked + 1) ordered = false;
                last_acked = seq;
                ++acked_this_round;
            }
        };
        const auto launched = clock_type::now();
        if (by_delay) {
            const auto deadline = launched + delay;
            while (clock_type::now() < deadline && in.pump(ms_until(deadline))) take();
        } else {
            const auto give_up = launched + std::chrono::seconds(30);
            while (acked_this_round < target && clock_type::now() < give_up && in.pump(ms_until(give_up))) take();
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        in.drain();
        take();
        INFO("child " << describe(status) << ", acknowledged up to " << last_acked);
        CHECK(WIFSIGNALED(status));
        CHECK(ordered);
        CHECK(in.buffer().empty());

        CHECK_NOTHROW(verify_for<Traits>(dir.db()));
        auto d = open_for<Traits>(dir.db());
        opened_from_index_file += d.recovery().primary_index_from_file ? 1 : 0;
        const auto last = d.last_sequence();
        CHECK(last_acked <= last);
        CHECK(last <= last_acked + 1);  // at most the one in flight
        const auto r = d.begin_read();
        CHECK(r.count("k") == last);
        std::uint64_t missing = 0, k2_expected = 0;
        for (std::uint64_t s = 1; s <= last; ++s) {
            if (r.get("k", id_of(s)) != payload(s, 60)) ++missing;
            const bool deleted = s + 1 <= last && (s + 1) % 5 == 0;
            const auto k2 = r.get("k2", id_of(s));
            if (deleted ? k2.has_value() : k2 != payload(s + 1, 10)) ++missing;
            if (!deleted) ++k2_expected;
        }
        CHECK(missing == 0);
        CHECK(r.count("k2") == k2_expected);
        last_acked = last;  // what is durable now is the base of the next round
    }
    fmt::print("in-process kill test: {} rounds, {} commits, {} opens from the index file, {:.1f} s\n", rounds,
               last_acked, opened_from_index_file, seconds_since(start));
    CHECK(last_acked > 0);
    CHECK(opened_from_index_file > 0);  // the file was written (at closes) and survived the kills
}

}  // namespace

// Also with a recycled wal.log (its laps wrap every 16 KiB), checked by opens in the
// default mode, which read it as it is; and on an encrypted database.
TEST_CASE("SIGKILL of an in-process writer keeps every acknowledged commit", "[crash][kill]") {
    const int variant = GENERATE(0, 1, 2);
    if (variant == 0) kill_writer_rounds<entidb::file_storage>(entidb::wal_mode::append);
    if (variant == 1) kill_writer_rounds<entidb::file_storage>(entidb::wal_mode::recycled);
#if ENTIDB_HAVE_SODIUM
    if (variant == 2) kill_writer_rounds<entidb::encrypted_file_storage>(entidb::wal_mode::append);
#endif
}

// 3. A migration killed at a random moment: 100,000 entities (10,000 in sanitizer and
//    unoptimised builds, where each costs ten to fifty times as much), each migration of the plan
//    stamps every entity with its version and renames one field back and forth. After every
//    kill the database verifies, and every entity carries exactly the stamp and the field
//    name of the schema version the MANIFEST records: n or n+1, never a mixture.
namespace {

constexpr int migration_entities = sanitized_build || ENTIDB_TEST_QUICK ? 10'000 : 100'000;

std::vector<entidb::migration> stamping_plan(std::uint64_t upto) {
    using step = entidb::migration_step;
    std::vector<entidb::migration> out;
    for (std::uint64_t v = 1; v <= upto; ++v)
        out.push_back({.version = v,
                       .name = fmt::format("stamp {}", v),
                       .steps = {step::transform_entities("u", fmt::format("stamp {}", v),
                                                          [v](const entidb::entity_id&, entidb::cbor::value x)
                                                              -> std::optional<entidb::cbor::value> {
                                                              x.set("v", v);
                                                              return x;
                                                          }),
                                 v % 2 == 1 ? step::rename_field("u", "name", "label")
                                            : step::rename_field("u", "label", "name")}});
    return out;
}

// Entities of `d` that do not look as schema version `v` says.
std::uint64_t off_schema(entidb::database& d, std::uint64_t v) {
    const auto r = d.begin_read();
    std::uint64_t bad = 0, n = 0;
    for (const auto& e : r.scan("u")) {
        ++n;
        const auto x = entidb::cbor::decode(e.bytes);
        const auto* stamp = x.find("v");
        const bool stamped = v == 0 ? stamp == nullptr : stamp != nullptr && stamp->as_uint() == v;
        const bool named = x.find(v % 2 == 1 ? "label" : "name") != nullptr && x.find(v % 2 == 1 ? "name" : "label") == nullptr;
        if (!stamped || !named) ++bad;
    }
    return bad + (n == migration_entities ? 0 : 1);
}

}  // namespace

TEST_CASE("SIGKILL during a migration (100,000 entities) leaves version n or n+1, never between", "[crash][kill]") {
    scratch_dir dir;
    {
        auto d = entidb::open(dir.db());
        for (int t = 0; t < migration_entities / 5'000; ++t)
            d.transaction([&](auto& txn) {
                for (int i = t * 5'000; i < (t + 1) * 5'000; ++i)
                    txn.put("u", id_of(static_cast<std::uint64_t>(i) + 1),
                            entidb::cbor::encode(entidb::cbor::value(entidb::cbor::map{
                                {"i", static_cast<std::uint64_t>(i)}, {"name", fmt::format("user {}", i)}})));
            });
    }
    std::mt19937_64 rng(std::random_device{}());
    const auto seed = rng();
    INFO("seed " << seed);
    rng.seed(seed);
    const int rounds = sanitized_build || ENTIDB_TEST_QUICK ? 4 : 10;
    const auto start = clock_type::now();
    double full_run = 0;  // seconds an uninterrupted migration took (round 0)
    std::uint64_t version = 0;
    int killed = 0, moved_on = 0, unfinished_publish = 0;
    for (int round = 0; round < rounds; ++round) {
        // Odd rounds kill shortly after the child's pass over the entities ends (it says so
        // on a pipe): around the commit point and the reopen that finishes the publish.
        const bool after_pass = round % 2 == 1;
        const std::uint64_t target = version + 1;
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        std::fflush(nullptr);
        const auto launched = clock_type::now();
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            int code = 0;
            try {
                entidb::migrate_options opt{.applied_at = target};
                opt.on_progress = [&](const entidb::migration_progress& p) {
                    if (p.done == p.total && ::write(fds[1], "p", 1) != 1) code = 3;
                };
                (void)entidb::migrate(dir.db(), stamping_plan(target), opt);
            } catch (...) {
                code = 2;
            }
            ::_exit(code);
        }
        ::close(fds[1]);
        pipe_reader in(fds[0]);
        int status = 0;
        if (round == 0) {
            REQUIRE(::waitpid(pid, &status, 0) == pid);
            full_run = seconds_since(launched);
            CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        } else {
            if (after_pass) {
                const auto give_up = launched + std::chrono::seconds(60);
                while (in.buffer().empty() && clock_type::now() < give_up && in.pump(ms_until(give_up))) {
                }
            }
            const double span = after_pass ? 0.3 * full_run : 1.2 * full_run;
            std::this_thread::sleep_for(std::chrono::duration<double>(span * static_cast<double>(rng() % 1000) / 1000.0));
            ::kill(pid, SIGKILL);
            REQUIRE(::waitpid(pid, &status, 0) == pid);
            killed += WIFSIGNALED(status) ? 1 : 0;
            if (WIFEXITED(status)) CHECK(WEXITSTATUS(status) == 0);
        }
        INFO("round " << round << ", child " << describe(status));
        // Killed after the commit point, before the reopen that finishes the publish: a
        // read-only check can only say so (needs_reopen); the read-write open finishes it.
        const auto checked = test_support::code_of([&] { (void)entidb::verify(dir.db()); });
        CHECK((checked == entidb::errc::ok || checked == entidb::errc::needs_reopen));
        unfinished_publish += checked == entidb::errc::needs_reopen ? 1 : 0;
        auto d = entidb::open(dir.db());
        const auto now = d.describe().schema_version;
        CHECK((now == version || now == target));
        moved_on += now == target ? 1 : 0;
        CHECK(off_schema(d, now) == 0);
        version = now;
        d.close();
        CHECK_NOTHROW(entidb::verify(dir.db()));
    }
    fmt::print("migration kill test: {} rounds, {} killed ({} between the commit point and the publish), {} reached "
               "their version, {:.1f} s (one migration {:.2f} s)\n",
               rounds, killed, unfinished_publish, moved_on, seconds_since(start), full_run);
    CHECK(version >= 1);
}

// 4. An interrupted rekey: a fork()ed child changes the passphrase and kills itself with
//    SIGKILL at one point of the KEY file's replacement (written, synced, renamed, directory
//    synced: storage/filesystem.hpp's replace steps), for every point in turn, also twice in a
//    row. Afterwards the database opens with exactly one of the two passphrases and holds its
//    data, and a later rekey from that one works (a stale KEY.tmp is ignored).
#if ENTIDB_HAVE_SODIUM
namespace {

entidb::encrypted_file_storage::environment passphrase_env(const std::string& pw) {
    return {.key = entidb::passphrase_from(pw), .kdf = entidb::kdf_params::fast()};
}

// Runs rekey(from → to) in a child that SIGKILLs itself at `step` (none: it finishes).
// Returns whether it was killed.
bool rekey_in_child(const fs::path& db, const std::string& from, const std::string& to,
                    std::optional<entidb::detail::replace_step> step) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        static std::optional<entidb::detail::replace_step> kill_at;
        kill_at = step;
        entidb::detail::replace_step_observer = [](entidb::detail::replace_step s) noexcept {
            if (kill_at == s) ::raise(SIGKILL);
        };
        int code = 0;
        try {
            entidb::rekey(db, entidb::passphrase_from(from), entidb::passphrase_from(to), entidb::kdf_params::fast());
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("child " << describe(status));
    if (step) {
        CHECK(WIFSIGNALED(status));
        return true;
    }
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    return false;
}

bool opens_with(const fs::path& db, const std::string& pw) {
    try {
        auto d = entidb::open<entidb::encrypted_file_storage>(db, {}, passphrase_env(pw));
        CHECK(d.begin_read().get("k", id_of(7)) == payload(7, 60));
        return true;
    } catch (const entidb::error& e) {
        CHECK(e.value() == entidb::errc::bad_key);
        return false;
    }
}

}  // namespace

TEST_CASE("SIGKILL at every step of a rekey leaves a database that opens with exactly one passphrase",
          "[crash][kill][encryption]") {
    using step = entidb::detail::replace_step;
    scratch_dir dir;
    {
        auto d = entidb::open<entidb::encrypted_file_storage>(dir.db(), {}, passphrase_env("old"));
        d.transaction([&](auto& txn) {
            for (std::uint64_t i = 1; i <= 20; ++i) txn.put("k", id_of(i), payload(i, 60));
        });
    }
    std::string current = "old";
    int round = 0;
    for (const auto at : {step::temporary_written, step::temporary_synced, step::renamed, step::directory_synced}) {
        for (int twice = 0; twice < 2; ++twice) {
            const std::string next = fmt::format("new-{}", ++round);
            INFO("round " << round << ", killed at step " << static_cast<int>(at));
            (void)rekey_in_child(dir.db(), current, next, at);
            const bool old_opens = opens_with(dir.db(), current);
            const bool new_opens = opens_with(dir.db(), next);
            CHECK(old_opens != new_opens);  // exactly one
            // Up to the rename the old passphrase stays; from it on, the new one.
            CHECK(new_opens == (at == step::renamed || at == step::directory_synced));
            if (new_opens) current = next;
        }
    }
    (void)rekey_in_child(dir.db(), current, "final", std::nullopt);
    CHECK(opens_with(dir.db(), "final"));
    CHECK_FALSE(opens_with(dir.db(), current));
}
#endif
