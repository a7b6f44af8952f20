// Byte-level tests of the on-disk formats (SPEC.md §3, docs/file-format.md): hand-written
// golden bytes, every decode status, size limits, and the Rust reference fixtures
// (read-only, found through the ENTIDB_FIXTURES_DIR environment variable).
#include <catch2/catch.hpp>

#include <entidb/detail/endian.hpp>
#include <entidb/format/manifest.hpp>
#include <entidb/format/segment_record.hpp>
#include <entidb/format/wal_record.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using entidb::byte;
using entidb::byte_buffer;
using entidb::bytes_view;
using entidb::entity_id;
using entidb::errc;
using namespace entidb::format;

namespace {

byte_buffer bytes(std::initializer_list<int> list) {
    byte_buffer out;
    for (const int b : list) out.push_back(static_cast<byte>(b));
    return out;
}

byte_buffer concat(std::initializer_list<byte_buffer> parts) {
    byte_buffer out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// 14 zero bytes + big-endian u16: the fixtures' id scheme.
entity_id fixture_id(std::uint16_t n) {
    byte_buffer b(16, 0);
    b[14] = static_cast<byte>(n >> 8);
    b[15] = static_cast<byte>(n & 0xFF);
    return entity_id::from_bytes(b);
}

// Recomputes the trailing CRC of a record (WAL or segment: both end with crc32 of all before it).
void reseal(byte_buffer& rec) {
    REQUIRE(rec.size() >= 4);
    const std::uint32_t crc = entidb::crc32(bytes_view(rec).first(rec.size() - 4));
    for (int i = 0; i < 4; ++i) rec[rec.size() - 4 + static_cast<std::size_t>(i)] = static_cast<byte>(crc >> (8 * i));
}

void set_u32(byte_buffer& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<byte>(v >> (8 * i));
}

byte_buffer read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    REQUIRE(f.good());
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

fs::path fixtures_dir() {
    const char* env = std::getenv("ENTIDB_FIXTURES_DIR");
    INFO("ENTIDB_FIXTURES_DIR must name <repo>/../shared/fixtures/rust-reference (tests/meson.build sets it)");
    REQUIRE(env != nullptr);
    const fs::path dir(env);
    REQUIRE(fs::is_directory(dir / "ckpt"));
    return dir;
}

const std::vector<std::string> fixture_names{"aborted", "aborted_walsynth", "ckpt",       "rotated",
                                             "wal",     "wal_noseg",        "wal_reopened"};

// ---- a minimal JSON reader, enough for the fixtures' .expected.json ----
struct json {
    enum kind_t { null, boolean, number, string, array, object } kind = null;
    std::string text;  // string value, or a number's / boolean's spelling
    std::vector<json> items;        // array elements, or object member values
    std::vector<std::string> keys;  // object members: keys[i] names items[i]

    [[nodiscard]] const json& at(std::string_view key) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return items[i];
        FAIL("JSON key not found: " << key);
        return *this;
    }
};

class json_parser {
public:
    explicit json_parser(std::string_view s) : s_(s) {}
    json parse() {
        json v = value();
        ws();
        REQUIRE(i_ == s_.size());
        return v;
    }

private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    char peek() {
        ws();
        REQUIRE(i_ < s_.size());
        return s_[i_];
    }
    void expect(char c) {
        REQUIRE(peek() == c);
        ++i_;
    }
    std::string str() {
        expect('"');
        std::string out;
        while (true) {
            REQUIRE(i_ < s_.size());
            const char c = s_[i_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            REQUIRE(i_ < s_.size());
            const char e = s_[i_++];
            if (e == 'u') {  // kept as-is: the fixtures only use it in free-text notes
                out += "\\u";
                continue;
            }
            const std::string_view from = "\"\\/bfnrt", to = "\"\\/\b\f\n\r\t";
            const auto k = from.find(e);
            REQUIRE(k != std::string_view::npos);
            out += to[k];
        }
    }
    json value() {
        json v;
        const char c = peek();
        if (c == '{') {
            v.kind = json::object;
            ++i_;
            if (peek() == '}') return ++i_, v;
            while (true) {
                std::string k = str();
                expect(':');
                v.keys.push_back(std::move(k));
                v.items.push_back(value());
                if (peek() == '}') return ++i_, v;
                expect(',');
            }
        }
        if (c == '[') {
            v.kind = json::array;
            ++i_;
            if (peek() == ']') return ++i_, v;
            while (true) {
                v.items.push_back(value());
                if (peek() == ']') return ++i_, v;
                expect(',');
            }
        }
        if (c == '"') {
            v.kind = json::string;
            v.text = str();
            return v;
        }
        const std::size_t start = i_;
        while (i_ < s_.size() && std::string_view(",}] \n\r\t").find(s_[i_]) == std::string_view::npos) ++i_;
        v.text = std::string(s_.substr(start, i_ - start));
        REQUIRE(!v.text.empty());
        v.kind = v.text == "null" ? json::null
                 : (v.text == "true" || v.text == "false") ? json::boolean
                                                            : json::number;
        return v;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

std::string to_hex(bytes_view b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (const byte x : b) {
        s += digits[x >> 4];
        s += digits[x & 0xF];
    }
    return s;
}

// ---- a 4 GiB + 1 view that is never touched ----
struct huge_view {
    static constexpr std::size_t size = (std::size_t{1} << 32) + 1;
    void* p = MAP_FAILED;
    huge_view() { p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0); }
    ~huge_view() {
        if (p != MAP_FAILED) ::munmap(p, size);
    }
    huge_view(const huge_view&) = delete;
    huge_view& operator=(const huge_view&) = delete;
    [[nodiscard]] bool ok() const { return p != MAP_FAILED; }
    [[nodiscard]] bytes_view first(std::size_t n) const { return {static_cast<const byte*>(p), n}; }
};

// ---- golden WAL records, written field by field from SPEC.md §3 ----
const byte_buffer wal_head_begin = bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00});

const byte_buffer golden_begin = concat({
    wal_head_begin,                                          // EWAL, v1, BEGIN, length 8
    bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // txid 1
    bytes({0x69, 0x71, 0xfd, 0x21}),                          // crc32 (same bytes as the fixtures' first record)
});

const byte_buffer id_0_to_15 = bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
const byte_buffer id_5 = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x05});
const byte_buffer hash_11 = byte_buffer(32, 0x11);

const byte_buffer golden_put = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x02, 0x24, 0x00, 0x00, 0x00}),  // PUT, length 36
    bytes({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}),               // txid 0x0102030405060708
    bytes({0x0d, 0x0c, 0x0b, 0x0a}),                                       // collection 0x0A0B0C0D
    id_0_to_15,                                                            // entity id
    bytes({0x00}),                                                         // no before_hash
    bytes({0x03, 0x00, 0x00, 0x00}),                                       // after_len 3
    bytes({'a', 'b', 'c'}),                                                // after
    bytes({0x8f, 0x87, 0x1c, 0xf3}),                                       // crc32
});

const byte_buffer golden_put_hash = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x02, 0x43, 0x00, 0x00, 0x00}),  // PUT, length 67
    bytes({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // txid 9
    bytes({0x01, 0x00, 0x00, 0x00}),                                       // collection 1
    id_5,                                                                  //
    bytes({0x01}), hash_11,                                                // before_hash 11 11 ...
    bytes({0x02, 0x00, 0x00, 0x00}), bytes({0xa0, 0x01}),                  // after_len 2, after
    bytes({0xd5, 0xa8, 0x88, 0x57}),                                       // crc32
});

const byte_buffer golden_delete = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x03, 0x3d, 0x00, 0x00, 0x00}),  // DELETE, length 61
    bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // txid 2
    bytes({0x01, 0x00, 0x00, 0x00}),                                       // collection 1
    id_5,                                                                  //
    bytes({0x01}), hash_11,                                                // before_hash
    bytes({0xb7, 0xf7, 0xc7, 0x87}),                                       // crc32
});

