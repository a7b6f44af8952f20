// entidb/crypto/aes256gcm.hpp — AES-256-GCM, the fast cipher for CPUs with AES-NI.
//
// Contract: `aes256gcm` models encrypting_cipher (cipher.hpp) with libsodium's
// crypto_aead_aes256gcm (AES-NI and CLMUL). A sealed payload is
//     salt (16 bytes) | counter (8, little-endian) | ciphertext (as long as the plaintext) | tag (16)
// so overhead == 40, as XChaCha20-Poly1305's. GCM's nonce is 96 bits: too short to draw at random
// for every seal under one long-lived key, and a counter persisted beside the data could be rolled
// back by a crash. So no payload is sealed under the data key itself: each cipher object (one per
// open) draws a random 16-byte salt and seals under the subkey BLAKE2b(key = data key, salt,
// personal = "entidb.aes256gcm"), numbering its seals from 0 (the nonce is the counter, then four
// zero bytes). Two objects share a subkey only if they drew the same 128 random bits; a subkey
// never sees a nonce twice. Opening derives the subkey of the payload's salt: this object's own,
// or one kept in a cache (salts written by earlier opens; at most `cache_limit` subkeys, the
// cache emptied when it is full, each subkey's AES state wiped when it goes).
//
// Why not the default: XChaCha20-Poly1305 (docs/encryption.md, "Why XChaCha20-Poly1305") runs
// in constant time on every CPU and needs no subkeys; AES-256-GCM is 2–3× faster where the CPU
// has AES-NI and CLMUL, and refuses to run elsewhere (libsodium has no constant-time software
// AES): constructing it there → errc::invalid_argument naming the instructions.
//
// libsodium is optional to the library: without <sodium.h> (or with ENTIDB_NO_SODIUM) this
// header parses, and using the type stops the build with a static_assert naming the package.
//
// Errors: open/open_blob → errc::corruption for a payload that does not authenticate or is
// shorter than the overhead (the bytes are never echoed); a database of another cipher →
// errc::bad_key.
//
// Thread-safety: the const members may be called from any number of threads at once (the
// counter is atomic; the subkey cache is behind a shared mutex, taken only for other opens' salts).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../error.hpp"
#include "cipher.hpp"
#include "secret.hpp"

