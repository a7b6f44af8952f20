// The WAL layer on its own: wal::writer (encode, the undo of a failed append, group flush
// with several committing threads, a failed flush) and wal::reader (committed transactions
// in order, torn tail, damage, empty log), over memory and fault-injecting backends.
#include <entidb/storage/fault_injecting_backend.hpp>
#include <entidb/storage/memory_backend.hpp>
#include <entidb/wal/reader.hpp>
#include <entidb/wal/writer.hpp>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;
using test_support::id_of;

namespace {

// One operation of a transaction, shaped like a write set's (key, op) pairs.
struct test_op {
    bool tombstone = false;
    entidb::bytes_view payload;
};
using op_list = std::vector<std::pair<std::pair<std::uint32_t, entidb::entity_id>, test_op>>;

const entidb::byte_buffer payload_a{1, 2, 3};
const entidb::byte_buffer payload_b(40, 7);

op_list two_ops(std::uint64_t n) {
    return {{{1, id_of(n)}, {false, payload_a}}, {{2, id_of(n + 1)}, {true, {}}}};
}

template <typename Backend>
std::vector<entidb::wal::transaction> read_all(const Backend& b, bool keep = true) {
    entidb::wal::reader<Backend> r(b, 64, "wal.log", keep);
    std::vector<entidb::wal::transaction> out;
    while (auto t = r.next()) out.push_back(std::move(*t));
    return out;
}

// The records of one transaction as the writer encodes them.
entidb::byte_buffer encoded(std::uint64_t txid, std::uint64_t seq, const op_list& ops) {
    entidb::wal::writer<entidb::memory_backend> w(std::make_unique<entidb::memory_backend>(), "wal.log", entidb::wal_mode::append, 0, {});
    const auto bytes = w.encode(txid, seq, ops);
    return {bytes.begin(), bytes.end()};
}

// A memory backend whose flushes are counted, remember how much they covered, and can be
// held (the first flush waits until release()): a flush in progress while others commit.
class gated_backend {
public:
    static constexpr bool durable = true;
    void read_at(std::uint64_t offset, entidb::mutable_bytes out) const { inner_.read_at(offset, out); }
    std::uint64_t append(entidb::bytes_view in) { return inner_.append(in); }
    [[nodiscard]] std::uint64_t size() const { return inner_.size(); }
    void truncate(std::uint64_t n) { inner_.truncate(n); }
    void flush() {
        const auto covered = inner_.size();
        std::unique_lock lock(mutex_);
        if (hold_) {
            entered_ = true;
            cv_.notify_all();
            cv_.wait(lock, [&] { return !hold_; });
        }
        durable_ = std::max(durable_, covered);
        ++flushes_;
    }

    void hold() {
        std::lock_guard lock(mutex_);
        hold_ = true;
    }
    void wait_entered() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return entered_; });
    }
    void release() {
        std::lock_guard lock(mutex_);
        hold_ = false;
        cv_.notify_all();
    }
    [[nodiscard]] std::uint64_t durable_size() {
        std::lock_guard lock(mutex_);
        return durable_;
    }
    [[nodiscard]] int flushes() {
        std::lock_guard lock(mutex_);
        return flushes_;
    }

private:
    entidb::memory_backend inner_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool hold_ = false, entered_ = false;
    std::uint64_t durable_ = 0;
    int flushes_ = 0;
};

}  // namespace

