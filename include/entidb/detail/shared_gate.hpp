// entidb/detail/shared_gate.hpp — a reader-writer lock whose readers do not share a
// cache line.
//
// With std::shared_mutex every reader writes the lock's one counter, so two threads doing
// point reads bounce that cache line between their cores on every lock and unlock; and
// glibc's rwlock lets a steady stream of readers starve the writer. Here each reader
// counts itself in one of `slot_count` counters, each on its own cache line (threads are
// dealt slots in turn, so they rarely share one), and checks a writer flag that only
// changes when a writer comes. A writer raises the flag, which turns new readers away,
// and waits for every counter to drain: writers go first, and a read costs one write to
// a line its own core already holds.
//
// Meets the standard's SharedMutex requirements used here (lock/unlock, lock_shared/
// unlock_shared): std::shared_lock and std::unique_lock work with it. A shared hold must
// be released on the thread that took it. idle() says whether no reader is inside, for
// callers that only count readers (a pin) and never lock exclusively.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace entidb {
inline namespace v1 {
namespace detail {

class shared_gate {
public:
    static constexpr std::size_t slot_count = 16;

    shared_gate() = default;
    shared_gate(const shared_gate&) = delete;
    shared_gate& operator=(const shared_gate&) = delete;

    void lock_shared() noexcept {
        auto& n = slots_[thread_slot()].readers;
        for (;;) {
            // seq_cst on both sides: either the writer sees this count or this reader sees
            // the writer's flag (never neither).
            n.fetch_add(1, std::memory_order_seq_cst);
            if (writer_.load(std::memory_order_seq_cst) == 0) return;
            n.fetch_sub(1, std::memory_order_release);
            wait_for_writer();
        }
    }
    [[nodiscard]] bool try_lock_shared() noexcept {
        auto& n = slots_[thread_slot()].readers;
        n.fetch_add(1, std::memory_order_seq_cst);
        if (writer_.load(std::memory_order_seq_cst) == 0) return true;
        n.fetch_sub(1, std::memory_order_release);
        return false;
    }
    void unlock_shared() noexcept { slots_[thread_slot()].readers.fetch_sub(1, std::memory_order_release); }

    void lock() {
        writers_.lock();
        writer_.store(1, std::memory_order_seq_cst);
        for (const auto& s : slots_)
            for (unsigned spins = 0; s.readers.load(std::memory_order_acquire) != 0; ++spins) back_off(spins);
    }
    void unlock() noexcept {
        writer_.store(0, std::memory_order_release);
        writer_.notify_all();
        writers_.unlock();
    }

    // No reader inside (seq_cst: pairs with the readers' increments).
    [[nodiscard]] bool idle() const noexcept {
        for (const auto& s : slots_)
            if (s.readers.load(std::memory_order_seq_cst) != 0) return false;
        return true;
    }

private:
    struct alignas(64) slot {
        std::atomic<std::uint32_t> readers{0};
    };

    // Writers hold the gate briefly (an index update, a table swap): spin a little first.
    void wait_for_writer() const noexcept {
        for (unsigned spins = 0; spins < 128; ++spins)
            if (writer_.load(std::memory_order_acquire) == 0) return;
        writer_.wait(1, std::memory_order_acquire);
    }
    static void back_off(unsigned spins) noexcept {
        if (spins > 64) std::this_thread::yield();
    }
    [[nodiscard]] static std::size_t thread_slot() noexcept {
        static std::atomic<std::size_t> next{0};
        thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % slot_count;
        return mine;
    }

    std::array<slot, slot_count> slots_{};
    alignas(64) std::atomic<std::uint32_t> writer_{0};
    std::mutex writers_;  // one writer at a time
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
