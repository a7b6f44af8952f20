// entidb/directory/key_file.hpp — the KEY file of an encrypted database directory (<db>/KEY).
//
// The file holds the database's random data key wrapped (sealed with XChaCha20-Poly1305) by a
// key-encryption key (KEK): Argon2id of a passphrase with the stored parameters and salt, or a
// raw 32-byte key used as it is. The layout, byte for byte, is in docs/file-format.md ("KEY")
// and docs/encryption.md. It lives in the directory layer (not crypto/) because it replaces the
// file with storage/'s durable_replace and checks it with format/'s crc32, both above crypto/.
//
// Contract (dir: the database directory; the caller holds its LOCK, so nothing else writes KEY):
//   create_key_file(dir, key, kdf, cipher)  a new random data key, wrapped by `key`, written to
//                                    KEY atomically (KEY.tmp, fsync, rename, directory fsync)
//                                    with the cipher its data is sealed with (cipher.hpp's
//                                    cipher_id; aes256gcm on a CPU without AES-NI →
//                                    errc::invalid_argument before anything is written).
//                                    KEY already there → errc::invalid_argument (its data key
//                                    would be lost); an empty passphrase or kdf parameters
//                                    outside libsodium's limits → errc::invalid_argument.
//   open_key_file(dir, key)          the data key. No KEY → errc::not_found; a damaged file (bad
//                                    magic, checksum, length, fields) → errc::corruption with the
//                                    path and offset; a newer version → errc::unsupported_version;
//                                    a key that does not unwrap the data key (wrong passphrase,
//                                    wrong raw key, a raw key for a passphrase file or the reverse)
//                                    → errc::bad_key, never corruption: the checksum has already
//                                    told a damaged file from a wrong key.
//   rekey(dir, old, new, kdf)        re-wraps the same data key (same cipher) under `new` (new salt, new nonce,
//                                    `kdf` for a passphrase): errc::bad_key if `old` does not open
//                                    it; errc::locked while the database is open (it takes LOCK). One durable_replace: a crash leaves KEY opening with
//                                    exactly one of the two keys (a stale KEY.tmp is ignored).
//   detail::unwrap_data_key(bytes, path, key)  open_key_file of a KEY file's bytes read elsewhere
//                                    (the copy an encrypted backup carries); the same errors.
//   cipher_from_key_file<C>(bytes, path, key)  the cipher C over the data key those bytes wrap,
//                                    told which cipher they name (errc::bad_key from a C fixed
//                                    to another); what every encrypted open, backup and salvage uses.
//   has_key_file(dir)                whether dir/KEY exists.
//   describe_key_file(dir)           cipher, KEK kind and kdf parameters, for `inspect`; never
//                                    key material. Errors as open_key_file's, less bad_key.
// Key material is wiped after use: the KEK and every plaintext copy of the data key
// (secret_bytes, or detail::wipe_bytes on a buffer). Messages never contain key bytes.
//
// Without libsodium, has_key_file and describe_key_file work; create_key_file, open_key_file
// and rekey fail to compile with a static_assert naming the package.
//
// Thread-safety: functions of the files only; callers serialise writers (the LOCK).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <variant>

#include "../bytes.hpp"
#include "../crypto/cipher.hpp"
#include "../crypto/secret.hpp"
#include "../crypto/aes256gcm.hpp"
#include "../crypto/xchacha20poly1305.hpp"
#include "../detail/endian.hpp"
#include "../error.hpp"
#include "../format/crc32.hpp"
#include "../storage/filesystem.hpp"
#include "lock.hpp"

