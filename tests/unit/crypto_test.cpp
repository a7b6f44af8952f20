// Tests for the encryption layer's bottom (docs/encryption.md): secret_bytes, the ciphers
// (XChaCha20-Poly1305 and AES-256-GCM, each test of a cipher run for both; any_cipher) (sealing bound to a record's place or a blob's label) and
// the KEY file (create, open, wrong keys, damage, rekey and an interrupted rekey). Built only
// where libsodium is found. Argon2id's cost is not measured here (kdf_params::fast()).
#include <entidb/crypto/aes256gcm.hpp>
#include <entidb/crypto/any_cipher.hpp>
#include <entidb/crypto/cipher.hpp>
#include <entidb/crypto/secret.hpp>
#include <entidb/crypto/xchacha20poly1305.hpp>
#include <entidb/directory/key_file.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_errors.hpp"
#include "test_support.hpp"

using entidb::byte;
using entidb::byte_buffer;
using entidb::bytes_view;
using entidb::errc;
using test_support::code_of;

namespace {

entidb::data_key key_of(byte fill) {
    entidb::data_key k(entidb::key_bytes);
    std::fill(k.data(), k.data() + k.size(), fill);
    return k;
}

entidb::record_place place_a() {
    std::array<byte, 16> id{};
    for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<byte>(i + 1);
    return {7, entidb::entity_id(id), 42, 1};
}

byte_buffer text(std::string_view s) {
    const bytes_view b = entidb::as_bytes(s);
    return {b.begin(), b.end()};
}

entidb::key_source pass(std::string_view s) { return entidb::passphrase_from(s); }
entidb::key_source raw(byte fill) {
    const std::array<byte, 32> k = [&] {
        std::array<byte, 32> a{};
        a.fill(fill);
        return a;
    }();
    return entidb::raw_key_from(k);
}

byte_buffer read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const std::filesystem::path& p, bytes_view b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The error a call throws (it must throw one).
entidb::error error_of(auto&& f) {
    try {
        f();
    } catch (const entidb::error& e) {
        return e;
    }
    FAIL("no error thrown");
    return entidb::error(errc::ok, "");
}

const auto fast = entidb::kdf_params::fast();

}  // namespace

TEMPLATE_TEST_CASE("sealing a record appends nonce, ciphertext and tag; opening gives the plaintext back", "",
                   entidb::xchacha20poly1305, entidb::aes256gcm) {
    const TestType c(key_of(3));
    STATIC_REQUIRE(TestType::overhead == 40);
    STATIC_REQUIRE(entidb::encrypting_cipher<TestType>);
    STATIC_REQUIRE(TestType::name == entidb::cipher_name(TestType::id));
    for (const std::string_view plain : {std::string_view{}, std::string_view{"x"}, std::string_view{"a longer payload, 32+ bytes long."}}) {
        byte_buffer out = text("prefix");
        c.seal(entidb::as_bytes(plain), place_a(), out);
        REQUIRE(out.size() == 6 + plain.size() + TestType::overhead);
        CHECK(std::string_view(reinterpret_cast<const char*>(out.data()), 6) == "prefix");  // appended
        byte_buffer back = text("replaced");
        c.open(bytes_view(out).subspan(6), place_a(), back);
        CHECK(entidb::as_chars(back) == plain);
    }
    // Never the same nonce: one object numbers its seals after a random prefix (AES-256-GCM: a
    // random salt, its subkey's) of its own, and another object under the same key draws another.
    byte_buffer one, two, other;
    c.seal(entidb::as_bytes("same"), place_a(), one);
    c.seal(entidb::as_bytes("same"), place_a(), two);
    CHECK(one != two);
    CHECK(std::equal(one.begin(), one.begin() + 16, two.begin()));       // the prefix
    CHECK_FALSE(std::equal(one.begin() + 16, one.begin() + 24, two.begin() + 16));  // the number
    const TestType c2(key_of(3));
    c2.seal(entidb::as_bytes("same"), place_a(), other);
    CHECK_FALSE(std::equal(one.begin(), one.begin() + 16, other.begin()));
    byte_buffer back;
    c.open(other, place_a(), back);  // the same key opens either
    CHECK(entidb::as_chars(back) == "same");
}

