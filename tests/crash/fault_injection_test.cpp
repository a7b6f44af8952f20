// Crash and fault-injection tests of the durable engine (SPEC.md §5 and §9).
//
// The main test is model-based: a seeded workload of write transactions (puts, updates and
// deletes over two collections, some payloads big enough to rotate 2 KiB segments, a 8 KiB
// max_wal_size so that automatic checkpoints run, and explicit checkpoint() calls) runs
// against entidb::open<fault_injecting_file_storage>, where one shared fault_plan counts every
// WAL and segment append / flush / truncate. A fault-free run counts those operations (T);
// then, for every N in [0, T) and every fault kind, a fresh directory runs the workload with
// the fault armed at N and `crash_after_fault` (the "process" dies there), the power is cut
// (keeping 0, a few, or all unflushed bytes), and the directory is reopened with the plain
// entidb::open. The reopened state must be the state after the last commit that returned,
// or — only when the failing commit() threw errc::outcome_unknown — that state plus the
// commit in flight. Then a new commit must work, a second reopen must give the same state
// without replaying anything (recovery is idempotent) and entidb::verify must pass both on
// the crashed and on the recovered directory.
//
// The directories live in /dev/shm when it is writable (override with ENTIDB_CRASH_TMPDIR):
// the crashes here are simulated by the fault plan, so real fsync latency buys nothing and
// would make the thousands of runs take minutes. Under AddressSanitizer (or with
// ENTIDB_CRASH_QUICK=1) the sweep uses a stride for three of the four fault kinds;
// ENTIDB_CRASH_FULL=1 forces every N for every kind.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <entidb/entidb.hpp>

#include "../unit/test_support.hpp"

namespace fs = std::filesystem;
using entidb::errc;
using entidb::fault_kind;
using test_support::code_of;
using test_support::id_of;
using test_support::payload;
using test_support::snapshot_files;

namespace {

// ---------------------------------------------------------------------------------------------
// Environment

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

// Every N for every kind, unless the build is sanitized (or asked to be quick).
bool quick_mode() {
    if (env_set("ENTIDB_CRASH_FULL")) return false;
    return sanitized_build || env_set("ENTIDB_CRASH_QUICK");
}

fs::path scratch_base() {
    if (const char* e = std::getenv("ENTIDB_CRASH_TMPDIR"); e != nullptr && *e != '\0') return e;
    std::error_code ec;
    if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
    return fs::temp_directory_path();
}

// A fresh directory, removed with everything in it.
class scratch_dir {
public:
    scratch_dir() {
        static int counter = 0;
        path_ = scratch_base() / fmt::format("entidb-crash-{}-{}", ::getpid(), counter++);
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] fs::path db() const { return path_ / "db"; }

private:
    fs::path path_;
};

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

std::uint32_t le32(const std::string& b, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[at + static_cast<std::size_t>(i)]);
    return v;
}

// ---------------------------------------------------------------------------------------------
// The model

using model_key = std::pair<std::string, std::uint64_t>;  // collection, id number (id_of)
using model = std::map<model_key, entidb::byte_buffer>;

std::uint64_t number_of(const entidb::entity_id& id) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < 16; ++i) n = (n << 8) | id.bytes()[i];  // ids beyond 2^64 show as garbage
    return n;
}

template <typename Db>
model read_state(const Db& db) {
    model m;
    const auto r = db.begin_read();
    for (const auto& c : r.collections())
        for (const auto& e : r.scan(c)) m[{c, number_of(e.id)}] = e.bytes;
    return m;
}

std::string diff(const model& want, const model& got) {
    std::string out = fmt::format("want {} entities, got {}", want.size(), got.size());
    int shown = 0;
    for (const auto& [k, v] : want) {
        const auto it = got.find(k);
        if (it == got.end())
            out += fmt::format("; missing {}/{}", k.first, k.second);
        else if (it->second != v)
            out += fmt::format("; {}/{} has other bytes", k.first, k.second);
        else
            continue;
        if (++shown == 4) return out + "; ...";
    }
    for (const auto& [k, v] : got)
        if (!want.contains(k)) {
            out += fmt::format("; unexpected {}/{}", k.first, k.second);
            if (++shown == 4) return out + "; ...";
        }
    return out;
}

// Collects failures of a sweep with their context, so one broken N prints one line
// instead of thousands of assertion reports.
struct checker {
    std::string context;
    std::vector<std::string> failures;
    std::size_t checks = 0;

    void expect(bool ok, std::string_view what) {
        ++checks;
        if (!ok) failures.push_back(fmt::format("{}: {}", context, what));
    }
    void fail(std::string_view what) { expect(false, what); }

    void report() const {
        std::string text;
        for (std::size_t i = 0; i < failures.size() && i < 25; ++i) text += failures[i] + "\n";
        if (failures.size() > 25) text += fmt::format("... and {} more\n", failures.size() - 25);
        INFO(text);
        CHECK(failures.empty());
        CHECK(checks > 0);
    }
};

// ---------------------------------------------------------------------------------------------
// The workload

struct op {
    bool remove = false;
    std::string collection;
    std::uint64_t id = 0;
    entidb::byte_buffer bytes;
};

struct step {
    bool checkpoint = false;  // an explicit db.checkpoint() instead of a transaction
    std::vector<op> ops;
};

// `transactions` write transactions, an explicit checkpoint before every 11th. No
// transaction touches a key twice and every one changes something, so each commit
// gets the next sequence number.
std::vector<step> make_workload(std::uint64_t seed, int transactions) {
    std::mt19937_64 rng(seed);
    const auto pick = [&](std::uint64_t n) { return rng() % n; };
    model m;
    std::uint64_t next_id = 1, next_value = 1;
    std::vector<step> out;
    for (int t = 0; t < transactions; ++t) {
        if (t > 0 && t % 11 == 0) out.push_back({.checkpoint = true, .ops = {}});
        step s;
        std::set<model_key> touched;
        const auto n = 1 + pick(5);
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::string coll = pick(2) != 0 ? "a" : "b";
            std::vector<std::uint64_t> existing;
            for (const auto& [k, v] : m)
                if (k.first == coll && !touched.contains(k)) existing.push_back(k.second);
            const auto r = pick(10);
            op o{.remove = false, .collection = coll, .id = 0, .bytes = {}};
            if (!existing.empty() && r < 2) {
                o.remove = true;
                o.id = existing[pick(existing.size())];
            } else {
                o.id = !existing.empty() && r < 5 ? existing[pick(existing.size())] : next_id++;
                const std::size_t pad = pick(8) == 0 ? 700 + pick(600) : 8 + pick(120);
                o.bytes = payload(next_value++, pad);
            }
            touched.insert({coll, o.id});
            s.ops.push_back(std::move(o));
        }
        for (const auto& o : s.ops) {
            if (o.remove)
                m.erase({o.collection, o.id});
            else
                m[{o.collection, o.id}] = o.bytes;
        }
        out.push_back(std::move(s));
    }
    return out;
}

entidb::config small_config() {
    entidb::config cfg;
    cfg.max_segment_size = 2048;
    cfg.max_wal_size = 8192;
    return cfg;
}

// The same with a recycled wal.log: its laps wrap at every checkpoint, and a power cut
// brings back what a lap overwrote since the last flush (fault_injecting_backend).
entidb::config recycled_config() {
    auto cfg = small_config();
    cfg.wal = entidb::wal_mode::recycled;
    return cfg;
}

// The compositions the sweeps run on: the file storage, and the same encrypted at rest
// (docs/encryption.md) under a raw key. Each gives the faulted traits, the clean ones that
// reopen a crashed directory, their environments and verify.
struct plain_mode {
    using faulted = entidb::fault_injecting_file_storage;
    using clean = entidb::file_storage;
    using cipher = entidb::no_encryption;
    static faulted::environment faulted_env(std::shared_ptr<entidb::fault_plan> plan) { return {std::move(plan)}; }
    static clean::environment clean_env() { return {}; }
    static entidb::verify_result verify(const fs::path& path, const entidb::config& cfg) {
        return entidb::verify(path, cfg);
    }
};

