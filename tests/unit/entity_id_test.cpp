// Tests for entidb/entity_id.hpp: parsing and printing, UUID v4 bits, uniqueness,
// memcmp ordering, std::hash and fmt.
#include <entidb/entity_id.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"

using entidb::entity_id;
using entidb::errc;

namespace {

constexpr std::string_view sample_hex = "0123456789abcdef0011223344556677";
constexpr std::string_view sample_uuid = "01234567-89ab-cdef-0011-223344556677";

errc parse_error(std::string_view text) {
    try {
        (void)entity_id::parse(text);
    } catch (const entidb::error& e) {
        return e.value();
    }
    return errc::ok;
}

std::string parse_message(std::string_view text) {
    try {
        (void)entity_id::parse(text);
    } catch (const entidb::error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("entity_id default is all zero and trivially copyable", "[entity_id]") {
    constexpr entity_id zero;
    STATIC_REQUIRE(std::is_trivially_copyable_v<entity_id>);
    CHECK(std::all_of(zero.bytes().begin(), zero.bytes().end(), [](auto b) { return b == 0; }));
    CHECK(zero.to_hex() == std::string(32, '0'));
}

TEST_CASE("entity_id parses and prints both forms", "[entity_id]") {
    const entity_id from_hex = entity_id::parse(sample_hex);
    const entity_id from_uuid = entity_id::parse(sample_uuid);
    CHECK(from_hex == from_uuid);
    CHECK(from_hex.bytes()[0] == 0x01);
    CHECK(from_hex.bytes()[15] == 0x77);
    CHECK(from_hex.to_hex() == sample_hex);
    CHECK(from_hex.to_uuid_string() == sample_uuid);
    CHECK(entity_id::parse(from_hex.to_uuid_string()) == from_hex);
    CHECK(entity_id::parse(from_hex.to_hex()) == from_hex);
}

TEST_CASE("entity_id parse accepts uppercase and prints lowercase", "[entity_id]") {
    CHECK(entity_id::parse("0123456789ABCDEF0011223344556677").to_hex() == sample_hex);
    CHECK(entity_id::parse("01234567-89AB-cDeF-0011-223344556677").to_hex() == sample_hex);
}

TEST_CASE("entity_id parse rejects malformed text with invalid_argument", "[entity_id]") {
    SECTION("bad length") {
        CHECK(parse_error("") == errc::invalid_argument);
        CHECK(parse_error(sample_hex.substr(1)) == errc::invalid_argument);
        CHECK(parse_error(std::string(sample_hex) + "0") == errc::invalid_argument);
        CHECK(parse_error(std::string(sample_uuid) + "0") == errc::invalid_argument);
        CHECK_THAT(parse_message("abc"), Catch::Contains("3 characters"));
    }
    SECTION("non-hex characters") {
        CHECK(parse_error("0123456789abcdef001122334455667g") == errc::invalid_argument);
        CHECK(parse_error("g123456789abcdef0011223344556677") == errc::invalid_argument);
        CHECK(parse_error("01234567-89ab-cdef-0011-22334455667 ") == errc::invalid_argument);
        CHECK(parse_error(std::string("0123456789abcdef0011223344556\0077", 32)) == errc::invalid_argument);
        CHECK_THAT(parse_message("0123456789abcdef001122334455667g"),
                   Catch::Contains("'g' at position 31 is not a hex digit"));
    }
    SECTION("hyphens in the wrong places") {
        CHECK(parse_error("0123456-789ab-cdef-0011-223344556677") == errc::invalid_argument);
        CHECK(parse_error("01234567-89abc-def-0011-223344556677") == errc::invalid_argument);
        CHECK(parse_error("01234567089ab-cdef-0011-223344556677") == errc::invalid_argument);
        CHECK(parse_error("0123-4567-89ab-cdef-0011-2233445566") == errc::invalid_argument);
        // Hyphens are only allowed in the 36-character form.
        CHECK(parse_error("0123456789abcdef-01122334455667") == errc::invalid_argument);
        CHECK_THAT(parse_message("0123456-789ab-cdef-0011-223344556677"), Catch::Contains("misplaced '-' at position 7"));
        CHECK_THAT(parse_message("01234567089ab-cdef-0011-223344556677"), Catch::Contains("expected '-' at position 8"));
    }
}

TEST_CASE("entity_id from_bytes needs exactly 16 bytes", "[entity_id]") {
    std::array<entidb::byte, 17> raw{};
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<entidb::byte>(i);
    const entity_id id = entity_id::from_bytes(entidb::bytes_view(raw).first(16));
    CHECK(std::memcmp(id.bytes().data(), raw.data(), 16) == 0);
    for (const std::size_t n : {0u, 15u, 17u}) {
        try {
            (void)entity_id::from_bytes(entidb::bytes_view(raw).first(n));
            FAIL("accepted " << n << " bytes");
        } catch (const entidb::error& e) {
            CHECK(e.value() == errc::invalid_argument);
        }
    }
}

TEST_CASE("entity_id generate makes distinct UUID v4 ids", "[entity_id]") {
    std::unordered_set<entity_id> seen;
    for (int i = 0; i < 10'000; ++i) {
        const entity_id id = entity_id::generate();
        REQUIRE((id.bytes()[6] & 0xF0) == 0x40);  // version 4
        REQUIRE((id.bytes()[8] & 0xC0) == 0x80);  // variant 10xx (RFC 4122)
        REQUIRE(id.to_uuid_string()[14] == '4');
        REQUIRE(seen.insert(id).second);
    }
    CHECK(seen.size() == 10'000);
}

TEST_CASE("entity_id ordering equals memcmp order", "[entity_id]") {
    std::vector<entity_id> ids;
    for (int i = 0; i < 200; ++i) ids.push_back(entity_id::generate());
    // Ids that differ only in late bytes, and bytes >= 0x80 (a signed-char compare would fail).
    ids.push_back(entity_id::parse("ff000000000000000000000000000000"));
    ids.push_back(entity_id::parse("7f000000000000000000000000000000"));
    ids.push_back(entity_id::parse("00000000000000000000000000000080"));
    ids.push_back(entity_id::parse("00000000000000000000000000000001"));
    ids.push_back(entity_id{});
    ids.push_back(entity_id::parse("ffffffffffffffffffffffffffffffff"));
    // Either side of the boundary between the two 8-byte halves.
    ids.push_back(entity_id::parse("0000000000000001000000000000ffff"));
    ids.push_back(entity_id::parse("0000000000000000ffffffffffffffff"));
    ids.push_back(entity_id::parse("00000000000000008000000000000000"));
    ids.push_back(entity_id::parse("0100000000000000000000000000ff00"));
    for (const auto& a : ids) {
        for (const auto& b : ids) {
            const int m = std::memcmp(a.bytes().data(), b.bytes().data(), entity_id::size);
            REQUIRE((a < b) == (m < 0));
            REQUIRE((a == b) == (m == 0));
            REQUIRE((a > b) == (m > 0));
        }
    }
    // The same order in constant evaluation.
    constexpr std::array<std::uint8_t, 16> late{0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};
    constexpr std::array<std::uint8_t, 16> early{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    static_assert(entity_id(late) < entity_id(early) && entity_id{} < entity_id(late));
    std::set<entity_id> ordered(ids.begin(), ids.end());
    CHECK(*ordered.begin() == entity_id{});
    CHECK(*ordered.rbegin() == entity_id::parse("ffffffffffffffffffffffffffffffff"));
}

TEST_CASE("std::hash<entity_id> works in unordered containers and mixes every byte", "[entity_id]") {
    std::unordered_set<entity_id> set;
    const entity_id a = entity_id::parse(sample_hex);
    set.insert(a);
    set.insert(entity_id::parse(sample_uuid));
    CHECK(set.size() == 1);
    CHECK(set.count(a) == 1);

    // Structured ids (one byte set anywhere) must not collide.
    std::unordered_set<std::size_t> hashes;
    for (std::size_t i = 0; i < entity_id::size; ++i) {
        std::array<entidb::byte, 16> raw{};
        raw[i] = 1;
        hashes.insert(std::hash<entity_id>{}(entity_id(raw)));
    }
    CHECK(hashes.size() == entity_id::size);
}

TEST_CASE("entity_id fmt output", "[entity_id]") {
    const entity_id id = entity_id::parse(sample_hex);
    CHECK(fmt::format("{}", id) == sample_hex);
    CHECK(fmt::format("{:u}", id) == sample_uuid);
    CHECK(fmt::format("[{}|{:u}]", entity_id{}, entity_id{}) ==
          "[00000000000000000000000000000000|00000000-0000-0000-0000-000000000000]");
    CHECK_THROWS_AS(fmt::format(fmt::runtime("{:x}"), id), fmt::format_error);
}
