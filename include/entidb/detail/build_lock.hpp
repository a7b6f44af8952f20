// entidb/detail/build_lock.hpp — a shared lock on a structure that may have a bulk build
// pending.
//
// Indexes filled at open append without sorting and finish the build at the first read
// (index/primary_index.hpp, index/postings.hpp). That read must not sort under a
// shared lock, so it trades it for the exclusive one, finishes the build, and takes the
// shared lock again.
#pragma once

#include <mutex>
#include <shared_mutex>

#include "shared_gate.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// `pending()` says whether a build waits; `finish()` completes it (called exclusively).
template <typename Pending, typename Finish>
[[nodiscard]] std::shared_lock<shared_gate> shared_lock_built(shared_gate& m, Pending pending, Finish finish) {
    std::shared_lock lock(m);
    while (pending()) {
        lock.unlock();
        {
            std::unique_lock writer(m);
            if (pending()) finish();
        }
        lock.lock();
    }
    return lock;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
