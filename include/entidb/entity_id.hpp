// entidb/entity_id.hpp — the 128-bit identity of an entity (SPEC.md §1).
//
// Contract: an `entity_id` is 16 raw bytes, a trivially copyable value. A
// default-constructed id is all zero. `generate()` makes a random UUID v4 from the
// kernel's CSPRNG (getrandom(2)); `parse()` accepts 32 hex digits (either case) or
// the hyphenated 8-4-4-4-12 UUID form; `to_hex()` / `to_uuid_string()` print
// lowercase. Comparison is bytewise, so ordering equals memcmp order (the order of
// keys on disk and in ordered indexes). Errors:
//   from_bytes / parse   errc::invalid_argument (wrong length, bad character, misplaced '-')
//   generate             errc::io_error (getrandom failed; errno attached)
// Also provides std::hash<entity_id> and fmt::formatter<entity_id> ("{}" = 32 hex,
// "{:u}" = hyphenated UUID).
//
// Thread-safety: a value type; all functions are reentrant (generate() included:
// getrandom keeps no user-space state).
#pragma once

#include <array>
#include <bit>
#include <cerrno>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include <sys/random.h>

#include <fmt/format.h>

#include "bytes.hpp"
#include "error.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {

inline constexpr char hex_digits_lower[] = "0123456789abcdef";

// Value of one hex digit, or -1 when `c` is not one.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Byte offsets after which the UUID form puts a '-' (8-4-4-4-12 hex digits).
[[nodiscard]] constexpr bool uuid_hyphen_after(std::size_t byte_index) noexcept {
    return byte_index == 4 || byte_index == 6 || byte_index == 8 || byte_index == 10;
}

// Writes the id as text into `out` (which must hold 32 or 36 chars) and returns
// the number of chars written. Shared by to_hex/to_uuid_string and the formatter
// so formatting does not allocate.
[[nodiscard]] inline std::size_t write_id_text(const std::array<byte, 16>& b, char* out,
                                               bool hyphenated) noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (hyphenated && uuid_hyphen_after(i)) out[n++] = '-';
        out[n++] = hex_digits_lower[b[i] >> 4];
        out[n++] = hex_digits_lower[b[i] & 0x0F];
    }
    return n;
}

// Fills `out` from the kernel CSPRNG. getrandom may return fewer bytes than asked
// or fail with EINTR if a signal arrives; both are retried.
inline void fill_random(mutable_bytes out) {
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t got = ::getrandom(out.data() + done, out.size() - done, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            fail_at(errc::io_error, {.sys_errno = errno}, "getrandom failed while generating an entity id");
        }
        done += static_cast<std::size_t>(got);
    }
}

}  // namespace detail

class entity_id {
public:
    static constexpr std::size_t size = 16;

    constexpr entity_id() = default;
    constexpr explicit entity_id(const std::array<byte, size>& raw) noexcept : bytes_(raw) {}

    // Exactly 16 bytes, as stored on disk.
    [[nodiscard]] static entity_id from_bytes(bytes_view raw) {
        if (raw.size() != size)
            fail(errc::invalid_argument, "an entity id is exactly {} bytes, got {}", size, raw.size());
        entity_id id;
        std::memcpy(id.bytes_.data(), raw.data(), size);
        return id;
    }

    // A random UUID v4 (RFC 4122 §4.4): 122 random bits, version nibble 4, variant 10xx.
    [[nodiscard]] static entity_id generate() {
        entity_id id;
        detail::fill_random(id.bytes_);
        id.bytes_[6] = static_cast<byte>((id.bytes_[6] & 0x0F) | 0x40);
        id.bytes_[8] = static_cast<byte>((id.bytes_[8] & 0x3F) | 0x80);
        return id;
    }

    // 32 hex digits, or the UUID form 8-4-4-4-12; hex digits in either case.
    [[nodiscard]] static entity_id parse(std::string_view text);

    [[nodiscard]] constexpr const std::array<byte, size>& bytes() const noexcept { return bytes_; }

    [[nodiscard]] std::string to_hex() const {
        std::string s(2 * size, '\0');
        (void)detail::write_id_text(bytes_, s.data(), false);
        return s;
    }

    [[nodiscard]] std::string to_uuid_string() const {
        std::string s(2 * size + 4, '\0');
        (void)detail::write_id_text(bytes_, s.data(), true);
        return s;
    }

