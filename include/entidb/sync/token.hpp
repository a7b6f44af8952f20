// entidb/sync/token.hpp — the sync server's bearer tokens (docs/sync-protocol.md, "Tokens").
//
// Contract:
//   token_claims        what a token grants: one device, one database (tenant), optionally a
//                       list of collections (none: all of them), until `expires` (Unix seconds).
//   allows(claims, c)   whether the claims cover collection c.
//   read_claims(token)  what a token says, unverified (for the device that holds it).
//   token_signer        the server's Ed25519 key pair, kept in a tokens file (needs libsodium):
//     create(file)      a new key pair, written atomically with mode 0600 (only its owner may
//                       read it); a file already there → errc::invalid_argument (its tokens would
//                       stop working), nothing written.
//     open(file)        the key pair. No file → errc::not_found; a file that is not a tokens file
//                       or is damaged → errc::corruption with the path and offset.
//     issue(claims)     a token: "et1." base64url(canonical CBOR of the claims) "." base64url(the
//                       Ed25519 signature of everything before the last dot), no padding.
//     verify(token, now)  the claims of a token this key signed and that has not expired at
//                       `now`; anything else (malformed, another key's, altered, expired) →
//                       sync::refusal "unauthorized" whose message says which, never the token.
//                       The signature check is libsodium's (constant time in the secret data).
//
// Thread-safety: a token_signer's const members may be called from any number of threads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../crypto/cipher.hpp"
#include "../crypto/secret.hpp"
#include "../detail/endian.hpp"
#include "../format/crc32.hpp"
#include "../storage/filesystem.hpp"
#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

struct token_claims {
    device_id device;
    std::string db;
    std::vector<std::string> collections;  // none: every collection
    std::uint64_t expires = 0;             // Unix seconds
    friend bool operator==(const token_claims&, const token_claims&) = default;
};

[[nodiscard]] inline bool allows(const token_claims& c, std::string_view collection) {
    return c.collections.empty() ||
           std::find(c.collections.begin(), c.collections.end(), collection) != c.collections.end();
}