TEMPLATE_TEST_CASE("a record opened at another place, or damaged anywhere, is a corruption error", "",
                   entidb::xchacha20poly1305, entidb::aes256gcm) {
    const TestType c(key_of(3));
    byte_buffer sealed;
    c.seal(entidb::as_bytes("payload"), place_a(), sealed);
    byte_buffer out;
    const auto open_at = [&](const entidb::record_place& p, bytes_view s) { return code_of([&] { c.open(s, p, out); }); };
    REQUIRE(open_at(place_a(), sealed) == errc::ok);

    auto p = place_a();
    p.collection += 1;
    CHECK(open_at(p, sealed) == errc::corruption);
    p = place_a();
    auto id = p.id.bytes();
    id[15] ^= 1;
    p.id = entidb::entity_id(id);
    CHECK(open_at(p, sealed) == errc::corruption);
    p = place_a();
    p.sequence += 1;
    CHECK(open_at(p, sealed) == errc::corruption);
    p = place_a();
    p.kind = 2;
    CHECK(open_at(p, sealed) == errc::corruption);
    CHECK(out.empty());  // nothing unauthenticated is left behind

    for (std::size_t i = 0; i < sealed.size(); ++i) {
        byte_buffer damaged = sealed;
        damaged[i] ^= 0x40;
        INFO("flipped byte " << i);
        CHECK(open_at(place_a(), damaged) == errc::corruption);
    }
    CHECK(open_at(place_a(), bytes_view(sealed).first(39)) == errc::corruption);  // shorter than the overhead
    const auto e = error_of([&] { c.open(bytes_view(sealed).first(sealed.size() - 1), place_a(), out); });
    CHECK(e.detail() == "payload authentication failed (wrong place, or damaged)");

    const TestType other(key_of(4));
    CHECK(code_of([&] { other.open(sealed, place_a(), out); }) == errc::corruption);
}

TEMPLATE_TEST_CASE("blobs are bound to their label, and a record's AAD is never a blob's", "",
                   entidb::xchacha20poly1305, entidb::aes256gcm) {
    const TestType c(key_of(9));
    byte_buffer sealed;
    c.seal_blob(entidb::as_bytes("manifest body"), "MANIFEST", sealed);
    byte_buffer out;
    c.open_blob(sealed, "MANIFEST", out);
    CHECK(entidb::as_chars(out) == "manifest body");
    CHECK(code_of([&] { c.open_blob(sealed, "BACKUP", out); }) == errc::corruption);
    CHECK(code_of([&] { c.open_blob(sealed, "", out); }) == errc::corruption);

    // A record sealed at a place does not open as a blob whose label is that place's encoding
    // without its domain byte, nor with it.
    byte_buffer rec;
    c.seal(entidb::as_bytes("r"), place_a(), rec);
    const auto aad = entidb::detail::record_aad(place_a());
    const std::string whole(reinterpret_cast<const char*>(aad.data()), aad.size());
    CHECK(code_of([&] { c.open_blob(rec, whole, out); }) == errc::corruption);
    CHECK(code_of([&] { c.open_blob(rec, whole.substr(1), out); }) == errc::corruption);
    CHECK(aad.size() == 30);
    CHECK(aad[0] == 0x01);
}

TEST_CASE("secret_bytes: move-only, wiped before its memory is freed") {
    STATIC_REQUIRE(!std::is_copy_constructible_v<entidb::secret_bytes>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<entidb::secret_bytes>);

    static thread_local std::vector<byte_buffer> seen;  // the buffers as they were when freed
    seen.clear();
    entidb::detail::secret_wipe_observer = [](bytes_view b) noexcept { seen.emplace_back(b.begin(), b.end()); };
    {
        entidb::secret_bytes a = entidb::secret_bytes::copy_of(entidb::as_bytes("top secret"));
        entidb::secret_bytes b = std::move(a);
        CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is documented as empty
        CHECK(entidb::as_chars(b.view()) == "top secret");
        CHECK(seen.empty());  // a move frees nothing
        b = entidb::secret_bytes::copy_of(entidb::as_bytes("other key!"));  // assigned over: the old one is wiped
        REQUIRE(seen.size() == 1);
        b.reset();
        REQUIRE(seen.size() == 2);
        CHECK(b.empty());
        entidb::passphrase p = entidb::passphrase_from("destroyed at scope end");
        (void)p;
    }
    entidb::detail::secret_wipe_observer = nullptr;
    REQUIRE(seen.size() == 3);
    for (const auto& b : seen) {
        CHECK(b.size() == 10 + (&b == &seen.back() ? 12 : 0));
        CHECK(std::all_of(b.begin(), b.end(), [](byte x) { return x == 0; }));
    }
}

