// Canonical CBOR: golden vectors (RFC 8949 Appendix A where they apply, plus every head-size
// boundary), one rejection test per fault with its offset, the value model, the encoder's
// checks, the pull reader, find_path, and property tests on random values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <entidb/cbor.hpp>

namespace cbor = entidb::cbor;
using cbor::fault;
using cbor::value;
using entidb::byte_buffer;
using entidb::bytes_view;
using entidb::errc;

namespace {

byte_buffer unhex(std::string_view h) {
    std::string digits;
    for (const char c : h)
        if (c != ' ') digits += c;
    byte_buffer out;
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2) out.push_back(static_cast<entidb::byte>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    return out;
}

std::string hex(bytes_view b) {
    std::string out;
    for (const auto x : b) out += fmt::format("{:02x}", x);
    return out;
}

constexpr auto u64max = std::numeric_limits<std::uint64_t>::max();
const cbor::decode_options with_floats{.allow_floats = true};

struct golden {
    value v;
    std::string encoded;
};

void check_golden(const std::vector<golden>& vectors, const cbor::decode_options& opts = {}) {
    const cbor::encode_options eopts{.allow_floats = opts.allow_floats};
    for (const auto& g : vectors) {
        INFO("expected " << g.encoded);
        CHECK(hex(cbor::encode(g.v, eopts)) == g.encoded);
        const byte_buffer bytes = unhex(g.encoded);
        CHECK(cbor::decode(bytes, opts) == g.v);
        CHECK_NOTHROW(cbor::validate(bytes, opts));
    }
}

value text_of(std::size_t n) { return value(std::string(n, 'x')); }
value bytes_of(std::size_t n) { return value::bytes(byte_buffer(n, 0x78)); }
std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("golden vectors: unsigned integers at every head boundary") {
    check_golden({
        {0, "00"}, {1, "01"}, {10, "0a"}, {23, "17"}, {24, "1818"}, {25, "1819"}, {100, "1864"},
        {255, "18ff"}, {256, "190100"}, {1000, "1903e8"}, {65535, "19ffff"}, {65536, "1a00010000"},
        {1000000, "1a000f4240"}, {4294967295u, "1affffffff"}, {4294967296u, "1b0000000100000000"},
        {1000000000000u, "1b000000e8d4a51000"}, {u64max, "1bffffffffffffffff"},
    });
}

TEST_CASE("golden vectors: negative integers down to -2^64") {
    check_golden({
        {-1, "20"}, {-10, "29"}, {-24, "37"}, {-25, "3818"}, {-100, "3863"}, {-256, "38ff"},
        {-257, "390100"}, {-1000, "3903e7"}, {-65537, "3a00010000"},
        {std::numeric_limits<std::int64_t>::min(), "3b7fffffffffffffff"},
        {value::negative(u64max), "3bffffffffffffffff"},  // -2^64
    });
}

TEST_CASE("golden vectors: byte and text strings at every length boundary") {
    check_golden({
        {value::bytes(byte_buffer{}), "40"}, {value::bytes(byte_buffer{1, 2, 3, 4}), "4401020304"},
        {"", "60"}, {"a", "6161"}, {"IETF", "6449455446"}, {"\"\\", "62225c"},
        {"\u00fc", "62c3bc"}, {"\u6c34", "63e6b0b4"}, {"\U00010151", "64f0908591"},
    });
    const std::string x = "78";  // the content byte 'x'
    check_golden({
        {text_of(23), "77" + repeat(x, 23)},      {text_of(24), "7818" + repeat(x, 24)},
        {text_of(255), "78ff" + repeat(x, 255)},  {text_of(256), "790100" + repeat(x, 256)},
        {bytes_of(23), "57" + repeat(x, 23)},     {bytes_of(24), "5818" + repeat(x, 24)},
        {bytes_of(255), "58ff" + repeat(x, 255)}, {bytes_of(256), "590100" + repeat(x, 256)},
    });
    const value big = text_of(65536);
    CHECK(hex(bytes_view(cbor::encode(big)).first(5)) == "7a00010000");
    CHECK(cbor::decode(cbor::encode(big)) == big);
}

TEST_CASE("golden vectors: arrays, maps, nesting") {
    cbor::array one_to_25;
    for (int i = 1; i <= 25; ++i) one_to_25.emplace_back(i);
    check_golden({
        {cbor::array{}, "80"},
        {cbor::array{1, 2, 3}, "83010203"},
        {cbor::array{1, cbor::array{2, 3}, cbor::array{4, 5}}, "8301820203820405"},
        {one_to_25, "98190102030405060708090a0b0c0d0e0f101112131415161718181819"},
        {cbor::map{}, "a0"},
        {cbor::map{{1, 2}, {3, 4}}, "a201020304"},
        {cbor::map{{"a", 1}, {"b", cbor::array{2, 3}}}, "a26161016162820203"},
        {cbor::array{"a", cbor::map{{"b", "c"}}}, "826161a161626163"},
        {cbor::map{{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}, {"e", "E"}},
         "a56161614161626142616361436164614461656145"},
    });
}

TEST_CASE("golden vectors: tags and simple values") {
    check_golden({
        {value::tag(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"},
        {value::tag(1, 1363896240), "c11a514b67b0"},
        {value::tag(23, value::bytes(byte_buffer{1, 2, 3, 4})), "d74401020304"},
        {value::tag(24, value::bytes(unhex("6449455446"))), "d818456449455446"},
        {value::tag(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"},
        {value::tag(u64max, value::tag(0, cbor::array{})), "dbffffffffffffffffc080"},
        {false, "f4"}, {true, "f5"}, {nullptr, "f6"}, {value(), "f6"},
    });
}

TEST_CASE("golden vectors: floats in their shortest exact form (when allowed)") {
    check_golden({
        {value(0.0), "f90000"}, {value(-0.0), "f98000"}, {value(1.0), "f93c00"},
        {value(1.1), "fb3ff199999999999a"}, {value(1.5), "f93e00"}, {value(65504.0), "f97bff"},
        {value(100000.0), "fa47c35000"}, {value(3.4028234663852886e+38), "fa7f7fffff"},
        {value(1.0e+300), "fb7e37e43c8800759c"}, {value(5.960464477539063e-8), "f90001"},
        {value(0.00006103515625), "f90400"}, {value(-4.0), "f9c400"}, {value(-4.1), "fbc010666666666666"},
        {value(std::numeric_limits<double>::infinity()), "f97c00"},
        {value(-std::numeric_limits<double>::infinity()), "f9fc00"},
        {value(65505.0), "fa477fe100"},             // just past the half range
        {value(std::ldexp(1.0, -149)), "fa00000001"},  // smallest single subnormal
        {value::tag(1, value(1363896240.5)), "c1fb41d452d9ec200000"},
    }, with_floats);
}

TEST_CASE("maps sort by encoded key bytes (RFC 8949 4.2.1), not by length first") {
    // The RFC's own example order: 10, 100, -1, "z", "aa", [100], [-1], false.
    const std::vector<value> keys = {10, 100, -1, "z", "aa", cbor::array{100}, cbor::array{-1}, false};
    cbor::map entries;
    for (std::size_t i = keys.size(); i-- > 0;) entries.push_back({keys[i], static_cast<int>(i)});
    const value m(entries);
    for (std::size_t i = 0; i < keys.size(); ++i) CHECK(m.as_map()[i].key == keys[i]);
    CHECK(cbor::encode(m) == unhex("a8 0a00 186401 2002 617a03 62616104 81186405 812006 f407"));
    CHECK(cbor::decode(unhex("a8 0a00 186401 2002 617a03 62616104 81186405 812006 f407")) == m);
}

// ---- rejections: every fault, with its error code and offset --------------------------------

namespace {

struct rejection {
    std::string encoded;
    fault expected;
    std::uint64_t offset;
    cbor::decode_options opts{};
};

void check_rejections(const std::vector<rejection>& cases) {
    for (const auto& r : cases) {
        INFO("input " << r.encoded << ", expected " << cbor::to_string(r.expected));
        const byte_buffer bytes = unhex(r.encoded);
        try {
            (void)cbor::decode(bytes, r.opts);
            FAIL("decoded");
        } catch (const cbor::decode_error& e) {
            CHECK(e.which() == r.expected);
            CHECK(e.value() == cbor::errc_of(r.expected));
            CHECK(e.offset() == r.offset);
        }
        // validate() is the same reader: same verdict.
        try {
            cbor::validate(bytes, r.opts);
            FAIL("validated");
        } catch (const cbor::decode_error& e) {
            CHECK(e.which() == r.expected);
            CHECK(e.offset() == r.offset);
        }
    }
}

}  // namespace

TEST_CASE("fault codes: non_canonical for well-formed non-canonical input, invalid_cbor otherwise") {
    CHECK(cbor::errc_of(fault::non_shortest) == errc::non_canonical);
    CHECK(cbor::errc_of(fault::indefinite_length) == errc::non_canonical);
    CHECK(cbor::errc_of(fault::unsorted_keys) == errc::non_canonical);
    CHECK(cbor::errc_of(fault::duplicate_key) == errc::non_canonical);
    CHECK(cbor::errc_of(fault::non_canonical_float) == errc::non_canonical);
    for (const fault f : {fault::truncated, fault::trailing_bytes, fault::reserved_info, fault::unexpected_break,
                          fault::invalid_utf8, fault::unsupported_simple, fault::float_rejected, fault::nan,
                          fault::too_deep})
        CHECK(cbor::errc_of(f) == errc::invalid_cbor);
    const cbor::decode_error e(fault::unsorted_keys, 7);
    CHECK(std::string(e.what()) == "non-canonical CBOR: map keys not in canonical order [offset 7]");
}

TEST_CASE("rejects truncated input, and lengths or counts beyond the input before allocating") {
    check_rejections({
        {"", fault::truncated, 0},
        {"18", fault::truncated, 0},
        {"1900", fault::truncated, 0},
        {"1b000000", fault::truncated, 0},
        {"6261", fault::truncated, 0},
        {"8201", fault::truncated, 0},                          // 2 elements cannot fit in 1 byte
        {"826161", fault::truncated, 3},
        {"a16161", fault::truncated, 3},
        {"c1", fault::truncated, 1},
        {"f93c", fault::truncated, 0, with_floats},
        {"5bffffffffffffffff", fault::truncated, 0},            // 2^64-1 byte string
        {"7b7fffffffffffffff00", fault::truncated, 0},          // 2^63-1 byte text
        {"9b000000010000000001", fault::truncated, 0},          // 2^32 elements, one present
        {"bbffffffffffffffff0000", fault::truncated, 0},        // 2^64-1 pairs
        {"a3000000", fault::truncated, 0},                      // 3 pairs need >= 6 bytes
    });
}

TEST_CASE("rejects trailing bytes") {
    check_rejections({
        {"0000", fault::trailing_bytes, 1},
        {"8000", fault::trailing_bytes, 1},
        {"a0ff", fault::trailing_bytes, 1},
    });
}

TEST_CASE("rejects heads that are not in shortest form") {
    check_rejections({
        {"1817", fault::non_shortest, 0},
        {"1900ff", fault::non_shortest, 0},
        {"1a0000ffff", fault::non_shortest, 0},
        {"1b00000000ffffffff", fault::non_shortest, 0},
        {"3800", fault::non_shortest, 0},
        {"580100", fault::non_shortest, 0},
        {"7800", fault::non_shortest, 0},
        {"9800", fault::non_shortest, 0},
        {"b800", fault::non_shortest, 0},
        {"d80100", fault::non_shortest, 0},
        {"811805", fault::non_shortest, 1},
    });
}

TEST_CASE("rejects indefinite lengths, reserved additional information and stray breaks") {
    check_rejections({
        {"5f4100ff", fault::indefinite_length, 0},
        {"7fff", fault::indefinite_length, 0},
        {"9fff", fault::indefinite_length, 0},
        {"bfff", fault::indefinite_length, 0},
        {"82009fff", fault::indefinite_length, 2},
        {"1c", fault::reserved_info, 0},
        {"3d", fault::reserved_info, 0},
        {"5e", fault::reserved_info, 0},
        {"dc", fault::reserved_info, 0},
        {"fc", fault::reserved_info, 0},
        {"fe", fault::reserved_info, 0},
        {"1f", fault::reserved_info, 0},  // 31 is never valid for integers and tags
        {"3f", fault::reserved_info, 0},
        {"df", fault::reserved_info, 0},
        {"ff", fault::unexpected_break, 0},
        {"81ff", fault::unexpected_break, 1},
    });
}

TEST_CASE("rejects unsorted and duplicate map keys, comparing encoded bytes") {
    check_rejections({
        {"a2 6162 01 6161 02", fault::unsorted_keys, 4},      // {"b":1, "a":2}
        {"a2 626161 01 6162 02", fault::unsorted_keys, 5},    // {"aa":1, "b":2}: shorter sorts first
        {"a2 1864 01 0a 02", fault::unsorted_keys, 4},        // {100:1, 10:2}
        {"a2 20 01 00 02", fault::unsorted_keys, 3},          // {-1:1, 0:2}
        {"a2 8120 01 811864 02", fault::unsorted_keys, 4},    // {[-1]:1, [100]:2}
        {"a2 f4 01 00 02", fault::unsorted_keys, 3},          // {false:1, 0:2}
        {"a2 6161 01 6161 02", fault::duplicate_key, 4},
        {"a2 820102 00 820102 00", fault::duplicate_key, 5},  // duplicate container keys
        {"81 a3 00 00 01 00 01 00", fault::duplicate_key, 6},  // nested map, offset in the input
    });
}

TEST_CASE("rejects text that is not UTF-8, at the offending byte") {
    check_rejections({
        {"62 c328", fault::invalid_utf8, 2},        // bad continuation
        {"62 c080", fault::invalid_utf8, 1},        // overlong two-byte form
        {"63 e08080", fault::invalid_utf8, 2},      // overlong three-byte form
        {"64 f0808080", fault::invalid_utf8, 2},    // overlong four-byte form
        {"63 eda080", fault::invalid_utf8, 2},      // surrogate U+D800
        {"64 f4908080", fault::invalid_utf8, 2},    // U+110000
        {"64 f5808080", fault::invalid_utf8, 1},    // lead byte beyond U+10FFFF
        {"61 80", fault::invalid_utf8, 1},          // continuation byte first
        {"61 e2", fault::invalid_utf8, 1},          // sequence cut by the string's end
        {"63 61 e282", fault::invalid_utf8, 2},
        {"a1 62c328 00", fault::invalid_utf8, 3},   // in a map key
    });
}

TEST_CASE("UTF-8 check: the first bad byte is found wherever it falls among ASCII words") {
    using entidb::detail::find_invalid_utf8;
    using entidb::detail::utf8_valid;
    const auto check = [](const std::string& text) {
        return find_invalid_utf8(bytes_view(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    };
    for (std::size_t len = 0; len <= 40; ++len) {
        const std::string ascii(len, 'a');
        CHECK(check(ascii) == utf8_valid);
        for (std::size_t at = 0; at < len; ++at) {
            INFO("length " << len << ", at " << at);
            std::string t = ascii;
            t[at] = '\x80';  // a continuation byte as lead
            CHECK(check(t) == at);
            t[at] = '\xc3';  // a lead byte followed by ASCII, or by the end
            CHECK(check(t) == (at + 1 < len ? at + 1 : at));
            if (at + 4 <= len) {
                t.replace(at, 4, "\xf0\x9f\x98\x80");  // U+1F600 across word boundaries
                CHECK(check(t) == utf8_valid);
                t[at + 3] = 'a';  // the same, cut short
                CHECK(check(t) == at + 3);
            }
        }
    }
}

TEST_CASE("rejects simple values other than false, true, null") {
    check_rejections({
        {"f7", fault::unsupported_simple, 0},  // undefined
        {"e0", fault::unsupported_simple, 0},
        {"f0", fault::unsupported_simple, 0},
        {"f818", fault::unsupported_simple, 0},
        {"f8ff", fault::unsupported_simple, 0},
        {"f814", fault::unsupported_simple, 0},  // false in the (invalid) two-byte form
    });
}

TEST_CASE("floats: rejected by default; when allowed, NaN and non-shortest forms are rejected") {
    check_rejections({
        {"f93c00", fault::float_rejected, 0},
        {"fa47c35000", fault::float_rejected, 0},
        {"fb3ff199999999999a", fault::float_rejected, 0},
        {"82 01 f93c00", fault::float_rejected, 2},
        {"f97e00", fault::nan, 0, with_floats},
        {"f97c01", fault::nan, 0, with_floats},
        {"fa7fc00000", fault::nan, 0, with_floats},
        {"fb7ff8000000000000", fault::nan, 0, with_floats},
        {"fa3f800000", fault::non_canonical_float, 0, with_floats},          // 1.0 fits a half
        {"fb3ff0000000000000", fault::non_canonical_float, 0, with_floats},  // 1.0 fits a half
        {"fb47efffffe0000000", fault::non_canonical_float, 0, with_floats},  // FLT_MAX fits a single
        {"fa7f800000", fault::non_canonical_float, 0, with_floats},          // infinity fits a half
        {"fb8000000000000000", fault::non_canonical_float, 0, with_floats},  // -0.0 fits a half
    });
}

TEST_CASE("rejects nesting deeper than max_depth, counting arrays, maps and tags") {
    const std::string arrays64 = repeat("81", 64) + "00";
    CHECK_NOTHROW(cbor::validate(unhex(arrays64)));
    check_rejections({
        {repeat("81", 65) + "00", fault::too_deep, 64},
        {repeat("c1", 65) + "00", fault::too_deep, 64},
        {repeat("a100", 65) + "00", fault::too_deep, 128},
        {"818100", fault::too_deep, 1, {.max_depth = 1}},
    });
    CHECK_NOTHROW(cbor::validate(unhex("818100"), {.max_depth = 2}));
    CHECK_NOTHROW(cbor::validate(unhex("00"), {.max_depth = 0}));
    CHECK_THROWS_MATCHES(cbor::validate(unhex("00"), {.max_depth = cbor::max_depth_limit + 1}), entidb::error,
                         Catch::Predicate<entidb::error>([](const auto& e) { return e.value() == errc::invalid_argument; }));
}

// ---- the value model ------------------------------------------------------------------------

TEST_CASE("value: kinds, accessors, and type_mismatch on the wrong kind") {
    const value u = 42u;
    const value n = -42;
    const value t = "text";
    const value b = value::bytes(byte_buffer{1, 2});
    CHECK(u.type() == cbor::kind::unsigned_integer);
    CHECK(u.as_uint() == 42);
    CHECK(u.as_int() == 42);
    CHECK(n.type() == cbor::kind::negative_integer);
    CHECK(n.negative_argument() == 41);
    CHECK(n.as_int() == -42);
    CHECK(t.as_text() == "text");
    CHECK(b.as_bytes() == byte_buffer{1, 2});
    CHECK(value(true).as_bool());
    CHECK(value(nullptr).is_null());
    CHECK(value(1.5).as_double() == 1.5);
    CHECK(value::tag(7, 1).tag_number() == 7);
    CHECK(value::tag(7, 1).tag_content() == value(1));

    const auto mismatch = [](auto&& f) {
        try {
            f();
        } catch (const entidb::error& e) {
            return e.value() == errc::type_mismatch;
        }
        return false;
    };
    CHECK(mismatch([&] { (void)u.as_text(); }));
    CHECK(mismatch([&] { (void)t.as_uint(); }));
    CHECK(mismatch([&] { (void)n.as_uint(); }));
    CHECK(mismatch([&] { (void)u.as_map(); }));
    CHECK(mismatch([&] { (void)u.find("k"); }));
    CHECK(mismatch([&] { (void)value(u64max).as_int(); }));
    CHECK(mismatch([&] { (void)value::negative(u64max).as_int(); }));
    CHECK(value(std::numeric_limits<std::int64_t>::min()).as_int() == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("value: constructors keep the invariants (UTF-8 text, no NaN, sorted unique map keys)") {
    const auto invalid = [](auto&& f) {
        try {
            f();
        } catch (const entidb::error& e) {
            return e.value() == errc::invalid_argument;
        }
        return false;
    };
    CHECK(invalid([] { value v(std::string("\xc3\x28")); }));
    CHECK(invalid([] { value v(std::nan("")); }));
    CHECK(invalid([] { value v(cbor::map{{"a", 1}, {"b", 2}, {"a", 3}}); }));

    value m = cbor::map{{"b", 2}, {1, "one"}, {"a", 1}};
    CHECK(m.as_map()[0].key == value(1));
    CHECK(m.as_map()[1].key == value("a"));
    CHECK(*m.find("b") == value(2));
    CHECK(*m.find(value(1)) == value("one"));
    CHECK(m.find("zz") == nullptr);
    m.set("c", 3);
    m.set("a", 10);
    CHECK(m.as_map().size() == 4);
    CHECK(*m.find("a") == value(10));
    CHECK(m.as_map().back().key == value("c"));
}

TEST_CASE("value: equality means same encoding; order is the canonical order") {
    CHECK(value(0.0) != value(-0.0));
    CHECK(value(1) != value(1.0));
    CHECK(value(1) == value(1u));
    CHECK(value(-1) < value("a"));  // major 1 before major 3
    CHECK(value("b") < value("aa"));  // the length is in the head
    CHECK(value(cbor::array{1, 2}) == value(cbor::array{1, 2}));
    const value tagged = value::tag(1, cbor::array{1, cbor::map{{"k", "v"}}});
    const value copy = tagged;  // deep copy through the tag box
    CHECK(copy == tagged);
}

// ---- the encoder ----------------------------------------------------------------------------

TEST_CASE("encoder: map entries in any order come out sorted, nested maps too") {
    byte_buffer out;
    cbor::encoder e(out);
    e.begin_map(3).text("b").uint(2).text("a").begin_map(2).text("y").null().text("x").boolean(true).end_map();
    e.uint(5).null().end_map();
    CHECK(e.complete());
    CHECK(hex(out) == "a3" "05f6" "6161a26178f56179f6" "616202");
    CHECK_NOTHROW(cbor::validate(out));

    // A map as a key, itself written unsorted, sorts by its final (sorted) bytes.
    byte_buffer k;
    cbor::encoder(k).begin_map(2).begin_map(2).uint(2).uint(0).uint(1).uint(0).end_map().uint(9).uint(0).uint(8).end_map();
    CHECK(hex(k) == "a2" "0008" "a20100020009");
}

TEST_CASE("encoder: integers, strings and tags") {
    byte_buffer out;
    cbor::encoder e(out);
    e.integer(std::numeric_limits<std::int64_t>::min()).integer(-1).integer(0).negative(u64max);
    e.tag(1).tag(2).text("x").bytes(byte_buffer{0xAB});
    CHECK(hex(out) == "3b7fffffffffffffff" "20" "00" "3bffffffffffffffff" "c1c26178" "41ab");
    CHECK(e.complete());  // a sequence of top-level items is fine for the encoder
}

TEST_CASE("encoder: wrong counts, stray ends, duplicates, bad text, floats and depth throw invalid_argument") {
    const auto invalid = [](auto&& f) {
        byte_buffer out;
        cbor::encoder e(out, {.max_depth = 3});
        try {
            f(e);
        } catch (const entidb::error& err) {
            return err.value() == errc::invalid_argument;
        }
        return false;
    };
    CHECK(invalid([](auto& e) { e.begin_array(2).uint(1).end_array(); }));
    CHECK(invalid([](auto& e) { e.begin_array(1).uint(1).uint(2); }));
    CHECK(invalid([](auto& e) { e.begin_map(1).text("a").end_map(); }));
    CHECK(invalid([](auto& e) { e.begin_map(1).uint(1).uint(1).uint(1); }));
    CHECK(invalid([](auto& e) { e.end_array(); }));
    CHECK(invalid([](auto& e) { e.begin_array(1).end_map(); }));
    CHECK(invalid([](auto& e) { e.tag(1).end_array(); }));
    CHECK(invalid([](auto& e) { e.begin_map(2).text("a").uint(1).text("a").uint(2).end_map(); }));
    CHECK(invalid([](auto& e) { e.begin_map(3).text("a").uint(1).text("b").uint(2).text("a").uint(3).end_map(); }));
    CHECK(invalid([](auto& e) { e.text(std::string_view("\xed\xa0\x80")); }));
    CHECK(invalid([](auto& e) { e.floating(1.0); }));
    CHECK(invalid([](auto& e) { e.write(value(1.0)); }));
    CHECK(invalid([](auto& e) { e.begin_array(1).begin_array(1).tag(1).begin_array(0); }));

    byte_buffer out;
    cbor::encoder floats(out, {.allow_floats = true});
    CHECK_THROWS_AS(floats.floating(std::nan("")), entidb::error);
    byte_buffer ok;
    cbor::encoder(ok, {.max_depth = 3}).begin_array(1).begin_array(1).tag(1).uint(0).end_array().end_array();
    CHECK(hex(ok) == "8181c100");
}

// ---- the pull reader, find_path ---------------------------------------------------------------

TEST_CASE("reader: items in pre-order with depths, offsets, views and end events") {
    const byte_buffer doc = unhex("a2 6161 820102 6162 c1f5");  // {"a":[1,2],"b":1(true)}
    cbor::reader r(doc);
    using k = cbor::item_kind;
    struct expect {
        k kind;
        std::uint64_t argument;
        std::size_t offset, depth;
    };
    const std::vector<expect> want = {
        {k::map, 2, 0, 0},  {k::text, 1, 1, 1},    {k::array, 2, 3, 1},  {k::unsigned_integer, 1, 4, 2},
        {k::unsigned_integer, 2, 5, 2}, {k::end_array, 0, 6, 1}, {k::text, 1, 6, 1}, {k::tag, 1, 8, 1},
        {k::boolean, 1, 9, 2}, {k::end_tag, 0, 10, 1}, {k::end_map, 0, 10, 0},
    };
    for (const auto& w : want) {
        const auto it = r.next();
        REQUIRE(it);
        CHECK(it->kind == w.kind);
        CHECK(it->argument == w.argument);
        CHECK(it->offset == w.offset);
        CHECK(it->depth == w.depth);
    }
    CHECK_FALSE(r.next());
    CHECK_FALSE(r.next());

    cbor::reader s(doc);
    const auto top = s.next();
    CHECK(s.next()->text() == "a");
    const auto arr = s.next();
    s.skip(*arr);
    CHECK(s.offset() == 6);
    CHECK(s.next()->text() == "b");
    s.skip(*top);  // skipping from inside still stops at the map's end
    CHECK(s.offset() == 10);
    CHECK_FALSE(s.next());
}

TEST_CASE("find_path: the encoded bytes of a nested field, without a tree") {
    const value doc_v = cbor::map{
        {1, "int key"},
        {"a", cbor::map{{"b", cbor::array{1, 2}}, {"c", cbor::map{}}}},
        {"name", "x"},
        {"zz", value::tag(1, 5)},
        {cbor::array{}, 0},
    };
    const byte_buffer doc = cbor::encode(doc_v);
    const auto at = [&](std::initializer_list<std::string_view> path) -> std::optional<std::string> {
        const auto found = cbor::find_path(doc, path);
        if (!found) return std::nullopt;
        return hex(*found);
    };
    CHECK(at({"a", "b"}) == "820102");
    CHECK(at({"a", "c"}) == "a0");
    CHECK(at({"name"}) == "6178");
    CHECK(at({"zz"}) == "c105");
    CHECK(at({}) == hex(doc));
    CHECK(at({"a"}) == hex(cbor::encode(*doc_v.find("a"))));
    CHECK_FALSE(at({"missing"}));
    CHECK_FALSE(at({"b"}));               // only inside "a"
    CHECK_FALSE(at({"a", "b", "x"}));     // through an array
    CHECK_FALSE(at({"name", "x"}));       // through a scalar
    CHECK_FALSE(at({"nam"}));
    CHECK_FALSE(at({"zzz"}));             // past every text key
    const std::array<std::string_view, 2> path = {"a", "b"};
    CHECK(cbor::find_path(doc, path).has_value());

    // The part it reads is checked (looking for "c" reads both keys; for "a" it stops at "b").
    CHECK_THROWS_AS(cbor::find_path(unhex("a2 6162 01 6161 02"), {"c"}), cbor::decode_error);
    CHECK_FALSE(cbor::find_path(unhex("a2 6162 01 6161 02"), {"a"}));
    CHECK_THROWS_AS(cbor::find_path(unhex("a1 6161 1801"), {"a"}), cbor::decode_error);
    CHECK_THROWS_AS(cbor::find_path(byte_buffer{}, {"a"}), cbor::decode_error);
}

// ---- properties on random values --------------------------------------------------------------

namespace {

class random_values {
public:
    random_values(std::uint64_t seed, bool floats) : rng_(seed), floats_(floats) {}

    value make(int depth) {
        switch (pick(0, depth > 0 ? 11 : 7)) {
            case 0: return value(some_uint());
            case 1: return value::negative(some_uint());
            case 2: return value::bytes(some_bytes());
            case 3: return value(some_text());
            case 4: return value(pick(0, 1) == 1);
            case 5: return value();
            case 6: return floats_ ? value(some_double()) : value(static_cast<std::int64_t>(rng_()));
            case 7: return value(some_text());
            case 8: return value::tag(some_uint(), make(depth - 1));
            case 9: {
                cbor::array items;
                for (int i = pick(0, 5); i > 0; --i) items.push_back(make(depth - 1));
                return value(std::move(items));
            }
            default: {
                value m = cbor::map{};
                for (int i = pick(0, 6); i > 0; --i) m.set(make(depth - 1), make(depth - 1));
                return m;
            }
        }
    }

    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::mt19937_64& rng() { return rng_; }

private:
    // Biased to the head-size boundaries, where encoders go wrong.
    std::uint64_t some_uint() {
        static constexpr std::uint64_t edges[] = {0, 1, 23, 24, 255, 256, 65535, 65536, 0xFFFFFFFF, 0x100000000, u64max};
        switch (pick(0, 4)) {
            case 0: return edges[pick(0, std::size(edges) - 1)];
            case 1: return static_cast<std::uint64_t>(pick(0, 30));
            case 2: return rng_() >> pick(0, 63);
            default: return rng_() & 0xFFFF;
        }
    }

    byte_buffer some_bytes() {
        byte_buffer b(static_cast<std::size_t>(pick(0, 1) ? pick(0, 8) : pick(0, 300)));
        for (auto& x : b) x = static_cast<entidb::byte>(rng_());
        return b;
    }

    std::string some_text() {
        static constexpr std::string_view pieces[] = {"a", "b", "z", "\"", "\\", "\n", "\x01", "\u00fc", "\u6c34",
                                                      "\U00010151", "\U0010FFFF", "\u20ac", "k"};
        std::string s;
        for (int i = pick(0, pick(0, 1) ? 3 : 40); i > 0; --i) s += pieces[pick(0, std::size(pieces) - 1)];
        return s;
    }

    // Doubles of every width: halves, singles and doubles, never NaN.
    double some_double() {
        for (;;) {
            double d = 0;
            switch (pick(0, 2)) {
                case 0: d = entidb::cbor::detail::half_to_double(static_cast<std::uint16_t>(rng_())); break;
                case 1: d = static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(rng_()))); break;
                default: d = std::bit_cast<double>(rng_()); break;
            }
            if (!std::isnan(d)) return d;
        }
    }

    std::mt19937_64 rng_;
    bool floats_;
};

// Writes `v` with the streaming encoder, entries of every map in a random order.
void write_shuffled(cbor::encoder& e, const value& v, std::mt19937_64& rng) {
    switch (v.type()) {
        case cbor::kind::array:
            e.begin_array(v.as_array().size());
            for (const auto& x : v.as_array()) write_shuffled(e, x, rng);
            e.end_array();
            return;
        case cbor::kind::map: {
            std::vector<const cbor::map_entry*> entries;
            for (const auto& x : v.as_map()) entries.push_back(&x);
            std::shuffle(entries.begin(), entries.end(), rng);
            e.begin_map(entries.size());
            for (const auto* x : entries) {
                write_shuffled(e, x->key, rng);
                write_shuffled(e, x->val, rng);
            }
            e.end_map();
            return;
        }
        case cbor::kind::tag:
            e.tag(v.tag_number());
            write_shuffled(e, v.tag_content(), rng);
            return;
        default: e.write(v);
    }
}

int sign(int c) { return (c > 0) - (c < 0); }
int sign(std::strong_ordering o) { return o < 0 ? -1 : o > 0 ? 1 : 0; }

void check_properties(bool floats, std::uint64_t seed) {
    random_values gen(seed, floats);
    const cbor::encode_options eo{.allow_floats = floats};
    const cbor::decode_options dopts{.allow_floats = floats};
    value previous;
    byte_buffer previous_bytes = cbor::encode(previous);
    int failures = 0;
    for (int i = 0; i < 3000 && failures < 5; ++i) {
        const value v = gen.make(gen.pick(0, 4));
        const byte_buffer bytes = cbor::encode(v, eo);
        bool ok = true;
        const value back = cbor::decode(bytes, dopts);
        ok = ok && back == v;
        ok = ok && cbor::encode(back, eo) == bytes;
        cbor::validate(bytes, dopts);
        // The structural order of values is the bytewise order of their encodings.
        ok = ok && sign(v <=> previous) == sign(cbor::detail::compare_bytes(bytes, previous_bytes));
        byte_buffer shuffled;
        cbor::encoder e(shuffled, eo);
        write_shuffled(e, v, gen.rng());
        ok = ok && shuffled == bytes;
        // The JSON bridge loses nothing on float-free values (cbor_json_test.cpp has the details).
        if (!floats) ok = ok && cbor::from_json(cbor::to_json(bytes)) == bytes;
        if (!ok) {
            ++failures;
            FAIL_CHECK("property failed for " << hex(bytes));
        }
        previous = v;
        previous_bytes = bytes;
    }
    CHECK(failures == 0);
}

}  // namespace

TEST_CASE("properties: decode(encode(v)) == v, re-encoding is byte-identical, order matches bytes, "
          "shuffled map entries give the same bytes, JSON round-trips") {
    check_properties(false, 0xC0FFEE);
}

TEST_CASE("properties: the same with floats allowed") {
    check_properties(true, 0xBADC0DE);
}
