// entidb/crypto/cipher.hpp — the cipher policy of a traits type (docs/encryption.md).
//
// Contract:
//   cipher_policy<C>      any cipher: `C::encrypts` (bool) and `C::name` (a string_view).
//   cipher_of_t<Traits>   the cipher a traits type names (`using cipher = ...;`), or no_encryption;
//                         encrypts_v<Traits> says whether its databases are encrypted.
//   no_encryption         the policy of an unencrypted database: encrypts == false, name "none";
//                         the files are exactly those of a database without a cipher.
//   cipher_id             the ciphers a KEY file can name (docs/file-format.md, "KEY"):
//                         xchacha20poly1305 = 1, aes256gcm = 2; cipher_name(id) its name,
//                         cipher_from_name(text) the reverse (nullopt for an unknown name).
//   encrypting_cipher<C>  a cipher_policy with encrypts == true that also has
//       C::overhead                              bytes a sealed payload has more than its plaintext
//       C(const data_key&, cipher_id)            the 32-byte data key (the cipher keeps a copy) and
//                                                the cipher the database's KEY file names: one
//                                                that is not this cipher's → errc::bad_key
//                                                naming both (nothing is read with the wrong one)
//       c.seal(plain, place, out)                APPENDS the sealed payload to out
//       c.open(sealed, place, out)               REPLACES out's contents with the plaintext;
//                                                a payload that does not authenticate (damaged,
//                                                or sealed for another place or key) →
//                                                errc::corruption "payload authentication failed
//                                                (wrong place, or damaged)"; out is left empty.
//                                                The caller adds file and offset.
//       c.seal_blob(plain, label, out)           the same for data that is not a record (the
//       c.open_blob(sealed, label, out)          MANIFEST body, backup headers): label is the AAD
//     `out` must not overlap the input.
//   record_place          what a record's ciphertext is bound to: its additional authenticated
//                         data, so a record moved to another collection, id, sequence or kind
//                         does not open.
//   detail::record_aad / detail::blob_aad  the canonical AAD encodings every cipher uses:
//       record: 0x01, u32 collection, 16 id bytes, u64 sequence, u8 kind (little-endian; 30 bytes)
//       blob:   0x02, the label's bytes
//     The first byte separates the two domains: a record's AAD never equals a blob's.
//
// Nothing here needs libsodium (a traits type can name no_encryption without it), but for
// detail::ensure_sodium and detail::fail_authentication, the ciphers' shared helpers, which
// exist only where libsodium does.
//
// Thread-safety: the types are values; a cipher's const members may be called concurrently.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "secret.hpp"

