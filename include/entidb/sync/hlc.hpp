// entidb/sync/hlc.hpp — hybrid logical clock timestamps for sync (docs/sync-protocol.md, "Clocks").
//
// Contract:
//   hlc                 a timestamp: 48 bits of physical time (milliseconds since the Unix epoch)
//                       and a 16-bit logical counter, packed in one u64 (physical << 16 | logical)
//                       so that comparing the u64s orders the timestamps. hlc::pack/physical/
//                       logical convert.
//   hybrid_clock<Now>   a clock over a physical clock `Now` (a callable returning milliseconds
//                       since the epoch; system_milliseconds by default, a fake in tests):
//     tick()            the timestamp of a local event: greater than every timestamp this clock
//                       gave or observed before, and at least the physical time.
//     observe(remote)   takes a timestamp received from another node into account, so that later
//                       ticks are greater than it. A remote timestamp more than `max_drift` ahead
//                       of the physical clock → errc::invalid_argument (a peer with a wrong clock
//                       must not drag every later timestamp into its future), the clock unchanged.
//     last()            the last timestamp given or observed.
//   The logical counter resets whenever the physical part moves; when it would overflow (65,536
//   events within one millisecond) the physical part is advanced by one instead, so ticks keep
//   growing without waiting.
//
// Thread-safety: hybrid_clock is not synchronised; callers serialise (the sync client holds it
// under its own lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

struct hlc {
    static constexpr std::uint64_t physical_bits = 48;
    static constexpr std::uint64_t logical_bits = 16;
    static constexpr std::uint64_t max_physical = (std::uint64_t{1} << physical_bits) - 1;
    static constexpr std::uint64_t max_logical = (std::uint64_t{1} << logical_bits) - 1;

    [[nodiscard]] static constexpr std::uint64_t pack(std::uint64_t physical_ms, std::uint64_t logical) noexcept {
        return (physical_ms & max_physical) << logical_bits | (logical & max_logical);
    }
    [[nodiscard]] static constexpr std::uint64_t physical(std::uint64_t t) noexcept { return t >> logical_bits; }
    [[nodiscard]] static constexpr std::uint64_t logical(std::uint64_t t) noexcept { return t & max_logical; }
};

// Milliseconds since the Unix epoch from the system clock.
struct system_milliseconds {
    [[nodiscard]] std::uint64_t operator()() const {
        const auto since = std::chrono::system_clock::now().time_since_epoch();
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(since).count());
    }
};

template <typename Now = system_milliseconds>
class hybrid_clock {
public:
    static constexpr std::uint64_t default_max_drift_ms = 60 * 60 * 1000;  // an hour

    explicit hybrid_clock(Now now = {}, std::uint64_t max_drift_ms = default_max_drift_ms)
        : now_(std::move(now)), max_drift_ms_(max_drift_ms) {}

    [[nodiscard]] std::uint64_t tick() {
        last_ = after(last_, physical_now());
        return last_;
    }

    void observe(std::uint64_t remote) {
        const std::uint64_t pt = physical_now();
        if (hlc::physical(remote) > pt + max_drift_ms_)
            fail(errc::invalid_argument, "a timestamp {} ms ahead of this clock (at most {} ms are accepted)",
                 hlc::physical(remote) - pt, max_drift_ms_);
        if (remote > last_) last_ = remote;
    }

    [[nodiscard]] std::uint64_t last() const noexcept { return last_; }

private:
    [[nodiscard]] std::uint64_t physical_now() const { return now_() & hlc::max_physical; }

    // The least timestamp above `prev` whose physical part is at least `pt`.
    [[nodiscard]] static std::uint64_t after(std::uint64_t prev, std::uint64_t pt) noexcept {
        if (pt > hlc::physical(prev)) return hlc::pack(pt, 0);
        if (hlc::logical(prev) < hlc::max_logical) return prev + 1;
        return hlc::pack(hlc::physical(prev) + 1, 0);  // the counter is full: move the physical part
    }

    Now now_;
    std::uint64_t max_drift_ms_;
    std::uint64_t last_ = 0;
};

}  // namespace sync
}  // namespace v1
}  // namespace entidb
