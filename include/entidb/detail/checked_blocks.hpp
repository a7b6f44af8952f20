// entidb/detail/checked_blocks.hpp — which blocks of an array read from a file have passed
// their check: lets a mapped file be checked a block at a time, when a reader first needs
// the block, instead of all of it at open (index/primary_index_file.hpp).
//
// The array is cut into blocks of `block` elements. ensure(first, last) runs the check of
// every block holding an element of [first, last) that has not passed it yet; the check
// throws if the block is damaged, and then the block stays unchecked (every later read of
// it fails the same way). A passed block is remembered in one bit.
//
// Thread-safety: ensure() may run on many threads at once (readers share an index): the bits
// are atomic, and two threads checking the same block both do the (idempotent) work.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace entidb {
inline namespace v1 {
namespace detail {

class checked_blocks {
public:
    static constexpr std::size_t block = 1024;  // elements per block

    // `check(b)` checks block b (elements [b * block, min(count, (b + 1) * block))).
    checked_blocks(std::size_t count, std::function<void(std::size_t)> check)
        : count_(count),
          blocks_((count + block - 1) / block),
          passed_(std::make_unique<std::atomic<std::uint64_t>[]>((blocks_ + 63) / 64)),
          check_(std::move(check)) {}

    [[nodiscard]] std::size_t blocks() const noexcept { return blocks_; }

    // Checks the blocks holding elements [first, last) that have not passed yet.
    void ensure(std::size_t first, std::size_t last) const {
        for (std::size_t b = first / block, end = std::min(blocks_, (last + block - 1) / block); b < end; ++b)
            if (!passed(b)) run(b);
    }
    // The one-element case lookups take: a bit test once the block has passed.
    void ensure(std::size_t element) const {
        if (const std::size_t b = element / block; b < blocks_ && !passed(b)) run(b);
    }
    void ensure_all() const { ensure(0, count_); }

    [[nodiscard]] bool passed(std::size_t b) const noexcept {
        return (passed_[b / 64].load(std::memory_order_acquire) >> (b % 64) & 1) != 0;
    }
    [[nodiscard]] std::size_t passed_count() const noexcept {
        std::size_t n = 0;
        for (std::size_t b = 0; b < blocks_; ++b) n += passed(b) ? 1 : 0;
        return n;
    }

private:
    void run(std::size_t b) const {
        check_(b);
        passed_[b / 64].fetch_or(std::uint64_t{1} << (b % 64), std::memory_order_acq_rel);
    }

    std::size_t count_;
    std::size_t blocks_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> passed_;
    std::function<void(std::size_t)> check_;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