const byte_buffer golden_delete_nohash = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x03, 0x1d, 0x00, 0x00, 0x00}),  // DELETE, length 29
    bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // txid 2
    bytes({0x01, 0x00, 0x00, 0x00}),                                       // collection 1
    id_5,                                                                  //
    bytes({0x00}),                                                         // no before_hash
    bytes({0xea, 0xce, 0x12, 0x6f}),                                       // crc32
});

const byte_buffer golden_commit = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x04, 0x10, 0x00, 0x00, 0x00}),  // COMMIT, length 16
    bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // txid 2
    bytes({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}),               // sequence 0x1122334455667788
    bytes({0x12, 0xd3, 0xd4, 0x14}),                                       // crc32
});

const byte_buffer golden_abort = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x05, 0x08, 0x00, 0x00, 0x00}),  // ABORT, length 8
    bytes({0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // txid 3
    bytes({0x82, 0x1c, 0x61, 0xa3}),                                       // crc32
});

const byte_buffer golden_checkpoint = concat({
    bytes({'E', 'W', 'A', 'L', 0x01, 0x00, 0x06, 0x08, 0x00, 0x00, 0x00}),  // CHECKPOINT, length 8
    bytes({0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),               // sequence 12
    bytes({0xe0, 0x62, 0x8b, 0xc7}),                                       // crc32
});

const std::vector<const byte_buffer*> all_wal_goldens{&golden_begin,  &golden_put,    &golden_put_hash,
                                                      &golden_delete, &golden_delete_nohash, &golden_commit,
                                                      &golden_abort,  &golden_checkpoint};

// ---- golden segment records ----
const byte_buffer golden_segment = concat({
    bytes({0x27, 0x00, 0x00, 0x00}),                          // record_len 39
    bytes({0x02, 0x00, 0x00, 0x00}),                          // collection 2
    id_0_to_15,                                               //
    bytes({0x00}),                                            // flags
    bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // sequence 1
    bytes({'h', 'i'}),                                        // payload
    bytes({0xc3, 0x57, 0xe3, 0x6e}),                          // crc32
});

const byte_buffer golden_tombstone = concat({
    bytes({0x25, 0x00, 0x00, 0x00}),                          // record_len 37
    bytes({0x01, 0x00, 0x00, 0x00}),                          // collection 1
    id_5,                                                     //
    bytes({0x01}),                                            // flags: tombstone
    bytes({0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // sequence 7
    bytes({0xad, 0xe7, 0x33, 0x67}),                          // crc32
});

byte_buffer encode_wal(const wal_record& r) {
    byte_buffer out;
    encode(r, out);
    return out;
}

byte_buffer encode_seg(const segment_record& r) {
    byte_buffer out;
    encode(r, out);
    return out;
}

}  // namespace

// ===================================================================== endian helpers

TEST_CASE("endian helpers write and read little-endian whatever the host") {
    byte_buffer out;
    entidb::detail::put_u16(out, 0x0102);
    entidb::detail::put_u32(out, 0x03040506);
    entidb::detail::put_u64(out, 0x0708090A0B0C0D0Eull);
    CHECK(out == bytes({0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07}));
    CHECK(entidb::detail::get_u16(out.data()) == 0x0102);
    CHECK(entidb::detail::get_u32(out.data() + 2) == 0x03040506u);
    CHECK(entidb::detail::get_u64(out.data() + 6) == 0x0708090A0B0C0D0Eull);

    entidb::detail::byte_reader r(bytes_view(out).first(3));
    CHECK(r.u16() == 0x0102);
    CHECK_FALSE(r.overrun());
    CHECK(r.u32() == 0);  // only 1 byte left: reads nothing
    CHECK(r.overrun());
    CHECK(r.empty());
}

// ===================================================================== WAL

TEST_CASE("WAL records encode to the hand-written golden bytes") {
    CHECK(encode_wal(wal_begin{1}) == golden_begin);
    CHECK(encode_wal(wal_put{0x0102030405060708ull, 0x0A0B0C0D, entity_id::from_bytes(id_0_to_15), std::nullopt,
                             entidb::as_bytes("abc")}) == golden_put);
    content_hash h;
    h.fill(0x11);
    const byte_buffer after = bytes({0xa0, 0x01});
    CHECK(encode_wal(wal_put{9, 1, fixture_id(5), h, after}) == golden_put_hash);
    CHECK(encode_wal(wal_delete{2, 1, fixture_id(5), h}) == golden_delete);
    CHECK(encode_wal(wal_delete{2, 1, fixture_id(5), std::nullopt}) == golden_delete_nohash);
    CHECK(encode_wal(wal_commit{2, 0x1122334455667788ull}) == golden_commit);
    CHECK(encode_wal(wal_abort{3}) == golden_abort);
    CHECK(encode_wal(wal_checkpoint{12}) == golden_checkpoint);

    CHECK(encoded_size(wal_record{wal_begin{1}}) == golden_begin.size());
    CHECK(encoded_size(wal_record{wal_put{9, 1, fixture_id(5), h, after}}) == golden_put_hash.size());
    CHECK(encoded_size(wal_record{wal_delete{2, 1, fixture_id(5), std::nullopt}}) == golden_delete_nohash.size());
    CHECK(encoded_size(wal_record{wal_commit{2, 3}}) == golden_commit.size());
}

TEST_CASE("WAL encode appends after what the buffer already holds") {
    byte_buffer out = bytes({0xAA, 0xBB});
    encode(wal_begin{1}, out);
    CHECK(out == concat({bytes({0xAA, 0xBB}), golden_begin}));
}

TEST_CASE("WAL golden bytes decode to their records") {
    SECTION("BEGIN") {
        const auto d = decode_wal(golden_begin);
        REQUIRE(d.status == decode_status::ok);
        CHECK(d.size == golden_begin.size());
        CHECK(d.problem.empty());
        CHECK(type_of(d.record) == wal_type::begin);
        CHECK(std::get<wal_begin>(d.record).txid == 1);
    }
    SECTION("PUT") {
        const auto d = decode_wal(golden_put);
        REQUIRE(d.status == decode_status::ok);
        CHECK(d.size == golden_put.size());
        const auto& p = std::get<wal_put>(d.record);
        CHECK(p.txid == 0x0102030405060708ull);
        CHECK(p.collection_id == 0x0A0B0C0Du);
        CHECK(p.id == entity_id::from_bytes(id_0_to_15));
        CHECK_FALSE(p.before_hash);
        CHECK(entidb::as_chars(p.after) == "abc");
        CHECK(p.after.data() == golden_put.data() + 44);  // a view into the input
    }
    SECTION("PUT with before_hash") {
        const auto d = decode_wal(golden_put_hash);
        REQUIRE(d.status == decode_status::ok);
        const auto& p = std::get<wal_put>(d.record);
        REQUIRE(p.before_hash);
        CHECK(std::all_of(p.before_hash->begin(), p.before_hash->end(), [](byte b) { return b == 0x11; }));
        CHECK(byte_buffer(p.after.begin(), p.after.end()) == bytes({0xa0, 0x01}));
    }
    SECTION("DELETE") {
        const auto d = decode_wal(golden_delete);
        REQUIRE(d.status == decode_status::ok);
        const auto& x = std::get<wal_delete>(d.record);
        CHECK(x.txid == 2);
        CHECK(x.collection_id == 1);
        CHECK(x.id == fixture_id(5));
        REQUIRE(x.before_hash);
        CHECK((*x.before_hash)[31] == 0x11);
        const auto n = decode_wal(golden_delete_nohash);
        REQUIRE(n.status == decode_status::ok);
        CHECK_FALSE(std::get<wal_delete>(n.record).before_hash);
    }
    SECTION("COMMIT, ABORT, CHECKPOINT") {
        const auto c = decode_wal(golden_commit);
        REQUIRE(c.status == decode_status::ok);
        CHECK(std::get<wal_commit>(c.record).txid == 2);
        CHECK(std::get<wal_commit>(c.record).sequence == 0x1122334455667788ull);
        const auto a = decode_wal(golden_abort);
        REQUIRE(a.status == decode_status::ok);
        CHECK(std::get<wal_abort>(a.record).txid == 3);
        const auto k = decode_wal(golden_checkpoint);
        REQUIRE(k.status == decode_status::ok);
        CHECK(std::get<wal_checkpoint>(k.record).sequence == 12);
    }
}

TEST_CASE("WAL records round-trip and can be walked back to back") {
    content_hash h;
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<byte>(i * 7);
    const byte_buffer big(70000, 0x5A);
    const std::vector<wal_record> records{
        wal_begin{~0ull},
        wal_put{7, 0xFFFFFFFFu, fixture_id(65535), std::nullopt, {}},
        wal_put{7, 3, fixture_id(1), h, big},
        wal_delete{7, 3, fixture_id(2), std::nullopt},
        wal_delete{7, 3, fixture_id(2), h},
        wal_commit{7, 42},
        wal_abort{8},
        wal_checkpoint{0},
    };
    byte_buffer log;
    for (const auto& r : records) encode(r, log);

    std::size_t pos = 0;
    for (const auto& expected : records) {
        const auto d = decode_wal(bytes_view(log).subspan(pos));
        REQUIRE(d.status == decode_status::ok);
        CHECK(d.size == encoded_size(expected));
        REQUIRE(d.record.index() == expected.index());
        CHECK(encode_wal(d.record) == encode_wal(expected));  // every field survived
        pos += d.size;
    }
    CHECK(pos == log.size());
    CHECK(decode_wal(bytes_view(log).subspan(pos)).status == decode_status::incomplete);  // empty input
}

TEST_CASE("WAL: truncation at every byte position is incomplete") {
    for (const auto* g : all_wal_goldens) {
        for (std::size_t n = 0; n < g->size(); ++n) {
            const auto d = decode_wal(bytes_view(*g).first(n));
            INFO("type " << int((*g)[6]) << ", " << n << " of " << g->size() << " bytes: " << d.problem);
            CHECK(d.status == decode_status::incomplete);
            CHECK(d.size == 0);
        }
    }
}

TEST_CASE("WAL: any single flipped bit is never ok") {
    for (const auto* g : all_wal_goldens) {
        for (std::size_t bit = 0; bit < g->size() * 8; ++bit) {
            byte_buffer b = *g;
            b[bit / 8] ^= static_cast<byte>(1u << (bit % 8));
            const auto d = decode_wal(b);
            INFO("type " << int((*g)[6]) << ", bit " << bit << ": " << to_string(d.status) << ": " << d.problem);
            CHECK(d.status != decode_status::ok);
            CHECK_FALSE(d.problem.empty());
            const bool in_length_field = bit / 8 >= 7 && bit / 8 < 11;
            if (!in_length_field)
                CHECK((d.status == decode_status::bad_checksum || d.status == decode_status::malformed));
            // With slack after the record, a length that still fits is complete: it cannot
            // pass as a torn tail.
            byte_buffer padded = b;
            padded.resize(b.size() + 4096, 0);
            const auto p = decode_wal(padded);
            CHECK(p.status != decode_status::ok);
            const std::size_t declared = wal_header_size + entidb::detail::get_u32(b.data() + 7) + wal_crc_size;
            if (declared <= padded.size())
                CHECK((p.status == decode_status::bad_checksum || p.status == decode_status::malformed));
        }
    }
}

TEST_CASE("WAL: bad_checksum reports the record's size so a caller can look past it") {
    byte_buffer log = concat({golden_put, golden_commit});
    log[20] ^= 0x40;  // inside PUT's payload
    const auto d = decode_wal(log);
    CHECK(d.status == decode_status::bad_checksum);
    CHECK(d.size == golden_put.size());
    CHECK(decode_wal(bytes_view(log).subspan(d.size)).status == decode_status::ok);
}

TEST_CASE("WAL: wrong magic is malformed without needing the CRC or the whole header") {
    CHECK(decode_wal(bytes({'X'})).status == decode_status::malformed);
    CHECK(decode_wal(bytes({'E', 'W', 'A', 'X', 0x01})).status == decode_status::malformed);
    CHECK(decode_wal(bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})).status == decode_status::malformed);
    // A garbage header claiming a huge length is not an "incomplete" torn tail.
    byte_buffer b = golden_begin;
    b[0] = 'e';
    set_u32(b, 7, 0xFFFFFFF0u);
    CHECK(decode_wal(b).status == decode_status::malformed);
    // A correct prefix of the magic is just short.
    CHECK(decode_wal(bytes({'E', 'W'})).status == decode_status::incomplete);
}

