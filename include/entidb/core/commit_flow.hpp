// entidb/core/commit_flow.hpp — the commits between their WAL append and their apply.
//
// Group commit (engine.hpp): a commit is "in flight" from just before its WAL append until
// its commit() call returns. The next writer sees in-flight commits (its reads and unique
// checks go through in_flight_op / for_each_in_flight_op), readers do not. The leader of a
// flush applies every commit the flush covered, in sequence order (apply_durable_group),
// with the engine's apply step; the others wait until their commit is applied. WAL ends
// are in wal::writer::appended_end() terms (not file offsets: a checkpoint truncates the
// file only when nothing is in flight).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "poison.hpp"
#include "write_set.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// An operation copied out of another commit's write set.
struct pending_op {
    bool tombstone = false;
    byte_buffer payload;
};

// The stored form of a commit's payloads, one per operation in ops order (empty for a
// tombstone), where the database seals them (core/payload_codec.hpp). The engine's commit
// fills it and the WAL record and the segment record both take these same bytes.
struct stored_payloads {
    byte_buffer bytes;
    std::vector<std::size_t> ends;

    void clear() noexcept {
        bytes.clear();
        ends.clear();
    }
    [[nodiscard]] bytes_view at(std::size_t i) const noexcept {
        const std::size_t from = i == 0 ? 0 : ends[i - 1];
        return bytes_view(bytes).subspan(from, ends[i] - from);
    }
};

// Everything a write transaction hands to commit.
struct pending_write {
    write_set ops;  // sealed before commit: files are written in key order
    std::vector<std::pair<std::string, std::uint32_t>> new_collections;  // name, assigned id
    stored_payloads stored;  // encrypted databases: the sealed payloads (engine::commit)
};

class commit_flow {
public:
    // Poisoning stops a group's apply (the rest stay durable: reopen applies them).
    explicit commit_flow(poison_state& poison) : poison_(poison) {}
    commit_flow(const commit_flow&) = delete;
    commit_flow& operator=(const commit_flow&) = delete;

    // A commit in the in-flight list for the life of its commit() call, however it ends.
    class entry {
    public:
        entry(commit_flow& f, std::uint64_t seq, const pending_write& w, std::uint64_t wal_end) : f_(f), seq_(seq) {
            std::lock_guard lock(f_.mutex_);
            f_.in_flight_.push_back({seq, &w, wal_end});
        }
        entry(const entry&) = delete;
        entry& operator=(const entry&) = delete;
        ~entry() {
            std::lock_guard lock(f_.mutex_);
            std::erase_if(f_.in_flight_, [&](const auto& c) { return c.seq == seq_; });
            if (f_.in_flight_.empty()) f_.left_cv_.notify_all();
        }

    private:
        commit_flow& f_;
        std::uint64_t seq_;
    };

    // Returns once the commits a flush covered up to `wal_end` are applied. `covers` is
    // what wal::writer::wait_durable returned: set for the leader of that flush, which
    // applies the group in sequence order with apply(w, seq) and releases it (one thread
    // does the group's work, instead of each committer waking in turn to apply its own).
    template <typename Apply>
    void wait_applied(std::optional<std::uint64_t> covers, std::uint64_t wal_end, const Apply& apply) {
        std::unique_lock lock(mutex_);
        if (covers) apply_durable_group(lock, *covers, apply);
        applied_cv_.wait(lock, [&] { return applied_end_ >= wal_end; });
    }

    // Waits until no commit is in flight (the caller holds the writer lock, so no new one starts).
    void quiesce() {
        std::unique_lock lock(mutex_);
        left_cv_.wait(lock, [&] { return in_flight_.empty(); });
    }

    [[nodiscard]] bool any_in_flight() const {
        std::lock_guard lock(mutex_);
        return !in_flight_.empty();
    }

    // The newest operation an in-flight commit holds for `key`, if any (the writer's
    // reads: a commit it cannot see in the index yet is not published, but it is ahead of
    // this writer in the WAL).
    [[nodiscard]] std::optional<pending_op> in_flight_op(const entity_key& key) const {
        std::lock_guard lock(mutex_);
        // Only the unapplied ones: an applied commit may stay listed until its thread runs
        // again, after later ones already reached the index.
        for (auto it = in_flight_.rbegin(); it != in_flight_.rend() && it->seq > applied_seq_; ++it)
            if (const auto op = it->w->ops.find(key))  // copied: the set ends with its commit() call
                return pending_op{op->tombstone, byte_buffer(op->payload.begin(), op->payload.end())};
        return std::nullopt;
    }

    // Calls f(id, tombstone, payload) for each operation on `coll` of the commits in flight
    // and not yet applied (applied ones are in the indexes, see in_flight_op), oldest first.
    template <typename F>
    void for_each_in_flight_op(std::uint32_t coll, const F& f) const {
        std::lock_guard lock(mutex_);
        for (const auto& [seq, w, end] : in_flight_)
            if (seq > applied_seq_)
                for (auto [it, end] = w->ops.collection(coll); it != end; ++it) {
                    const auto [key, op] = *it;
                    f(key.second, op.tombstone, op.payload);
                }
    }

    // Recovery: everything up to `seq` is applied (before the database is shared).
    void set_recovered(std::uint64_t seq) noexcept { applied_seq_ = seq; }

private:
    // Applies, in sequence order, every in-flight commit a flush covered up to `covers`
    // (called by flush leaders, holding `lock`, one at a time). A later leader may apply
    // an earlier group too if it gets here first. If a commit poisons the engine, the rest
    // stay durable but unapplied: recovery on reopen applies them (the engine already
    // refuses writes), and their committers still return success.
    template <typename Apply>
    void apply_durable_group(std::unique_lock<std::mutex>& lock, std::uint64_t covers, const Apply& apply) {
        applied_cv_.wait(lock, [&] { return !applying_; });
        if (applied_end_ >= covers) return;
        applying_ = true;
        auto& group = apply_group_;
        group.clear();
        try {
            for (const auto& c : in_flight_)
                if (c.seq > applied_seq_ && c.wal_end <= covers) group.push_back(c);
        } catch (const std::bad_alloc&) {  // the commits are durable: reopen applies them
            group.clear();
            poison_.poison("a durable group of commits could not be applied (out of memory); reopen to finish it");
        }
        lock.unlock();
        for (const auto& c : group) {
            if (poison_.poisoned()) break;
            apply(*c.w, c.seq);
            std::lock_guard step(mutex_);
            applied_seq_ = c.seq;  // the next writer now finds it in the index
        }
        lock.lock();
        applied_end_ = std::max(applied_end_, covers);
        applying_ = false;
        applied_cv_.notify_all();
    }

    struct in_flight_commit {
        std::uint64_t seq;
        const pending_write* w;  // lives in the committing thread's commit() call
        std::uint64_t wal_end;   // in wal::writer::appended_end() terms
    };

    poison_state& poison_;
    mutable std::mutex mutex_;  // guards what follows
    // One condition per event, so that each wakes only the threads waiting for it (a
    // wake-up is a context switch, and across cores of a virtual machine an interrupt).
    std::condition_variable applied_cv_;  // a group is applied
    std::condition_variable left_cv_;      // the in-flight list became empty (quiesce)
    std::deque<in_flight_commit> in_flight_;  // appended, not yet applied (in sequence order)
    std::vector<in_flight_commit> apply_group_;  // the applier's, reused
    std::uint64_t applied_end_ = 0;  // the commits up to here are applied (or the engine is poisoned)
    bool applying_ = false;          // a flush leader is applying its group
    std::uint64_t applied_seq_ = 0;  // the newest commit applied to segments and indexes
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