TEST_CASE("a raw key is exactly 32 bytes, and the error does not echo it") {
    const std::string bad = "0123456789abcdef0123456789abcde";  // 31 bytes
    const auto e = error_of([&] { (void)entidb::raw_key_from(entidb::as_bytes(bad)); });
    CHECK(e.value() == errc::invalid_argument);
    CHECK(std::string(e.what()).find(bad) == std::string::npos);
    CHECK(std::string(e.what()).find("31") != std::string::npos);
}

TEST_CASE("a KEY file opens with its passphrase or raw key, and refuses others with bad_key") {
    test_support::temp_dir dir;
    CHECK_FALSE(entidb::has_key_file(dir.path()));
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), pass("p")); }) == errc::not_found);

    const entidb::data_key dk = entidb::create_key_file(dir.path(), pass("correct horse"), fast);
    REQUIRE(dk.size() == 32);
    CHECK(entidb::has_key_file(dir.path()));
    CHECK(std::filesystem::file_size(dir / "KEY") == 116);
    CHECK(std::equal(dk.view().begin(), dk.view().end(), entidb::open_key_file(dir.path(), pass("correct horse")).view().begin()));

    const auto wrong = error_of([&] { (void)entidb::open_key_file(dir.path(), pass("correct horsf")); });
    CHECK(wrong.value() == errc::bad_key);
    CHECK(std::string(wrong.what()).find("correct") == std::string::npos);
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), raw(1)); }) == errc::bad_key);

    const auto info = entidb::describe_key_file(dir.path());
    CHECK(info.cipher == "xchacha20poly1305");
    CHECK(info.kek == "argon2id");
    CHECK(info.kdf.opslimit == fast.opslimit);
    CHECK(info.kdf.memlimit == fast.memlimit);

    // A second create would lose the data key: refused, the file unchanged.
    const byte_buffer before = read_all(dir / "KEY");
    CHECK(code_of([&] { (void)entidb::create_key_file(dir.path(), pass("x"), fast); }) == errc::invalid_argument);
    CHECK(read_all(dir / "KEY") == before);

    test_support::temp_dir rdir;
    const entidb::data_key rk = entidb::create_key_file(rdir.path(), raw(5));
    CHECK(std::equal(rk.view().begin(), rk.view().end(), entidb::open_key_file(rdir.path(), raw(5)).view().begin()));
    CHECK(code_of([&] { (void)entidb::open_key_file(rdir.path(), raw(6)); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::open_key_file(rdir.path(), pass("p")); }) == errc::bad_key);
    CHECK(entidb::describe_key_file(rdir.path()).kek == "raw");
    CHECK(entidb::describe_key_file(rdir.path()).kdf.opslimit == 0);

    test_support::temp_dir edir;
    CHECK(code_of([&] { (void)entidb::create_key_file(edir.path(), pass(""), fast); }) == errc::invalid_argument);
    CHECK(code_of([&] { (void)entidb::create_key_file(edir.path(), pass("p"), {0, 8192}); }) == errc::invalid_argument);
    CHECK_FALSE(entidb::has_key_file(edir.path()));
}