TEST_CASE("WAL: header fields no writer produces are malformed, even with a valid CRC") {
    SECTION("version 2") {
        byte_buffer b = golden_begin;
        b[4] = 2;
        reseal(b);
        CHECK(decode_wal(b).status == decode_status::malformed);
    }
    SECTION("unknown types 0 and 7") {
        for (const int t : {0, 7, 255}) {
            byte_buffer b = golden_begin;
            b[6] = static_cast<byte>(t);
            reseal(b);
            const auto d = decode_wal(b);
            INFO(d.problem);
            CHECK(d.status == decode_status::malformed);
        }
    }
}

TEST_CASE("WAL: trailing bytes inside fixed-size payloads are malformed even with a valid CRC") {
    // Grows the payload by `extra` zero bytes (before the CRC), fixes length and CRC.
    const auto grow = [](const byte_buffer& rec, std::size_t extra) {
        byte_buffer b(rec.begin(), rec.end() - 4);
        b.insert(b.end(), extra, 0);
        set_u32(b, 7, static_cast<std::uint32_t>(b.size() - wal_header_size));
        b.resize(b.size() + 4);
        reseal(b);
        return b;
    };
    for (const auto* g : {&golden_begin, &golden_commit, &golden_abort, &golden_checkpoint, &golden_delete,
                          &golden_delete_nohash}) {
        const auto d = decode_wal(grow(*g, 1));
        INFO("type " << int((*g)[6]) << ": " << d.problem);
        CHECK(d.status == decode_status::malformed);
    }
    // A BEGIN of length 9 — the seed review's case — spelled out.
    const byte_buffer begin9 = grow(golden_begin, 1);
    CHECK(begin9[7] == 9);
    CHECK(decode_wal(begin9).status == decode_status::malformed);
    // DELETE with room for a hash but has_before_hash = 0: 32 trailing bytes.
    byte_buffer del = golden_delete;
    del[wal_header_size + 28] = 0;
    reseal(del);
    CHECK(decode_wal(del).status == decode_status::malformed);
    // DELETE claiming a hash it has no room for.
    byte_buffer del2 = golden_delete_nohash;
    del2[wal_header_size + 28] = 1;
    reseal(del2);
    CHECK(decode_wal(del2).status == decode_status::malformed);
    // Shrunk payloads are malformed too.
    byte_buffer b(golden_commit.begin(), golden_commit.end() - 5);
    set_u32(b, 7, 15);
    b.resize(b.size() + 4);
    reseal(b);
    CHECK(decode_wal(b).status == decode_status::malformed);
}

TEST_CASE("WAL: has_before_hash must be 0 or 1") {
    for (const auto* g : {&golden_put, &golden_delete_nohash, &golden_delete}) {
        byte_buffer b = *g;
        b[wal_header_size + 28] = 2;
        reseal(b);
        const auto d = decode_wal(b);
        INFO(d.problem);
        CHECK(d.status == decode_status::malformed);
        CHECK(d.problem.find("has_before_hash") != std::string::npos);
    }
}

TEST_CASE("WAL: PUT after_len must equal the rest of the payload") {
    const std::size_t after_len_at = wal_header_size + 29;
    for (const std::uint32_t bad : {0u, 2u, 4u, 0xFFFFFFFFu}) {
        byte_buffer b = golden_put;
        set_u32(b, after_len_at, bad);
        reseal(b);
        const auto d = decode_wal(b);
        INFO(bad << ": " << d.problem);
        CHECK(d.status == decode_status::malformed);
        CHECK(d.size == golden_put.size());
    }
    // A PUT whose payload is shorter than its fixed part.
    byte_buffer b(golden_delete_nohash.begin(), golden_delete_nohash.end());
    b[6] = static_cast<byte>(wal_type::put);
    reseal(b);
    CHECK(decode_wal(b).status == decode_status::malformed);
    // has_before_hash = 1 with no room for the hash.
    byte_buffer c = golden_put;
    c[wal_header_size + 28] = 1;
    reseal(c);
    CHECK(decode_wal(c).status == decode_status::malformed);
}