TEST_CASE("wal::writer: a commit is BEGIN, one record per operation, COMMIT; the reader yields it", "[wal]") {
    entidb::wal::writer<entidb::memory_backend> w(std::make_unique<entidb::memory_backend>(), "wal.log", entidb::wal_mode::append, 0, {});
    const auto first = w.encode(1, 10, two_ops(1));
    const auto end1 = w.append_commit(first);
    CHECK(end1 == w.backend().size());
    const auto end2 = w.append_commit(w.encode(2, 11, op_list{{{3, id_of(9)}, {false, payload_b}}}));
    CHECK(end2 == w.backend().size());
    CHECK(w.appended_end() == end2);

    entidb::wal::reader<entidb::memory_backend> r(w.backend(), 64, "wal.log", true);
    auto t = r.next();
    REQUIRE(t);
    CHECK(t->txid == 1);
    CHECK(t->sequence == 10);
    REQUIRE(t->ops.size() == 2);
    CHECK(t->ops[0].collection == 1);
    CHECK(t->ops[0].id == id_of(1));
    CHECK_FALSE(t->ops[0].tombstone);
    CHECK(t->ops[0].payload == payload_a);
    CHECK(t->ops[1].collection == 2);
    CHECK(t->ops[1].tombstone);
    t = r.next();
    REQUIRE(t);
    CHECK(t->sequence == 11);
    CHECK(t->ops.at(0).payload == payload_b);
    CHECK_FALSE(r.next());
    CHECK(r.end() == end2);
    CHECK(r.records() == 7);  // 2 × (BEGIN, COMMIT) + 3 operations
    CHECK(r.max_txid() == 2);
    CHECK(r.max_sequence() == 11);
}

TEST_CASE("wal::writer: a failed append is undone, so the log never keeps a torn commit", "[wal]") {
    auto plan = std::make_shared<entidb::fault_plan>();
    using backend = entidb::fault_injecting_backend<entidb::memory_backend>;
    entidb::wal::writer<backend> w(std::make_unique<backend>(plan), "wal.log", entidb::wal_mode::append, 0, {});
    const auto end1 = w.append_commit(w.encode(1, 1, two_ops(1)));  // mutating operation 0
    plan->arm(1, entidb::fault_kind::short_write);  // a prefix reaches the file, then EIO
    CHECK(code_of([&] { (void)w.append_commit(w.encode(2, 2, two_ops(3))); }) == errc::io_error);
    CHECK(w.backend().size() == end1);  // truncated back: no torn record
    CHECK(w.appended_end() == end1);    // nothing for a flush to cover
    const auto end3 = w.append_commit(w.encode(3, 3, two_ops(5)));
    CHECK(end3 == w.backend().size());

    const auto txs = read_all(w.backend());  // no torn record between the two: no corruption
    REQUIRE(txs.size() == 2);
    CHECK(txs[0].sequence == 1);
    CHECK(txs[1].sequence == 3);
}

TEST_CASE("wal::writer: an append whose undo fails is reported to the fault handler", "[wal]") {
    auto plan = std::make_shared<entidb::fault_plan>();
    using backend = entidb::fault_injecting_backend<entidb::memory_backend>;
    std::vector<std::string> faults;
    entidb::wal::writer<backend> w(std::make_unique<backend>(plan), "wal.log", entidb::wal_mode::append, 0,
                                   [&](std::string_view why) { faults.emplace_back(why); });
    plan->arm(0, entidb::fault_kind::short_write, {.crash_after_fault = true});  // the truncate fails too
    CHECK(code_of([&] { (void)w.append_commit(w.encode(1, 1, two_ops(1))); }) == errc::io_error);
    REQUIRE(faults.size() == 1);
    CHECK(faults[0].find("a failed WAL append could not be undone") != std::string::npos);
}

TEST_CASE("wal::writer: one flush serves every commit appended while the previous flush ran", "[wal]") {
    entidb::wal::writer<gated_backend> w(std::make_unique<gated_backend>(), "wal.log", entidb::wal_mode::append, 0, {});
    auto& b = w.backend();
    std::mutex writer_lock;  // the owner's: one append at a time
    constexpr int followers = 3;
    std::mutex m;
    std::condition_variable cv;
    int appended = 0, led = 0;
    std::vector<std::string> problems;

    auto commit = [&](std::uint64_t n) {
        std::uint64_t end = 0;
        {
            std::lock_guard lock(writer_lock);
            end = w.append_commit(w.encode(n, n, two_ops(2 * n)));
        }
        {
            std::lock_guard lock(m);
            ++appended;
            cv.notify_all();
        }
        const auto covers = w.wait_durable(end);
        std::lock_guard lock(m);
        if (b.durable_size() < end) problems.push_back("commit " + std::to_string(n) + " returned before durable");
        if (covers) {
            ++led;
            if (*covers < end) problems.push_back("a leader's flush did not cover its own commit");
        }
    };

    b.hold();
    std::thread first(commit, 1);
    b.wait_entered();  // commit 1's flush is running (and held)
    std::vector<std::thread> rest;
    for (int i = 0; i < followers; ++i) rest.emplace_back(commit, 2 + i);
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return appended == 1 + followers; });
    }
    b.release();
    first.join();
    for (auto& t : rest) t.join();

    CHECK(problems.empty());
    CHECK(b.flushes() == 2);     // commit 1's, then one for the three that came during it
    CHECK(w.flushes() == 2);
    CHECK(led == 2);             // each flush's leader was told to apply its group
    CHECK(b.durable_size() == b.size());
    CHECK(read_all(b).size() == 1 + followers);
}

