// entidb/core/poison.hpp — the engine's "refuses writes until reopened" state.
//
// After a failure that leaves durability unknown (a failed flush, a durable commit that
// could not be applied, an unfinished compaction) the engine refuses every further write
// with errc::needs_reopen, repeating the first reason; recovery on reopen finishes the
// work. Poisoning is never undone.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

class poison_state {
public:
    poison_state() = default;
    poison_state(const poison_state&) = delete;
    poison_state& operator=(const poison_state&) = delete;

    // Refuses further writes; `why` is repeated by every later write attempt (the first
    // reason is kept: the earliest failure is the one worth reporting). Sets the flag even
    // when the reason cannot be copied.
    void poison(std::string_view why) noexcept {
        try {
            std::lock_guard lock(mutex_);
            if (!poisoned_.load()) reason_ = why;
        } catch (...) {
        }
        poisoned_.store(true, std::memory_order_release);
    }

    [[nodiscard]] bool poisoned() const noexcept { return poisoned_.load(std::memory_order_acquire); }

    // Throws errc::needs_reopen, with the reason, once poisoned.
    void ensure_healthy() const {
        if (poisoned()) {
            std::lock_guard lock(mutex_);
            fail(errc::needs_reopen, "the database refuses writes until it is reopened: {}", reason_);
        }
    }

private:
    mutable std::mutex mutex_;  // guards reason_
    std::string reason_;
    std::atomic<bool> poisoned_{false};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