TEST_CASE("a damaged KEY file is corruption with its offset, never bad_key") {
    test_support::temp_dir dir;
    (void)entidb::create_key_file(dir.path(), pass("pw"), fast);
    const byte_buffer good = read_all(dir / "KEY");
    for (std::size_t i = 0; i < good.size(); ++i) {
        byte_buffer bad = good;
        bad[i] ^= 0x10;
        write_all(dir / "KEY", bad);
        INFO("flipped byte " << i);
        const auto e = error_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); });
        CHECK(e.value() == errc::corruption);
        CHECK(e.offset() == (i < 4 ? 0u : 112u));
        CHECK(e.path() == (dir / "KEY").string());
    }
    write_all(dir / "KEY", bytes_view(good).first(100));
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); }) == errc::corruption);
    write_all(dir / "KEY", {});
    CHECK(code_of([&] { (void)entidb::describe_key_file(dir.path()); }) == errc::corruption);

    // Fields changed with a recomputed checksum: a newer version is refused as such, and the
    // wrapped key is bound to the header (the AAD), so swapped parameters do not unwrap.
    const auto with_crc = [](byte_buffer b) {
        b.resize(112);
        entidb::detail::put_u32(b, entidb::crc32(b));
        return b;
    };
    byte_buffer v3 = good;
    v3[4] = 3;
    write_all(dir / "KEY", with_crc(v3));
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); }) == errc::unsupported_version);
    // Version 2 is AES-256-GCM's (cipher 2), version 1 XChaCha20-Poly1305's (cipher 1): a
    // version that does not go with the cipher is damage at the cipher byte.
    byte_buffer v2 = good;
    v2[4] = 2;
    write_all(dir / "KEY", with_crc(v2));
    CHECK(error_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); }).offset() == 6);
    byte_buffer ops = good;
    ops[8] = 2;  // opslimit 1 → 2
    write_all(dir / "KEY", with_crc(ops));
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); }) == errc::bad_key);
    write_all(dir / "KEY", good);
    CHECK(code_of([&] { (void)entidb::open_key_file(dir.path(), pass("pw")); }) == errc::ok);
}

TEST_CASE("rekey re-wraps the same data key; an interrupted one opens with exactly one key") {
    test_support::temp_dir dir;
    const entidb::data_key dk = entidb::create_key_file(dir.path(), pass("old"), fast);
    const auto same_key = [&](const entidb::key_source& k) {
        const auto got = entidb::open_key_file(dir.path(), k);
        return std::equal(dk.view().begin(), dk.view().end(), got.view().begin(), got.view().end());
    };
    const auto opens = [&](const entidb::key_source& k) { return code_of([&] { (void)entidb::open_key_file(dir.path(), k); }); };

    CHECK(code_of([&] { entidb::rekey(dir.path(), pass("wrong"), pass("new"), fast); }) == errc::bad_key);
    CHECK(same_key(pass("old")));

    entidb::rekey(dir.path(), pass("old"), pass("new"), fast);
    CHECK(opens(pass("old")) == errc::bad_key);
    CHECK(same_key(pass("new")));
    entidb::rekey(dir.path(), pass("new"), raw(7), fast);  // passphrase → raw key
    CHECK(opens(pass("new")) == errc::bad_key);
    CHECK(same_key(raw(7)));
    entidb::rekey(dir.path(), raw(7), pass("back"), fast);  // and back
    CHECK(same_key(pass("back")));
    CHECK_FALSE(std::filesystem::exists(dir / "KEY.tmp"));

    // Interrupted before the rename: KEY.tmp is complete, KEY is the old one.
    write_all(dir / "KEY.tmp", entidb::detail::encode_key_file(dk, pass("next"), fast));
    CHECK(same_key(pass("back")));
    CHECK(opens(pass("next")) == errc::bad_key);
    // ... or a torn KEY.tmp: still the old one.
    write_all(dir / "KEY.tmp", bytes_view(entidb::detail::encode_key_file(dk, pass("next"), fast)).first(50));
    CHECK(same_key(pass("back")));
    // After the rename: exactly the new one.
    write_all(dir / "KEY.tmp", entidb::detail::encode_key_file(dk, pass("next"), fast));
    std::filesystem::rename(dir / "KEY.tmp", dir / "KEY");
    CHECK(same_key(pass("next")));
    CHECK(opens(pass("back")) == errc::bad_key);
    // A stale KEY.tmp does not stop the next rekey.
    write_all(dir / "KEY.tmp", text("stale"));
    entidb::rekey(dir.path(), pass("next"), pass("last"), fast);
    CHECK(same_key(pass("last")));
}