TEST_CASE("WAL: a payload too long for u32 is rejected before anything is written") {
    const huge_view huge;
    if (!huge.ok()) {
        WARN("cannot reserve 4 GiB of address space; skipping");
        return;
    }
    byte_buffer out = bytes({1, 2, 3});
    const byte_buffer before = out;
    content_hash h{};
    const std::size_t max_no_hash = std::numeric_limits<std::uint32_t>::max() - wal_put_min_payload_size;

    const wal_record too_big_hash = wal_put{1, 1, fixture_id(1), h, huge.first(wal_max_after_size + 1)};
    CHECK(encoded_size(too_big_hash) == wal_header_size + std::size_t{0xFFFFFFFFu} + 1 + wal_crc_size);
    CHECK_THROWS_MATCHES(encode(too_big_hash, out), entidb::error,
                         Catch::Matchers::Predicate<entidb::error>(
                             [](const entidb::error& e) { return e.value() == errc::too_large; }, "too_large"));
    CHECK(out == before);

    CHECK_THROWS_AS(encode(wal_put{1, 1, fixture_id(1), std::nullopt, huge.first(max_no_hash + 1)}, out),
                    entidb::error);
    CHECK(out == before);
    try {
        encode(wal_put{1, 1, fixture_id(1), std::nullopt, huge.first(huge_view::size)}, out);
        FAIL("no exception");
    } catch (const entidb::error& e) {
        CHECK(e.value() == errc::too_large);
    }
    CHECK(out == before);
    CHECK(out.capacity() < 1024);  // nothing was reserved either
}

// ===================================================================== segment records

TEST_CASE("segment records encode to the hand-written golden bytes and back") {
    const segment_record r{2, entity_id::from_bytes(id_0_to_15), 0, 1, entidb::as_bytes("hi")};
    CHECK(encode_seg(r) == golden_segment);
    CHECK(encoded_size(r) == golden_segment.size());
    const segment_record t{1, fixture_id(5), flag_tombstone, 7, {}};
    CHECK(encode_seg(t) == golden_tombstone);
    CHECK(encoded_size(t) == segment_record_overhead);

    const auto d = decode_segment(golden_segment);
    REQUIRE(d.status == decode_status::ok);
    CHECK(d.size == golden_segment.size());
    CHECK(d.record.collection_id == 2);
    CHECK(d.record.id == entity_id::from_bytes(id_0_to_15));
    CHECK(d.record.flags == 0);
    CHECK_FALSE(d.record.tombstone());
    CHECK(d.record.sequence == 1);
    CHECK(entidb::as_chars(d.record.payload) == "hi");
    CHECK(d.record.payload.data() == golden_segment.data() + segment_payload_offset);

    const auto k = decode_segment(golden_tombstone);
    REQUIRE(k.status == decode_status::ok);
    CHECK(k.record.tombstone());
    CHECK(k.record.payload.empty());
    CHECK(k.record.sequence == 7);
    CHECK(k.record.id == fixture_id(5));

    const byte_buffer enc(1000, 0xEE);
    const segment_record e{9, fixture_id(9), flag_encrypted, ~0ull, enc};
    const auto de = decode_segment(encode_seg(e));
    REQUIRE(de.status == decode_status::ok);
    CHECK(de.record.encrypted());
    CHECK(de.record.sequence == ~0ull);
    CHECK(de.record.payload.size() == 1000);

    CHECK(peek_record_length(golden_segment) == 39u);
    CHECK_FALSE(peek_record_length(bytes({0x27, 0, 0})));
}

TEST_CASE("segment: truncation at every byte position is incomplete") {
    for (const auto* g : {&golden_segment, &golden_tombstone}) {
        for (std::size_t n = 0; n < g->size(); ++n) {
            const auto d = decode_segment(bytes_view(*g).first(n));
            INFO(n << " bytes: " << d.problem);
            CHECK(d.status == decode_status::incomplete);
        }
    }
}

TEST_CASE("segment: any single flipped bit is never ok") {
    for (const auto* g : {&golden_segment, &golden_tombstone}) {
        for (std::size_t bit = 0; bit < g->size() * 8; ++bit) {
            byte_buffer b = *g;
            b[bit / 8] ^= static_cast<byte>(1u << (bit % 8));
            const auto d = decode_segment(b);
            INFO("bit " << bit << ": " << to_string(d.status) << ": " << d.problem);
            CHECK(d.status != decode_status::ok);
            if (bit / 8 >= 4) CHECK((d.status == decode_status::bad_checksum || d.status == decode_status::malformed));
        }
    }
}

TEST_CASE("segment: malformed records") {
    SECTION("record_len below the overhead, whatever the CRC") {
        for (const std::uint32_t len : {0u, 4u, 36u}) {
            byte_buffer b = golden_tombstone;
            set_u32(b, 0, len);
            CHECK(decode_segment(b).status == decode_status::malformed);
        }
    }
    SECTION("unknown flag bits") {
        byte_buffer b = golden_segment;
        b[24] = 0x04;
        reseal(b);
        CHECK(decode_segment(b).status == decode_status::malformed);
    }
    SECTION("a tombstone with a payload") {
        byte_buffer b = golden_segment;
        b[24] = flag_tombstone;
        reseal(b);
        const auto d = decode_segment(b);
        CHECK(d.status == decode_status::malformed);
        CHECK(d.size == b.size());
    }
    SECTION("bad checksum keeps the size") {
        byte_buffer b = concat({golden_segment, golden_tombstone});
        b[35] ^= 1;
        const auto d = decode_segment(b);
        CHECK(d.status == decode_status::bad_checksum);
        CHECK(d.size == golden_segment.size());
        CHECK(decode_segment(bytes_view(b).subspan(d.size)).status == decode_status::ok);
    }
}

TEST_CASE("segment: decode_segment_into reuses the caller's struct") {
    segment_decoded d{};
    // A failure writes its problem and clears the record...
    byte_buffer bad = golden_segment;
    bad[35] ^= 1;
    CHECK(decode_segment_into(bad, d) == decode_status::bad_checksum);
    CHECK(d.status == decode_status::bad_checksum);
    CHECK(d.size == golden_segment.size());
    CHECK_FALSE(d.problem.empty());
    CHECK(d.record.payload.empty());
    // ...a success then fills every field, whatever the struct held before.
    CHECK(decode_segment_into(golden_segment, d) == decode_status::ok);
    CHECK(d.status == decode_status::ok);
    CHECK(d.size == golden_segment.size());
    CHECK(d.record.collection_id == 2);
    CHECK(d.record.id == entity_id::from_bytes(id_0_to_15));
    CHECK(d.record.flags == 0);
    CHECK(d.record.sequence == 1);
    CHECK(d.record.payload.data() == golden_segment.data() + segment_payload_offset);
    CHECK(entidb::as_chars(d.record.payload) == "hi");
    CHECK(decode_segment_into(golden_tombstone, d) == decode_status::ok);
    CHECK(d.record.tombstone());
    CHECK(d.record.payload.empty());
    CHECK(d.record.sequence == 7);
    CHECK(d.record.id == fixture_id(5));
    CHECK(d.size == golden_tombstone.size());
    // And as a value, a failure carries its own problem.
    CHECK_FALSE(decode_segment(bad).problem.empty());
    CHECK(decode_segment(golden_segment).problem.empty());
}

TEST_CASE("segment encode rejects bad records before writing") {
    byte_buffer out = bytes({9});
    CHECK_THROWS_MATCHES(encode(segment_record{1, fixture_id(1), flag_tombstone, 1, entidb::as_bytes("x")}, out),
                         entidb::error,
                         Catch::Matchers::Predicate<entidb::error>(
                             [](const entidb::error& e) { return e.value() == errc::invalid_argument; }, "invalid"));
    CHECK_THROWS_AS(encode(segment_record{1, fixture_id(1), 0x80, 1, {}}, out), entidb::error);
    CHECK(out == bytes({9}));

    const huge_view huge;
    if (!huge.ok()) {
        WARN("cannot reserve 4 GiB of address space; skipping the too_large half");
        return;
    }
    for (const std::size_t n : {segment_max_payload_size + 1, huge_view::size}) {
        try {
            encode(segment_record{1, fixture_id(1), 0, 1, huge.first(n)}, out);
            FAIL("no exception");
        } catch (const entidb::error& e) {
            CHECK(e.value() == errc::too_large);
        }
        CHECK(out == bytes({9}));
    }
}