    // Lexicographic as unsigned bytes (memcmp order), which is the numeric order of the two
    // big-endian 8-byte halves: two word compares instead of a call to memcmp (ids are the
    // keys of every ordered map of a transaction's writes).
    friend constexpr std::strong_ordering operator<=>(const entity_id& a, const entity_id& b) noexcept {
        if (std::is_constant_evaluated()) return a.bytes_ <=> b.bytes_;
        if (const auto hi = a.half(0) <=> b.half(0); hi != 0) return hi;
        return a.half(8) <=> b.half(8);
    }
    friend constexpr bool operator==(const entity_id&, const entity_id&) noexcept = default;

private:
    [[nodiscard]] std::uint64_t half(std::size_t at) const noexcept {
        std::uint64_t v;
        std::memcpy(&v, bytes_.data() + at, 8);
        if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
        return v;
    }

    std::array<byte, size> bytes_{};
};

static_assert(std::is_trivially_copyable_v<entity_id>);
static_assert(sizeof(entity_id) == entity_id::size);

inline entity_id entity_id::parse(std::string_view text) {
    constexpr std::size_t hex_len = 2 * size;
    constexpr std::size_t uuid_len = hex_len + 4;
    // Quote at most a prefix of the input: it may be arbitrary user data.
    const std::string_view shown = text.substr(0, 64);
    const bool hyphenated = text.size() == uuid_len;
    if (text.size() != hex_len && !hyphenated)
        fail(errc::invalid_argument,
             "entity id {:?} has {} characters; expected 32 hex digits or a 36-character UUID "
             "(8-4-4-4-12)",
             shown, text.size());

    entity_id id;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < size; ++i) {
        if (hyphenated && detail::uuid_hyphen_after(i)) {
            if (text[pos] != '-')
                fail(errc::invalid_argument, "entity id {:?}: expected '-' at position {}, found {:?}", shown,
                     pos, text[pos]);
            ++pos;
        }
        const int hi = detail::hex_value(text[pos]);
        const int lo = detail::hex_value(text[pos + 1]);
        if (hi < 0 || lo < 0) {
            const std::size_t bad = hi < 0 ? pos : pos + 1;
            if (text[bad] == '-')
                fail(errc::invalid_argument,
                     "entity id {:?}: misplaced '-' at position {}; hyphens belong only at positions "
                     "8, 13, 18 and 23 of the 36-character UUID form",
                     shown, bad);
            fail(errc::invalid_argument, "entity id {:?}: {:?} at position {} is not a hex digit", shown,
                 text[bad], bad);
        }
        id.bytes_[i] = static_cast<byte>(hi << 4 | lo);
        pos += 2;
    }
    return id;
}

}  // namespace v1
}  // namespace entidb

// Generated ids are uniformly random, but ids from parse()/from_bytes() may be
// caller-chosen and structured (sequential, mostly zero), so all 128 bits go through
// a multiply-xorshift mix. That is enough for hash tables and far cheaper than a
// general-purpose hash over 16 bytes. Not for anything adversarial or persistent.
template <>
struct std::hash<entidb::entity_id> {
    [[nodiscard]] std::size_t operator()(const entidb::entity_id& id) const noexcept {
        std::uint64_t lo = 0;
        std::uint64_t hi = 0;
        std::memcpy(&lo, id.bytes().data(), 8);
        std::memcpy(&hi, id.bytes().data() + 8, 8);
        std::uint64_t x = lo ^ (hi * 0x9E3779B97F4A7C15ull);
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93ull;
        x ^= x >> 32;
        return static_cast<std::size_t>(x);
    }
};

// "{}" prints 32 lowercase hex digits, "{:u}" the hyphenated UUID form.
template <>
struct fmt::formatter<entidb::entity_id> {
    bool uuid = false;

    constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
        auto it = ctx.begin();
        if (it != ctx.end() && *it == 'u') {
            uuid = true;
            ++it;
        }
        if (it != ctx.end() && *it != '}') throw fmt::format_error("entity_id: format spec must be empty or 'u'");
        return it;
    }

    template <typename Ctx>
    auto format(const entidb::entity_id& id, Ctx& ctx) const -> decltype(ctx.out()) {
        char buf[36];
        const std::size_t n = entidb::detail::write_id_text(id.bytes(), buf, uuid);
        return std::copy_n(buf, n, ctx.out());
    }
};
