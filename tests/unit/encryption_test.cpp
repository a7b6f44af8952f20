// Encryption at rest through the database (docs/encryption.md): entity payloads, the MANIFEST
// and backups are sealed, a wrong or missing key is refused before anything is read, a damaged
// or moved ciphertext is corruption naming its file and offset, and everything the engine does
// (recovery from the WAL, checkpoints, compaction, history, indexes, migrations, backup and
// restore, rekey) works on an encrypted database.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_encryption.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using entidb::byte_buffer;
using entidb::errc;
using test_support::code_of;
using test_support::id_of;
using test_support::temp_dir;

namespace {

using test_encryption::any_file_holds;
using test_encryption::enc_db;
using test_encryption::fix_crc;
using test_encryption::read_all;
using test_encryption::segment_records;
using test_encryption::swap_ciphertexts;
using test_encryption::with_passphrase;
using test_encryption::write_all;

constexpr std::string_view marker = "Zq7-marker-4f1c9e";

enc_db open_enc(const fs::path& dir, std::string_view pw = "correct horse", const entidb::config& cfg = {}) {
    return test_encryption::open_enc(dir, pw, cfg);
}
byte_buffer marked(std::uint64_t n) { return test_encryption::marked(marker, n); }

std::uint64_t number_of(const entidb::entity_id& id) {
    std::uint64_t n = 0;
    for (std::size_t i = 8; i < 16; ++i) n = n << 8 | id.bytes()[i];
    return n;
}

void fill(enc_db& db, std::uint64_t from, std::uint64_t count) {
    for (std::uint64_t i = from; i < from + count; i += 100)
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = i; k < std::min(from + count, i + 100); ++k)
                txn.put("secret_people", id_of(k), marked(k));
        });
}

}  // namespace

TEST_CASE("an encrypted database keeps no plaintext in any file, and reads back what was written",
          "[encryption]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        db.declare_index("secret_people", "t", entidb::index_kind::hash);
        fill(db, 0, 600);
        db.checkpoint();           // in the segments
        fill(db, 600, 400);        // these only in the WAL and the active segment
        db.transaction([&](auto& txn) { txn.remove("secret_people", id_of(5)); });
        CHECK(db.begin_read().get("secret_people", id_of(7)) == marked(7));
        const auto changes = db.changes_since(0);
        REQUIRE(changes.size() == 1001);
        CHECK(changes.front().payload == marked(0));
        CHECK(any_file_holds(dir / "db", marker) == false);
        CHECK(any_file_holds(dir / "db", "secret_people") == false);
    }
    CHECK(fs::exists(dir / "db" / "KEY"));
    CHECK(any_file_holds(dir / "db", marker) == false);
    CHECK(any_file_holds(dir / "db", "secret_people") == false);
    {
        auto db = open_enc(dir / "db");  // recovery replays the WAL's sealed puts
        auto txn = db.begin_read();
        CHECK_FALSE(txn.get("secret_people", id_of(5)));
        for (std::uint64_t k : {0u, 599u, 600u, 999u}) CHECK(txn.get("secret_people", id_of(k)) == marked(k));
        std::size_t n = 0;
        for (const auto& e : txn.scan("secret_people")) {
            CHECK(e.bytes == marked(number_of(e.id)));
            ++n;
        }
        CHECK(n == 999);
        for (const auto& e : txn.scan("secret_people", entidb::in_storage_order)) {
            CHECK(byte_buffer(e.bytes.begin(), e.bytes.end()) == marked(number_of(e.id)));
            --n;
        }
        CHECK(n == 0);
        const std::string nine = std::string(marker) + " 9";
        CHECK(txn.find("secret_people", "t", entidb::cbor::value(nine)).size() == 1);
    }
}

