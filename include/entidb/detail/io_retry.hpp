// entidb/detail/io_retry.hpp — internal: the retry loop behind every read and write.
//
// POSIX read/write calls may transfer fewer bytes than asked (short transfers are
// legal, e.g. on signals, quotas, or counts over 2 GiB) and may fail with EINTR when a
// signal interrupts them before anything was transferred. Both are retried here, in
// one place, so the rule is applied identically everywhere and can be unit-tested with
// a fake system call (tests/unit/backend_test.cpp).
#pragma once

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <type_traits>

namespace entidb {
inline namespace v1 {
namespace detail {

struct io_progress {
    std::size_t done = 0;  // bytes transferred in total
    int error = 0;         // errno of the call that stopped the loop; 0 if none
    [[nodiscard]] bool complete(std::size_t total) const noexcept { return done == total; }
};

// Calls `op(done)` until `total` bytes are transferred. `op` performs one system call
// for the bytes from `done` to `total` and returns what the call returned: a count
// (>= 0), or -1 with errno set. Stops early on an error other than EINTR (reported in
// `error`) or on a zero count (end of file for a read, no progress for a write;
// `error` stays 0 and the caller decides what that means).
template <typename Op>
    requires std::invocable<Op&, std::size_t> &&
             std::convertible_to<std::invoke_result_t<Op&, std::size_t>, long long>
[[nodiscard]] io_progress transfer_fully(std::size_t total, Op&& op) {
    io_progress p;
    while (p.done < total) {
        const long long n = op(p.done);
        if (n < 0) {
            if (errno == EINTR) continue;  // interrupted before transferring anything
            p.error = errno;
            return p;
        }
        if (n == 0) return p;
        p.done += static_cast<std::size_t>(n);
    }
    return p;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