namespace entidb {
inline namespace v1 {

struct record_place {
    std::uint32_t collection;  // collection id
    entity_id id;
    std::uint64_t sequence;    // commit sequence of the record
    std::uint8_t kind;         // 1 put (the only kind with a payload today); others reserved
};

enum class cipher_id : std::uint8_t { xchacha20poly1305 = 1, aes256gcm = 2 };

[[nodiscard]] constexpr std::string_view cipher_name(cipher_id id) noexcept {
    return id == cipher_id::aes256gcm ? "aes256gcm" : "xchacha20poly1305";
}
[[nodiscard]] constexpr std::optional<cipher_id> cipher_from_name(std::string_view name) noexcept {
    for (const cipher_id id : {cipher_id::xchacha20poly1305, cipher_id::aes256gcm})
        if (cipher_name(id) == name) return id;
    return std::nullopt;
}

template <typename C>
concept cipher_policy = requires {
    { C::encrypts } -> std::convertible_to<bool>;
    { C::name } -> std::convertible_to<std::string_view>;
};

template <typename C>
concept encrypting_cipher = cipher_policy<C> && C::encrypts &&
    std::constructible_from<C, const data_key&, cipher_id> &&
    requires(const C c, bytes_view in, const record_place& place, std::string_view label, byte_buffer& out) {
        { C::overhead } -> std::convertible_to<std::size_t>;
        c.seal(in, place, out);
        c.open(in, place, out);
        c.seal_blob(in, label, out);
        c.open_blob(in, label, out);
    };

struct no_encryption {
    static constexpr bool encrypts = false;
    static constexpr std::string_view name = "none";
};

static_assert(cipher_policy<no_encryption>);

// The cipher a traits type names (`using cipher = ...;`), or no_encryption.
template <typename Traits>
struct cipher_of {
    using type = no_encryption;
};
template <typename Traits>
    requires requires { typename Traits::cipher; }
struct cipher_of<Traits> {
    using type = typename Traits::cipher;
};
template <typename Traits>
using cipher_of_t = typename cipher_of<Traits>::type;

// Whether a traits type's database is encrypted.
template <typename Traits>
inline constexpr bool encrypts_v = cipher_of_t<Traits>::encrypts;
static_assert(!encrypting_cipher<no_encryption>);

namespace detail {

// A cipher fixed to `mine` asked to open a database whose KEY file names `found`.
inline void require_cipher(cipher_id found, cipher_id mine) {
    if (found != mine)
        fail(errc::bad_key, "the database is encrypted with {}, but these traits' cipher is {} (entidb::any_cipher, as in "
             "entidb::encrypted_file_storage, opens either)", cipher_name(found), cipher_name(mine));
}

#if ENTIDB_HAVE_SODIUM
// libsodium's one-time initialisation (thread-safe: a function-local static).
inline void ensure_sodium() {
    static const int status = sodium_init();
    if (status < 0) fail(errc::io_error, "libsodium failed to initialise");
}

[[noreturn]] inline void fail_authentication() {
    fail(errc::corruption, "payload authentication failed (wrong place, or damaged)");
}
#endif

inline constexpr byte record_aad_domain = 0x01;
inline constexpr byte blob_aad_domain = 0x02;
inline constexpr std::size_t record_aad_size = 1 + 4 + entity_id::size + 8 + 1;

[[nodiscard]] inline std::array<byte, record_aad_size> record_aad(const record_place& p) noexcept {
    std::array<byte, record_aad_size> a{};
    byte* w = a.data();
    *w++ = record_aad_domain;
    const auto le32 = host_le(p.collection);
    std::memcpy(w, &le32, 4);
    w += 4;
    std::memcpy(w, p.id.bytes().data(), entity_id::size);
    w += entity_id::size;
    const auto le64 = host_le(p.sequence);
    std::memcpy(w, &le64, 8);
    w += 8;
    *w = p.kind;
    return a;
}

// The label's AAD: the domain byte, then the label. Built into `aad`, reused by the caller.
inline void blob_aad(std::string_view label, byte_buffer& aad) {
    aad.clear();
    aad.push_back(blob_aad_domain);
    const bytes_view l = as_bytes(label);
    aad.insert(aad.end(), l.begin(), l.end());
}

// The four entry points of encrypting_cipher, for a Cipher that derives from this and has one
// sealing and one opening code, `seal_with(plain, aad, out)` and `open_with(sealed, aad, out)`
// (friends of this class if private): every cipher binds records and blobs the same way.
template <typename Cipher>
class aead_entry_points {
public:
    void seal(bytes_view plain, const record_place& place, byte_buffer& out) const {
        const auto aad = record_aad(place);
        self().seal_with(plain, aad, out);
    }
    void open(bytes_view sealed, const record_place& place, byte_buffer& out) const {
        const auto aad = record_aad(place);
        self().open_with(sealed, aad, out);
    }
    void seal_blob(bytes_view plain, std::string_view label, byte_buffer& out) const {
        byte_buffer aad;
        blob_aad(label, aad);
        self().seal_with(plain, aad, out);
    }
    void open_blob(bytes_view sealed, std::string_view label, byte_buffer& out) const {
        byte_buffer aad;
        blob_aad(label, aad);
        self().open_with(sealed, aad, out);
    }

private:
    [[nodiscard]] const Cipher& self() const noexcept { return static_cast<const Cipher&>(*this); }
};

}  // namespace detail

}  // namespace v1
}  // namespace entidb