TEST_CASE("a wrong or missing key is refused with bad_key and changes no file", "[encryption]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db", "right");
        fill(db, 0, 10);
    }
    {
        auto plain = entidb::open(dir / "plain");
        plain.transaction([&](auto& txn) { txn.put("c", id_of(1), test_support::payload(1)); });
    }
    const auto before = test_support::snapshot_files(dir.path());
    CHECK(code_of([&] { (void)open_enc(dir / "db", "wrong"); }) == errc::bad_key);
    const std::array<entidb::byte, 32> k{};
    CHECK(code_of([&] {
              (void)entidb::open<entidb::encrypted_file_storage>(dir / "db", {}, {.key = entidb::raw_key_from(k)});
          }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::open(dir / "db"); }) == errc::bad_key);
    entidb::config ro;
    ro.read_only = true;
    CHECK(code_of([&] { (void)entidb::open(dir / "db", ro); }) == errc::bad_key);
    CHECK(code_of([&] { (void)open_enc(dir / "plain", "right"); }) == errc::bad_key);
    CHECK(test_support::snapshot_files(dir.path()) == before);
    auto db = open_enc(dir / "db", "right");
    CHECK(db.begin_read().get("secret_people", id_of(3)) == marked(3));
}

TEST_CASE("rekey changes the passphrase; the data key and the data stay", "[encryption]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db", "old");
        fill(db, 0, 10);
    }
    entidb::rekey(dir / "db", entidb::passphrase_from("old"), entidb::passphrase_from("new"),
                  entidb::kdf_params::fast());
    CHECK(code_of([&] { (void)open_enc(dir / "db", "old"); }) == errc::bad_key);
    auto db = open_enc(dir / "db", "new");
    CHECK(db.begin_read().get("secret_people", id_of(9)) == marked(9));
}

namespace {

// The corruption error reading `id` raises, or none.
std::optional<entidb::error> read_error(enc_db& db, std::uint64_t id) {
    try {
        (void)db.begin_read().get("secret_people", id_of(id));
    } catch (const entidb::error& e) {
        return e;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("swapped ciphertexts and a flipped byte under a valid CRC are corruption naming file and offset",
          "[encryption]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        db.transaction([&](auto& txn) { txn.put("secret_people", id_of(1), marked(1)); });
        db.transaction([&](auto& txn) { txn.put("secret_people", id_of(2), marked(2)); });
        db.checkpoint();  // the records are in a sealed segment, the WAL is empty
    }
    const fs::path seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    const std::string original = read_all(seg);
    const auto recs = segment_records(original);
    REQUIRE(recs.size() == 2);
    REQUIRE(recs[0].payload_len == recs[1].payload_len);
    REQUIRE(recs[0].payload_len == marked(1).size() + entidb::encrypted_file_storage::cipher::overhead);
    CHECK((static_cast<std::uint8_t>(original[recs[0].offset + entidb::format::segment_flags_offset]) &
           entidb::format::flag_encrypted) != 0);

    SECTION("two records' payloads swapped") {
        swap_ciphertexts(seg, 1, 2);
        auto db = open_enc(dir / "db");  // the framing is intact: open finds nothing wrong
        for (std::size_t k : {0u, 1u}) {
            const auto e = read_error(db, k + 1);
            REQUIRE(e);
            CHECK(e->value() == errc::corruption);
            CHECK(e->path() == seg.string());
            CHECK(e->offset() == recs[k].offset);
        }
    }
    SECTION("one byte of a ciphertext flipped") {
        for (const std::size_t at : {recs[1].payload_at, recs[1].payload_at + 30, recs[1].payload_at + recs[1].payload_len - 1}) {
            std::string s = original;
            s[at] = static_cast<char>(s[at] ^ 0x40);
            fix_crc(s, recs[1]);
            write_all(seg, s);
            auto db = open_enc(dir / "db");
            CHECK_FALSE(read_error(db, 1));
            const auto e = read_error(db, 2);
            REQUIRE(e);
            CHECK(e->value() == errc::corruption);
            CHECK(e->offset() == recs[1].offset);
            CHECK(std::string(e->what()).find(marker) == std::string::npos);
        }
    }
}

TEST_CASE("an encrypted database recovers from its WAL alone, compacts and migrates", "[encryption]") {
    temp_dir dir;
    entidb::config cfg;
    cfg.max_segment_size = 4096;  // rotation, so compaction has sealed segments to merge
    {
        auto db = open_enc(dir / "db", "pw", cfg);
        fill(db, 0, 300);
        db.checkpoint();
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = 0; k < 300; k += 2) txn.remove("secret_people", id_of(k));
        });
        const auto report = db.compact();
        CHECK(report.records_dropped > 0);
        fill(db, 1000, 50);
        // A copy of the directory while the database is open is what a crash leaves: the last
        // commits only in the WAL (and the active segment, maybe torn).
        fs::copy(dir / "db", dir / "crashed", fs::copy_options::recursive);
    }
    fs::remove(dir / "crashed" / "LOCK");
    {
        auto db = open_enc(dir / "crashed", "pw", cfg);
        auto txn = db.begin_read();
        CHECK(txn.get("secret_people", id_of(1049)) == marked(1049));
        CHECK(txn.get("secret_people", id_of(3)) == marked(3));
        CHECK_FALSE(txn.get("secret_people", id_of(4)));
    }
    // A migration rewrites every entity it changes, sealed for its new sequence.
    const std::vector<entidb::migration> plan{entidb::migration{
        .version = 1,
        .name = "tag",
        .steps = {entidb::migration_step::add_field("secret_people", "tag", entidb::cbor::value(std::string(marker) + "-tag"))}}};
    (void)entidb::migrate<entidb::encrypted_file_storage>(dir / "crashed", plan, {}, cfg, with_passphrase("pw"));
    CHECK(any_file_holds(dir / "crashed", marker) == false);
    auto db = open_enc(dir / "crashed", "pw", cfg);
    CHECK(db.describe().schema_version == 1);
    const auto v = entidb::cbor::decode(*db.begin_read().get("secret_people", id_of(7)));
    CHECK(v.find("tag") != nullptr);
}

