// entidb/wal/writer.hpp — the write side of the write-ahead log (SPEC.md §4–§5).
//
// `wal::writer<Backend>` owns the WAL backend and does the WAL's part of the commit
// pipeline (prepare → append → wait_durable → apply → publish):
//   encode        a transaction's records, BEGIN, one PUT or DELETE per operation, COMMIT
//                 (format/wal_record.hpp), into one reused buffer: errc::too_large before
//                 anything is written;
//   append        those bytes with one backend append. A failed append is undone (the log
//                 is truncated back to where it ended), so the WAL never keeps a torn or
//                 refused commit: a torn record followed by later valid ones would read as
//                 corruption on recovery. An undo that fails leaves the log's state
//                 unknown and is reported to the fault handler;
//   wait_durable  group flush. Appended bytes are counted since construction (not file
//                 offsets: the owner truncates the file only when nothing is in flight).
//                 One waiter at a time leads a flush covering everything appended when it
//                 starts; the others wait for it, so commits appended during one flush
//                 share the next. The leader first waits, briefly, for as many commits as
//                 the last cycle carried (gather). A failed flush is reported to the fault
//                 handler and fails, with errc::outcome_unknown, every waiter it should
//                 have covered, and every later one: the bytes' durability is unknown.
// It also writes a checkpoint's CHECKPOINT record and empties the log after one: an
// appended log (wal_mode::append) is truncated; a recycled one (wal_mode::recycled, over
// a recyclable_backend) keeps its file, allocated to max_wal_size, and its next lap
// starts right after its RECYCLED record, over the bytes of the last (wal/reader.hpp says
// how recovery tells them apart). A log in the other layout is converted only when empty.
// The writer knows nothing of indexes, catalogs or segments; the leader of a flush is
// told so, so that its owner can apply the commits the flush covered for all their waiters.
//
// Thread-safety: encode, append and the backend's mutations come from one writer at a time
// (the owner's writer lock); wait_durable, flushes() and appended_end() from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "../bytes.hpp"
#include "../config.hpp"
#include "../detail/reused_buffer.hpp"
#include "../error.hpp"
#include "../format/wal_record.hpp"
#include "../storage/backend.hpp"

