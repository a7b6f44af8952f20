// entidb/core/scan_gate.hpp — scans in storage order against compactions.
//
// A scan in storage order (txn/snapshot.hpp, storage_range) walks the segment files; a
// compaction relocates index entries and retires segments, which such a scan could not
// follow. The gate counts both: a scan registers (try_begin) unless a compaction runs, and
// a compaction (exclusion) waits, for a bounded time, until the open scans have ended.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class scan_gate {
public:
    scan_gate() = default;
    scan_gate(const scan_gate&) = delete;
    scan_gate& operator=(const scan_gate&) = delete;

    // Registers a scan. False, registering nothing, while a compaction holds an exclusion.
    bool try_begin() noexcept {
        scans_.fetch_add(1, std::memory_order_seq_cst);  // pairs with exclusion's wait
        if (compactions_.load(std::memory_order_seq_cst) == 0) return true;
        end();
        return false;
    }
    // Ends a scan try_begin registered.
    void end() noexcept {
        scans_.fetch_sub(1, std::memory_order_seq_cst);
        // A compaction that registered before this load waits under scan_end_mutex_: taking
        // it orders the notification after the compaction's check. One that registers after
        // it sees the count already lowered (both sides are sequentially consistent).
        if (compactions_.load(std::memory_order_seq_cst) != 0) {
            std::lock_guard lock(scan_end_mutex_);
            scan_ended_.notify_all();
        }
    }

    // Held by a compaction: new scans are refused (they walk the index instead), and the
    // compaction starts once the open ones have ended. It waits at most `wait` for them
    // (a scan is never forced to end, and one this thread holds could never end while it
    // waits), then fails with errc::busy, excluding nothing.
    class exclusion {
    public:
        exclusion(scan_gate& g, std::chrono::milliseconds wait) : g_(g) {
            g_.compactions_.fetch_add(1, std::memory_order_seq_cst);
            std::uint64_t open = 0;
            {
                std::unique_lock lock(g_.scan_end_mutex_);
                if (g_.scan_ended_.wait_for(lock, wait, [&] {
                        open = g_.scans_.load(std::memory_order_seq_cst);
                        return open == 0;
                    }))
                    return;
            }
            g_.compactions_.fetch_sub(1, std::memory_order_release);
            fail(errc::busy,
                 "{} scan(s) in storage order still open after waiting {} ms (an unfinished range from "
                 "scan(collection, in_storage_order), or a C cursor from entidb_scan_open_ordered that is not "
                 "exhausted or closed, on this or another thread); close them and compact again. Nothing was "
                 "compacted",
                 open, wait.count());
        }
        exclusion(const exclusion&) = delete;
        exclusion& operator=(const exclusion&) = delete;
        ~exclusion() { g_.compactions_.fetch_sub(1, std::memory_order_release); }

    private:
        scan_gate& g_;
    };

private:
    std::atomic<std::uint64_t> scans_{0}, compactions_{0};
    std::mutex scan_end_mutex_;  // with scan_ended_: a compaction's bounded wait for open scans
    std::condition_variable scan_ended_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
