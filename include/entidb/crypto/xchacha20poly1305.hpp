// entidb/crypto/xchacha20poly1305.hpp — the authenticated cipher of encrypted databases.
//
// Contract: `xchacha20poly1305` models encrypting_cipher (cipher.hpp) with libsodium's
// crypto_aead_xchacha20poly1305_ietf. A sealed payload is
//     nonce (24 bytes, random: randombytes_buf) | ciphertext (as long as the plaintext) | tag (16)
// so overhead == 40. The nonce is never reused and never persisted: each cipher object draws 16
// random bytes when it is made (once per open) and numbers its seals after them (an 8-byte
// counter in memory), so no two seals under one key share a nonce unless two objects drew the
// same 128 random bits, and there is no nonce state that a crash could lose or roll back
// (docs/encryption.md, "Why XChaCha20-Poly1305"). Drawing 24 random bytes per seal would cost
// a getrandom system call each (about 1 µs, more than the sealing). seal_with_key (the KEY
// file) draws a whole random nonce. Records are bound to their record_place, blobs to their
// label (cipher.hpp's canonical AAD).
//
// libsodium is optional to the library. Without <sodium.h> (or with ENTIDB_NO_SODIUM defined)
// this header still parses, and using the type (a traits type whose cipher it is, a
// constructor call, a member) fails to compile with a static_assert naming the package.
//
// Errors: open/open_blob → errc::corruption for a payload that does not authenticate or is
// shorter than the overhead (the bytes are never echoed); libsodium failing to initialise →
// errc::io_error.
//
// Thread-safety: the const members may be called from any number of threads at once
// (randombytes_buf is thread-safe once sodium_init has run, which the constructor ensures).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "../bytes.hpp"
#include "../error.hpp"
#include "../detail/endian.hpp"
#include "cipher.hpp"
#include "secret.hpp"

namespace entidb {
inline namespace v1 {

#if ENTIDB_HAVE_SODIUM

class xchacha20poly1305 : public detail::aead_entry_points<xchacha20poly1305> {
public:
    static constexpr bool encrypts = true;
    static constexpr cipher_id id = cipher_id::xchacha20poly1305;
    static constexpr std::string_view name = cipher_name(id);
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    static constexpr std::size_t overhead = nonce_size + tag_size;
    static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == key_bytes);

    // errc::invalid_argument for a key that is not key_bytes long (its length named, not its
    // bytes); errc::bad_key for a database encrypted with another cipher (`of`, its KEY file's).
    explicit xchacha20poly1305(const data_key& key, cipher_id of = id) : key_(secret_bytes::copy_of(key.view())) {
        detail::require_cipher(of, id);
        if (key.size() != key_bytes) fail(errc::invalid_argument, "a data key must be {} bytes, not {}", key_bytes, key.size());
        detail::ensure_sodium();
        randombytes_buf(prefix_.data(), prefix_.size());
    }

    // seal, open, seal_blob, open_blob: detail::aead_entry_points, over seal_with and open_with.

    // The one sealing and opening code every entry point above uses; exposed for the key file,
    // which seals the data key under a key-encryption key with its header as the AAD.
    static void seal_with_key(bytes_view key, bytes_view plain, bytes_view aad, byte_buffer& out) {
        std::array<byte, nonce_size> nonce{};
        randombytes_buf(nonce.data(), nonce.size());
        seal_with_nonce(key, nonce, plain, aad, out);
    }
    static void open_with_key(bytes_view key, bytes_view sealed, bytes_view aad, byte_buffer& out) {
        out.clear();
        if (sealed.size() < overhead) detail::fail_authentication();
        out.resize(sealed.size() - overhead);
        unsigned long long written = 0;
        const int status = crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &written, nullptr, sealed.data() + nonce_size, sealed.size() - nonce_size, aad.data(),
            aad.size(), sealed.data(), key.data());
        if (status != 0) {
            out.clear();
            detail::fail_authentication();
        }
    }

private:
    friend class detail::aead_entry_points<xchacha20poly1305>;

    static void seal_with_nonce(bytes_view key, const std::array<byte, nonce_size>& nonce, bytes_view plain,
                                bytes_view aad, byte_buffer& out) {
        const std::size_t at = out.size();
        detail::reserve_more(out, overhead + plain.size());
        out.resize(at + overhead + plain.size());
        std::memcpy(out.data() + at, nonce.data(), nonce_size);
        unsigned long long written = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + at + nonce_size, &written, plain.data(), plain.size(),
                                                   aad.data(), aad.size(), nullptr, nonce.data(), key.data());
    }
    // This object's next nonce: its random prefix, then the seal's number.
    [[nodiscard]] std::array<byte, nonce_size> next_nonce() const noexcept {
        std::array<byte, nonce_size> nonce{};
        std::memcpy(nonce.data(), prefix_.data(), prefix_.size());
        const auto n = detail::host_le(seals_.fetch_add(1, std::memory_order_relaxed));
        std::memcpy(nonce.data() + prefix_.size(), &n, sizeof n);
        return nonce;
    }
    void seal_with(bytes_view plain, bytes_view aad, byte_buffer& out) const {
        seal_with_nonce(key_.view(), next_nonce(), plain, aad, out);
    }
    void open_with(bytes_view sealed, bytes_view aad, byte_buffer& out) const { open_with_key(key_.view(), sealed, aad, out); }

    secret_bytes key_;
    std::array<byte, 16> prefix_{};                       // random, drawn once
    mutable std::atomic<std::uint64_t> seals_{0};         // const members seal from any thread
};

static_assert(encrypting_cipher<xchacha20poly1305>);

#else  // no libsodium

namespace detail {
template <typename T>
inline constexpr bool sodium_missing = false;

template <typename Unused = void>
struct xchacha20poly1305_without_sodium {
    static_assert(sodium_missing<Unused>,
                  "entidb: xchacha20poly1305 needs libsodium: install Debian's libsodium-dev (scripts/setup.sh "
                  "does) and build with it");
};
}  // namespace detail

// Naming it is fine; using it instantiates the class and stops the build with the message above.
using xchacha20poly1305 = detail::xchacha20poly1305_without_sodium<>;

#endif

}  // namespace v1
}  // namespace entidb