namespace entidb {
inline namespace v1 {
namespace wal {

// encode's default: a PUT records the operation's payload as it is.
inline constexpr auto plain_payloads = [](std::size_t, const auto& op) -> bytes_view { return op.payload; };

template <storage_backend Backend>
class writer {
public:
    // Told why the log's state became unknown (a failed flush, an append that could not
    // be undone); the owner refuses further writes. Called once per failure; may be empty.
    using fault_handler = std::function<void(std::string_view why)>;

    // `path` names the log in errors; `mode` and `reserve` (the bytes a recycled log is
    // allocated to) say how clear() empties it. errc::invalid_argument for
    // wal_mode::recycled over a backend that cannot overwrite in place.
    writer(std::unique_ptr<Backend> backend, std::string path, wal_mode mode, std::uint64_t reserve,
           fault_handler on_fault)
        : backend_(std::move(backend)), path_(std::move(path)), recycle_(mode == wal_mode::recycled),
          reserve_(reserve), on_fault_(std::move(on_fault)) {
        if (recycle_ && !recyclable_backend<Backend>)
            fail(errc::invalid_argument, "wal_mode::recycled needs a WAL backend that can reuse its bytes");
    }

    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    [[nodiscard]] Backend& backend() noexcept { return *backend_; }
    [[nodiscard]] const Backend& backend() const noexcept { return *backend_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    // Flushes led by wait_durable: fewer than the commits when group commit shared them.
    [[nodiscard]] std::uint64_t flushes() const noexcept { return flushes_.load(std::memory_order_relaxed); }
    // The end of what append() wrote, counted since construction (the writer's).
    [[nodiscard]] std::uint64_t appended_end() const noexcept { return appended_.load(std::memory_order_relaxed); }

    // Encodes transaction `txid`, committed as `seq`, into the writer's buffer and returns
    // it (valid until the next encode or append). `ops` is a range of (key, op) pairs,
    // key = (collection id, entity id), op with `tombstone` and `payload`, in the order
    // the records are written. Throws errc::too_large (nothing written) for a payload
    // too large for its record.
    // `stored(i, op)`, where given, is the bytes the i-th operation's PUT records instead of
    // op.payload (an encrypted database's sealed payload).
    template <typename Ops, typename Stored = decltype(plain_payloads)>
    bytes_view encode(std::uint64_t txid, std::uint64_t seq, const Ops& ops, const Stored& stored = plain_payloads) {
        auto& out = batch_;
        out.clear();
        format::encode(format::wal_record{format::wal_begin{txid}}, out);
        std::size_t i = 0;
        for (const auto& [key, op] : ops) {
            if (op.tombstone)
                format::encode(format::wal_record{format::wal_delete{txid, key.first, key.second, std::nullopt}}, out);
            else
                format::encode(
                    format::wal_record{format::wal_put{txid, key.first, key.second, std::nullopt, stored(i, op)}}, out);
            ++i;
        }
        format::encode(format::wal_record{format::wal_commit{txid, seq}}, out);
        return out;
    }

    // Appends one commit's records (what encode returned) and returns the end of the log
    // with them, in appended_end() terms: what to pass to wait_durable. From now on a
    // leader's flush may cover them. The owner lists the commit as in flight before the
    // call (its end is appended_end() + bytes.size()), so that a leader covering these
    // bytes finds it. On failure nothing of them stays in the log (see the header).
    std::uint64_t append_commit(bytes_view bytes) {
        append(bytes);
        detail::release_if_large(batch_);
        std::lock_guard lock(mutex_);
        const std::uint64_t end = appended_.load(std::memory_order_relaxed) + bytes.size();
        ++appended_commits_;
        appended_.store(end, std::memory_order_release);
        if (gathering_) appended_cv_.notify_one();
        return end;
    }

    // A checkpoint (SPEC.md §5): a durable CHECKPOINT record of `seq`, and once the
    // MANIFEST records it, the log emptied. The owner calls both with nothing in flight.
    void append_checkpoint(std::uint64_t seq) {
        byte_buffer rec;
        format::encode(format::wal_record{format::wal_checkpoint{seq}}, rec);
        append(rec);
        backend_->flush();
    }
    void clear() {
        if constexpr (recyclable_backend<Backend>) {
            if (recycle_) return start_lap();
        }
        backend_->truncate(0);
        backend_->flush();
    }
    // Empties an empty log in the configured layout (at open: a new recycled log gets its
    // RECYCLED record and its allocation before the first commit).
    void prepare_empty() {
        if (recycle_ && backend_->size() == 0) clear();
    }

    // Returns once a flush covered the log up to `end` (an append_commit result). If this
    // thread led that flush, returns the end it covered: the caller then applies every
    // commit appended up to there, for all their waiters; otherwise nullopt. Throws
    // errc::outcome_unknown if a flush that should have covered `end` failed.
    std::optional<std::uint64_t> wait_durable(std::uint64_t end) {
        std::unique_lock lock(mutex_);
        while (durable_end_ < end) {
            if (flush_failure_) throw *flush_failure_;
            if (flushing_) {  // the next flush may cover it
                flushed_cv_.wait(lock);
                continue;
            }
            if (const auto covers = lead_flush(lock)) return covers;
        }
        return std::nullopt;
    }

private:
    // Appends `bytes`; a failed append is undone (see the header).
    void append(bytes_view bytes) {
        const std::uint64_t before = backend_->size();
        try {
            backend_->append(bytes);
        } catch (const error&) {
            try {
                if (backend_->size() != before) backend_->truncate(before);
            } catch (const error& e) {
                fault(fmt::format("a failed WAL append could not be undone: {}", e.what()));
            }
            throw;
        }
    }

    // The next lap of a recycled log, over the last one's bytes: every COMMIT they hold is
    // at or below the checkpoint the MANIFEST now records, so recovery never takes them for
    // the new lap's. A log that is not recycled yet is cut to its RECYCLED record first.
    void start_lap()
        requires recyclable_backend<Backend>
    {
        byte_buffer head;
        format::encode(format::wal_record{format::wal_recycled{}}, head);
        bool wrote = false;
        if (starts_with(head)) {
            backend_->set_end(head.size());  // nothing on disk changes
        } else {
            if (backend_->size() > 0) backend_->truncate(0);
            append(head);
            wrote = true;
        }
        if (backend_->capacity() < reserve_) {
            backend_->reserve(reserve_);
            wrote = true;
        }
        if (wrote) backend_->flush();
    }

    [[nodiscard]] bool starts_with(bytes_view head) const {
        if (backend_->size() < head.size()) return false;
        byte_buffer first(head.size());
        backend_->read_at(0, first);
        return std::equal(first.begin(), first.end(), head.begin());
    }

    void fault(std::string_view why) const {
        if (on_fault_) on_fault_(why);
    }

    // One flush covering everything appended so far, holding `lock` except while the
    // backend flushes. Returns the end it covered, or nullopt when it failed.
    std::optional<std::uint64_t> lead_flush(std::unique_lock<std::mutex>& lock) {
        flushing_ = true;
        gather_group(lock);
        const std::uint64_t covers = appended_.load(std::memory_order_acquire);
        const std::uint64_t covers_commits = appended_commits_;
        lock.unlock();
        std::optional<error> failure;
        const auto started = std::chrono::steady_clock::now();
        try {
            flushes_.fetch_add(1, std::memory_order_relaxed);
            backend_->flush();
        } catch (const error& e) {
            fault(fmt::format("the WAL flush failed: {}", e.what()));
            failure.emplace(errc::outcome_unknown,
                            fmt::format("the commit may or may not survive a reopen (WAL flush failed: {})",
                                        e.detail()),
                            error_context{.path = path_, .sys_errno = e.sys_errno()});
        }
        lock.lock();
        flushing_ = false;
        if (failure) {
            flush_failure_ = std::move(failure);
            flushed_cv_.notify_all();
            return std::nullopt;
        }
        durable_end_ = std::max(durable_end_, covers);
        // The commits this flush carried, and those that arrived while it ran: as many as
        // the next leader waits for (gather_group).
        last_group_ = appended_commits_ - durable_commits_;
        durable_commits_ = covers_commits;
        last_flush_time_ = std::chrono::steady_clock::now() - started;
        flushed_cv_.notify_all();  // the next flush may start while this group is applied
        return covers;
    }

    // The leader of a flush waits, briefly, for as many commits as the last cycle saw (the
    // ones its flush carried and the ones that arrived while it ran) when several writers
    // are committing: the released ones are preparing their next commits. Without this, a
    // leader that appended first flushes alone while the others append during its flush,
    // and groups alternate between one and the rest (with two writers, every flush
    // carries one commit). A single writer never waits (its cycles hold one commit), and
    // the wait is at most half the last flush's time, after which the size follows what
    // actually came.
    void gather_group(std::unique_lock<std::mutex>& lock) {
        if (last_group_ <= 1) return;
        const auto until = std::chrono::steady_clock::now() + last_flush_time_ / 2;
        gathering_ = true;
        appended_cv_.wait_until(lock, until, [&] { return appended_commits_ - durable_commits_ >= last_group_; });
        gathering_ = false;
    }

    std::unique_ptr<Backend> backend_;
    std::string path_;
    bool recycle_;
    std::uint64_t reserve_;
    fault_handler on_fault_;
    byte_buffer batch_;  // the writer's, reused: no allocation per commit once warm
    std::atomic<std::uint64_t> flushes_{0};
    std::atomic<std::uint64_t> appended_{0};  // raised under mutex_, read by the writer without it

    std::mutex mutex_;  // guards what follows
    // One condition per event, so that each wakes only the threads waiting for it (a
    // wake-up is a context switch, and across cores of a virtual machine an interrupt).
    std::condition_variable flushed_cv_;   // a flush ended: the next may start, or it failed
    std::condition_variable appended_cv_;  // a commit is appended while a leader gathers
    std::uint64_t durable_end_ = 0;        // a flush covered the log up to here
    std::uint64_t appended_commits_ = 0, durable_commits_ = 0;  // counts since construction
    std::uint64_t last_group_ = 0;  // commits of the last flush cycle (gather_group)
    std::chrono::steady_clock::duration last_flush_time_{};
    bool flushing_ = false;
    bool gathering_ = false;  // a leader waits in gather_group
    std::optional<error> flush_failure_;
};

}  // namespace wal
}  // namespace v1
}  // namespace entidb