TEST_CASE("AES-256-GCM opens what earlier objects under the key sealed, through its bounded subkey cache") {
    // Each object (one per open) seals under a subkey of its own random salt; reading a
    // database opens payloads of many earlier opens. More salts than the cache keeps: it is
    // emptied when full, and every payload still opens (and still fails at a wrong place).
    std::vector<byte_buffer> sealed;
    for (std::size_t i = 0; i < entidb::aes256gcm::cache_limit + 5; ++i) {
        const entidb::aes256gcm writer(key_of(7));
        sealed.emplace_back();
        writer.seal(entidb::as_bytes("payload " + std::to_string(i)), place_a(), sealed.back());
    }
    const entidb::aes256gcm reader(key_of(7));
    byte_buffer out;
    for (int round = 0; round < 2; ++round)
        for (std::size_t i = 0; i < sealed.size(); ++i) {
            reader.open(sealed[i], place_a(), out);
            REQUIRE(entidb::as_chars(out) == "payload " + std::to_string(i));
        }
    auto p = place_a();
    p.sequence += 1;
    CHECK(code_of([&] { reader.open(sealed[3], p, out); }) == errc::corruption);
    const entidb::aes256gcm other_key(key_of(8));
    CHECK(code_of([&] { other_key.open(sealed[3], place_a(), out); }) == errc::corruption);
}

TEST_CASE("the KEY file names the cipher; a cipher fixed to another refuses it with bad_key; rekey keeps it") {
    test_support::temp_dir dir;
    const entidb::data_key dk = entidb::create_key_file(dir.path(), raw(2), {}, entidb::cipher_id::aes256gcm);
    CHECK(read_all(dir / "KEY")[6] == 2);  // docs/file-format.md, "KEY": the cipher byte
    CHECK(read_all(dir / "KEY")[4] == 2);  // and version 2, which builds that know only version 1 refuse
    CHECK(entidb::describe_key_file(dir.path()).cipher == "aes256gcm");
    entidb::rekey(dir.path(), raw(2), pass("now a passphrase"), fast);
    CHECK(entidb::describe_key_file(dir.path()).cipher == "aes256gcm");

    const auto e = error_of([&] { entidb::xchacha20poly1305 c(dk, entidb::cipher_id::aes256gcm); });
    CHECK(e.value() == errc::bad_key);
    CHECK(e.detail().find("encrypted with aes256gcm") != std::string::npos);
    CHECK(code_of([&] { entidb::aes256gcm c(dk, entidb::cipher_id::xchacha20poly1305); }) == errc::bad_key);

    // any_cipher takes the one the KEY names: what it seals, that cipher opens.
    for (const auto id : {entidb::cipher_id::xchacha20poly1305, entidb::cipher_id::aes256gcm}) {
        const entidb::any_cipher any(dk, id);
        CHECK(any.id() == id);
        byte_buffer sealed, out;
        any.seal(entidb::as_bytes("x"), place_a(), sealed);
        if (id == entidb::cipher_id::aes256gcm)
            entidb::aes256gcm(dk).open(sealed, place_a(), out);
        else
            entidb::xchacha20poly1305(dk).open(sealed, place_a(), out);
        CHECK(entidb::as_chars(out) == "x");
    }
    CHECK(entidb::cipher_from_name("aes256gcm") == entidb::cipher_id::aes256gcm);
    CHECK_FALSE(entidb::cipher_from_name("aes"));

    // A KEY file naming no known cipher, or XChaCha20-Poly1305 in version 2, is damage at the cipher byte.
    byte_buffer bad = read_all(dir / "KEY");
    bad[6] = GENERATE(1, 3);
    const auto crc = entidb::crc32(bytes_view(bad).first(bad.size() - 4));
    for (int i = 0; i < 4; ++i) bad[bad.size() - 4 + static_cast<std::size_t>(i)] = static_cast<byte>(crc >> (8 * i));
    write_all(dir / "KEY", bad);
    const auto damaged = error_of([&] { (void)entidb::describe_key_file(dir.path()); });
    CHECK(damaged.value() == errc::corruption);
    CHECK(damaged.offset() == 6);
}