#if ENTIDB_HAVE_SODIUM
entidb::key_source sweep_key() {
    std::array<entidb::byte, entidb::key_bytes> k{};
    k.fill(0x3c);
    return entidb::raw_key_from(k);
}

// fault_injecting_file_storage with the cipher: its environment adds the key.
struct encrypted_faulted_storage : entidb::fault_injecting_file_storage {
    using base = entidb::fault_injecting_file_storage;
    using cipher = entidb::xchacha20poly1305;
    struct environment {
        std::shared_ptr<entidb::fault_plan> plan;
        entidb::key_source key;
        entidb::kdf_params kdf{};
    };
    static std::unique_ptr<wal_backend> open_wal(environment& env, const fs::path& path, bool read_only) {
        base::environment e{env.plan};
        return base::open_wal(e, path, read_only);
    }
    static segment_factory make_segment_factory(environment& env, const fs::path& dir, bool read_only) {
        base::environment e{env.plan};
        return base::make_segment_factory(e, dir, read_only);
    }
};

struct encrypted_mode {
    using faulted = encrypted_faulted_storage;
    using clean = entidb::encrypted_file_storage;
    using cipher = entidb::xchacha20poly1305;
    static faulted::environment faulted_env(std::shared_ptr<entidb::fault_plan> plan) {
        return {std::move(plan), sweep_key(), {}};
    }
    static clean::environment clean_env() { return {sweep_key(), {}}; }
    static entidb::verify_result verify(const fs::path& path, const entidb::config& cfg) {
        return entidb::verify(path, sweep_key(), cfg);
    }
};
#endif

template <typename Mode = plain_mode>
auto open_faulted(const fs::path& path, const entidb::config& cfg, const std::shared_ptr<entidb::fault_plan>& plan) {
    return entidb::open<typename Mode::faulted>(path, cfg, Mode::faulted_env(plan));
}

enum class failed_call { none, begin, commit, checkpoint };

constexpr std::string_view to_string(failed_call c) {
    switch (c) {
        case failed_call::none: return "nothing";
        case failed_call::begin: return "begin_write";
        case failed_call::commit: return "commit";
        case failed_call::checkpoint: return "checkpoint";
    }
    return "?";
}

struct run_outcome {
    model acked;                    // after the last commit that returned
    std::uint64_t acked_seq = 0;    // its sequence
    std::optional<model> in_flight;  // the state the failing commit would have produced
    failed_call failed = failed_call::none;
    std::uint64_t ops_before_failed = 0;  // plan operations when the failing call started
    errc code = errc::ok;
    std::string what;
    int retries = 0;  // run_workload(retry_clean_failures): calls retried after a clean failure
};

struct run_options {
    // A commit that failed cleanly at its WAL append (errc::no_space or errc::io_error) and a
    // checkpoint that threw errc::no_space are retried once: the retry must work.
    bool retry_clean_failures = false;
    bool check_each_step = false;  // compare the database with the model after every step
    std::optional<std::uint64_t> armed{};  // the armed operation, for the retry's checks
};

// Runs the workload until the first failing call (or to the end). With retry_clean_failures,
// a clean failure is retried once: "once space is back, the database works again".
template <typename Db>
run_outcome run_workload(Db& db, const std::vector<step>& work, const entidb::fault_plan& plan, checker& chk,
                         run_options opt = {}) {
    run_outcome out;
    const auto stop = [&](failed_call call, std::uint64_t ops_before, const entidb::error& e) {
        out.failed = call;
        out.ops_before_failed = ops_before;
        out.code = e.value();
        out.what = e.what();
    };
    for (std::size_t i = 0; i < work.size(); ++i) {
        const auto& s = work[i];
        bool retried = false;
        for (;;) {  // at most twice: the retry after a clean failure
            const auto ops_before = plan.operations();
            if (s.checkpoint) {
                try {
                    db.checkpoint();
                } catch (const entidb::error& e) {
                    if (opt.retry_clean_failures && e.value() == errc::no_space && !retried) {
                        retried = true;
                        ++out.retries;
                        continue;
                    }
                    stop(failed_call::checkpoint, ops_before, e);
                    return out;
                }
                break;
            }
            model next = out.acked;
            bool committing = false;
            try {
                auto txn = db.begin_write();
                for (const auto& o : s.ops) {
                    const model_key k{o.collection, o.id};
                    if (o.remove) {
                        const bool removed = txn.remove(o.collection, id_of(o.id));
                        chk.expect(removed == next.contains(k), fmt::format("step {}: remove({}/{}) returned {}", i,
                                                                            o.collection, o.id, removed));
                        next.erase(k);
                    } else {
                        txn.put(o.collection, id_of(o.id), o.bytes);
                        next[k] = o.bytes;
                    }
                }
                committing = true;
                const auto seq = txn.commit();
                chk.expect(seq == out.acked_seq + 1,
                           fmt::format("step {}: commit returned sequence {} after {}", i, seq, out.acked_seq));
                out.acked = std::move(next);
                out.acked_seq = seq;
            } catch (const entidb::error& e) {
                if (opt.retry_clean_failures && committing && !retried &&
                    (e.value() == errc::no_space || e.value() == errc::io_error)) {
                    chk.expect(opt.armed == ops_before,
                               fmt::format("step {}: commit threw {} but its fault was not its WAL append", i, e.what()));
                    retried = true;
                    ++out.retries;
                    continue;
                }
                stop(committing ? failed_call::commit : failed_call::begin, ops_before, e);
                if (committing) out.in_flight = std::move(next);
                return out;
            }
            break;
        }
        if (opt.check_each_step) {
            const auto got = read_state(db);
            chk.expect(got == out.acked, fmt::format("step {}: live state: {}", i, diff(out.acked, got)));
            chk.expect(db.last_sequence() == out.acked_seq, fmt::format("step {}: last_sequence", i));
        }
    }
    return out;
}

constexpr std::uint64_t marker_id = 1'000'000;

// The checks after a crash: verify the crashed directory (read-only, must pass), reopen
// with the plain file storage and compare with the model, commit once more, verify, and
// reopen again — nothing replayed, no byte changed, the same state.
template <typename Mode = plain_mode>
void check_recovered(const fs::path& path, const entidb::config& cfg, const model& acked, std::uint64_t acked_seq,
                     const model* in_flight, checker& chk) {
    const auto crashed = snapshot_files(path);
    try {
        (void)Mode::verify(path, cfg);
    } catch (const entidb::error& e) {
        chk.fail(fmt::format("verify of the crashed directory threw: {}", e.what()));
    }
    chk.expect(snapshot_files(path) == crashed, "verify changed the crashed directory");

    model state;
    std::uint64_t seq = 0;
    try {
        auto db = entidb::open<typename Mode::clean>(path, cfg, Mode::clean_env());
        state = read_state(db);
        seq = db.last_sequence();
        const bool is_acked = state == acked && seq == acked_seq;
        const bool is_in_flight = in_flight != nullptr && state == *in_flight && seq == acked_seq + 1;
        if (!is_acked && !is_in_flight)
            chk.fail(fmt::format("reopened state (sequence {}) is not the acknowledged one (sequence {}): {}{}", seq,
                                 acked_seq, diff(acked, state),
                                 in_flight ? fmt::format(" | nor the in-flight one: {}", diff(*in_flight, state)) : ""));
        const auto marker = payload(marker_id, 16);
        const auto s = db.transaction([&](auto& txn) { txn.put("a", id_of(marker_id), marker); });
        chk.expect(s == seq + 1, fmt::format("the commit after reopen got sequence {} after {}", s, seq));
        state[{"a", marker_id}] = marker;
        seq = s;
    } catch (const entidb::error& e) {
        chk.fail(fmt::format("reopen or the commit after it threw: {}", e.what()));
        return;
    }
    try {
        (void)Mode::verify(path, cfg);
    } catch (const entidb::error& e) {
        chk.fail(fmt::format("verify of the recovered directory threw: {}", e.what()));
    }
    const auto closed = snapshot_files(path);
    try {
        auto db = entidb::open<typename Mode::clean>(path, cfg, Mode::clean_env());
        const auto again = read_state(db);
        chk.expect(again == state, fmt::format("second reopen: {}", diff(state, again)));
        chk.expect(db.last_sequence() == seq, fmt::format("second reopen: last_sequence {} != {}", db.last_sequence(), seq));
        const auto& r = db.recovery();
        chk.expect(r.transactions_replayed == 0 && r.records_replayed == 0,
                   fmt::format("second reopen replayed {} transactions / {} records", r.transactions_replayed,
                               r.records_replayed));
        chk.expect(r.wal_bytes_truncated == 0 && r.segment_bytes_truncated == 0, "second reopen truncated something");
    } catch (const entidb::error& e) {
        chk.fail(fmt::format("second reopen threw: {}", e.what()));
        return;
    }
    chk.expect(snapshot_files(path) == closed, "opening and closing a clean directory changed its files");
}