namespace entidb {
inline namespace v1 {

// Argon2id cost. The defaults are libsodium's "moderate" (3 passes over 256 MiB): about 0.5 s
// on the reference machine (docs/encryption.md, "Key hierarchy"), paid once per open.
struct kdf_params {
    std::uint64_t opslimit = 3;
    std::uint64_t memlimit = std::uint64_t{256} << 20;

    // The cheapest parameters libsodium accepts: for tests only, never for a real passphrase.
    [[nodiscard]] static constexpr kdf_params fast() noexcept { return {1, 8192}; }
};

struct key_file_info {
    std::string_view cipher;  // "xchacha20poly1305" or "aes256gcm"
    std::string_view kek;     // "argon2id" (a passphrase) or "raw"
    kdf_params kdf;           // {0, 0} for a raw key
};

namespace detail {

inline constexpr std::string_view key_file_name = "KEY";
inline constexpr std::array<byte, 4> key_file_magic = {'E', 'K', 'E', 'Y'};
// Version 1 names XChaCha20-Poly1305; version 2 (the same layout) is written only for AES-256-GCM,
// so that a build reading only version 1 refuses such a database as a newer format
// (errc::unsupported_version) rather than as a damaged file.
inline constexpr std::uint16_t key_file_version = 2;  // the newest this build reads
[[nodiscard]] constexpr std::uint16_t key_file_version_for(cipher_id c) noexcept {
    return c == cipher_id::aes256gcm ? 2 : 1;
}
inline constexpr byte kek_argon2id = 1;
inline constexpr byte kek_raw = 2;
inline constexpr std::size_t key_salt_size = 16;

// Offsets of the fields (docs/file-format.md, "KEY").
inline constexpr std::size_t key_at_version = 4;
inline constexpr std::size_t key_at_cipher = 6;
inline constexpr std::size_t key_at_kek = 7;
inline constexpr std::size_t key_at_opslimit = 8;
inline constexpr std::size_t key_at_memlimit = 16;
inline constexpr std::size_t key_at_salt = 24;
inline constexpr std::size_t key_at_wrapped = 40;            // the header before it is the AAD
inline constexpr std::size_t key_wrapped_size = 24 + key_bytes + 16;
inline constexpr std::size_t key_at_crc = key_at_wrapped + key_wrapped_size;  // 112
inline constexpr std::size_t key_file_size = key_at_crc + 4;                  // 116

[[nodiscard]] inline std::filesystem::path key_file_path(const std::filesystem::path& dir) {
    return dir / key_file_name;
}

// The fields of a KEY file whose checksum, version, length and values were checked.
struct key_file_fields {
    cipher_id cipher = cipher_id::xchacha20poly1305;
    byte kek = kek_argon2id;
    kdf_params kdf{};
    std::array<byte, key_salt_size> salt{};
};

[[nodiscard]] inline std::string_view kek_name(byte kek) noexcept { return kek == kek_raw ? "raw" : "argon2id"; }

[[nodiscard]] inline byte kek_kind_of(const key_source& key) noexcept {
    return std::holds_alternative<raw_key>(key) ? kek_raw : kek_argon2id;
}

// libsodium's bounds for Argon2id, stated here so parsing needs no libsodium: a stored value
// outside them is a damaged file, a requested one an invalid argument.
inline constexpr std::uint64_t argon2id_opslimit_min = 1;
inline constexpr std::uint64_t argon2id_opslimit_max = 0xFFFFFFFFu;
inline constexpr std::uint64_t argon2id_memlimit_min = 8192;
inline constexpr std::uint64_t argon2id_memlimit_max = std::uint64_t{4} << 40;  // 4 TiB: libsodium's on 64-bit

[[nodiscard]] inline bool kdf_in_range(const kdf_params& k) noexcept {
    return k.opslimit >= argon2id_opslimit_min && k.opslimit <= argon2id_opslimit_max &&
           k.memlimit >= argon2id_memlimit_min && k.memlimit <= argon2id_memlimit_max;
}

// Everything before the wrapped key: the AAD of the wrap, so no field can be changed without
// the data key failing to unwrap.
[[nodiscard]] inline byte_buffer encode_key_header(const key_file_fields& f) {
    byte_buffer h;
    h.reserve(key_file_size);
    put_bytes(h, key_file_magic);
    put_u16(h, key_file_version_for(f.cipher));
    put_u8(h, static_cast<byte>(f.cipher));
    put_u8(h, f.kek);
    put_u64(h, f.kdf.opslimit);
    put_u64(h, f.kdf.memlimit);
    put_bytes(h, f.salt);
    return h;
}

// Parses and checks a KEY file's bytes; `path` names it in errors.
struct parsed_key_file {
    key_file_fields fields;
    bytes_view header;   // the AAD
    bytes_view wrapped;  // nonce | ciphertext | tag
};

[[nodiscard]] inline parsed_key_file parse_key_file(bytes_view b, const std::string& path) {
    const auto damaged = [&](std::size_t offset, std::string_view what) {
        fail_at(errc::corruption, {.path = path, .offset = offset}, "KEY file: {}", what);
    };
    if (b.size() < key_at_version + 2 + 4 || !std::equal(key_file_magic.begin(), key_file_magic.end(), b.begin()))
        damaged(0, "not a KEY file (bad magic or too short)");
    // The checksum first: a damaged version field is damage, not a newer format.
    const std::size_t crc_at = b.size() - 4;
    if (crc32(b.first(crc_at)) != get_u32(b.data() + crc_at)) damaged(crc_at, "checksum mismatch");
    const std::uint16_t version = get_u16(b.data() + key_at_version);
    if (version == 0 || version > key_file_version)
        fail_at(errc::unsupported_version, {.path = path, .offset = key_at_version},
                "KEY file version {}; this build reads versions 1 to {}", version, key_file_version);
    if (b.size() != key_file_size) damaged(b.size(), "a KEY file is 116 bytes");

    parsed_key_file p;
    if (b[key_at_cipher] != static_cast<byte>(cipher_id::xchacha20poly1305) &&
        b[key_at_cipher] != static_cast<byte>(cipher_id::aes256gcm))
        damaged(key_at_cipher, "unknown cipher id");
    if (version != key_file_version_for(static_cast<cipher_id>(b[key_at_cipher])))
        damaged(key_at_cipher, "the cipher does not go with the file's version");
    p.fields.cipher = static_cast<cipher_id>(b[key_at_cipher]);
    p.fields.kek = b[key_at_kek];
    p.fields.kdf = {get_u64(b.data() + key_at_opslimit), get_u64(b.data() + key_at_memlimit)};
    std::copy_n(b.data() + key_at_salt, key_salt_size, p.fields.salt.begin());
    if (p.fields.kek != kek_argon2id && p.fields.kek != kek_raw) damaged(key_at_kek, "unknown key-encryption kind");
    if (p.fields.kek == kek_argon2id && !kdf_in_range(p.fields.kdf))
        damaged(key_at_opslimit, "Argon2id parameters outside libsodium's limits");
    p.header = b.first(key_at_wrapped);
    p.wrapped = b.subspan(key_at_wrapped, key_wrapped_size);
    return p;
}

// Reads dir/KEY; errc::not_found when it is absent.
[[nodiscard]] inline byte_buffer read_key_file(const std::filesystem::path& dir) {
    const std::filesystem::path path = key_file_path(dir);
    if (!path_exists(path)) fail_at(errc::not_found, {.path = path.string()}, "no KEY file: the database is not encrypted");
    return read_file(path);
}

}  // namespace detail

[[nodiscard]] inline bool has_key_file(const std::filesystem::path& dir) {
    return path_exists(detail::key_file_path(dir));
}

[[nodiscard]] inline key_file_info describe_key_file(const std::filesystem::path& dir) {
    const byte_buffer bytes = detail::read_key_file(dir);
    const auto p = detail::parse_key_file(bytes, detail::key_file_path(dir).string());
    const bool raw = p.fields.kek == detail::kek_raw;
    return {cipher_name(p.fields.cipher), detail::kek_name(p.fields.kek), raw ? kdf_params{0, 0} : p.fields.kdf};
}

#if ENTIDB_HAVE_SODIUM

namespace detail {

// The KEK for `key` under `f`'s parameters: Argon2id of a passphrase, or the raw key itself.
// A key of the other kind than the file's → errc::bad_key (it could never unwrap it).
[[nodiscard]] inline secret_bytes derive_kek(const key_source& key, const key_file_fields& f) {
    ensure_sodium();
    if (kek_kind_of(key) != f.kek)
        fail(errc::bad_key, "the database's key is a {}, but a {} was given",
             f.kek == kek_raw ? "raw key" : "passphrase", f.kek == kek_raw ? "passphrase" : "raw key");
    if (const auto* raw = std::get_if<raw_key>(&key)) {
        if (raw->bytes.size() != key_bytes) fail(errc::invalid_argument, "a raw key must be exactly {} bytes", key_bytes);
        return secret_bytes::copy_of(raw->bytes.view());
    }
    const secret_bytes& pass = std::get<passphrase>(key).bytes;
    secret_bytes kek(key_bytes);
    static constexpr char nothing = 0;  // libsodium wants a pointer even for an empty passphrase
    const char* pw = pass.empty() ? &nothing : reinterpret_cast<const char*>(pass.data());
    if (crypto_pwhash(kek.data(), kek.size(), pw, pass.size(), f.salt.data(), f.kdf.opslimit,
                      static_cast<std::size_t>(f.kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
        fail(errc::io_error, "Argon2id could not get the {} bytes of memory its parameters ask for", f.kdf.memlimit);
    return kek;
}

// A complete KEY file wrapping `dk` under `key`: fresh salt, fresh nonce. create_key_file and
// rekey both write what this returns (and tests use it to stage an interrupted rekey).
[[nodiscard]] inline byte_buffer encode_key_file(const data_key& dk, const key_source& key, const kdf_params& kdf,
                                                cipher_id cipher = cipher_id::xchacha20poly1305) {
    ensure_sodium();
    key_file_fields f;
    f.cipher = cipher;
    f.kek = kek_kind_of(key);
    if (f.kek == kek_argon2id) {
        if (std::get<passphrase>(key).bytes.empty()) fail(errc::invalid_argument, "an empty passphrase protects nothing");
        if (!kdf_in_range(kdf))
            fail(errc::invalid_argument, "Argon2id parameters opslimit {} and memlimit {} are outside libsodium's limits",
                 kdf.opslimit, kdf.memlimit);
        f.kdf = kdf;
        randombytes_buf(f.salt.data(), f.salt.size());
    } else {
        f.kdf = {0, 0};
    }
    const secret_bytes kek = derive_kek(key, f);
    const byte_buffer header = encode_key_header(f);
    byte_buffer out = header;  // the sealed key is appended to a copy: the header stays valid as the AAD
    xchacha20poly1305::seal_with_key(kek.view(), dk.view(), header, out);
    put_u32(out, crc32(out));
    return out;
}

}  // namespace detail

[[nodiscard]] inline data_key create_key_file(const std::filesystem::path& dir, const key_source& key,
                                              const kdf_params& kdf = {},
                                              cipher_id cipher = cipher_id::xchacha20poly1305) {
    const std::filesystem::path path = detail::key_file_path(dir);
    if (path_exists(path))
        fail_at(errc::invalid_argument, {.path = path.string()}, "a KEY file exists already; its data key would be lost");
    detail::ensure_sodium();
    if (cipher == cipher_id::aes256gcm) aes256gcm::require_available();  // before the KEY names it
    data_key dk(key_bytes);
    randombytes_buf(dk.data(), dk.size());
    durable_replace(path, detail::encode_key_file(dk, key, kdf, cipher));
    return dk;
}

namespace detail {

// The data key a KEY file's bytes wrap (the file itself, or the copy a backup carries); `path`
// names them in errors, which are open_key_file's.
[[nodiscard]] inline data_key unwrap_data_key(bytes_view key_file, const std::string& path, const key_source& key) {
    const auto p = parse_key_file(key_file, path);
    const secret_bytes kek = derive_kek(key, p.fields);
    byte_buffer plain;
    try {
        xchacha20poly1305::open_with_key(kek.view(), p.wrapped, p.header, plain);
    } catch (const error&) {
        // The checksum matched, so the file is as written: the key is the wrong one.
        fail(errc::bad_key, "the key does not open this database's KEY file");
    }
    data_key dk = secret_bytes::copy_of(plain);
    wipe_bytes(plain);
    return dk;
}

}  // namespace detail

[[nodiscard]] inline data_key open_key_file(const std::filesystem::path& dir, const key_source& key) {
    return detail::unwrap_data_key(detail::read_key_file(dir), detail::key_file_path(dir).string(), key);
}

template <encrypting_cipher C>
[[nodiscard]] std::shared_ptr<const C> cipher_from_key_file(bytes_view key_file, const std::string& path,
                                                            const key_source& key) {
    const cipher_id named = detail::parse_key_file(key_file, path).fields.cipher;
    return std::make_shared<const C>(detail::unwrap_data_key(key_file, path, key), named);
}

inline void rekey(const std::filesystem::path& dir, const key_source& old_key, const key_source& new_key,
                  const kdf_params& kdf = {}) {
    // Not while the database is open: its LOCK, taken without creating anything.
    const auto lock = directory_lock::acquire_existing(dir);
    const byte_buffer bytes = detail::read_key_file(dir);
    const std::string path = detail::key_file_path(dir).string();
    const data_key dk = detail::unwrap_data_key(bytes, path, old_key);
    const cipher_id cipher = detail::parse_key_file(bytes, path).fields.cipher;
    durable_replace(detail::key_file_path(dir), detail::encode_key_file(dk, new_key, kdf, cipher));
}

#else  // no libsodium

namespace detail {
template <typename T>
inline constexpr bool key_file_without_sodium = false;
#define ENTIDB_KEY_FILE_NEEDS_SODIUM                                                                          \
    "entidb: the KEY file needs libsodium: install Debian's libsodium-dev (scripts/setup.sh does) and build " \
    "with it"
}  // namespace detail

template <typename Unused = void>
data_key create_key_file(const std::filesystem::path&, const key_source&, const kdf_params& = {},
                         cipher_id = cipher_id::xchacha20poly1305) {
    static_assert(detail::key_file_without_sodium<Unused>, ENTIDB_KEY_FILE_NEEDS_SODIUM);
    return {};
}
template <typename Unused = void>
data_key open_key_file(const std::filesystem::path&, const key_source&) {
    static_assert(detail::key_file_without_sodium<Unused>, ENTIDB_KEY_FILE_NEEDS_SODIUM);
    return {};
}
template <typename Unused = void>
void rekey(const std::filesystem::path&, const key_source&, const key_source&, const kdf_params& = {}) {
    static_assert(detail::key_file_without_sodium<Unused>, ENTIDB_KEY_FILE_NEEDS_SODIUM);
}
#undef ENTIDB_KEY_FILE_NEEDS_SODIUM

#endif

}  // namespace v1
}  // namespace entidb