TEST_CASE("wal::writer: a failed flush fails its waiters and every later one with outcome_unknown", "[wal]") {
    auto plan = std::make_shared<entidb::fault_plan>();
    using backend = entidb::fault_injecting_backend<entidb::memory_backend>;
    std::vector<std::string> faults;
    entidb::wal::writer<backend> w(std::make_unique<backend>(plan), "wal.log", entidb::wal_mode::append, 0,
                                   [&](std::string_view why) { faults.emplace_back(why); });
    const auto end1 = w.append_commit(w.encode(1, 1, two_ops(1)));  // operation 0
    CHECK(w.wait_durable(end1).has_value());                          // operation 1: this thread led
    CHECK_FALSE(w.wait_durable(end1).has_value());                    // already durable: nothing to lead
    const auto end2 = w.append_commit(w.encode(2, 2, two_ops(3)));  // operation 2
    plan->arm(3, entidb::fault_kind::flush_failure);
    try {
        (void)w.wait_durable(end2);
        FAIL("the flush failure was not reported");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::outcome_unknown);
        CHECK(std::string(e.what()).find("WAL flush failed") != std::string::npos);
        CHECK(e.path() == "wal.log");
    }
    REQUIRE(faults.size() == 1);
    CHECK(faults[0].find("the WAL flush failed") != std::string::npos);
    CHECK(code_of([&] { (void)w.wait_durable(end2); }) == errc::outcome_unknown);
    CHECK_FALSE(w.wait_durable(end1).has_value());  // covered before the failure: durable
    CHECK(w.flushes() == 2);
}

TEST_CASE("wal::reader: an empty log has no transactions and ends at 0", "[wal]") {
    entidb::memory_backend b;
    entidb::wal::reader<entidb::memory_backend> r(b, 64, "wal.log", true);
    CHECK_FALSE(r.next());
    CHECK_FALSE(r.next());
    CHECK(r.end() == 0);
    CHECK(r.records() == 0);
    CHECK(r.max_txid() == 0);
    CHECK(r.max_sequence() == 0);
}

TEST_CASE("wal::reader: a torn tail ends the log where it starts", "[wal]") {
    const auto one = encoded(1, 1, two_ops(1));
    const auto two = encoded(2, 2, two_ops(3));
    for (const std::size_t keep : {std::size_t{1}, std::size_t{30}, two.size() - 1}) {  // never a record boundary
        entidb::memory_backend b;
        b.append(one);
        b.append(entidb::bytes_view(two).first(keep));
        entidb::wal::reader<entidb::memory_backend> r(b, 64, "wal.log", true);
        const auto t = r.next();
        REQUIRE(t);
        CHECK(t->sequence == 1);
        CHECK_FALSE(r.next());  // transaction 2 never committed within the log
        // The log ends where the torn record starts: after transaction 1 and whatever whole
        // records of transaction 2 precede it.
        CHECK(r.end() >= one.size());
        CHECK(r.end() < b.size());
        if (keep == 1) CHECK(r.end() == one.size());
    }
}