namespace {

// Forwards to a shared adapter, so that the adapters of a database whose open() threw are
// still alive (held by the environment) when the test cuts the power: fault_plan::power_cut
// reaches only live adapters, and a failed open destroys the engine that owned them.
// It also records every mutating operation ("append wal.log", "flush seg-000003.dat", ...)
// in a trace, so a sweep can tell what operation N is.
using op_trace = std::vector<std::string>;

template <typename B>
class shared_backend {
public:
    static constexpr bool durable = B::durable;
    shared_backend(std::shared_ptr<B> b, std::shared_ptr<op_trace> trace, std::string name)
        : b_(std::move(b)), trace_(std::move(trace)), name_(std::move(name)) {}
    void read_at(std::uint64_t offset, entidb::mutable_bytes out) const { b_->read_at(offset, out); }
    std::uint64_t append(entidb::bytes_view in) {
        trace_->push_back("append " + name_);
        return b_->append(in);
    }
    void flush() {
        trace_->push_back("flush " + name_);
        b_->flush();
    }
    [[nodiscard]] std::uint64_t size() const { return b_->size(); }
    void truncate(std::uint64_t n) {
        trace_->push_back("truncate " + name_);
        b_->truncate(n);
    }
    [[nodiscard]] std::uint64_t capacity() const
        requires entidb::recyclable_backend<B>
    {
        return b_->capacity();
    }
    void reserve(std::uint64_t n)
        requires entidb::recyclable_backend<B>
    {
        trace_->push_back("reserve " + name_);
        b_->reserve(n);
    }
    void set_end(std::uint64_t n)
        requires entidb::recyclable_backend<B>
    {
        b_->set_end(n);
    }

private:
    std::shared_ptr<B> b_;
    std::shared_ptr<op_trace> trace_;
    std::string name_;
};

using faulted_file = entidb::fault_injecting_backend<entidb::file_backend>;

// What keep_alive_storage's adapters share: the plan, the adapters kept alive, the trace.
struct keeper {
    std::shared_ptr<entidb::fault_plan> plan = std::make_shared<entidb::fault_plan>();
    std::shared_ptr<std::vector<std::shared_ptr<faulted_file>>> alive =
        std::make_shared<std::vector<std::shared_ptr<faulted_file>>>();
    std::shared_ptr<op_trace> trace = std::make_shared<op_trace>();

    std::unique_ptr<shared_backend<faulted_file>> keep(std::unique_ptr<entidb::file_backend> b,
                                                       const std::string& name) const {
        auto f = std::make_shared<faulted_file>(plan, std::shared_ptr<entidb::file_backend>(std::move(b)), name);
        alive->push_back(f);
        return std::make_unique<shared_backend<faulted_file>>(std::move(f), trace, name);
    }
};

// fault_injecting_file_storage (with `Cipher`), except that the environment keeps every
// adapter alive.
template <typename Cipher>
struct key_fields {  // an encrypted database's environment holds its key
    entidb::key_source key{};
    entidb::kdf_params kdf{};
};
template <>
struct key_fields<entidb::no_encryption> {};

template <typename Cipher = entidb::no_encryption>
struct keep_alive_storage_t {
    using wal_backend = shared_backend<faulted_file>;
    using cipher = Cipher;
    struct environment : keeper, key_fields<Cipher> {};
    class segment_factory {
    public:
        using backend_type = shared_backend<faulted_file>;
        static constexpr bool rotates = true;
        segment_factory(keeper env, entidb::file_segment_factory inner)
            : env_(std::move(env)), inner_(std::move(inner)) {}
        [[nodiscard]] std::unique_ptr<backend_type> create(std::uint32_t n) {
            return env_.keep(inner_.create(n), entidb::segment_file_name(n));
        }
        [[nodiscard]] std::unique_ptr<backend_type> open(std::uint32_t n) {
            return env_.keep(inner_.open(n), entidb::segment_file_name(n));
        }
        [[nodiscard]] std::vector<std::uint32_t> existing() const { return inner_.existing(); }

        // Durable and rotating, so journaled like the factory it wraps (segment/factory.hpp).
        static constexpr bool journaled = true;
        [[nodiscard]] std::unique_ptr<backend_type> create_temporary(std::uint32_t n) {
            return env_.keep(inner_.create_temporary(n), entidb::temporary_segment_file_name(n));
        }
        [[nodiscard]] std::unique_ptr<backend_type> open_temporary(std::uint32_t n) {
            return env_.keep(inner_.open_temporary(n), entidb::temporary_segment_file_name(n));
        }
        void publish_temporary(std::uint32_t n) { inner_.publish_temporary(n); }
        void remove(std::uint32_t n) { inner_.remove(n); }
        void remove_temporary(std::uint32_t n) { inner_.remove_temporary(n); }
        [[nodiscard]] std::vector<std::uint32_t> temporaries() const { return inner_.temporaries(); }
        [[nodiscard]] bool has(std::uint32_t n) const { return inner_.has(n); }
        [[nodiscard]] bool has_temporary(std::uint32_t n) const { return inner_.has_temporary(n); }
        void sync() { inner_.sync(); }

    private:
        keeper env_;
        entidb::file_segment_factory inner_;
    };

    static std::unique_ptr<wal_backend> open_wal(environment& env, const fs::path& path, bool read_only) {
        return env.keep(std::make_unique<entidb::file_backend>(entidb::file_backend::open(
                            path, read_only ? entidb::file_mode::private_view : entidb::file_mode::create_or_open)),
                        "wal.log");
    }
    static segment_factory make_segment_factory(environment& env, const fs::path& dir, bool read_only) {
        return segment_factory(static_cast<const keeper&>(env), entidb::file_segment_factory(dir, read_only));
    }
};
using keep_alive_storage = keep_alive_storage_t<>;

}  // namespace

struct workload_facts {
    entidb::config cfg;
    std::vector<step> work;
    std::uint64_t operations = 0;  // T
    model final_state;
    std::uint64_t final_seq = 0;
    op_trace trace;  // what each of the T operations is ("append wal.log", ...)

    [[nodiscard]] bool wal_append_or_truncate(std::uint64_t n) const {
        return trace.at(n) == "append wal.log" || trace.at(n) == "truncate wal.log";
    }
};

