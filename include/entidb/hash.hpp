// entidb/hash.hpp — fast non-cryptographic hashing (XXH3) for hash indexes and content hashes.
//
// Contract: `hash64(data, seed)` is XXH3-64 and `hash128(data, seed)` is XXH3-128
// returned as 16 bytes in xxHash's canonical (big-endian) order, the same digest
// `xxhsum -H2` prints. Values are stable across platforms and builds, so they may be
// persisted. Not cryptographic: never use them where an adversary picks the input
// and a collision matters. `xxh3_hasher` computes the same values incrementally.
// xxHash is compiled inline into the caller (detail/xxhash.hpp): no link dependency.
//
// Thread-safety: the functions are pure; an `xxh3_hasher` is a plain value to be used
// by one thread at a time (copying it forks the running hash).
#pragma once

#include <array>
#include <cstdint>

#include "bytes.hpp"
#include "detail/xxhash.hpp"

namespace entidb {
inline namespace v1 {

using hash128_bytes = std::array<byte, 16>;

namespace detail {
[[nodiscard]] inline hash128_bytes canonical_bytes(XXH128_hash_t h) noexcept {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    hash128_bytes out;
    static_assert(sizeof(c.digest) == out.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = c.digest[i];
    return out;
}
}  // namespace detail

[[nodiscard]] inline std::uint64_t hash64(bytes_view data, std::uint64_t seed = 0) noexcept {
    return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

[[nodiscard]] inline hash128_bytes hash128(bytes_view data, std::uint64_t seed = 0) noexcept {
    return detail::canonical_bytes(XXH3_128bits_withSeed(data.data(), data.size(), seed));
}

// Streaming XXH3: feed bytes in any number of pieces; digest64()/digest128() equal
// hash64/hash128 of the concatenation with the same seed. Copyable; about 600 bytes
// with 64-byte alignment, so prefer keeping it on the stack or in an owning object.
class xxh3_hasher {
public:
    explicit xxh3_hasher(std::uint64_t seed = 0) noexcept { reset(seed); }

    void reset(std::uint64_t seed = 0) noexcept {
        // A fresh state must have seed == 0 before a _withSeed reset (xxhash.h, XXH3_INITSTATE).
        XXH3_INITSTATE(&state_);
        // One reset serves both digests: XXH3-64 and XXH3-128 share the streaming state.
        (void)XXH3_128bits_reset_withSeed(&state_, seed);
    }

    void update(bytes_view data) noexcept {
        if (data.empty()) return;  // xxHash asserts on a null pointer even with length 0
        (void)XXH3_128bits_update(&state_, data.data(), data.size());
    }

    [[nodiscard]] std::uint64_t digest64() const noexcept { return XXH3_64bits_digest(&state_); }
    [[nodiscard]] hash128_bytes digest128() const noexcept {
        return detail::canonical_bytes(XXH3_128bits_digest(&state_));
    }

private:
    XXH3_state_t state_;
};

}  // namespace v1
}  // namespace entidb