// ===================================================================== fixtures

namespace {

struct visible_value {
    std::uint64_t seq;
    std::optional<byte_buffer> payload;  // nullopt: deleted
};
using state_map = std::map<std::pair<std::uint32_t, entity_id>, visible_value>;

void apply(state_map& s, std::uint32_t coll, const entity_id& id, std::uint64_t seq,
           std::optional<byte_buffer> payload) {
    auto [it, fresh] = s.try_emplace({coll, id}, visible_value{seq, payload});
    if (!fresh && seq >= it->second.seq) it->second = {seq, std::move(payload)};
}

struct wal_walk {
    std::size_t records = 0;
    std::map<wal_type, std::size_t> by_type;
    std::vector<std::uint64_t> commit_seqs;
};

// Walks a whole wal.log; every record must be ok. Committed PUT/DELETEs go into `state`.
wal_walk walk_wal(const byte_buffer& log, state_map& state) {
    wal_walk w;
    std::map<std::uint64_t, std::vector<wal_record>> pending;
    std::size_t pos = 0;
    while (pos < log.size()) {
        const auto d = decode_wal(bytes_view(log).subspan(pos));
        INFO("offset " << pos << ": " << d.problem);
        REQUIRE(d.status == decode_status::ok);
        ++w.records;
        ++w.by_type[type_of(d.record)];
        if (const auto* p = std::get_if<wal_put>(&d.record)) pending[p->txid].push_back(*p);
        if (const auto* x = std::get_if<wal_delete>(&d.record)) pending[x->txid].push_back(*x);
        if (const auto* a = std::get_if<wal_abort>(&d.record)) pending.erase(a->txid);
        if (const auto* c = std::get_if<wal_commit>(&d.record)) {
            w.commit_seqs.push_back(c->sequence);
            for (const auto& r : pending[c->txid]) {
                if (const auto* p = std::get_if<wal_put>(&r))
                    apply(state, p->collection_id, p->id, c->sequence, byte_buffer(p->after.begin(), p->after.end()));
                else if (const auto* x = std::get_if<wal_delete>(&r))
                    apply(state, x->collection_id, x->id, c->sequence, std::nullopt);
            }
            pending.erase(c->txid);
        }
        pos += d.size;
    }
    CHECK(pos == log.size());
    return w;
}

// Walks every SEGMENTS/seg-*.dat in order; every record must be ok. Returns the record count.
std::size_t walk_segments(const fs::path& dir, state_map& state, std::size_t& files) {
    std::vector<fs::path> segs;
    for (const auto& e : fs::directory_iterator(dir / "SEGMENTS")) segs.push_back(e.path());
    std::sort(segs.begin(), segs.end());
    files = segs.size();
    std::size_t records = 0;
    for (const auto& p : segs) {
        const byte_buffer data = read_file(p);
        std::size_t pos = 0;
        while (pos < data.size()) {
            const auto d = decode_segment(bytes_view(data).subspan(pos));
            INFO(p << " offset " << pos << ": " << d.problem);
            REQUIRE(d.status == decode_status::ok);
            REQUIRE(peek_record_length(bytes_view(data).subspan(pos)) == d.size);
            const auto& r = d.record;
            if (r.tombstone())
                apply(state, r.collection_id, r.id, r.sequence, std::nullopt);
            else
                apply(state, r.collection_id, r.id, r.sequence, byte_buffer(r.payload.begin(), r.payload.end()));
            ++records;
            pos += d.size;
        }
    }
    return records;
}

}  // namespace

TEST_CASE("every record of every Rust fixture decodes, and together they give the expected state") {
    const fs::path root = fixtures_dir();
    for (const auto& name : fixture_names) {
        INFO("fixture " << name);
        const fs::path dir = root / name;
        const json expected =
            json_parser(entidb::as_chars(read_file(root / (name + ".expected.json")))).parse();

        // MANIFEST: collections as in the expected file, and a byte-exact re-encode.
        const byte_buffer manifest_bytes = read_file(dir / "MANIFEST");
        const manifest m = decode_manifest(manifest_bytes, (dir / "MANIFEST").string());
        const json& ids = expected.at("collection_ids");
        REQUIRE(m.collections.size() == ids.keys.size());
        std::map<std::string, std::uint32_t> coll_by_name;
        for (const auto& c : m.collections) coll_by_name[c.name] = c.id;
        for (std::size_t i = 0; i < ids.keys.size(); ++i)
            CHECK(coll_by_name.at(ids.keys[i]) == std::stoul(ids.items[i].text));
        CHECK(m.format_major == 1);
        CHECK(m.format_minor == 0);
        CHECK(m.indexes.empty());
        CHECK_FALSE(opens_read_only(m));
        CHECK(encode(m) == manifest_bytes);
        const json& cp = expected.at("meta").at("engine_manifest_last_checkpoint");
        if (cp.kind == json::null)
            CHECK_FALSE(m.checkpoint_seq);
        else
            CHECK(m.checkpoint_seq == std::stoull(cp.text));

        // Segments, then the committed WAL transactions on top: highest sequence wins.
        state_map state;
        std::size_t files = 0;
        const std::size_t seg_records = walk_segments(dir, state, files);
        const byte_buffer log = read_file(dir / "wal.log");
        const wal_walk w = walk_wal(log, state);
        CHECK(std::is_sorted(w.commit_seqs.begin(), w.commit_seqs.end()));
        CHECK(std::adjacent_find(w.commit_seqs.begin(), w.commit_seqs.end()) == w.commit_seqs.end());

        if (name == "wal" || name == "wal_noseg" || name == "wal_reopened") {
            CHECK(log.size() == 6655);
            CHECK(w.records == 100);
            CHECK(w.by_type.at(wal_type::begin) == 12);
            CHECK(w.by_type.at(wal_type::commit) == 12);
            CHECK(w.commit_seqs.front() == 1);
            CHECK(w.commit_seqs.back() == 12);
        }
        if (name == "wal" || name == "ckpt") CHECK(seg_records == 76);
        if (name == "wal_reopened") CHECK(seg_records == 152);
        if (name == "wal_noseg") CHECK(seg_records == 0);
        if (name == "ckpt" || name == "rotated") CHECK(w.records == 0);
        if (name == "rotated") CHECK(files == 8);
        if (name == "aborted") {
            CHECK(w.by_type.at(wal_type::abort) == 1);
            CHECK(w.by_type.at(wal_type::begin) == 4);  // T4..T7
            CHECK(w.by_type.count(wal_type::put) + w.by_type.count(wal_type::del) > 0);
        }

        // The visible state equals the expected file exactly.
        std::map<std::uint32_t, std::string> name_by_coll;
        for (const auto& c : m.collections) name_by_coll[c.id] = c.name;
        std::map<std::string, std::map<std::string, std::string>> got;
        for (const auto& [key, v] : state)
            if (v.payload) got[name_by_coll.at(key.first)][key.second.to_hex()] = to_hex(*v.payload);
        std::map<std::string, std::map<std::string, std::string>> want;
        const json& colls = expected.at("collections");
        for (std::size_t i = 0; i < colls.keys.size(); ++i)
            for (std::size_t k = 0; k < colls.items[i].keys.size(); ++k)
                want[colls.keys[i]][colls.items[i].keys[k]] = colls.items[i].items[k].text;
        for (auto it = got.begin(); it != got.end();) it = it->second.empty() ? got.erase(it) : std::next(it);
        for (auto it = want.begin(); it != want.end();) it = it->second.empty() ? want.erase(it) : std::next(it);
        CHECK(got == want);
    }
}

// ===================================================================== MANIFEST