// The fault-free run: counts T and checks the workload does what the test needs.
template <typename Mode = plain_mode>
workload_facts make_facts(const entidb::config& cfg) {
    workload_facts out;
    out.cfg = cfg;
    out.work = make_workload(20240611, 44);
    scratch_dir dir;
    auto plan = std::make_shared<entidb::fault_plan>();
    checker chk;
    chk.context = "fault-free run";
    {
        auto db = open_faulted<Mode>(dir.db(), cfg, plan);
        const auto r = run_workload(db, out.work, *plan, chk, {.retry_clean_failures = false, .check_each_step = true, .armed = {}});
        REQUIRE(r.failed == failed_call::none);
        out.operations = plan->operations();
        out.final_state = r.acked;
        out.final_seq = r.acked_seq;
        const auto st = db.stats();
        const auto explicit_checkpoints = static_cast<std::uint64_t>(
            std::count_if(out.work.begin(), out.work.end(), [](const step& s) { return s.checkpoint; }));
        CHECK(explicit_checkpoints >= 3);
        CHECK(st.checkpoints > explicit_checkpoints);  // max_wal_size triggered some
        CHECK(st.segment_count >= 6);                  // big payloads rotated segments
    }
    check_recovered<Mode>(dir.db(), cfg, out.final_state, out.final_seq, nullptr, chk);
    {
        // The same run through the tracing composition names every operation.
        scratch_dir traced;
        typename keep_alive_storage_t<typename Mode::cipher>::environment env;
        if constexpr (Mode::cipher::encrypts) env.key = Mode::clean_env().key;
        const keeper shared = env;  // the environment moves into open
        auto db = entidb::open<keep_alive_storage_t<typename Mode::cipher>>(traced.db(), cfg, std::move(env));
        const auto r = run_workload(db, out.work, *shared.plan, chk);
        REQUIRE(r.failed == failed_call::none);
        out.trace = *shared.trace;
        REQUIRE(out.trace.size() == out.operations);
    }
    chk.report();
    return out;
}

const workload_facts& facts() {
    static const workload_facts f = make_facts(small_config());
    return f;
}
const workload_facts& recycled_facts() {
    static const workload_facts f = make_facts(recycled_config());
    return f;
}

constexpr std::array<fault_kind, 4> all_kinds{fault_kind::io_error, fault_kind::no_space, fault_kind::short_write,
                                              fault_kind::flush_failure};
constexpr std::array<std::size_t, 3> torn_sizes{0, 5, std::size_t{1} << 30};  // none, a few, everything

std::size_t kind_index(fault_kind k) {
    return static_cast<std::size_t>(std::find(all_kinds.begin(), all_kinds.end(), k) - all_kinds.begin());
}

// One crash run: the fault at operation n kills the "process"; the power is cut keeping
// `torn` unflushed bytes per file; the directory must recover to the model.
template <typename Mode = plain_mode>
void crash_run(const workload_facts& f, std::uint64_t n, fault_kind kind, std::size_t torn, checker& chk) {
    chk.context = fmt::format("N={} ({}) kind={} torn={}", n, f.trace.at(n), entidb::to_string(kind), torn);
    scratch_dir dir;
    const auto cfg = f.cfg;
    auto plan = std::make_shared<entidb::fault_plan>();
    plan->arm(n, kind, {.crash_after_fault = true, .short_write_bytes = std::nullopt});
    run_outcome out;
    try {
        std::optional<decltype(open_faulted<Mode>(dir.db(), cfg, plan))> opened;
        try {
            opened.emplace(open_faulted<Mode>(dir.db(), cfg, plan));
        } catch (const entidb::error& e) {
            // A new recycled log is allocated by the first open, once its MANIFEST exists:
            // a crash there leaves an empty database.
            chk.expect(cfg.wal == entidb::wal_mode::recycled, fmt::format("the first open threw {}", e.what()));
            check_recovered<Mode>(dir.db(), cfg, {}, 0, nullptr, chk);
            return;
        }
        auto& db = *opened;
        out = run_workload(db, f.work, *plan, chk);
        // Only adapters that are alive can lose their unflushed bytes: cut the power before
        // the database (and with it every adapter) is destroyed.
        plan->power_cut(torn);
    } catch (const entidb::error& e) {
        chk.fail(fmt::format("the faulted run threw outside a commit/checkpoint: {}", e.what()));
        return;
    }
    chk.context += fmt::format(" failed={} ({})", to_string(out.failed), entidb::to_string(out.code));
    chk.expect(plan->fired(), "the fault never fired");
    chk.expect(plan->crashed(), "the plan did not record the crash");

    const model* in_flight = nullptr;
    const auto at = out.ops_before_failed;
    switch (out.failed) {
        case failed_call::commit:
            if (n == at) {  // the commit's WAL append: a clean failure
                chk.expect(out.code == (kind == fault_kind::no_space ? errc::no_space : errc::io_error),
                           fmt::format("a fault at the WAL append threw {}", out.what));
            } else if (n == at + 1) {  // the commit's WAL flush: outcome unknown
                chk.expect(out.code == errc::outcome_unknown, fmt::format("a failed WAL flush threw {}", out.what));
                in_flight = &*out.in_flight;
            } else if (n < at) {  // an earlier, swallowed fault killed the process
                chk.expect(out.code == errc::io_error, fmt::format("a dead process's commit threw {}", out.what));
            } else {
                chk.fail(fmt::format("commit() threw although its fault came after its WAL flush: {}", out.what));
            }
            break;
        case failed_call::checkpoint:
            // Its own fault, the dead process, or an earlier durable-but-unapplied commit.
            chk.expect(out.code == errc::io_error || out.code == errc::no_space || out.code == errc::outcome_unknown ||
                           (out.code == errc::needs_reopen && n < at),
                       fmt::format("checkpoint threw {}", out.what));
            chk.expect(out.code != errc::no_space || kind == fault_kind::no_space, "no_space from another fault kind");
            break;
        case failed_call::begin:
            chk.expect(out.code == errc::needs_reopen, fmt::format("begin_write threw {}", out.what));
            break;
        case failed_call::none: break;
    }
    check_recovered<Mode>(dir.db(), cfg, out.acked, out.acked_seq, in_flight, chk);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

// `stride`: where given, every stride-th N for every kind (a different phase per kind), in
// place of the sweep's own choice.
template <typename Mode = plain_mode>
void crash_sweep(const workload_facts& f, std::string_view label, std::optional<std::uint64_t> stride_all = {}) {
    const std::uint64_t t_ops = f.operations;
    REQUIRE(t_ops > 100);
    // Every N for flush_failure (at an append it is an EIO, at a flush a failed fdatasync)
    // and, unless quick_mode(), for the other kinds too; in quick mode (sanitizers) the
    // other kinds take every 3rd N, with a different phase per kind, so every N is still
    // hit by two kinds.
    const bool quick = quick_mode();
    const auto start = clock_type::now();
    checker chk;
    std::size_t runs = 0;
    for (const auto kind : all_kinds) {
        const std::uint64_t stride = stride_all ? *stride_all : quick && kind != fault_kind::flush_failure ? 3 : 1;
        for (std::uint64_t n = kind_index(kind) % stride; n < t_ops; n += stride) {
            crash_run<Mode>(f, n, kind, torn_sizes[(n + kind_index(kind)) % torn_sizes.size()], chk);
            ++runs;
        }
    }
    fmt::print("crash sweep{}: T={} operations, {} runs{}, {:.1f} s\n", label, t_ops, runs,
               quick ? " (quick mode)" : "", seconds_since(start));
    chk.report();
}

}  // namespace

TEST_CASE("crash at every mutating operation of a workload recovers the acknowledged state", "[crash][sweep]") {
    crash_sweep(facts(), "");
}