namespace detail {

inline constexpr std::string_view base64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

[[nodiscard]] inline std::string base64url(bytes_view b) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const byte x : b) {
        acc = acc << 8 | x;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(base64url_alphabet[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(base64url_alphabet[(acc << (6 - bits)) & 63]);
    return out;
}

// The bytes of unpadded base64url text; nullopt for any other character, an impossible
// length, or unused bits that are not zero (so every byte string has one encoding).
[[nodiscard]] inline std::optional<byte_buffer> from_base64url(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    byte_buffer out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const auto at = base64url_alphabet.find(c);
        if (at == std::string_view::npos) return std::nullopt;
        acc = (acc << 6 | static_cast<std::uint32_t>(at)) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<byte>(acc >> bits));
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

[[nodiscard]] inline byte_buffer encode_claims(const token_claims& c) {
    check_name(c.db, "token.db");
    for (const auto& name : c.collections) check_name(name, "token.colls");
    return write_message([&](cbor::encoder& e) {
        e.begin_map(c.collections.empty() ? 3 : 4);
        e.text("db").text(c.db);
        e.text("exp").uint(c.expires);
        if (!c.collections.empty()) {
            e.text("colls").begin_array(c.collections.size());
            for (const auto& name : c.collections) e.text(name);
            e.end_array();
        }
        put_id(e, "device", c.device);
        e.end_map();
    });
}

[[nodiscard]] inline token_claims decode_claims(bytes_view b) {
    return read_message(b, "token", [](fields& f) {
        token_claims c;
        c.db = f.name("db");
        c.expires = f.u64("exp");
        if (f.optional("colls") != nullptr)
            for (const auto& v : f.array("colls", max_push_ops)) c.collections.push_back(fields::name_of(v, "token.colls"));
        c.device = f.id16("device");
        return c;
    });
}

inline constexpr std::string_view token_prefix = "et1.";

}  // namespace detail

// What a token says, unverified: how a device learns the database and device id its token is
// for (only the server can check the signature). errc::invalid_argument for something that is
// not a token, naming what is wrong and never echoing it.
[[nodiscard]] inline token_claims read_claims(std::string_view token) {
    const auto dot = token.rfind('.');
    if (!token.starts_with(detail::token_prefix) || dot == std::string_view::npos || dot < detail::token_prefix.size())
        fail(errc::invalid_argument, "not an EntiDB sync token (expected et1.<claims>.<signature>)");
    const auto claims = detail::from_base64url(token.substr(detail::token_prefix.size(), dot - detail::token_prefix.size()));
    if (!claims) fail(errc::invalid_argument, "a sync token whose claims are not base64url");
    return detail::decode_claims(*claims);
}

namespace detail {

inline constexpr std::array<byte, 4> tokens_file_magic = {'E', 'S', 'T', 'K'};
inline constexpr std::uint16_t tokens_file_version = 1;

}  // namespace detail

#if ENTIDB_HAVE_SODIUM

class token_signer {
public:
    static constexpr std::size_t secret_size = crypto_sign_SECRETKEYBYTES;  // the seed, then the public key
    static constexpr std::size_t file_size = 4 + 2 + secret_size + 4;

    [[nodiscard]] static token_signer create(const std::filesystem::path& file) {
        if (path_exists(file))
            fail_at(errc::invalid_argument, {.path = file.string()},
                    "a tokens file is there already; the tokens it signed would stop working");
        entidb::detail::ensure_sodium();
        token_signer s;
        crypto_sign_keypair(s.public_.data(), s.secret_.data());
        const auto header = tokens_header();
        byte_buffer bytes(header.begin(), header.end());
        bytes.insert(bytes.end(), s.secret_.data(), s.secret_.data() + secret_size);
        entidb::detail::put_u32(bytes, crc32(bytes));
        durable_replace(file, bytes, 0600);
        entidb::detail::wipe_bytes(bytes);
        return s;
    }

    [[nodiscard]] static token_signer open(const std::filesystem::path& file) {
        if (!path_exists(file)) fail_at(errc::not_found, {.path = file.string()}, "no tokens file");
        entidb::detail::ensure_sodium();
        byte_buffer bytes = read_file(file);
        const auto damaged = [&](std::size_t offset, std::string_view what) {
            entidb::detail::wipe_bytes(bytes);
            fail_at(errc::corruption, {.path = file.string(), .offset = offset}, "tokens file: {}", what);
        };
        if (bytes.size() != file_size) damaged(0, "not a tokens file (wrong size)");
        const auto header = tokens_header();
        if (!std::equal(header.begin(), header.end(), bytes.begin())) damaged(0, "not a tokens file (bad magic or version)");
        if (crc32(bytes_view(bytes).first(file_size - 4)) != entidb::detail::get_u32(bytes.data() + file_size - 4))
            damaged(file_size - 4, "checksum mismatch");
        token_signer s;
        std::copy_n(bytes.data() + header.size(), secret_size, s.secret_.data());
        entidb::detail::wipe_bytes(bytes);
        if (crypto_sign_ed25519_sk_to_pk(s.public_.data(), s.secret_.data()) != 0)
            fail_at(errc::corruption, {.path = file.string(), .offset = 6}, "tokens file: not an Ed25519 key");
        return s;
    }

    [[nodiscard]] std::string issue(const token_claims& c) const {
        std::string signed_part = std::string(detail::token_prefix) + detail::base64url(detail::encode_claims(c));
        std::array<byte, crypto_sign_BYTES> sig{};
        crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const byte*>(signed_part.data()), signed_part.size(),
                             secret_.data());
        return signed_part + "." + detail::base64url(sig);
    }

    [[nodiscard]] token_claims verify(std::string_view token, std::uint64_t now) const {
        const auto dot = token.rfind('.');
        if (!token.starts_with(detail::token_prefix) || dot == std::string_view::npos || dot < detail::token_prefix.size())
            refuse("not an EntiDB sync token");
        const std::string_view signed_part = token.substr(0, dot);
        const auto claims = detail::from_base64url(signed_part.substr(detail::token_prefix.size()));
        const auto sig = detail::from_base64url(token.substr(dot + 1));
        if (!claims || !sig || sig->size() != crypto_sign_BYTES) refuse("a malformed token");
        if (crypto_sign_verify_detached(sig->data(), reinterpret_cast<const byte*>(signed_part.data()), signed_part.size(),
                                        public_.data()) != 0)
            refuse("a token this server did not sign, or an altered one");
        token_claims c;
        try {
            c = detail::decode_claims(*claims);
        } catch (const error&) {
            refuse("a token whose claims do not decode");
        }
        if (c.expires <= now) refuse("an expired token");
        return c;
    }

private:
    token_signer() : secret_(secret_size) {}

    [[noreturn]] static void refuse(std::string_view why) { throw refusal("unauthorized", std::string(why)); }

    [[nodiscard]] static std::array<byte, 6> tokens_header() {
        std::array<byte, 6> h{};
        std::copy(detail::tokens_file_magic.begin(), detail::tokens_file_magic.end(), h.begin());
        const auto v = entidb::detail::host_le(detail::tokens_file_version);
        std::memcpy(h.data() + 4, &v, 2);
        return h;
    }

    secret_bytes secret_;
    std::array<byte, crypto_sign_PUBLICKEYBYTES> public_{};
};

#endif

}  // namespace sync
}  // namespace v1
}  // namespace entidb
