// entidb/detail/prefetch.hpp — a hint to start loading memory that will be read soon.
//
// GCC counts __builtin_prefetch as free of side effects, so it finds a function that only
// prefetches pure and removes the call (and the prefetch with it) when nothing uses a
// result; the empty volatile asm, which consumes the address, keeps the hint in place.
#pragma once

namespace entidb {
inline namespace v1 {
namespace detail {

inline void prefetch_for_read(const void* p) noexcept {
    __builtin_prefetch(p);
    asm volatile("" : : "r"(p));
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