// Every checkpoint starts a lap over the last one's bytes; a crash anywhere in a lap or at
// its wrap, with a power cut that brings overwritten bytes back, must recover exactly.
TEST_CASE("crash at every mutating operation with a recycled WAL recovers the acknowledged state",
          "[crash][sweep][recycled]") {
    const auto& f = recycled_facts();
    CHECK(std::count(f.trace.begin(), f.trace.end(), "truncate wal.log") == 0);  // laps, not truncation
    CHECK(std::count(f.trace.begin(), f.trace.end(), "reserve wal.log") == 1);   // allocated once
    // Under the sanitizers every operation once, each by one fault kind (the sweep above
    // covers the appended log's every operation with more kinds; optimised, every kind here too).
    crash_sweep(f, " (recycled WAL)", quick_mode() ? std::optional<std::uint64_t>(4) : std::nullopt);
}

#if ENTIDB_HAVE_SODIUM
// The same sweep on an encrypted database (sealed payloads in the WAL and the segments, a
// sealed MANIFEST, recovery copying the WAL's sealed bytes): every operation with every kind
// optimised; in sanitized builds every 12th per kind, each kind at another phase (the sweep
// without encryption covers every operation there).
TEST_CASE("crash at every mutating operation of an encrypted database recovers the acknowledged state",
          "[crash][sweep][encryption]") {
    static const workload_facts f = make_facts<encrypted_mode>(small_config());
    crash_sweep<encrypted_mode>(f, " (encrypted)", quick_mode() ? 12 : 1);
}
#endif

TEST_CASE("a fault at any operation without a crash: clean failure or needs_reopen, never a lost commit",
          "[crash][no_crash]") {
    // The process survives the fault. A commit that fails at its WAL append (ENOSPC, EIO, or a
    // short write that the engine must cut back) leaves the database usable: the same
    // transaction is retried and must commit. Anything later poisons the engine
    // (needs_reopen) or, for a failed flush, reports outcome_unknown. Either way the reopened
    // directory holds exactly the acknowledged commits (plus an outcome_unknown one).
    const auto& f = facts();
    const bool quick = quick_mode();
    const auto start = clock_type::now();
    checker chk;
    std::size_t runs = 0, completed = 0;
    for (const auto kind : {fault_kind::no_space, fault_kind::short_write, fault_kind::io_error}) {
        const std::uint64_t stride = quick && kind != fault_kind::no_space ? 3 : 1;
        for (std::uint64_t n = 0; n < f.operations; n += stride, ++runs) {
            chk.context = fmt::format("{} without a crash at N={}", entidb::to_string(kind), n);
            scratch_dir dir;
            const auto cfg = small_config();
            auto plan = std::make_shared<entidb::fault_plan>();
            plan->arm(n, kind, {.crash_after_fault = false, .short_write_bytes = std::nullopt});
            run_outcome out;
            {
                auto db = open_faulted(dir.db(), cfg, plan);
                out = run_workload(db, f.work, *plan, chk,
                                   {.retry_clean_failures = true, .check_each_step = false, .armed = n});
            }
            chk.context += fmt::format(" ({}) failed={} ({})", f.trace[n], to_string(out.failed),
                                       entidb::to_string(out.code));
            chk.expect(plan->fired(), "the fault never fired");
            // SPEC.md §5: a full disk fails cleanly, and once space is back the database works
            // again. A WAL append or truncate that hits ENOSPC (in a commit or a checkpoint)
            // must not poison the engine; only failed flushes and post-flush segment writes may.
            if (kind == fault_kind::no_space && f.wal_append_or_truncate(n))
                chk.expect(out.failed == failed_call::none, "ENOSPC at a WAL append/truncate left the database unusable");
            const model* in_flight = nullptr;
            switch (out.failed) {
                case failed_call::none:
                    // Every clean failure was retried successfully, or the fault hit a place
                    // whose failure is harmless: the whole workload is committed.
                    ++completed;
                    chk.expect(out.acked == f.final_state && out.acked_seq == f.final_seq,
                               "a completed run does not end in the fault-free state");
                    break;
                case failed_call::commit:
                    chk.expect(out.code == errc::outcome_unknown && n == out.ops_before_failed + 1,
                               fmt::format("commit failed with {}", out.what));
                    in_flight = &*out.in_flight;
                    break;
                case failed_call::begin:  // an earlier durable commit or a checkpoint poisoned the engine
                    chk.expect(out.code == errc::needs_reopen && n < out.ops_before_failed,
                               fmt::format("begin_write threw {}", out.what));
                    break;
                case failed_call::checkpoint:
                    chk.expect(out.code == errc::outcome_unknown || out.code == errc::io_error ||
                                   (out.code == errc::needs_reopen && n < out.ops_before_failed),
                               fmt::format("checkpoint threw {}", out.what));
                    break;
            }
            check_recovered(dir.db(), cfg, out.acked, out.acked_seq, in_flight, chk);
        }
    }
    fmt::print("no-crash sweep: {} runs, {} completed the workload, {:.1f} s\n", runs, completed,
               seconds_since(start));
    CHECK(completed > 0);
    chk.report();
}

TEST_CASE("no_space at a WAL append fails the commit cleanly and the database stays usable", "[crash][no_space]") {
    scratch_dir dir;
    auto plan = std::make_shared<entidb::fault_plan>();
    {
        auto db = open_faulted(dir.db(), {}, plan);
        CHECK(db.transaction([&](auto& txn) { txn.put("a", id_of(1), payload(1)); }) == 1);
        const auto wal_size = fs::file_size(dir.db() / "wal.log");
        plan->arm(plan->operations(), fault_kind::no_space, {.crash_after_fault = false, .short_write_bytes = {}});
        {
            auto txn = db.begin_write();
            txn.put("a", id_of(2), payload(2));
            txn.put("b", id_of(2), payload(22));
            try {
                txn.commit();
                FAIL("commit succeeded despite ENOSPC at the WAL append");
            } catch (const entidb::error& e) {
                CHECK(e.value() == errc::no_space);
                CHECK(e.sys_errno() == ENOSPC);
            }
        }
        CHECK(plan->fired());
        CHECK(fs::file_size(dir.db() / "wal.log") == wal_size);  // nothing of it reached the WAL
        CHECK(db.last_sequence() == 1);
        CHECK_FALSE(db.begin_read().get("a", id_of(2)));
        // Space is back: the database works without a reopen.
        CHECK(db.transaction([&](auto& txn) { txn.put("a", id_of(3), payload(3)); }) == 2);
        CHECK_NOTHROW(db.checkpoint());
        CHECK(db.transaction([&](auto& txn) { txn.put("b", id_of(4), payload(4)); }) == 3);
        plan->power_cut(0);
    }
    CHECK_NOTHROW(entidb::verify(dir.db()));
    auto db = entidb::open(dir.db());
    CHECK(read_state(db) == model{{{"a", 1}, payload(1)}, {{"a", 3}, payload(3)}, {{"b", 4}, payload(4)}});
    CHECK(db.last_sequence() == 3);
}

