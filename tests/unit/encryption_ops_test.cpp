// Backup, restore, verify and salvage of encrypted databases (docs/encryption.md, "Backups",
// "Verify and salvage"): an encrypted database's backup holds no plaintext and restores, with
// its key only, into an encrypted database that opens with the same key; a damaged or
// rearranged backup is corruption at its offset; verify and salvage need the key, verify finds
// a moved ciphertext that only authentication catches, and salvage writes an encrypted database
// and reports what does not authenticate as lost.
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
using test_encryption::put_le;
using test_encryption::read_all;
using test_encryption::record_at;
using test_encryption::record_of;
using test_encryption::segment_records;
using test_encryption::swap_ciphertexts;
using test_encryption::view_of;
using test_encryption::write_all;

constexpr std::string_view marker = "Kx3-backup-marker-9d2e";
constexpr std::string_view collection = "private_notes";

enc_db open_enc(const fs::path& dir, std::string_view pw = "pw", const entidb::config& cfg = {}) {
    return test_encryption::open_enc(dir, pw, cfg);
}
entidb::key_source key(std::string_view pw = "pw") { return entidb::passphrase_from(pw); }
byte_buffer marked(std::uint64_t n) { return test_encryption::marked(marker, n); }

void fill(enc_db& db, std::uint64_t from, std::uint64_t count) {
    for (std::uint64_t i = from; i < from + count; i += 250)
        db.transaction([&](auto& txn) {
            for (std::uint64_t k = i; k < std::min(from + count, i + 250); ++k) txn.put(collection, id_of(k), marked(k));
        });
}

std::uint64_t le(const std::string& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(b[at + static_cast<std::size_t>(i)]);
    return v;
}

// The error `f` throws (code none when it returns).
template <typename F>
entidb::error error_of(F&& f) {
    try {
        f();
    } catch (const entidb::error& e) {
        return e;
    }
    return entidb::error(errc::ok, "returned");
}

// The entities of a database: id → payload.
template <typename Db>
std::map<entidb::entity_id, byte_buffer> entities_of(const Db& db) {
    std::map<entidb::entity_id, byte_buffer> out;
    for (const auto& e : db.begin_read().scan(collection)) out[e.id] = e.bytes;
    return out;
}

}  // namespace

TEST_CASE("an encrypted database's backup holds no plaintext and restores with its key only", "[encryption][backup]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        db.declare_index(collection, "t", entidb::index_kind::hash);
        fill(db, 0, 1000);
        db.transaction([&](auto& txn) { txn.remove(collection, id_of(500)); });
        const auto info = entidb::backup(db, dir / "b");
        CHECK(info.entities == 999);
        CHECK(info.indexes == 1);
    }
    const auto b = read_all(dir / "b");
    CHECK(b.find(marker) == std::string::npos);
    CHECK(b.find(collection) == std::string::npos);
    CHECK(b.substr(0, 4) == "EBAK");
    CHECK(le(b, 4, 2) == 2);                                             // backup version 2: encrypted
    CHECK(le(b, 18, 4) == entidb::detail::key_file_size);               // the KEY travels with it
    CHECK(b.substr(22, entidb::detail::key_file_size) == read_all(dir / "db" / "KEY"));

    const auto info = entidb::read_backup(dir / "b", key());
    CHECK(info.entities == 999);
    CHECK(info.collections == 1);
    CHECK(info.bytes == b.size());

    // Without the key, or with another, nothing is read and nothing is created.
    CHECK(error_of([&] { (void)entidb::read_backup(dir / "b"); }).value() == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::restore(dir / "b", dir / "r"); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::read_backup(dir / "b", key("wrong")); }) == errc::bad_key);
    const std::array<entidb::byte, 32> raw{};
    CHECK(code_of([&] { (void)entidb::read_backup(dir / "b", entidb::raw_key_from(raw)); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::restore(dir / "b", dir / "r", key("wrong")); }) == errc::bad_key);
    CHECK_FALSE(fs::exists(dir / "r"));
    CHECK_FALSE(fs::exists(dir / "r.restoring"));

    // A plain database's backup given a key is refused the same way.
    {
        auto plain = entidb::open(dir / "plain");
        plain.transaction([&](auto& txn) { txn.put("c", id_of(1), test_support::payload(1)); });
        (void)entidb::backup(plain, dir / "plain.b");
    }
    CHECK(code_of([&] { (void)entidb::read_backup(dir / "plain.b", key()); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::restore(dir / "plain.b", dir / "r", key()); }) == errc::bad_key);
    CHECK_FALSE(fs::exists(dir / "r"));

    // The restore is an encrypted database with the source's KEY: it opens with the same key.
    CHECK(entidb::restore(dir / "b", dir / "r", key()).entities == 999);
    CHECK(read_all(dir / "r" / "KEY") == read_all(dir / "db" / "KEY"));
    CHECK_FALSE(any_file_holds(dir / "r", marker));
    CHECK(code_of([&] { (void)open_enc(dir / "r", "wrong"); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::open(dir / "r"); }) == errc::bad_key);
    CHECK_NOTHROW(entidb::verify(dir / "r", key()));
    auto db = open_enc(dir / "r");
    const auto all = entities_of(db);
    CHECK(all.size() == 999);
    CHECK_FALSE(all.contains(id_of(500)));
    CHECK(all.at(id_of(999)) == marked(999));
    const auto txn = db.begin_read();
    CHECK(txn.find(collection, "t", entidb::cbor::value(std::string(marker) + " 7")).size() == 1);
    db.transaction([&](auto& w) { w.put(collection, id_of(5000), marked(5000)); });  // and it goes on
}

