// entidb/crypto/secret.hpp — key material: owned bytes that are wiped when they go away.
//
// Contract:
//   secret_bytes       owns a byte buffer. Its bytes are wiped (overwritten with zeros in a way
//                      the compiler may not drop) before the buffer is freed: on destruction,
//                      on reset(), and when it is assigned over. Move-only: a copy would be one
//                      more place to forget. There is no operator<< and no fmt formatter: key
//                      material never appears in a message or a log, by construction.
//   passphrase         a passphrase (any bytes); the key-encryption key comes from Argon2id.
//   raw_key            exactly 32 bytes used as the key-encryption key as they are.
//   key_source         one of the two: what a caller gives to open or create an encrypted
//                      database (docs/encryption.md, "Key hierarchy").
//   passphrase_from(s) / raw_key_from(b)  copy the caller's bytes into a secret; a raw key of
//                      another length → errc::invalid_argument naming the length, never the bytes.
//   detail::copy_key(k) another key_source holding the same secret (for an environment that
//                      must own its key while the caller keeps theirs).
//
// The wipe is libsodium's sodium_memzero where <sodium.h> is available (and ENTIDB_NO_SODIUM is
// not defined), else a loop of volatile writes followed by a compiler barrier. It needs nothing
// else from libsodium, so this header (and cipher.hpp, which uses it) builds without it.
//
// Thread-safety: a value type; distinct objects are independent.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>

#include "../bytes.hpp"
#include "../error.hpp"

#if !defined(ENTIDB_NO_SODIUM) && __has_include(<sodium.h>)
#include <sodium.h>
#define ENTIDB_HAVE_SODIUM 1
#else
#define ENTIDB_HAVE_SODIUM 0
#endif

namespace entidb {
inline namespace v1 {

namespace detail {

// Overwrites `b` with zeros; the writes cannot be optimised away as dead stores.
inline void wipe_bytes(mutable_bytes b) noexcept {
    if (b.empty()) return;
#if ENTIDB_HAVE_SODIUM
    sodium_memzero(b.data(), b.size());
#else
    volatile byte* p = b.data();
    for (std::size_t i = 0; i < b.size(); ++i) p[i] = 0;
    asm volatile("" : : "r"(b.data()) : "memory");
#endif
}

// Test hook: called with a secret's buffer after it was wiped and before it is freed, so a
// test can look at the memory while it is still the program's. Null outside tests.
inline thread_local void (*secret_wipe_observer)(bytes_view wiped) noexcept = nullptr;

}  // namespace detail

class secret_bytes {
public:
    secret_bytes() noexcept = default;
    // Keys and passphrases are small: a larger "secret" is a caller's mistake.
    static constexpr std::size_t max_size = std::size_t{1} << 20;

    // `n` zero bytes, to be filled in place (a key derivation writes straight into them).
    // errc::too_large above max_size.
    explicit secret_bytes(std::size_t n) : data_(allocate(n)), size_(n) {}
    [[nodiscard]] static secret_bytes copy_of(bytes_view b) {
        secret_bytes s(b.size());
        // Copied through the secret's own size (the one a view could not exceed anyway), so
        // that no optimiser sees a copy larger than the allocation it writes into.
        std::copy_n(b.data(), s.size_, s.data_.get());
        return s;
    }

private:
    [[nodiscard]] static byte* allocate(std::size_t n) {
        if (n > max_size) fail(errc::too_large, "a secret of {} bytes (at most {})", n, max_size);
        return n == 0 ? nullptr : new byte[n]();
    }

public:

    secret_bytes(const secret_bytes&) = delete;
    secret_bytes& operator=(const secret_bytes&) = delete;
    secret_bytes(secret_bytes&& o) noexcept : data_(std::move(o.data_)), size_(std::exchange(o.size_, 0)) {}
    secret_bytes& operator=(secret_bytes&& o) noexcept {
        if (this != &o) {
            reset();
            data_ = std::move(o.data_);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~secret_bytes() { reset(); }

    // Wipes and frees the bytes; empty afterwards.
    void reset() noexcept {
        if (!data_) return;
        const mutable_bytes bytes{data_.get(), size_};
        detail::wipe_bytes(bytes);
        if (detail::secret_wipe_observer != nullptr) detail::secret_wipe_observer(bytes);
        data_.reset();
        size_ = 0;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] bytes_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] mutable_bytes mutable_view() noexcept { return {data_.get(), size_}; }
    [[nodiscard]] const byte* data() const noexcept { return data_.get(); }
    [[nodiscard]] byte* data() noexcept { return data_.get(); }

private:
    std::unique_ptr<byte[]> data_{};
    std::size_t size_ = 0;
};

// The 32-byte key every payload is sealed with (docs/encryption.md, "Key hierarchy").
using data_key = secret_bytes;
inline constexpr std::size_t key_bytes = 32;

struct passphrase {
    secret_bytes bytes;
};

struct raw_key {
    secret_bytes bytes;  // exactly key_bytes
};

using key_source = std::variant<passphrase, raw_key>;

[[nodiscard]] inline passphrase passphrase_from(std::string_view s) { return passphrase{secret_bytes::copy_of(as_bytes(s))}; }

[[nodiscard]] inline raw_key raw_key_from(bytes_view b) {
    if (b.size() != key_bytes) fail(errc::invalid_argument, "a raw key must be exactly {} bytes, not {}", key_bytes, b.size());
    return raw_key{secret_bytes::copy_of(b)};
}

namespace detail {

// False for every T: the static_assert of an operation that is declared without libsodium
// (so code naming it parses) but cannot be used (a template, instantiated only where called).
template <typename T>
inline constexpr bool sodium_required = false;

// A second key_source holding the same secret: an environment owns its key, and the operations
// that open a database for the caller (restore, verify, salvage) are lent the caller's.
[[nodiscard]] inline key_source copy_key(const key_source& k) {
    if (const auto* raw = std::get_if<raw_key>(&k)) return raw_key{secret_bytes::copy_of(raw->bytes.view())};
    return passphrase{secret_bytes::copy_of(std::get<passphrase>(k).bytes.view())};
}

}  // namespace detail

}  // namespace v1
}  // namespace entidb