TEST_CASE("a failed WAL flush reports outcome_unknown and refuses writes until reopened", "[crash][flush]") {
    for (const bool power_cut : {false, true}) {
        INFO("power cut after the failure: " << power_cut);
        scratch_dir dir;
        auto plan = std::make_shared<entidb::fault_plan>();
        {
            auto db = open_faulted(dir.db(), {}, plan);
            CHECK(db.transaction([&](auto& txn) { txn.put("a", id_of(1), payload(1)); }) == 1);
            // The commit's operations: WAL append, then WAL flush (armed), then segment appends.
            plan->arm(plan->operations() + 1, fault_kind::flush_failure,
                      {.crash_after_fault = false, .short_write_bytes = {}});
            try {
                db.transaction([&](auto& txn) { txn.put("a", id_of(2), payload(2)); });
                FAIL("commit succeeded although the WAL flush failed");
            } catch (const entidb::error& e) {
                CHECK(e.value() == errc::outcome_unknown);
                CHECK(e.path().ends_with("wal.log"));
            }
            CHECK(plan->fired());
            CHECK(code_of([&] { (void)db.begin_write(); }) == errc::needs_reopen);
            CHECK(code_of([&] { (void)db.try_begin_write(); }) == errc::needs_reopen);
            CHECK(code_of([&] { db.checkpoint(); }) == errc::needs_reopen);
            CHECK(code_of([&] { db.transaction([&](auto& txn) { txn.put("a", id_of(3), payload(3)); }); }) ==
                  errc::needs_reopen);
            // Reads keep working on the acknowledged state.
            CHECK(db.begin_read().get("a", id_of(1)) == payload(1));
            CHECK_FALSE(db.begin_read().get("a", id_of(3)));
            if (power_cut) plan->power_cut(0);
        }
        CHECK_NOTHROW(entidb::verify(dir.db()));
        auto db = entidb::open(dir.db());
        // Both outcomes are allowed by the contract; the simulation makes them exact: the
        // bytes that reached the file without a power cut are replayed, a cut drops them.
        model want{{{"a", 1}, payload(1)}};
        if (!power_cut) want[{"a", 2}] = payload(2);
        CHECK(read_state(db) == want);
        CHECK(db.last_sequence() == (power_cut ? 1u : 2u));
        const auto last = db.last_sequence();
        CHECK(db.transaction([&](auto& txn) { txn.put("a", id_of(3), payload(3)); }) == last + 1);
    }
}

TEST_CASE("a failure after the WAL flush does not fail the commit", "[crash][durable]") {
    // Every operation of a commit after its WAL flush: segment appends, the flush of a segment
    // sealed by rotation, and the automatic checkpoint's operations. First count them.
    entidb::config cfg;
    cfg.max_segment_size = 1024;
    cfg.max_wal_size = 1024;
    const auto big_txn = [](auto& txn) {
        for (int i = 10; i < 14; ++i) txn.put(i % 2 ? "a" : "b", id_of(i), payload(i, 300));
    };
    std::uint64_t first = 0, last = 0;
    {
        scratch_dir dir;
        auto plan = std::make_shared<entidb::fault_plan>();
        auto db = open_faulted(dir.db(), cfg, plan);
        db.transaction([&](auto& txn) { txn.put("a", id_of(1), payload(1, 300)); });
        first = plan->operations() + 2;  // after the WAL append and the WAL flush
        const auto checkpoints = db.stats().checkpoints;
        db.transaction(big_txn);
        last = plan->operations();
        REQUIRE(db.stats().checkpoints == checkpoints + 1);  // the commit also ran a checkpoint
        REQUIRE(db.stats().segment_count >= 3);              // and rotated
    }
    REQUIRE(last - first >= 8);
    checker chk;
    for (std::uint64_t n = first; n < last; ++n)
        for (const auto kind : all_kinds)
            for (const bool crash : {false, true}) {
                chk.context = fmt::format("op {} of the commit after its flush, {}, crash={}", n - first,
                                          entidb::to_string(kind), crash);
                scratch_dir dir;
                auto plan = std::make_shared<entidb::fault_plan>();
                model want;
                {
                    auto db = open_faulted(dir.db(), cfg, plan);
                    db.transaction([&](auto& txn) { txn.put("a", id_of(1), payload(1, 300)); });
                    want = read_state(db);
                    plan->arm(n, kind, {.crash_after_fault = crash, .short_write_bytes = {}});
                    std::uint64_t seq = 0;
                    try {
                        seq = db.transaction(big_txn);
                    } catch (const entidb::error& e) {
                        chk.fail(fmt::format("commit threw after its WAL flush: {}", e.what()));
                        continue;
                    }
                    chk.expect(seq == 2, "commit returned the wrong sequence");
                    chk.expect(plan->fired(), "the fault never fired");
                    for (int i = 10; i < 14; ++i) want[{i % 2 ? "a" : "b", i}] = payload(i, 300);
                    // Later writes: refused if the engine is poisoned (or the process dead);
                    // a no_space on the checkpoint's WAL append or truncate is harmless.
                    const auto next = code_of([&] { (void)db.begin_write(); });
                    if (crash)
                        chk.expect(next == errc::needs_reopen || next == errc::ok, "begin_write after the crash");
                    else
                        chk.expect(next == errc::needs_reopen || (next == errc::ok && kind == fault_kind::no_space),
                                   fmt::format("begin_write after the failure: {}", entidb::to_string(next)));
                    plan->power_cut(0);  // the WAL was flushed: even a power cut keeps the commit
                }
                check_recovered(dir.db(), cfg, want, 2, nullptr, chk);
            }
    chk.report();
}

TEST_CASE("a crash at any operation of a checkpoint loses nothing", "[crash][checkpoint]") {
    const auto cfg = [] {
        auto c = small_config();
        c.max_wal_size = 1 << 20;  // only the explicit checkpoint
        return c;
    }();
    const auto prefix = [] {
        auto w = facts().work;
        w.resize(10);  // ten transactions, no explicit checkpoint yet
        return w;
    }();
    REQUIRE(std::none_of(prefix.begin(), prefix.end(), [](const step& s) { return s.checkpoint; }));
    // Count the checkpoint's operations.
    std::uint64_t before = 0, after = 0;
    {
        scratch_dir dir;
        auto plan = std::make_shared<entidb::fault_plan>();
        checker chk;
        auto db = open_faulted(dir.db(), cfg, plan);
        (void)run_workload(db, prefix, *plan, chk);
        before = plan->operations();
        db.checkpoint();
        after = plan->operations();
        chk.report();
    }
    // Flush the active segment, seal it (flush), CHECKPOINT append + flush, (MANIFEST through
    // durable_replace, not counted), WAL truncate + flush.
    CHECK(after - before == 6);
    checker chk;
    for (std::uint64_t n = before; n < after; ++n)
        for (const auto kind : all_kinds)
            for (const auto torn : torn_sizes) {
                chk.context = fmt::format("checkpoint op {} {} torn={}", n - before, entidb::to_string(kind), torn);
                scratch_dir dir;
                auto plan = std::make_shared<entidb::fault_plan>();
                run_outcome out;
                std::optional<std::uint64_t> checkpoint_before;
                {
                    auto db = open_faulted(dir.db(), cfg, plan);
                    out = run_workload(db, prefix, *plan, chk);
                    checkpoint_before = db.describe().last_checkpoint;
                    plan->arm(n, kind, {.crash_after_fault = true, .short_write_bytes = {}});
                    const auto code = code_of([&] { db.checkpoint(); });
                    chk.expect(code == errc::io_error || code == errc::no_space || code == errc::outcome_unknown,
                               fmt::format("checkpoint threw {}", entidb::to_string(code)));
                    plan->power_cut(torn);
                }
                check_recovered(dir.db(), cfg, out.acked, out.acked_seq, nullptr, chk);
                // The MANIFEST names the old checkpoint or the new one, nothing else.
                try {
                    auto db = entidb::open(dir.db(), cfg);
                    const auto cp = db.describe().last_checkpoint;
                    chk.expect(cp == checkpoint_before || cp == out.acked_seq,
                               fmt::format("checkpoint sequence after recovery: {}", cp.value_or(0)));
                } catch (const entidb::error& e) {
                    chk.fail(e.what());
                }
            }
    chk.report();
}