TEST_CASE("wal::reader: unfinished and aborted transactions are not yielded", "[wal]") {
    entidb::memory_backend b;
    auto whole = encoded(1, 1, two_ops(1));
    whole.resize(whole.size() - entidb::format::encoded_size(entidb::format::wal_record{entidb::format::wal_commit{1, 1}}));
    b.append(whole);  // transaction 1 never commits
    entidb::byte_buffer abort;
    entidb::format::encode(entidb::format::wal_record{entidb::format::wal_begin{2}}, abort);
    entidb::format::encode(entidb::format::wal_record{entidb::format::wal_abort{2}}, abort);
    b.append(abort);
    b.append(encoded(3, 5, two_ops(7)));
    const auto txs = read_all(b);
    REQUIRE(txs.size() == 1);
    CHECK(txs[0].txid == 3);
    CHECK(txs[0].sequence == 5);
}

TEST_CASE("wal::reader: damage followed by valid records is corruption naming the offset", "[wal]") {
    const auto one = encoded(1, 1, two_ops(1));
    auto damaged = encoded(2, 2, two_ops(3));
    damaged[damaged.size() / 2] ^= 0xFF;  // inside an operation record: its CRC fails
    entidb::memory_backend b;
    b.append(one);
    b.append(damaged);
    b.append(encoded(3, 3, two_ops(5)));
    entidb::wal::reader<entidb::memory_backend> r(b, 64, "wal.log", true);
    REQUIRE(r.next());  // transaction 1 is whole
    try {
        (void)r.next();
        FAIL("the damage was not reported");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::corruption);
        CHECK(e.path() == "wal.log");
        REQUIRE(e.offset());
        CHECK(*e.offset() > one.size());
        CHECK(*e.offset() < one.size() + damaged.size());
        CHECK(std::string(e.what()).find("bad WAL record followed by valid records") != std::string::npos);
    }
}

TEST_CASE("wal::reader: records of a transaction without BEGIN are corruption", "[wal]") {
    entidb::memory_backend b;
    entidb::byte_buffer commit;
    entidb::format::encode(entidb::format::wal_record{entidb::format::wal_commit{4, 1}}, commit);
    b.append(commit);
    CHECK(code_of([&] { (void)read_all(b); }) == errc::corruption);
    CHECK(code_of([&] { (void)read_all(b, false); }) == errc::corruption);  // a check-only read too
}

TEST_CASE("wal::writer: a checkpoint record carries no transaction; clear empties the log", "[wal]") {
    entidb::wal::writer<entidb::memory_backend> w(std::make_unique<entidb::memory_backend>(), "wal.log", entidb::wal_mode::append, 0, {});
    (void)w.append_commit(w.encode(1, 1, two_ops(1)));
    w.append_checkpoint(1);
    entidb::wal::reader<entidb::memory_backend> r(w.backend(), 64, "wal.log", false);
    REQUIRE(r.next());  // the commit, without its operations (a check-only read)
    CHECK_FALSE(r.next());
    CHECK(r.records() == 5);  // BEGIN, PUT, DELETE, COMMIT, CHECKPOINT
    CHECK(r.end() == w.backend().size());
    w.clear();
    CHECK(w.backend().size() == 0);
    CHECK(read_all(w.backend()).empty());
}

namespace {

using recycled_writer = entidb::wal::writer<entidb::memory_backend>;

recycled_writer make_recycled(std::uint64_t reserve = 4096) {
    return recycled_writer(std::make_unique<entidb::memory_backend>(), "wal.log", entidb::wal_mode::recycled, reserve, {});
}

// The committed transactions of a recycled log as a reopen reads them: every byte the file
// holds, past the writer's end too.
struct lap_read {
    std::vector<entidb::wal::transaction> txs;
    std::uint64_t end;
    bool recycled;
};
lap_read read_lap(entidb::memory_backend& b, std::uint64_t checkpoint) {
    const auto end = b.size();
    b.set_end(b.capacity());
    entidb::wal::reader<entidb::memory_backend> r(b, 64, "wal.log", true, checkpoint);
    lap_read out{{}, 0, false};
    try {
        while (auto t = r.next()) out.txs.push_back(std::move(*t));
    } catch (...) {
        b.set_end(end);
        throw;
    }
    out.end = r.end();
    out.recycled = r.recycled();
    b.set_end(end);
    return out;
}

}  // namespace

