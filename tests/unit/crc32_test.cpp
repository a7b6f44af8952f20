// Tests for entidb/format/crc32.hpp: known vectors, a bitwise reference, chaining,
// and random lengths at every alignment (the slicing-by-8 loop must not care).
#include <entidb/format/crc32.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using entidb::as_bytes;
using entidb::byte;
using entidb::bytes_view;
using entidb::crc32;

namespace {

// The definition, one bit at a time: slow, obviously right, and independent of the tables.
std::uint32_t reference_crc32(bytes_view data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (const byte b : data) {
        crc ^= b;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

std::vector<byte> random_bytes(std::mt19937& rng, std::size_t n) {
    std::uniform_int_distribution<int> dist(0, 255);
    std::vector<byte> out(n);
    for (auto& b : out) b = static_cast<byte>(dist(rng));
    return out;
}

}  // namespace

TEST_CASE("crc32 known vectors (zlib)", "[crc32]") {
    CHECK(crc32({}) == 0x00000000u);
    CHECK(crc32(as_bytes("a")) == 0xE8B7BE43u);
    CHECK(crc32(as_bytes("abc")) == 0x352441C2u);
    CHECK(crc32(as_bytes("123456789")) == 0xCBF43926u);
    CHECK(crc32(as_bytes("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);

    std::vector<byte> all(256);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<byte>(i);
    CHECK(crc32(all) == 0x29058C73u);
}

TEST_CASE("crc32 of all-zero buffers matches the bitwise reference", "[crc32]") {
    CHECK(crc32(std::vector<byte>(1)) == 0xD202EF8Du);
    CHECK(crc32(std::vector<byte>(32)) == 0x190A55ADu);
    CHECK(crc32(std::vector<byte>(4096)) == 0xC71C0011u);
    for (const std::size_t n : {1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 64u, 65u, 1000u, 4096u, 65537u}) {
        const std::vector<byte> zeros(n);
        INFO("size " << n);
        CHECK(crc32(zeros) == reference_crc32(zeros));
    }
}

TEST_CASE("crc32 chains like zlib: crc32(b, crc32(a)) == crc32(a + b)", "[crc32]") {
    // 290 bytes: a record; both pieces may take the carry-less path (>= 64 bytes) with a
    // tail, or the tables.
    std::mt19937 rng(12345);
    for (const std::size_t size : {290u, 300u}) {
        const auto piece = random_bytes(rng, size);
        const bytes_view all(piece);
        const std::uint32_t whole = crc32(all);
        REQUIRE(whole == reference_crc32(all));
        for (std::size_t split = 0; split <= piece.size(); ++split) {
            INFO("size " << size << ", split at " << split);
            CHECK(crc32(all.subspan(split), crc32(all.first(split))) == whole);
        }
    }
    const auto data = random_bytes(rng, 300);
    const bytes_view all(data);
    const std::uint32_t whole = crc32(all);
    // Three pieces, and an empty piece in the chain changes nothing.
    CHECK(crc32(all.subspan(200), crc32({}, crc32(all.subspan(17, 183), crc32(all.first(17))))) == whole);
    CHECK(crc32(as_bytes("6789"), crc32(as_bytes("12345"))) == 0xCBF43926u);
}

TEST_CASE("crc32 random lengths at every alignment match the reference", "[crc32]") {
    std::mt19937 rng(987654321);
    const auto pool = random_bytes(rng, 4096 + 16);
    std::uniform_int_distribution<std::size_t> length(0, 4096);
    for (int round = 0; round < 200; ++round) {
        const std::size_t n = round < 40 ? static_cast<std::size_t>(round) : length(rng);
        for (std::size_t misalign = 0; misalign < 8; ++misalign) {
            const bytes_view piece(pool.data() + misalign, n);
            INFO("length " << n << ", misalignment " << misalign);
            REQUIRE(crc32(piece) == reference_crc32(piece));
        }
    }
}

TEST_CASE("crc32 tables are built at compile time", "[crc32]") {
    // The byte table's known corners, checked by the compiler itself.
    static_assert(entidb::detail::crc32_tables[0][0] == 0u);
    static_assert(entidb::detail::crc32_tables[0][1] == 0x77073096u);
    static_assert(entidb::detail::crc32_tables[0][255] == 0x2D02EF8Du);
    SUCCEED();
}

TEST_CASE("crc32: the carry-less-multiply path and the tables agree at every length", "[crc32]") {
    // Every length up to 2000 (so every tail of 1-15 bytes after every number of 16- and
    // 64-byte blocks), at every alignment, fresh and chained onto earlier values.
    std::mt19937 rng(4242);
    const auto pool = random_bytes(rng, 2000 + 16);
#ifdef ENTIDB_CRC32_CLMUL
    INFO("carry-less multiply available: " << entidb::detail::crc32_clmul_available());
#endif
    const std::uint32_t previous[] = {0u, 0xFFFFFFFFu, 0x12345678u, 0xCBF43926u};
    for (std::size_t n = 0; n <= 2000; ++n)
        for (std::size_t offset = 0; offset < 16; ++offset) {
            const bytes_view v(pool.data() + offset, n);
            const std::uint32_t prev = previous[(n + offset) % std::size(previous)];
            INFO("length " << n << " offset " << offset << " previous " << prev);
            const std::uint32_t tables = ~entidb::detail::crc32_tables_update(~prev, v.data(), v.size());
            REQUIRE(crc32(v, prev) == tables);
            if (prev == 0 && n % 97 == 0) REQUIRE(tables == reference_crc32(v));
        }
}