TEST_CASE("a damaged or rearranged encrypted backup is corruption at its offset, never bad_key",
          "[encryption][backup]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        fill(db, 10, 20);  // ids 10..29: payloads of one length
        (void)entidb::backup(db, dir / "good");
    }
    const auto good = read_all(dir / "good");
    const auto refused = [&](const std::string& bytes) {
        write_all(dir / "bad", bytes);
        const auto read = error_of([&] { (void)entidb::read_backup(dir / "bad", key()); });
        CHECK(code_of([&] { (void)entidb::restore(dir / "bad", dir / "r", key()); }) == read.value());
        CHECK_FALSE(fs::exists(dir / "r"));
        CHECK_FALSE(fs::exists(dir / "r.restoring"));
        if (read.value() == errc::corruption) {
            CHECK(read.path() == (dir / "bad").string());
            CHECK(read.offset().has_value());
            CHECK(std::string(read.what()).find(marker) == std::string::npos);
        }
        return read;
    };
    SECTION("one byte changed anywhere") {
        for (std::size_t at = 0; at < good.size(); at += (at < 200 || at + 64 > good.size()) ? 1 : 13) {
            INFO("byte " << at << " of " << good.size() << " changed");
            std::string bad = good;
            bad[at] = static_cast<char>(bad[at] ^ 0x20);
            const auto code = refused(bad).value();
            if (at >= 4 && at < 10)  // the version fields: a backup this build cannot read
                CHECK((code == errc::corruption || code == errc::unsupported_version));
            else
                CHECK(code == errc::corruption);
        }
    }
    SECTION("two entities' sealed payloads swapped, the checksum made right again") {
        // The first two entities (ids 10 and 11, ascending) follow the header.
        const auto key_len = le(good, 18, 4);
        const auto reg_len = le(good, 22 + key_len, 4);
        const std::size_t first = 22 + key_len + 4 + reg_len;
        const auto len = le(good, first + 20, 4);
        const std::size_t second = first + 24 + len;
        REQUIRE(le(good, second + 20, 4) == len);
        std::string bad = good;
        for (std::size_t i = 0; i < len; ++i) std::swap(bad[first + 24 + i], bad[second + 24 + i]);
        put_le(bad, bad.size() - 8, entidb::hash64(view_of(bad).first(bad.size() - 8)), 8);
        const auto e = refused(bad);
        CHECK(e.value() == errc::corruption);
        CHECK(e.offset() == first + 24);
    }
    SECTION("the backup's sequence changed, the checksum made right again") {
        std::string bad = good;
        put_le(bad, 10, le(good, 10, 8) + 1, 8);
        put_le(bad, bad.size() - 8, entidb::hash64(view_of(bad).first(bad.size() - 8)), 8);
        CHECK(refused(bad).value() == errc::corruption);  // every payload is bound to the sequence
    }
}

TEST_CASE("verify of an encrypted database needs its key and finds a moved ciphertext", "[encryption][verify]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        db.declare_index(collection, "t", entidb::index_kind::ordered);
        fill(db, 10, 20);
        db.checkpoint();  // the records are in the segment, the WAL is empty
    }
    const auto r = entidb::verify_report(dir / "db", key());
    CHECK(r.ok());
    CHECK(r.entities_checked == 20);
    CHECK(r.indexes_checked == 1);
    CHECK(code_of([&] { (void)entidb::verify(dir / "db"); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::verify_report(dir / "db"); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::verify(dir / "db", key("wrong")); }) == errc::bad_key);
    {
        auto plain = entidb::open(dir / "plain");
        plain.transaction([&](auto& txn) { txn.put("c", id_of(1), test_support::payload(1)); });
    }
    CHECK(code_of([&] { (void)entidb::verify(dir / "plain", key()); }) == errc::bad_key);

    const fs::path seg = dir / "db" / "SEGMENTS" / "seg-000001.dat";
    const auto recs = segment_records(read_all(seg));
    swap_ciphertexts(seg, 12, 17);
    const auto bad = entidb::verify_report(dir / "db", key());
    REQUIRE(bad.problems.size() >= 2);  // both records, each at its offset (then the index they are in)
    for (const auto& [p, n] : {std::pair{bad.problems[0], 12}, std::pair{bad.problems[1], 17}}) {
        CHECK(p.code == errc::corruption);
        CHECK(p.path == seg.string());
        CHECK(p.offset == record_of(recs, static_cast<std::uint64_t>(n)).offset);
    }
    const auto e = error_of([&] { (void)entidb::verify(dir / "db", key()); });
    CHECK(e.value() == errc::corruption);
    CHECK(e.path() == seg.string());
}