namespace {

// Traits fixed to one cipher: no branch, and only databases of that cipher open.
template <typename Cipher>
struct fixed_cipher_storage : entidb::file_storage {
    using cipher = Cipher;
    struct environment {
        entidb::key_source key;
        entidb::kdf_params kdf = {};
    };
};

}  // namespace

TEST_CASE("the cipher is chosen when the database is created, kept by every later open, and fixed traits check it",
          "[encryption]") {
    temp_dir dir;
    const auto env = [](entidb::cipher_id c) {
        return entidb::encrypted_file_storage::environment{.key = entidb::passphrase_from("pw"),
                                                           .kdf = entidb::kdf_params::fast(), .cipher = c};
    };
    // Five opens each write: an AES-256-GCM database reads payloads sealed under each open's
    // subkey. A later open asking for the other cipher keeps the database's.
    for (std::uint64_t round = 0; round < 5; ++round) {
        auto db = entidb::open<entidb::encrypted_file_storage>(
            dir / "aes", {}, env(round == 0 ? entidb::cipher_id::aes256gcm : entidb::cipher_id::xchacha20poly1305));
        db.transaction([&](auto& txn) { txn.put("secret_people", id_of(round), marked(round)); });
        if (round % 2 == 1) db.checkpoint();
    }
    CHECK(entidb::describe_key_file(dir / "aes").cipher == "aes256gcm");
    CHECK(any_file_holds(dir / "aes", marker) == false);
    {
        auto db = entidb::open<entidb::encrypted_file_storage>(dir / "aes", {}, env(entidb::cipher_id::xchacha20poly1305));
        auto txn = db.begin_read();
        for (std::uint64_t k = 0; k < 5; ++k) CHECK(txn.get("secret_people", id_of(k)) == marked(k));
        std::size_t n = 0;
        for (const auto& e : txn.scan("secret_people", entidb::in_storage_order)) n += e.bytes.size() > 0;
        CHECK(n == 5);
    }
    const auto before = test_support::snapshot_files(dir.path());
    using xchacha_only = fixed_cipher_storage<entidb::xchacha20poly1305>;
    using aes_only = fixed_cipher_storage<entidb::aes256gcm>;
    CHECK(code_of([&] {
              (void)entidb::open<xchacha_only>(dir / "aes", {}, {.key = entidb::passphrase_from("pw")});
          }) == errc::bad_key);
    CHECK(test_support::snapshot_files(dir.path()) == before);
    {
        auto db = entidb::open<aes_only>(dir / "aes", {}, {.key = entidb::passphrase_from("pw")});
        CHECK(db.begin_read().get("secret_people", id_of(4)) == marked(4));
    }
    // Fixed traits create databases of their own cipher.
    { auto db = entidb::open<aes_only>(dir / "fixed", {}, {.key = entidb::passphrase_from("pw"), .kdf = entidb::kdf_params::fast()}); }
    CHECK(entidb::describe_key_file(dir / "fixed").cipher == "aes256gcm");
}
