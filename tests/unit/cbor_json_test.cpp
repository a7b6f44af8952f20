// The JSON bridge: the mapping both ways, escapes and surrogates, the reserved "$" forms, and
// every rejection with its character offset.
#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include <entidb/cbor.hpp>

namespace cbor = entidb::cbor;
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

// JSON text whose parse gives `encoded`, and which to_json gives back exactly.
struct both_ways {
    std::string json;
    std::string encoded;
};

}  // namespace

TEST_CASE("json: the mapping both ways") {
    const std::vector<both_ways> cases = {
        {"null", "f6"},
        {"true", "f5"},
        {"false", "f4"},
        {"0", "00"},
        {"23", "17"},
        {"24", "1818"},
        {"-1", "20"},
        {"-24", "37"},
        {"-25", "3818"},
        {"18446744073709551615", "1bffffffffffffffff"},
        {"-18446744073709551616", "3bffffffffffffffff"},
        {"-9223372036854775808", "3b7fffffffffffffff"},
        {"\"\"", "60"},
        {"\"a\"", "6161"},
        {"\"\u00fc\u6c34\U00010151\"", "69c3bce6b0b4f0908591"},
        {R"("\"\\\u0001\u001f/")", "65225c011f2f"},
        {"[]", "80"},
        {"{}", "a0"},
        {"[1,[2,3],[4,5]]", "8301820203820405"},
        {R"({"a":1,"b":[2,3]})", "a26161016162820203"},
        {R"({"b":1,"aa":2})", "a2616201626161 02"},  // canonical order: shorter keys first
        {R"({"$bytes":""})", "40"},
        {R"({"$bytes":"01ab"})", "4201ab"},
        {R"({"$tag":1,"$value":1363896240})", "c11a514b67b0"},
        {R"({"$tag":32,"$value":{"$bytes":"ff"}})", "d82041ff"},
        {R"({"$map":[[1,2],[-1,"x"],["a",3]]})", "a3 0102 206178 616103"},
        {R"({"$map":[[{"$bytes":"00"},null]]})", "a14100f6"},
        // Text-key maps that would read back as a reserved form are written as $map.
        {R"({"$map":[["$bytes","00"]]})", "a1662462797465736230 30"},
        {R"({"$map":[["$tag",1],["$value",2]]})", "a2 6424746167 01 66247661 6c7565 02"},
        {R"({"$map":[["$map",[]]]})", "a1 64246d6170 80"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        const byte_buffer encoded = unhex(c.encoded);
        CHECK(hex(cbor::from_json(c.json)) == hex(encoded));
        CHECK(cbor::to_json(encoded) == c.json);
    }
}

TEST_CASE("json: input forms that normalise") {
    const std::vector<both_ways> cases = {
        {" \t\r\n[ 1 , 2 ] \n", "820102"},
        {R"({"b":1,"a":2})", "a2616102616201"},
        {R"("\/\b\f\n\r\t")", "662f080c0a0d09"},
        {R"("\u00FC")", "62c3bc"},
        {R"("\ud83d\ude00")", "64f09f9880"},  // a surrogate pair
        {R"("\u0000")", "6100"},
        {"-0", "00"},
        {R"({"$value":2,"$tag":1})", "c102"},
        {R"({"$bytes":"ABcd"})", "42abcd"},
        {R"({"$map":[]})", "a0"},
        {R"({"$bytes":"00","x":1})", "a2 6178 01 66246279746573 623030"},  // not a reserved form
        {R"({"$map":[["b",1],["a",2]]})", "a2616102616201"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        CHECK(hex(cbor::from_json(c.json)) == hex(unhex(c.encoded)));
    }
    CHECK(cbor::to_json(unhex("62c3bc")) == "\"\u00fc\"");  // non-ASCII stays raw UTF-8
    CHECK(cbor::to_json(unhex("617f")) == "\"\x7f\"");
}

TEST_CASE("json: rejections carry errc::invalid_argument and the character offset") {
    struct rejection {
        std::string json;
        std::uint64_t offset;
        std::string_view says;
    };
    const std::vector<rejection> cases = {
        {"", 0, "unexpected end"},
        {"1.5", 0, "floating-point"},
        {"1e5", 0, "floating-point"},
        {"[1, 2.0]", 4, "floating-point"},
        {"-1E2", 0, "floating-point"},
        {"18446744073709551616", 0, "outside"},
        {"-18446744073709551617", 0, "outside"},
        {"99999999999999999999999", 0, "outside"},
        {"01", 0, "leading zeros"},
        {"-", 1, "digit"},
        {"+1", 0, "expected a JSON value"},
        {"tru", 0, "expected a JSON value"},
        {"nul", 0, "expected a JSON value"},
        {"[1,]", 3, "expected a JSON value"},
        {"[1 2]", 3, "expected ','"},
        {R"({"a" 1})", 5, "expected ':'"},
        {"{1:2}", 1, "string key"},
        {R"({"a":1,})", 7, "string key"},
        {R"({"a":1,"a":2})", 7, "duplicate object key"},
        {R"({"a":1,"\u0061":2})", 7, "duplicate object key"},
        {"[1,2] x", 6, "after the JSON value"},
        {"{} {}", 3, "after the JSON value"},
        {R"("abc)", 4, "unterminated"},
        {"\"a\x01\"", 2, "control character"},
        {R"("\x")", 1, "invalid escape"},
        {R"("\u12")", 1, "four hex digits"},
        {R"("\ud800")", 1, "surrogate"},
        {R"("\ud800\u0041")", 1, "surrogate"},
        {R"("\udc00")", 1, "lone low surrogate"},
        {"\"\xc3\x28\"", 2, "UTF-8"},
        {"\"\xed\xa0\x80\"", 2, "UTF-8"},
        {R"({"$bytes":"abc"})", 1, "$bytes"},
        {R"({"$bytes":"zz"})", 1, "$bytes"},
        {R"({"$bytes":12})", 1, "$bytes"},
        {R"({"$tag":-1,"$value":0})", 1, "$tag"},
        {R"({"$tag":"1","$value":0})", 1, "$tag"},
        {R"({"$map":{}})", 1, "$map"},
        {R"({"$map":[[1]]})", 1, "$map"},
        {R"({"$map":[[1,2],[1,3]]})", 1, "duplicate"},
        {std::string(194, '['), 193, "nesting"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        try {
            (void)cbor::from_json(c.json);
            FAIL("accepted");
        } catch (const entidb::error& e) {
            CHECK(e.value() == errc::invalid_argument);
            CHECK(e.offset() == c.offset);
            CHECK_THAT(e.what(), Catch::Contains(std::string(c.says)));
            CHECK_THAT(e.what(), Catch::Contains(fmt::format("at character {}", c.offset)));
        }
    }
}

TEST_CASE("json: depth is bounded in CBOR containers") {
    const auto nested = [](int n) { return std::string(static_cast<std::size_t>(n), '[') + std::string(static_cast<std::size_t>(n), ']'); };
    CHECK_NOTHROW(cbor::from_json(nested(64)));
    CHECK_THROWS_AS(cbor::from_json(nested(65)), entidb::error);  // parses, but encodes too deep
    CHECK_THROWS_AS(cbor::from_json(nested(100000)), entidb::error);  // stops long before the stack would
    CHECK_NOTHROW(cbor::from_json(nested(3), {.max_depth = 3}));
    CHECK_THROWS_AS(cbor::from_json(nested(4), {.max_depth = 3}), entidb::error);
    // A $map at full depth takes three JSON levels but one CBOR level.
    std::string deep_map;
    for (int i = 0; i < 64; ++i) deep_map += R"({"$map":[[1,)";
    deep_map += "0";
    for (int i = 0; i < 64; ++i) deep_map += "]]}";
    CHECK(cbor::to_json(cbor::from_json(deep_map)) == deep_map);
}

TEST_CASE("json: to_json renders floats only when decoding allows them") {
    const cbor::decode_options floats{.allow_floats = true};
    CHECK(cbor::to_json(unhex("f93e00"), floats) == "1.5");
    CHECK(cbor::to_json(unhex("f93c00"), floats) == "1.0");
    CHECK(cbor::to_json(unhex("f98000"), floats) == "-0.0");
    CHECK(cbor::to_json(unhex("fb7e37e43c8800759c"), floats) == "1e+300");
    CHECK(cbor::to_json(unhex("f97c00"), floats) == R"({"$float":"Infinity"})");
    CHECK(cbor::to_json(unhex("f9fc00"), floats) == R"({"$float":"-Infinity"})");
    CHECK(cbor::to_json(unhex("a1 66 24666c6f6174 f5"), floats) == R"({"$map":[["$float",true]]})");
    CHECK_THROWS_AS(cbor::to_json(unhex("f93e00")), cbor::decode_error);
}

TEST_CASE("json: to_json only accepts canonical CBOR") {
    CHECK_THROWS_AS(cbor::to_json(unhex("a2616201616102")), cbor::decode_error);
    CHECK_THROWS_AS(cbor::to_json(unhex("1817")), cbor::decode_error);
    CHECK_THROWS_AS(cbor::to_json(byte_buffer{}), cbor::decode_error);
}