namespace entidb {
inline namespace v1 {

#if ENTIDB_HAVE_SODIUM

class aes256gcm : public detail::aead_entry_points<aes256gcm> {
public:
    static constexpr bool encrypts = true;
    static constexpr cipher_id id = cipher_id::aes256gcm;
    static constexpr std::string_view name = cipher_name(id);
    static constexpr std::size_t salt_size = 16;
    static constexpr std::size_t counter_size = 8;
    static constexpr std::size_t tag_size = crypto_aead_aes256gcm_ABYTES;
    static constexpr std::size_t overhead = salt_size + counter_size + tag_size;
    static constexpr std::size_t cache_limit = 1024;  // other opens' subkeys kept (about 0.5 KiB each)
    static_assert(crypto_aead_aes256gcm_KEYBYTES == key_bytes && crypto_aead_aes256gcm_NPUBBYTES == 12);

    // Whether this CPU runs libsodium's AES-256-GCM (AES-NI and CLMUL).
    [[nodiscard]] static bool available() {
        detail::ensure_sodium();
        return crypto_aead_aes256gcm_is_available() != 0;
    }
    static void require_available() {
        if (!available())
            fail(errc::invalid_argument, "aes256gcm needs a CPU with the AES-NI and CLMUL instructions, and this one "
                 "lacks them: use xchacha20poly1305");
    }

    // errc::invalid_argument for a key that is not key_bytes long or a CPU without AES-NI;
    // errc::bad_key for a database encrypted with another cipher (`of`, its KEY file's).
    explicit aes256gcm(const data_key& key, cipher_id of = id) : key_(secret_bytes::copy_of(key.view())) {
        detail::require_cipher(of, id);
        if (key.size() != key_bytes) fail(errc::invalid_argument, "a data key must be {} bytes, not {}", key_bytes, key.size());
        require_available();
        randombytes_buf(salt_.data(), salt_.size());
        own_ = derive(salt_);
    }

    // seal, open, seal_blob, open_blob: detail::aead_entry_points, over seal_with and open_with.

private:
    friend class detail::aead_entry_points<aes256gcm>;

    using salt_type = std::array<byte, salt_size>;

    // A subkey's expanded AES state (libsodium wants it 16-byte aligned: operator new honours
    // the type's alignment), wiped when it goes.
    struct subkey_state {
        crypto_aead_aes256gcm_state state;
        ~subkey_state() { sodium_memzero(&state, sizeof state); }
    };
    using state_ptr = std::unique_ptr<subkey_state>;

    struct salt_hash {
        std::size_t operator()(const salt_type& s) const noexcept {
            std::uint64_t h;  // the salt is random: its first bytes are as good a hash as any
            std::memcpy(&h, s.data(), sizeof h);
            return static_cast<std::size_t>(h);
        }
    };

    [[nodiscard]] state_ptr derive(const salt_type& salt) const {
        static constexpr std::array<byte, 16> personal = {'e', 'n', 't', 'i', 'd', 'b', '.', 'a',
                                                          'e', 's', '2', '5', '6', 'g', 'c', 'm'};
        std::array<byte, key_bytes> subkey{};
        crypto_generichash_blake2b_salt_personal(subkey.data(), subkey.size(), nullptr, 0, key_.data(), key_.size(),
                                                 salt.data(), personal.data());
        auto s = std::make_unique<subkey_state>();
        crypto_aead_aes256gcm_beforenm(&s->state, subkey.data());
        detail::wipe_bytes(subkey);
        return s;
    }

    void seal_with(bytes_view plain, bytes_view aad, byte_buffer& out) const {
        const std::size_t at = out.size();
        detail::reserve_more(out, overhead + plain.size());
        out.resize(at + overhead + plain.size());
        byte* w = out.data() + at;
        std::memcpy(w, salt_.data(), salt_size);
        std::array<byte, crypto_aead_aes256gcm_NPUBBYTES> nonce{};
        const auto n = detail::host_le(seals_.fetch_add(1, std::memory_order_relaxed));
        std::memcpy(nonce.data(), &n, sizeof n);
        std::memcpy(w + salt_size, &n, sizeof n);
        unsigned long long written = 0;
        crypto_aead_aes256gcm_encrypt_afternm(w + salt_size + counter_size, &written, plain.data(), plain.size(),
                                              aad.data(), aad.size(), nullptr, nonce.data(), &own_->state);
    }

    void open_with(bytes_view sealed, bytes_view aad, byte_buffer& out) const {
        out.clear();
        if (sealed.size() < overhead) detail::fail_authentication();
        salt_type salt;
        std::memcpy(salt.data(), sealed.data(), salt_size);
        std::array<byte, crypto_aead_aes256gcm_NPUBBYTES> nonce{};
        std::memcpy(nonce.data(), sealed.data() + salt_size, counter_size);
        // The cache may be emptied by another thread once the gate is released, so the state
        // is used under it unless it is this object's own.
        const auto decrypt = [&](const crypto_aead_aes256gcm_state& st) {
            out.resize(sealed.size() - overhead);
            unsigned long long written = 0;
            return crypto_aead_aes256gcm_decrypt_afternm(out.data(), &written, nullptr,
                                                         sealed.data() + salt_size + counter_size,
                                                         sealed.size() - salt_size - counter_size, aad.data(),
                                                         aad.size(), nonce.data(), &st);
        };
        const int status = salt == salt_ ? decrypt(own_->state) : with_cached(salt, decrypt);
        if (status != 0) {
            out.clear();
            detail::fail_authentication();
        }
    }

    // Calls f(state) for `salt`'s subkey while holding the cache's shared gate, deriving and
    // caching the subkey first if it is not there.
    template <typename F>
    int with_cached(const salt_type& salt, F&& f) const {
        {
            std::shared_lock read(cache_gate_);
            if (auto it = cache_.find(salt); it != cache_.end()) return f(it->second->state);
        }
        state_ptr fresh = derive(salt);  // outside the gate: BLAKE2b and the key expansion take a microsecond
        {
            std::unique_lock write(cache_gate_);
            if (cache_.size() >= cache_limit) cache_.clear();
            cache_.try_emplace(salt, std::move(fresh));
        }
        std::shared_lock read(cache_gate_);
        if (auto it = cache_.find(salt); it != cache_.end()) return f(it->second->state);
        return f(derive(salt)->state);  // emptied again in between: use a subkey of our own
    }

    secret_bytes key_;
    salt_type salt_{};                                    // random, drawn once
    state_ptr own_;                                       // the subkey this object seals under
    mutable std::atomic<std::uint64_t> seals_{0};         // const members seal from any thread
    mutable std::shared_mutex cache_gate_;
    mutable std::unordered_map<salt_type, state_ptr, salt_hash> cache_;
};

static_assert(encrypting_cipher<aes256gcm>);

#else  // no libsodium

namespace detail {
template <typename T>
inline constexpr bool aes_sodium_missing = false;

template <typename Unused = void>
struct aes256gcm_without_sodium {
    static_assert(aes_sodium_missing<Unused>,
                  "entidb: aes256gcm needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and "
                  "build with it");
};
}  // namespace detail

// Naming it is fine; using it instantiates the class and stops the build with the message above.
using aes256gcm = detail::aes256gcm_without_sodium<>;

#endif

}  // namespace v1
}  // namespace entidb
