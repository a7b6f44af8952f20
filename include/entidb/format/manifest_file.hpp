// entidb/format/manifest_file.hpp — the MANIFEST file of a database, plain or sealed.
//
// An unencrypted database's MANIFEST is format/manifest.hpp's encoding (versions 2 and 3),
// unchanged. An encrypted database's seals that whole encoding, so collection and index names
// and definitions, the checkpoint and the schema are not readable without the key:
//     magic "EMFN" | manifest_version u16 = 4 | sealed_len u32 |
//     sealed (the cipher's: nonce | ciphertext of the version 2 or 3 encoding | tag) | crc32 u32
// The sealed bytes are bound to the label "MANIFEST" (crypto/cipher.hpp, blob AAD) and the CRC
// covers every byte before it, so a damaged file is told from a key that does not open it.
// docs/file-format.md has the table.
//
// Contract:
//   encode_manifest_file(m, cipher)        the file's bytes; `cipher` null (or a no_encryption
//                                          policy): the plain encoding.
//   decode_manifest_file(bytes, path, cipher)
//       the manifest. A sealed file without a cipher → errc::bad_key ("encrypted: give its key");
//       a plain file with a cipher → errc::corruption (an encrypted database's MANIFEST is never
//       plain: a plain one was put there); a bad CRC, truncation or a payload that does not
//       authenticate → errc::corruption with the path and offset; otherwise decode_manifest's.
//   is_sealed_manifest(bytes)              whether the bytes carry version 4 (for `inspect`).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "../bytes.hpp"
#include "../crypto/cipher.hpp"
#include "../detail/endian.hpp"
#include "../error.hpp"
#include "crc32.hpp"
#include "manifest.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

inline constexpr std::uint16_t manifest_version_sealed = 4;
inline constexpr std::string_view manifest_seal_label = "MANIFEST";
inline constexpr std::size_t sealed_manifest_header = 4 + 2 + 4;  // magic, version, sealed_len

[[nodiscard]] inline bool is_sealed_manifest(bytes_view in) noexcept {
    return in.size() >= 6 && std::equal(manifest_magic.begin(), manifest_magic.end(), in.begin()) &&
           detail::get_u16(in.data() + 4) == manifest_version_sealed;
}

template <cipher_policy C>
[[nodiscard]] byte_buffer encode_manifest_file(const manifest& m, const C* cipher) {
    if constexpr (!C::encrypts) {
        return encode(m);
    } else {
        if (cipher == nullptr) return encode(m);
        const byte_buffer plain = encode(m);
        byte_buffer out;
        detail::put_bytes(out, manifest_magic);
        detail::put_u16(out, manifest_version_sealed);
        detail::put_u32(out, static_cast<std::uint32_t>(plain.size() + C::overhead));
        cipher->seal_blob(plain, manifest_seal_label, out);
        detail::put_u32(out, crc32(out));
        return out;
    }
}

template <cipher_policy C>
[[nodiscard]] manifest decode_manifest_file(bytes_view in, const std::string& path, const C* cipher) {
    const bool sealed = is_sealed_manifest(in);
    if constexpr (!C::encrypts) {
        if (sealed)
            fail_at(errc::bad_key, {.path = path},
                    "the database is encrypted: open it with its key (a passphrase or a raw key)");
        return decode_manifest(in, path);
    } else {
        if (cipher == nullptr) return decode_manifest_file<no_encryption>(in, path, nullptr);
        if (!sealed)
            fail_at(errc::corruption, {.path = path, .offset = 0},
                    "MANIFEST: an encrypted database's MANIFEST is sealed, this one is not");
        const auto corrupt = [&](std::size_t at, std::string_view what) {
            fail_at(errc::corruption, {.path = path, .offset = at}, "MANIFEST: {}", what);
        };
        if (in.size() < sealed_manifest_header + 4) corrupt(in.size(), "truncated sealed MANIFEST");
        const std::size_t crc_at = in.size() - 4;
        if (crc32(in.first(crc_at)) != detail::get_u32(in.data() + crc_at)) corrupt(crc_at, "checksum mismatch");
        const std::uint32_t len = detail::get_u32(in.data() + 6);
        if (len != crc_at - sealed_manifest_header) corrupt(6, "sealed length does not match the file");
        byte_buffer plain;
        try {
            cipher->open_blob(in.subspan(sealed_manifest_header, len), manifest_seal_label, plain);
        } catch (const error&) {
            corrupt(sealed_manifest_header, "the sealed body does not authenticate");
        }
        return decode_manifest(plain, path + " (sealed body)");
    }
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
