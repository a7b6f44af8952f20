// entidb/crypto/any_cipher.hpp — the cipher a database was created with, whichever it is.
//
// Contract: `any_cipher` models encrypting_cipher (cipher.hpp). Constructed with the cipher_id
// its database's KEY file names, it seals and opens with that cipher: xchacha20poly1305 or
// aes256gcm (both 40 bytes of overhead, so the record framing is the same). It is the cipher of
// entidb::encrypted_file_storage, whose environment's `cipher` chooses for a new database; an
// existing one keeps the cipher it was created with. Traits that name one cipher
// (`using cipher = entidb::aes256gcm;`) open only databases of that cipher (errc::bad_key
// otherwise) and carry no branch.
//
// Without libsodium the header parses, and using the type stops the build with a static_assert
// naming the package.
//
// Thread-safety: as the cipher it holds (const members from any thread).
#pragma once

#include <memory>
#include <string_view>

#include "../bytes.hpp"
#include "aes256gcm.hpp"
#include "cipher.hpp"
#include "secret.hpp"
#include "xchacha20poly1305.hpp"

namespace entidb {
inline namespace v1 {

#if ENTIDB_HAVE_SODIUM

class any_cipher {
public:
    static constexpr bool encrypts = true;
    static constexpr std::string_view name = "any";
    static constexpr std::size_t overhead = xchacha20poly1305::overhead;
    static_assert(aes256gcm::overhead == overhead, "the record framing must not depend on the cipher");

    // The constructors' errors are the chosen cipher's.
    explicit any_cipher(const data_key& key, cipher_id of = cipher_id::xchacha20poly1305) : id_(of) {
        if (of == cipher_id::aes256gcm) {
            aes_ = std::make_unique<const aes256gcm>(key, of);
        } else {
            xchacha_ = std::make_unique<const xchacha20poly1305>(key, of);
        }
    }

    [[nodiscard]] cipher_id id() const noexcept { return id_; }

    void seal(bytes_view plain, const record_place& place, byte_buffer& out) const {
        with([&](const auto& c) { c.seal(plain, place, out); });
    }
    void open(bytes_view sealed, const record_place& place, byte_buffer& out) const {
        with([&](const auto& c) { c.open(sealed, place, out); });
    }
    void seal_blob(bytes_view plain, std::string_view label, byte_buffer& out) const {
        with([&](const auto& c) { c.seal_blob(plain, label, out); });
    }
    void open_blob(bytes_view sealed, std::string_view label, byte_buffer& out) const {
        with([&](const auto& c) { c.open_blob(sealed, label, out); });
    }

private:
    template <typename F>
    void with(F&& f) const {
        if (aes_) {
            f(*aes_);
        } else {
            f(*xchacha_);
        }
    }

    cipher_id id_;
    std::unique_ptr<const xchacha20poly1305> xchacha_;
    std::unique_ptr<const aes256gcm> aes_;
};

static_assert(encrypting_cipher<any_cipher>);

#else  // no libsodium

namespace detail {
template <typename T>
inline constexpr bool any_cipher_sodium_missing = false;

template <typename Unused = void>
struct any_cipher_without_sodium {
    static_assert(any_cipher_sodium_missing<Unused>,
                  "entidb: any_cipher (encrypted databases) needs libsodium: install Debian's libsodium-dev "
                  "(scripts/setup.sh does) and build with it");
};
}  // namespace detail

// Naming it is fine; using it instantiates the class and stops the build with the message above.
using any_cipher = detail::any_cipher_without_sodium<>;

#endif

}  // namespace v1
}  // namespace entidb