namespace {

// Two collections, two indexes and a checkpoint, written field by field.
const byte_buffer golden_manifest = concat({
    bytes({'E', 'M', 'F', 'N'}),                              // magic
    bytes({0x02, 0x00}),                                      // manifest_version 2
    bytes({0x01, 0x00}), bytes({0x00, 0x00}),                 // format 1.0
    bytes({0x03, 0x00, 0x00, 0x00}),                          // next_collection_id 3
    bytes({0x02, 0x00, 0x00, 0x00}),                          // collection_count 2
    bytes({0x01, 0x00, 'a'}), bytes({0x01, 0x00, 0x00, 0x00}),  // "a" = 1
    bytes({0x01, 0x00, 'b'}), bytes({0x02, 0x00, 0x00, 0x00}),  // "b" = 2
    bytes({0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // next_index_id 3
    bytes({0x02, 0x00, 0x00, 0x00}),                          // index_count 2
    bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // index 1
    bytes({0x02, 0x00, 0x00, 0x00}),                          //   on collection 2
    bytes({0x01, 0x00}), bytes({0x01, 0x00, 'n'}),            //   path ["n"]
    bytes({0x00}), bytes({0x00}),                             //   hash, not unique
    bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   created_at_seq 0
    bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // index 2
    bytes({0x01, 0x00, 0x00, 0x00}),                          //   on collection 1
    bytes({0x02, 0x00}), bytes({0x01, 0x00, 'x'}), bytes({0x01, 0x00, 'y'}),  // path ["x", "y"]
    bytes({0x01}), bytes({0x01}),                             //   btree, unique
    bytes({0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   created_at_seq 5
    bytes({0x01}),                                            // has_checkpoint
    bytes({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  // checkpoint_seq 9
});

manifest golden_manifest_value() {
    manifest m;
    m.next_collection_id = 3;
    m.collections = {{"a", 1}, {"b", 2}};
    m.next_index_id = 3;
    m.indexes = {{1, 2, {"n"}, entidb::index_kind::hash, false, 0},
                 {2, 1, {"x", "y"}, entidb::index_kind::ordered, true, 5}};
    m.checkpoint_seq = 9;
    return m;
}

// Offsets in golden_manifest.
constexpr std::size_t gm_first_name = 20;   // 'a'
constexpr std::size_t gm_second_name = 27;  // 'b'
constexpr std::size_t gm_index_count = 40;
constexpr std::size_t gm_index1_id = 44;
constexpr std::size_t gm_index1_coll = 52;
constexpr std::size_t gm_index1_kind = 61;
constexpr std::size_t gm_index2_unique = 92;
constexpr std::size_t gm_has_checkpoint = 101;

errc decode_error(const byte_buffer& b, std::optional<std::uint64_t>* offset = nullptr,
                  std::string* what = nullptr) {
    try {
        (void)decode_manifest(b, "/db/MANIFEST");
    } catch (const entidb::error& e) {
        if (offset) *offset = e.offset();
        if (what) *what = e.what();
        CHECK(e.path() == "/db/MANIFEST");
        return e.value();
    }
    return errc::ok;
}

errc encode_error(const manifest& m) {
    try {
        (void)encode(m);
    } catch (const entidb::error& e) {
        return e.value();
    }
    return errc::ok;
}

}  // namespace

TEST_CASE("MANIFEST golden bytes: encode, decode, sorted output") {
    REQUIRE(golden_manifest.size() == 110);
    REQUIRE(golden_manifest[gm_first_name] == 'a');
    REQUIRE(golden_manifest[gm_second_name] == 'b');
    REQUIRE(golden_manifest[gm_index1_kind] == 0);
    REQUIRE(golden_manifest[gm_index2_unique] == 1);
    REQUIRE(golden_manifest[gm_has_checkpoint] == 1);

    const manifest m = golden_manifest_value();
    CHECK(encode(m) == golden_manifest);
    CHECK(decode_manifest(golden_manifest, "MANIFEST") == m);

    manifest shuffled = m;
    std::reverse(shuffled.collections.begin(), shuffled.collections.end());
    std::reverse(shuffled.indexes.begin(), shuffled.indexes.end());
    CHECK(encode(shuffled) == golden_manifest);

    // The default manifest of a new database.
    const byte_buffer fresh = encode(manifest{});
    CHECK(fresh == concat({bytes({'E', 'M', 'F', 'N', 2, 0, 1, 0, 0, 0}), bytes({1, 0, 0, 0, 0, 0, 0, 0}),
                           bytes({1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), bytes({0})}));
    CHECK(decode_manifest(fresh, "x") == manifest{});
}

TEST_CASE("MANIFEST names sort bytewise (unsigned), not by locale or signed char") {
    manifest m;
    m.next_collection_id = 10;
    m.collections = {{"\xc3\xa9t\xc3\xa9", 1}, {"Zoo", 2}, {"zoo", 3}, {"", 4}, {"a", 5}, {"ab", 6}};
    const manifest back = decode_manifest(encode(m), "x");
    std::vector<std::string> names;
    for (const auto& c : back.collections) names.push_back(c.name);
    CHECK(names == std::vector<std::string>{"", "Zoo", "a", "ab", "zoo", "\xc3\xa9t\xc3\xa9"});
}

TEST_CASE("MANIFEST rejection: magic and versions") {
    std::optional<std::uint64_t> off;
    std::string what;
    SECTION("bad magic") {
        byte_buffer b = golden_manifest;
        b[3] = 'X';
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == 0u);
    }
    SECTION("format major 2") {
        byte_buffer b = golden_manifest;
        b[6] = 2;
        CHECK(decode_error(b, &off, &what) == errc::unsupported_version);
        CHECK(what.find("2.0") != std::string::npos);
        CHECK(what.find("major version 1") != std::string::npos);
        b[6] = 0;
        CHECK(decode_error(b) == errc::unsupported_version);
    }
    SECTION("manifest_version 4") {
        byte_buffer b = golden_manifest;
        b[4] = 4;
        CHECK(decode_error(b, &off, &what) == errc::unsupported_version);
        CHECK(what.find("version 4") != std::string::npos);
        CHECK(what.find("versions 2 and 3") != std::string::npos);
    }
    SECTION("manifest_version 3 without its sections") {
        byte_buffer b = golden_manifest;
        b[4] = 3;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == b.size());
    }
    SECTION("a newer format minor decodes; the caller opens read-only") {
        byte_buffer b = golden_manifest;
        b[8] = 7;
        const manifest m = decode_manifest(b, "x");
        CHECK(m.format_minor == 7);
        CHECK(opens_read_only(m));
        CHECK(encode(m) == b);
    }
}

TEST_CASE("MANIFEST rejection: truncation at every byte and a trailing byte") {
    const fs::path root = fixtures_dir();
    const std::vector<byte_buffer> files{golden_manifest, encode(manifest{}), read_file(root / "ckpt" / "MANIFEST"),
                                         read_file(root / "wal" / "MANIFEST")};
    for (const auto& f : files) {
        for (std::size_t n = 0; n < f.size(); ++n) {
            INFO(n << " of " << f.size() << " bytes");
            std::optional<std::uint64_t> off;
            CHECK(decode_error(byte_buffer(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n)), &off) ==
                  errc::corruption);
            REQUIRE(off);
            CHECK(*off <= n);
        }
        byte_buffer longer = f;
        longer.push_back(0);
        std::optional<std::uint64_t> off;
        CHECK(decode_error(longer, &off) == errc::corruption);
        CHECK(off == f.size());
    }
}

TEST_CASE("MANIFEST rejection: collections") {
    std::optional<std::uint64_t> off;
    SECTION("unsorted names") {
        byte_buffer b = golden_manifest;
        std::swap(b[gm_first_name], b[gm_second_name]);  // "b" = 1, then "a" = 2
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == gm_second_name - 2u);
    }
    SECTION("duplicate names") {
        byte_buffer b = golden_manifest;
        b[gm_second_name] = 'a';
        CHECK(decode_error(b) == errc::corruption);
    }
    SECTION("duplicate ids") {
        byte_buffer b = golden_manifest;
        b[gm_second_name + 1] = 1;
        CHECK(decode_error(b) == errc::corruption);
    }
    SECTION("id 0 and id >= next_collection_id") {
        for (const int id : {0, 3, 200}) {
            byte_buffer b = golden_manifest;
            b[gm_second_name + 1] = static_cast<byte>(id);
            CHECK(decode_error(b, &off) == errc::corruption);
            CHECK(off == gm_second_name + 1u);
        }
    }
    SECTION("invalid UTF-8 names") {
        for (const int bad : {0x80, 0xC0, 0xFF}) {
            byte_buffer b = golden_manifest;
            b[gm_second_name] = static_cast<byte>(bad);
            CHECK(decode_error(b, &off) == errc::corruption);
            CHECK(off == gm_second_name);
        }
    }
    SECTION("invalid multi-byte sequences in names: the offset is the first bad byte") {
        // The same check as CBOR text (detail/utf8.hpp): a bad continuation is reported at
        // itself, not at its lead byte.
        manifest m = golden_manifest_value();
        m.collections[1].name = "bbbb";
        const byte_buffer base = encode(m);
        REQUIRE(base[gm_second_name - 2] == 4);
        const std::vector<std::pair<std::string, std::size_t>> cases{
            {"\xed\xa0\x80" "b", 1},  // surrogate U+D800
            {"\xc0\xaf" "bb", 0},     // overlong two-byte form
            {"\xe0\x80\x80" "b", 1},  // overlong three-byte form
            {"\xf0\x80\x80\x80", 1},  // overlong four-byte form
            {"\xf4\x90\x80\x80", 1},  // above U+10FFFF
            {"\xe6\x97" "bb", 2},     // three-byte sequence cut short by ASCII
            {"b\xf0\x9f\x98", 1},     // four-byte sequence cut short by the name's end
        };
        for (const auto& [name, bad_at] : cases) {
            INFO(to_hex(entidb::as_bytes(name)));
            REQUIRE(name.size() == 4);
            byte_buffer b = base;
            std::copy(name.begin(), name.end(), b.begin() + static_cast<std::ptrdiff_t>(gm_second_name));
            CHECK(decode_error(b, &off) == errc::corruption);
            CHECK(off == gm_second_name + bad_at);
        }
    }
    SECTION("a count larger than the file cannot make the decoder allocate") {
        byte_buffer b = golden_manifest;
        set_u32(b, 14, 0xFFFFFFFFu);
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == 14u);
        byte_buffer c = golden_manifest;
        set_u32(c, gm_index_count, 0x7FFFFFFFu);
        CHECK(decode_error(c, &off) == errc::corruption);
        CHECK(off == gm_index_count);
    }
    SECTION("next_collection_id 0") {
        byte_buffer b = encode(manifest{});
        b[10] = 0;
        CHECK(decode_error(b) == errc::corruption);
    }
}

TEST_CASE("MANIFEST rejection: indexes and checkpoint") {
    std::optional<std::uint64_t> off;
    SECTION("kind 3") {
        byte_buffer b = golden_manifest;
        b[gm_index1_kind] = 3;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == gm_index1_kind);
    }
    SECTION("unique 2") {
        byte_buffer b = golden_manifest;
        b[gm_index2_unique] = 2;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == gm_index2_unique);
    }
    SECTION("has_checkpoint 2") {
        byte_buffer b = golden_manifest;
        b[gm_has_checkpoint] = 2;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == gm_has_checkpoint);
    }
    SECTION("unsorted and duplicate index ids") {
        manifest m = golden_manifest_value();
        m.next_index_id = 10;
        m.indexes[0].id = 5;  // encoded as 2 (path "x", "y"), then 5: swap the two id fields by hand
        byte_buffer b = encode(m);
        const std::size_t first = gm_index1_id;
        const std::size_t second = gm_index1_id + 8 + 4 + 2 + 3 + 3 + 1 + 1 + 8;
        REQUIRE(b[first] == 2);
        REQUIRE(b[second] == 5);
        std::swap(b[first], b[second]);
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == second);
        b[first] = 5;
        CHECK(decode_error(b) == errc::corruption);
    }
    SECTION("index ids and collection ids out of range") {
        byte_buffer b = golden_manifest;
        b[gm_index1_id] = 0;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == gm_index1_id);
        byte_buffer c = golden_manifest;
        c[gm_index1_coll] = 9;  // index 1 on collection 9
        CHECK(decode_error(c, &off) == errc::corruption);
        CHECK(off == gm_index1_coll);
    }
}