TEST_CASE("wal::writer: a recycled log keeps its allocation; a lap after a checkpoint starts over it", "[wal][recycled]") {
    auto w = make_recycled();
    w.prepare_empty();  // a new log: its RECYCLED record, and the file allocated
    auto& b = w.backend();
    CHECK(b.size() == entidb::format::wal_recycled_record_size);
    CHECK(b.capacity() == 4096);
    for (std::uint64_t t = 1; t <= 5; ++t) (void)w.append_commit(w.encode(t, t, two_ops(t)));
    const auto lap_one = b.size();
    CHECK(b.capacity() == 4096);  // the commits went into the allocated bytes
    auto first = read_lap(b, 0);
    CHECK(first.recycled);
    CHECK(first.txs.size() == 5);
    CHECK(first.end == lap_one);

    w.append_checkpoint(5);
    w.clear();  // the next lap: nothing truncated, nothing written
    CHECK(b.size() == entidb::format::wal_recycled_record_size);
    CHECK(b.capacity() == 4096);
    const auto empty = read_lap(b, 5);
    CHECK(empty.txs.empty());
    CHECK(empty.end == entidb::format::wal_recycled_record_size);
}

TEST_CASE("wal::reader: committed-looking records of an earlier lap after the lap's end are not replayed",
          "[wal][recycled]") {
    auto w = make_recycled();
    w.prepare_empty();
    auto& b = w.backend();
    for (std::uint64_t t = 1; t <= 5; ++t) (void)w.append_commit(w.encode(t, t, two_ops(t)));
    w.append_checkpoint(5);
    w.clear();
    // txids start over after a checkpoint; the same shape of commit makes the new lap end
    // exactly where the old lap's transaction 2 starts: valid records, COMMIT and all.
    (void)w.append_commit(w.encode(1, 6, two_ops(100)));
    const auto lap_end = b.size();
    const auto next = entidb::format::decode_wal(
        [&] {
            entidb::byte_buffer rest(64);
            b.set_end(b.capacity());
            b.read_at(lap_end, rest);
            b.set_end(lap_end);
            return rest;
        }());
    REQUIRE(next.status == entidb::format::decode_status::ok);  // a stale BEGIN, well formed

    const auto lap = read_lap(b, 5);
    REQUIRE(lap.txs.size() == 1);
    CHECK(lap.txs[0].sequence == 6);
    CHECK(lap.txs[0].ops[0].id == id_of(100));
    CHECK(lap.end == lap_end);

    // A new lap that ends inside an old record: the rest does not decode, and is no damage.
    w.append_checkpoint(6);
    w.clear();
    const entidb::byte_buffer longer(57, 9);
    (void)w.append_commit(w.encode(1, 7, op_list{{{1, id_of(7)}, {false, longer}}}));
    const auto short_lap = read_lap(b, 6);
    REQUIRE(short_lap.txs.size() == 1);
    CHECK(short_lap.txs[0].sequence == 7);
    CHECK(short_lap.end == b.size());
}

TEST_CASE("wal::reader: a recycled lap's torn last commit ends it; damage before a commit of the lap is corruption",
          "[wal][recycled]") {
    auto w = make_recycled();
    w.prepare_empty();
    auto& b = w.backend();
    for (std::uint64_t t = 1; t <= 4; ++t) (void)w.append_commit(w.encode(t, t, two_ops(t)));
    w.append_checkpoint(4);
    w.clear();
    const auto start = b.size();
    (void)w.append_commit(w.encode(1, 5, two_ops(50)));
    const auto one = b.size();
    (void)w.append_commit(w.encode(2, 6, two_ops(60)));
    const auto two = b.size();

    const auto flip = [&](std::uint64_t at) {
        b.set_end(b.capacity());
        entidb::byte_buffer x(1);
        b.read_at(at, x);
        x[0] ^= 0xFF;
        b.set_end(at);
        (void)b.append(x);
        b.set_end(two);
    };
    SECTION("the last commit torn (its COMMIT record): the lap ends before it") {
        flip(two - 1);
        const auto lap = read_lap(b, 4);
        REQUIRE(lap.txs.size() == 1);
        CHECK(lap.txs[0].sequence == 5);
        CHECK(lap.end == one);
    }
    SECTION("damage in the first commit, the second whole: corruption, naming the offset") {
        flip(start + (one - start) / 2);
        try {
            (void)read_lap(b, 4);
            FAIL("the damage was not reported");
        } catch (const entidb::error& e) {
            CHECK(e.value() == errc::corruption);
            REQUIRE(e.offset());
            CHECK(*e.offset() > start);
            CHECK(*e.offset() < one);
        }
    }
}