TEST_CASE("a crash during recovery is recovered by the next open", "[crash][recovery]") {
    // Crashed directories from the workload (every 7th N, kinds and torn sizes rotating)
    // need recovery work: torn tails to cut, committed transactions to replay into the
    // segments. Recovery itself then crashes at each of its mutating operations, the power
    // is cut, and the next (plain) open must still give the state the first crash allowed.
    const auto& f = facts();
    const auto cfg = small_config();
    const std::uint64_t stride = quick_mode() ? 23 : 7;
    const auto start = clock_type::now();
    checker chk;
    std::size_t dirs = 0, runs = 0;
    std::uint64_t most_ops = 0;
    for (std::uint64_t n = 3, i = 0; n < f.operations; n += stride, ++i) {
        const auto kind = all_kinds[i % all_kinds.size()];
        const auto torn = torn_sizes[i % torn_sizes.size()];
        chk.context = fmt::format("crashed at N={} {} torn={}", n, entidb::to_string(kind), torn);
        scratch_dir crashed;
        run_outcome out;
        {
            auto plan = std::make_shared<entidb::fault_plan>();
            plan->arm(n, kind, {.crash_after_fault = true, .short_write_bytes = std::nullopt});
            auto db = open_faulted(crashed.db(), cfg, plan);
            out = run_workload(db, f.work, *plan, chk);
            plan->power_cut(torn);
        }
        const model* in_flight =
            out.failed == failed_call::commit && out.code == errc::outcome_unknown ? &*out.in_flight : nullptr;
        std::uint64_t recovery_ops = 0;
        {
            scratch_dir probe;
            fs::copy(crashed.db(), probe.db(), fs::copy_options::recursive);
            keep_alive_storage::environment env;
            {
                auto db = entidb::open<keep_alive_storage>(probe.db(), cfg, env);
                recovery_ops = env.plan->operations();  // the open's own (a close flushes too)
            }
        }
        if (recovery_ops == 0) continue;
        ++dirs;
        most_ops = std::max(most_ops, recovery_ops);
        for (std::uint64_t r = 0; r < recovery_ops; ++r)
            for (const auto kind2 : all_kinds) {
                const auto torn2 = torn_sizes[(r + kind_index(kind2)) % torn_sizes.size()];
                chk.context = fmt::format("crashed at N={} {} torn={}, recovery crashed at op {} {} torn={}", n,
                                          entidb::to_string(kind), torn, r, entidb::to_string(kind2), torn2);
                scratch_dir d;
                fs::copy(crashed.db(), d.db(), fs::copy_options::recursive);
                keep_alive_storage::environment env;
                env.plan->arm(r, kind2, {.crash_after_fault = true, .short_write_bytes = std::nullopt});
                const auto code = code_of([&] { (void)entidb::open<keep_alive_storage>(d.db(), cfg, env); });
                chk.expect(code == errc::io_error || code == errc::no_space || code == errc::outcome_unknown,
                           fmt::format("the crashed open gave {}", entidb::to_string(code)));
                env.plan->power_cut(torn2);
                env.alive->clear();
                check_recovered(d.db(), cfg, out.acked, out.acked_seq, in_flight, chk);
                ++runs;
            }
    }
    fmt::print("recovery crash sweep: {} crashed directories needing recovery work (up to {} operations), {} runs, "
               "{:.1f} s\n",
               dirs, most_ops, runs, seconds_since(start));
    CHECK(dirs >= 5);
    chk.report();
}

namespace {

struct record_at {
    std::uint64_t offset;
    std::uint64_t size;
};

// The record extents of a WAL file (header: magic 4, version 2, type 1, length u32; then
// payload and CRC) or of a segment file (record_len u32 covers the whole record).
std::vector<record_at> wal_records(const std::string& b) {
    std::vector<record_at> out;
    for (std::size_t at = 0; at + 11 <= b.size();) {
        const std::uint64_t size = 11 + std::uint64_t{le32(b, at + 7)} + 4;
        out.push_back({at, size});
        at += size;
    }
    return out;
}

std::vector<record_at> segment_records(const std::string& b) {
    std::vector<record_at> out;
    for (std::size_t at = 0; at + 4 <= b.size();) {
        const std::uint64_t size = le32(b, at);
        if (size == 0) break;
        out.push_back({at, size});
        at += size;
    }
    return out;
}

// Opening must fail with errc::corruption naming `file` and `offset`, and change nothing;
// verify must report the same.
void expect_refused(const fs::path& db, const entidb::config& cfg, const std::string& file, std::uint64_t offset,
                    checker& chk) {
    const auto files = snapshot_files(db);
    for (const bool use_verify : {false, true}) {
        try {
            if (use_verify)
                (void)entidb::verify(db, cfg);
            else
                (void)entidb::open(db, cfg);
            chk.fail(fmt::format("{} accepted a damaged {}", use_verify ? "verify" : "open", file));
        } catch (const entidb::error& e) {
            chk.expect(e.value() == errc::corruption, fmt::format("threw {}", e.what()));
            chk.expect(e.path().ends_with(file), fmt::format("path '{}' does not name {}", e.path(), file));
            chk.expect(e.offset() == offset, fmt::format("offset {} instead of {} ({})", e.offset().value_or(0),
                                                         offset, e.what()));
        }
        chk.expect(snapshot_files(db) == files, "a refused open changed the directory");
    }
}

}  // namespace

TEST_CASE("a damaged WAL record followed by valid records is corruption, refused and never repaired",
          "[crash][corruption]") {
    scratch_dir dir;
    entidb::config cfg;
    cfg.max_wal_size = 1 << 20;
    {
        auto db = entidb::open(dir.db(), cfg);
        for (int t = 0; t < 6; ++t)
            db.transaction([&](auto& txn) {
                txn.put("a", id_of(t), payload(t, 20));
                txn.put("b", id_of(t), payload(100 + t, 20));
            });
    }
    const auto wal = dir.db() / "wal.log";
    const auto original = read_bytes(wal);
    const auto recs = wal_records(original);
    REQUIRE(recs.size() == 6 * 4);  // BEGIN, PUT, PUT, COMMIT per transaction
    REQUIRE(recs.back().offset + recs.back().size == original.size());
    checker chk;
    // Every byte of a PUT and of a COMMIT record in the middle of the log.
    for (const std::size_t r : {9, 11}) {
        for (std::uint64_t i = 0; i < recs[r].size; ++i) {
            chk.context = fmt::format("record {} byte {}", r, i);
            auto damaged = original;
            damaged[recs[r].offset + i] = static_cast<char>(damaged[recs[r].offset + i] ^ 0x5a);
            write_bytes(wal, damaged);
            expect_refused(dir.db(), cfg, "wal.log", recs[r].offset, chk);
        }
    }
    chk.report();
    write_bytes(wal, original);
    auto db = entidb::open(dir.db(), cfg);
    CHECK(db.last_sequence() == 6);
}

TEST_CASE("a damaged record in a sealed segment is corruption naming the segment", "[crash][corruption]") {
    // A sealed segment was flushed when it was sealed: any bad record in it is corruption,
    // also when the WAL still covers it (no checkpoint yet, or sealed by a rotation after
    // the last checkpoint). Only the active segment may have a torn tail.
    for (const int scenario : {0, 1, 2}) {
        const char* names[] = {"sealed before the last checkpoint", "no checkpoint at all",
                               "sealed after the last checkpoint"};
        INFO(names[scenario]);
        scratch_dir dir;
        auto cfg = small_config();
        cfg.max_wal_size = 1 << 20;
        {
            auto db = entidb::open(dir.db(), cfg);
            if (scenario == 2) {
                db.transaction([&](auto& txn) { txn.put("a", id_of(99), payload(99, 150)); });
                db.checkpoint();  // seals seg 1; segments 2.. fill up after it
            }
            for (int t = 0; t < 12; ++t)
                db.transaction([&](auto& txn) {
                    for (int i = 0; i < 3; ++i) txn.put("a", id_of(t * 3 + i), payload(t * 3 + i, 150));
                });
            if (scenario == 0) db.checkpoint();
            db.transaction([&](auto& txn) { txn.put("a", id_of(100), payload(100)); });
        }
        const auto seg = dir.db() / "SEGMENTS" / "seg-000002.dat";
        REQUIRE(fs::exists(dir.db() / "SEGMENTS" / "seg-000003.dat"));  // seg 2 is sealed
        const auto original = read_bytes(seg);
        const auto recs = segment_records(original);
        REQUIRE(recs.size() >= 3);
        checker chk;
        const auto& victim = recs[recs.size() / 2];
        for (std::uint64_t i = 0; i < victim.size; ++i) {
            chk.context = fmt::format("{}: seg-000002.dat byte {} of the record at {}", names[scenario], i, victim.offset);
            auto damaged = original;
            damaged[victim.offset + i] = static_cast<char>(damaged[victim.offset + i] ^ 0x5a);
            write_bytes(seg, damaged);
            expect_refused(dir.db(), cfg, "seg-000002.dat", victim.offset, chk);
        }
        // A sealed segment with a "torn tail" is corruption too.
        chk.context = fmt::format("{}: sealed segment cut short", names[scenario]);
        write_bytes(seg, original.substr(0, original.size() - 3));
        expect_refused(dir.db(), cfg, "seg-000002.dat", recs.back().offset, chk);
        chk.report();
        write_bytes(seg, original);
        auto db = entidb::open(dir.db(), cfg);
        CHECK(db.begin_read().count("a") == (scenario == 2 ? 38u : 37u));
    }
}