TEST_CASE("MANIFEST encode rejects what decode would refuse") {
    const manifest good = golden_manifest_value();
    CHECK(encode_error(good) == errc::ok);

    manifest m = good;
    m.collections[1].name = std::string(65536, 'n');
    CHECK(encode_error(m) == errc::invalid_argument);
    m.collections[1].name = std::string(65535, 'n');
    CHECK(encode_error(m) == errc::ok);
    CHECK(decode_manifest(encode(m), "x") == m);

    for (const char* bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97", "a\x80"}) {
        m = good;
        m.collections[1].name = bad;
        INFO(to_hex(entidb::as_bytes(bad)));
        CHECK(encode_error(m) == errc::invalid_argument);
        m = good;
        m.indexes[0].path[0] = bad;
        CHECK(encode_error(m) == errc::invalid_argument);
    }
    for (const char* ok : {"h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", ""}) {
        m = good;
        m.collections[1].name = ok;
        CHECK(encode_error(m) == errc::ok);
    }

    m = good;
    m.collections[1].name = "a";
    CHECK(encode_error(m) == errc::invalid_argument);  // duplicate name
    m = good;
    m.collections[1].id = 1;
    CHECK(encode_error(m) == errc::invalid_argument);  // duplicate id
    m = good;
    m.collections[1].id = 0;
    CHECK(encode_error(m) == errc::invalid_argument);
    m = good;
    m.collections[1].id = 3;
    CHECK(encode_error(m) == errc::invalid_argument);  // >= next_collection_id
    m = good;
    m.indexes[1].id = 1;
    CHECK(encode_error(m) == errc::invalid_argument);  // duplicate index id
    m = good;
    m.indexes[1].id = 3;
    CHECK(encode_error(m) == errc::invalid_argument);  // >= next_index_id
    m = good;
    m.indexes[1].collection_id = 3;
    CHECK(encode_error(m) == errc::invalid_argument);
    m = good;
    m.indexes[1].kind = static_cast<entidb::index_kind>(7);
    CHECK(encode_error(m) == errc::invalid_argument);
    m = good;
    m.indexes[1].path.assign(65536, "f");
    CHECK(encode_error(m) == errc::invalid_argument);
    m = good;
    m.format_major = 2;
    CHECK(encode_error(m) == errc::invalid_argument);
    m = good;
    m.format_minor = 3;  // a newer minor is written back as it is
    CHECK(encode_error(m) == errc::ok);
    m = good;
    m.next_collection_id = 0;
    m.collections.clear();
    m.indexes.clear();
    CHECK(encode_error(m) == errc::invalid_argument);
}

TEST_CASE("decoders are total on mutated and random input") {
    // A fixed-seed xorshift: deterministic, no <random> distribution differences across libraries.
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::vector<byte_buffer> seeds;
    for (const auto* g : all_wal_goldens) seeds.push_back(*g);
    seeds.push_back(golden_segment);
    seeds.push_back(golden_tombstone);
    seeds.push_back(golden_manifest);
    for (int round = 0; round < 20000; ++round) {
        byte_buffer b = seeds[next() % seeds.size()];
        const std::size_t edits = 1 + next() % 4;
        for (std::size_t e = 0; e < edits; ++e) {
            switch (next() % 3) {
                case 0: b[next() % b.size()] = static_cast<byte>(next()); break;
                case 1: b.resize(next() % (b.size() + 1)); break;
                default: b.push_back(static_cast<byte>(next())); break;
            }
            if (b.empty()) b.push_back(0);
        }
        // Whatever decodes re-encodes to the same bytes.
        const auto prefix = [&b](std::size_t n) { return byte_buffer(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); };
        const auto w = decode_wal(b);
        if (w.status == decode_status::ok) CHECK(encode_wal(w.record) == prefix(w.size));
        const auto s = decode_segment(b);
        if (s.status == decode_status::ok) CHECK(encode_seg(s.record) == prefix(s.size));
        try {
            const manifest m = decode_manifest(b, "fuzz");
            CHECK(encode(m) == b);
        } catch (const entidb::error& e) {
            CHECK((e.value() == errc::corruption || e.value() == errc::unsupported_version));
        }
    }
}

