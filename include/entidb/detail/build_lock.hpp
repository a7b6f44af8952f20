// entidb/detail/build_lock.hpp — a shared lock on a structure that may have a bulk build
// pending.
//
// Indexes filled at open append without sorting and finish the build at the first read
// (index/primary_index.hpp, index/postings.hpp). That read must not sort under a
// shared lock, so it trades it for the exclusive one, finishes the build, and takes the
// shared lock again. Where changes also hold a mutex of their own before the gate (the
// primary index: its merges read the structure without the gate), finishing a build is a
// change too and takes that mutex first.
#pragma once

#include <mutex>
#include <shared_mutex>

#include "shared_gate.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// `pending()` says whether a build waits; `finish()` completes it (called holding
// `changes`, then `m` exclusively).
template <typename ChangeMutex, typename Pending, typename Finish>
[[nodiscard]] std::shared_lock<shared_gate> shared_lock_built(shared_gate& m, ChangeMutex& changes, Pending pending,
                                                              Finish finish) {
    std::shared_lock lock(m);
    while (pending()) {
        lock.unlock();
        {
            const std::lock_guard changing(changes);
            const std::unique_lock writer(m);
            if (pending()) finish();
        }
        lock.lock();
    }
    return lock;
}

// The same where changes hold nothing but the gate.
template <typename Pending, typename Finish>
[[nodiscard]] std::shared_lock<shared_gate> shared_lock_built(shared_gate& m, Pending pending, Finish finish) {
    struct no_mutex {
        void lock() noexcept {}
        void unlock() noexcept {}
    } none;
    return shared_lock_built(m, none, pending, finish);
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