namespace {

// Reads through to a memory backend and counts the bytes asked for: what an open costs in I/O.
struct counting_reads {
    static constexpr bool durable = false;
    entidb::memory_backend* inner;
    mutable std::uint64_t bytes_read = 0;
    void read_at(std::uint64_t offset, entidb::mutable_bytes out) const {
        bytes_read += out.size();
        inner->read_at(offset, out);
    }
    std::uint64_t append(entidb::bytes_view in) { return inner->append(in); }
    void flush() { inner->flush(); }
    [[nodiscard]] std::uint64_t size() const { return inner->size(); }
    void truncate(std::uint64_t n) { inner->truncate(n); }
};

}  // namespace

TEST_CASE("wal::reader: passing an earlier lap's records reads each byte about once, not a chunk per record",
          "[wal][recycled]") {
    auto w = make_recycled(64 * 1024);
    w.prepare_empty();
    auto& b = w.backend();
    for (std::uint64_t t = 1; t <= 200; ++t) (void)w.append_commit(w.encode(t, t, two_ops(t)));
    REQUIRE(b.size() > 16 * 1024);  // a long earlier lap: 800 well-formed records
    w.append_checkpoint(200);
    w.clear();
    (void)w.append_commit(w.encode(1, 201, two_ops(201)));
    const auto end = b.size();
    b.set_end(b.capacity());
    counting_reads counted{&b};
    entidb::wal::reader<counting_reads> r(counted, 4096, "wal.log", true, 200);
    std::vector<entidb::wal::transaction> txs;
    while (auto t = r.next()) txs.push_back(std::move(*t));
    b.set_end(end);
    REQUIRE(txs.size() == 1);
    CHECK(txs[0].sequence == 201);
    CHECK(r.end() == end);
    // The lap's end is checked for damage by looking at everything after it (a COMMIT of the
    // lap there would mean damage): one pass over the file, a few chunks of slack.
    CHECK(counted.bytes_read <= b.capacity() + 4 * 4096);
}

TEST_CASE("wal::writer: an appended log becomes recycled at its first checkpoint", "[wal][recycled]") {
    entidb::wal::writer<entidb::memory_backend> w(std::make_unique<entidb::memory_backend>(), "wal.log",
                                                  entidb::wal_mode::recycled, 1024, {});
    auto& b = w.backend();
    (void)w.append_commit(w.encode(1, 1, two_ops(1)));  // a log written before: appended
    w.prepare_empty();                                   // not empty: left as it is
    CHECK(read_all(b).size() == 1);
    w.append_checkpoint(1);
    w.clear();
    CHECK(b.size() == entidb::format::wal_recycled_record_size);
    CHECK(b.capacity() == 1024);
    (void)w.append_commit(w.encode(1, 2, two_ops(2)));
    CHECK(read_lap(b, 1).txs.size() == 1);

    // A reader of an appended log that finds a RECYCLED record inside it: damage.
    entidb::memory_backend appended;
    (void)appended.append(encoded(1, 1, two_ops(1)));
    entidb::byte_buffer head;
    entidb::format::encode(entidb::format::wal_record{entidb::format::wal_recycled{}}, head);
    (void)appended.append(head);
    CHECK(code_of([&] { (void)read_all(appended); }) == errc::corruption);
}