// ------------------------------------------------------------ MANIFEST version 3

namespace {

// golden_manifest_value() with options for index 2 and a schema of version 4 with two
// migrations applied: written as version 3, the same bytes as version 2 then the sections.
manifest extended_manifest_value() {
    manifest m = golden_manifest_value();
    m.indexes[1].options = {0x01, 0x00};
    m.extension.schema = manifest_schema{4, {{1, "users", 1000, 0x1111}, {4, "t", 2000, 0x2222}}};
    return m;
}

const byte_buffer extended_sections = concat({
    bytes({0x02, 0x00}),                                      // section_count 2
    bytes({0x01, 0x00}), bytes({0x10, 0x00, 0x00, 0x00}),     // tag 1 (index options), 16 bytes
    bytes({0x01, 0x00, 0x00, 0x00}),                          //   count 1
    bytes({0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   index 2
    bytes({0x02, 0x00, 0x01, 0x00}),                          //   2 bytes: 01 00
    bytes({0x02, 0x00}), bytes({0x46, 0x00, 0x00, 0x00}),     // tag 2 (schema), 70 bytes
    bytes({0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   version 4
    bytes({0x02, 0x00, 0x00, 0x00}),                          //   2 applied
    bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   version 1
    bytes({0x05, 0x00, 'u', 's', 'e', 'r', 's'}),             //   "users"
    bytes({0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   applied_at 1000
    bytes({0x11, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   steps_hash
    bytes({0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   version 4
    bytes({0x01, 0x00, 't'}),                                 //   "t"
    bytes({0xd0, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   applied_at 2000
    bytes({0x22, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),  //   steps_hash
});

byte_buffer extended_manifest_bytes() {
    byte_buffer b = golden_manifest;
    b[4] = 3;
    return concat({b, extended_sections});
}

}  // namespace

TEST_CASE("MANIFEST version 3: the sections after SPEC.md's fields, version 2 when there are none") {
    const manifest m = extended_manifest_value();
    CHECK(encode(m) == extended_manifest_bytes());
    CHECK(decode_manifest(extended_manifest_bytes(), "x") == m);
    manifest only_schema = golden_manifest_value();
    only_schema.extension.schema = manifest_schema{};
    CHECK(decode_manifest(encode(only_schema), "x") == only_schema);
    CHECK(encode(only_schema)[4] == 3);
    // Nothing beyond SPEC.md: exactly the version-2 bytes.
    manifest plain = m;
    plain.extension = {};
    plain.indexes[1].options.clear();
    CHECK(encode(plain) == golden_manifest);
    manifest only_options = m;
    only_options.extension = {};
    CHECK(encode(only_options)[4] == 3);
    CHECK(decode_manifest(encode(only_options), "x") == only_options);
}

TEST_CASE("MANIFEST version 3: the segment publish section (tag 3) of a migration") {
    manifest m = golden_manifest_value();
    m.extension.publish = manifest_publish{{7, 8, 9}, {6}};
    const byte_buffer b = encode(m);
    CHECK(b[4] == 3);
    const byte_buffer tail = concat({bytes({0x01, 0x00}),                          // one section
                                     bytes({0x03, 0x00}), bytes({0x18, 0x00, 0x00, 0x00}),  // tag 3, 24 bytes
                                     bytes({0x03, 0x00, 0x00, 0x00}), bytes({0x07, 0, 0, 0, 0x08, 0, 0, 0, 0x09, 0, 0, 0}),
                                     bytes({0x01, 0x00, 0x00, 0x00}), bytes({0x06, 0, 0, 0})});
    CHECK(byte_buffer(b.begin() + static_cast<std::ptrdiff_t>(golden_manifest.size()), b.end()) == tail);
    CHECK(decode_manifest(b, "x") == m);
    byte_buffer unordered = b;
    unordered[golden_manifest.size() + 2 + 6 + 4 + 4] = 9;  // 9, 9, 9
    std::optional<std::uint64_t> off;
    CHECK(decode_error(unordered, &off) == errc::corruption);
    m.extension.publish = manifest_publish{{8, 7}, {}};
    CHECK_THROWS_AS(encode(m), entidb::error);
}

TEST_CASE("MANIFEST version 3 rejection: truncation, unknown and misordered sections, bad contents") {
    const byte_buffer good = extended_manifest_bytes();
    const std::size_t sections_at = golden_manifest.size();
    for (std::size_t n = 0; n < good.size(); ++n) {
        INFO(n << " of " << good.size() << " bytes");
        CHECK(decode_error(byte_buffer(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))) ==
              errc::corruption);
    }
    std::optional<std::uint64_t> off;
    std::string what;
    SECTION("a tag this build does not know") {
        byte_buffer b = good;
        b[sections_at + 2 + 6 + 16] = 9;  // the second section's tag
        CHECK(decode_error(b, &off, &what) == errc::unsupported_version);
        CHECK(what.find("section 9") != std::string::npos);
    }
    SECTION("tags out of order") {
        byte_buffer b = good;
        b[sections_at + 2 + 6 + 16] = 1;
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == sections_at + 2 + 6 + 16);
    }
    SECTION("no section") {
        byte_buffer b = golden_manifest;
        b[4] = 3;
        b = concat({b, bytes({0x00, 0x00})});
        CHECK(decode_error(b) == errc::corruption);
    }
    SECTION("a section longer than its contents") {
        byte_buffer b = good;
        b[sections_at + 4] = 0x11;  // index options: 17 bytes, but its contents take 16
        CHECK(decode_error(b) == errc::corruption);
    }
    SECTION("options for an index the MANIFEST does not hold") {
        byte_buffer b = good;
        b[sections_at + 2 + 6 + 4] = 7;
        CHECK(decode_error(b, &off, &what) == errc::corruption);
        CHECK(what.find("index 7") != std::string::npos);
    }
    SECTION("migrations out of order, or above the schema version") {
        byte_buffer b = good;
        const std::size_t schema_at = sections_at + 2 + 6 + 16 + 6;
        b[schema_at + 43] = 1;  // the second migration's version: 1 after 1
        CHECK(decode_error(b) == errc::corruption);
        b = good;
        b[schema_at] = 3;  // schema version 3 below migration 4
        CHECK(decode_error(b, &off, &what) == errc::corruption);
        CHECK(what.find("above the schema version") != std::string::npos);
    }
    SECTION("empty options") {
        byte_buffer b = good;
        b[sections_at + 2 + 6 + 12] = 0;  // options_len 0 ...
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(sections_at + 2 + 6 + 14),
                b.begin() + static_cast<std::ptrdiff_t>(sections_at + 2 + 6 + 16));  // ... and no bytes
        b[sections_at + 4] = 0x0e;
        CHECK(decode_error(b, &off, &what) == errc::corruption);
        CHECK(what.find("empty options") != std::string::npos);
    }
    SECTION("a trailing byte") {
        byte_buffer b = concat({good, bytes({0x00})});
        CHECK(decode_error(b, &off) == errc::corruption);
        CHECK(off == good.size());
    }
}

TEST_CASE("MANIFEST version 3: encode refuses what decode would refuse") {
    const manifest good = extended_manifest_value();
    CHECK(encode_error(good) == errc::ok);
    manifest m = good;
    m.indexes[1].options.assign(65536, 0);
    CHECK(encode_error(m) == errc::invalid_argument);
    m.indexes[1].options.assign(65535, 0);
    CHECK(decode_manifest(encode(m), "x") == m);
    m = good;
    m.extension.schema->version = 3;
    CHECK(encode_error(m) == errc::invalid_argument);  // migration 4 above it
    m = good;
    m.extension.schema->applied[1].version = 1;
    CHECK(encode_error(m) == errc::invalid_argument);  // repeated
    m = good;
    m.extension.schema->applied[0].name = "\xff";
    CHECK(encode_error(m) == errc::invalid_argument);
}