TEST_CASE("salvage of an encrypted database needs its key and writes an encrypted database", "[encryption][salvage]") {
    temp_dir dir;
    {
        auto db = open_enc(dir / "db");
        db.declare_index(collection, "t", entidb::index_kind::hash);
        fill(db, 10, 80);
        db.checkpoint();
        fill(db, 100, 50);  // these only in the WAL (and the active segment) of the copy below
        // A copy while the database is open is what a crash leaves: the last commits in the WAL.
        fs::copy(dir / "db", dir / "crashed", fs::copy_options::recursive);
    }
    fs::remove(dir / "crashed" / "LOCK");
    CHECK(code_of([&] { (void)entidb::salvage(dir / "crashed", dir / "o1"); }) == errc::bad_key);
    CHECK(code_of([&] { (void)entidb::salvage(dir / "crashed", dir / "o1", key("wrong")); }) == errc::bad_key);
    CHECK_FALSE(fs::exists(dir / "o1"));
    {
        auto plain = entidb::open(dir / "plain");
        plain.transaction([&](auto& txn) { txn.put("c", id_of(1), test_support::payload(1)); });
    }
    CHECK(code_of([&] { (void)entidb::salvage(dir / "plain", dir / "o1", key()); }) == errc::bad_key);
    CHECK_FALSE(fs::exists(dir / "o1"));

    SECTION("intact: every entity, the index, encrypted with the same KEY") {
        const auto report = entidb::salvage(dir / "crashed", dir / "out", key());
        CHECK_FALSE(report.lost_anything());
        CHECK(report.entities == 130);
        CHECK(report.indexes == 1);
        CHECK(read_all(dir / "out" / "KEY") == read_all(dir / "db" / "KEY"));
        CHECK_FALSE(any_file_holds(dir / "out", marker));
        CHECK(code_of([&] { (void)entidb::open(dir / "out"); }) == errc::bad_key);
        CHECK_NOTHROW(entidb::verify(dir / "out", key()));
        auto db = open_enc(dir / "out");
        const auto all = entities_of(db);
        CHECK(all.size() == 130);
        CHECK(all.at(id_of(149)) == marked(149));  // from the WAL
        CHECK(all.at(id_of(10)) == marked(10));
        CHECK(db.begin_read().find(collection, "t", entidb::cbor::value(std::string(marker) + " 42")).size() == 1);
    }
    SECTION("records that do not authenticate are reported lost, the others kept") {
        const fs::path seg = dir / "crashed" / "SEGMENTS" / "seg-000001.dat";
        const auto recs = segment_records(read_all(seg));
        swap_ciphertexts(seg, 12, 17);
        // A PUT of the WAL whose sealed bytes changed (its CRC made right): its transaction is
        // dropped whole (its records are also in the active segment, which keeps them).
        const fs::path wal = dir / "crashed" / "wal.log";
        auto w = read_all(wal);
        bool changed = false;
        for (std::size_t at = 0; at < w.size() && !changed;) {
            const auto d = entidb::format::decode_wal(view_of(w).subspan(at));
            REQUIRE(d.status == entidb::format::decode_status::ok);
            if (const auto* put = std::get_if<entidb::format::wal_put>(&d.record)) {
                const auto p = static_cast<std::size_t>(put->after.data() - view_of(w).data());
                w[p + 30] = static_cast<char>(w[p + 30] ^ 0x01);
                put_le(w, at + d.size - 4, entidb::crc32(view_of(w).subspan(at, d.size - 4)), 4);
                changed = true;
            }
            at += d.size;
        }
        REQUIRE(changed);
        write_all(wal, w);

        const auto report = entidb::salvage(dir / "crashed", dir / "out", key());
        CHECK(report.lost_anything());
        CHECK(report.transactions_dropped == 1);
        const auto& segfile = report.files.front();
        CHECK(segfile.name == "SEGMENTS/seg-000001.dat");
        REQUIRE(segfile.damaged.size() == 2);
        for (const auto& [d, n] : {std::pair{segfile.damaged[0], 12}, std::pair{segfile.damaged[1], 17}}) {
            const auto& r = record_of(recs, static_cast<std::uint64_t>(n));
            CHECK(d.begin == r.offset);
            CHECK(d.end == r.offset + r.size);
        }
        CHECK(report.entities == 128);
        auto db = open_enc(dir / "out");
        const auto all = entities_of(db);
        CHECK(all.size() == 128);
        CHECK_FALSE(all.contains(id_of(12)));
        CHECK_FALSE(all.contains(id_of(17)));
        CHECK(all.at(id_of(13)) == marked(13));
        CHECK(all.at(id_of(120)) == marked(120));
    }
}