TEST_CASE("a torn WAL tail ends the log: open keeps every complete commit", "[crash][torn]") {
    entidb::config cfg;
    cfg.max_wal_size = 1 << 20;
    const auto commit = [](auto& db, int t) {
        return db.transaction([&](auto& txn) {
            txn.put("a", id_of(t), payload(t, 30));
            txn.put("b", id_of(t), payload(t, 30));
        });
    };
    const auto state_after = [](int last) {
        model m;
        for (int t = 1; t <= last; ++t) {
            m[{"a", t}] = payload(t, 30);
            m[{"b", t}] = payload(t, 30);
        }
        return m;
    };
    // Every cut lies inside the last COMMIT record (31 bytes).
    for (const std::uintmax_t cut : {1, 4, 17, 30}) {
        INFO("bytes cut from wal.log: " << cut);
        {
            // What a power cut can really leave: the last commit's WAL bytes torn and, as its
            // flush never returned, nothing of it in the segment. Exactly 4 commits survive.
            scratch_dir dir;
            std::uintmax_t seg_before = 0;
            {
                auto db = entidb::open(dir.db(), cfg);
                for (int t = 1; t <= 4; ++t) commit(db, t);
                seg_before = fs::file_size(dir.db() / "SEGMENTS" / "seg-000001.dat");
                commit(db, 5);
            }
            fs::resize_file(dir.db() / "SEGMENTS" / "seg-000001.dat", seg_before);
            const auto wal = dir.db() / "wal.log";
            const auto full = fs::file_size(wal);
            const auto recs = wal_records(read_bytes(wal));
            REQUIRE(recs.size() == 5 * 4);
            REQUIRE(recs.back().size == 31);
            fs::resize_file(wal, full - cut);
            const auto v = entidb::verify(dir.db(), cfg);
            REQUIRE(v.wal_torn_at.has_value());
            CHECK(*v.wal_torn_at == recs.back().offset);  // the torn COMMIT record
            {
                auto db = entidb::open(dir.db(), cfg);
                CHECK(read_state(db) == state_after(4));
                CHECK(db.last_sequence() == 4);
                CHECK(db.recovery().wal_bytes_truncated == full - cut - recs.back().offset);
                CHECK(fs::file_size(wal) == recs.back().offset);
                CHECK(commit(db, 6) == 5);
            }
            CHECK_NOTHROW(entidb::verify(dir.db(), cfg));
            auto db = entidb::open(dir.db(), cfg);
            auto want = state_after(4);
            want[{"a", 6}] = payload(6, 30);
            want[{"b", 6}] = payload(6, 30);
            CHECK(read_state(db) == want);
            CHECK(db.recovery().transactions_replayed == 0);
        }
        {
            // Only wal.log cut short (the segment kept commit 5): one of the two states,
            // never a partial transaction.
            scratch_dir dir;
            {
                auto db = entidb::open(dir.db(), cfg);
                for (int t = 1; t <= 5; ++t) commit(db, t);
            }
            const auto wal = dir.db() / "wal.log";
            fs::resize_file(wal, fs::file_size(wal) - cut);
            auto db = entidb::open(dir.db(), cfg);
            const auto got = read_state(db);
            CHECK((got == state_after(4) || got == state_after(5)));
            CHECK(db.recovery().wal_bytes_truncated > 0);
            const auto last = db.last_sequence();
            CHECK(commit(db, 6) == last + 1);
        }
    }
}

TEST_CASE("garbage after the last record of the active segment is a WAL-covered torn tail", "[crash][torn]") {
    auto cfg = small_config();
    cfg.max_wal_size = 1 << 20;
    std::mt19937_64 rng(7);
    for (const int scenario : {0, 1, 2}) {
        // 0: no checkpoint ever; 1: records after a checkpoint; 2: right after a checkpoint.
        for (const std::size_t garbage : {1, 3, 36, 37, 200}) {
            INFO("scenario " << scenario << ", garbage bytes " << garbage);
            scratch_dir dir;
            model want;
            {
                auto db = entidb::open(dir.db(), cfg);
                for (int t = 0; t < 8; ++t)
                    db.transaction([&](auto& txn) { txn.put("a", id_of(t), payload(t, 400)); });
                if (scenario > 0) db.checkpoint();
                if (scenario == 1)
                    for (int t = 8; t < 10; ++t)
                        db.transaction([&](auto& txn) { txn.put("a", id_of(t), payload(t, 400)); });
                want = read_state(db);
            }
            auto segs = entidb::file_segment_factory(dir.db() / "SEGMENTS").existing();
            REQUIRE(segs.size() >= 2);
            const auto active = dir.db() / "SEGMENTS" / entidb::segment_file_name(segs.back());
            const auto size = fs::file_size(active);
            if (scenario == 2) CHECK(size == 0);
            std::string junk(garbage, '\0');
            for (auto& c : junk) c = static_cast<char>(rng());
            {
                std::ofstream(active, std::ios::binary | std::ios::app).write(junk.data(), static_cast<std::streamsize>(junk.size()));
            }
            const auto v = entidb::verify(dir.db(), cfg);
            CHECK(v.segment_torn_at == size);
            {
                auto db = entidb::open(dir.db(), cfg);
                CHECK(read_state(db) == want);
                CHECK(db.recovery().segment_bytes_truncated == garbage);
                CHECK(fs::file_size(active) >= size);
                const auto last = db.last_sequence();
                CHECK(db.transaction([&](auto& txn) { txn.put("b", id_of(1), payload(1)); }) == last + 1);
                want[{"b", 1}] = payload(1);
            }
            CHECK_NOTHROW(entidb::verify(dir.db(), cfg));
            auto db = entidb::open(dir.db(), cfg);
            CHECK(read_state(db) == want);
        }
    }
}

TEST_CASE("a leftover MANIFEST.tmp from an interrupted replace is ignored", "[crash][manifest]") {
    scratch_dir dir;
    {
        auto db = entidb::open(dir.db());
        db.transaction([&](auto& txn) { txn.put("a", id_of(1), payload(1)); });
    }
    write_bytes(dir.db() / "MANIFEST.tmp", "half a manifest");
    {
        auto db = entidb::open(dir.db());
        CHECK(db.begin_read().get("a", id_of(1)) == payload(1));
        db.checkpoint();  // replaces the MANIFEST through MANIFEST.tmp again
        db.transaction([&](auto& txn) { txn.put("c", id_of(2), payload(2)); });
    }
    CHECK_FALSE(fs::exists(dir.db() / "MANIFEST.tmp"));
    auto db = entidb::open(dir.db());
    CHECK(db.begin_read().get("c", id_of(2)) == payload(2));
}
