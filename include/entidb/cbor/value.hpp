// entidb/cbor/value.hpp — the CBOR value model: an owned tree of data items.
//
// Contract: `cbor::value` is a regular value type (copyable, movable, comparable) holding any
// item of the CBOR subset EntiDB stores: null, booleans, unsigned integers (full u64), negative
// integers down to -2^64 (kept as the CBOR argument n, value = -1 - n), byte strings, UTF-8 text,
// arrays, maps, tags and — only where floats are enabled — doubles. A value owns all its storage.
// Invariants held by construction, so that any value encodes to canonical CBOR:
//   - text is valid UTF-8 and a double is never NaN (constructors throw errc::invalid_argument);
//   - map entries are kept in canonical order (bytewise order of the encoded keys, RFC 8949
//     §4.2.1) with unique keys.
// `<=>` is that canonical order, computed from the structure without encoding; `==` means
// "encodes to the same bytes" (so -0.0 != 0.0). Accessors of the wrong kind throw
// errc::type_mismatch. Copies, comparison and destruction recurse, so a value built by hand should
// stay within the depth the encoder accepts (64 by default); decoded values always do.
//
// Thread-safety: no internal state; concurrent const access is safe, as for standard containers.
#pragma once

#include <algorithm>
#include <cmath>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "../bytes.hpp"
#include "../error.hpp"
#include "rules.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

// The kinds of value; the order matches the alternatives of value's storage.
enum class kind : std::uint8_t {
    null,
    boolean,
    unsigned_integer,
    negative_integer,
    bytes,
    text,
    array,
    map,
    tag,
    floating,
};

[[nodiscard]] constexpr std::string_view to_string(kind k) noexcept {
    switch (k) {
        case kind::null: return "null";
        case kind::boolean: return "boolean";
        case kind::unsigned_integer: return "unsigned integer";
        case kind::negative_integer: return "negative integer";
        case kind::bytes: return "byte string";
        case kind::text: return "text";
        case kind::array: return "array";
        case kind::map: return "map";
        case kind::tag: return "tag";
        case kind::floating: return "float";
    }
    return "unknown";
}

class value;
struct map_entry;
using array = std::vector<value>;
using map = std::vector<map_entry>;  // inside a value: canonical key order, unique keys

class value {
public:
    // Every constructor is defined below `map_entry`: the storage variant cannot be built (or
    // destroyed) while map_entry is still incomplete.
    value() noexcept = default;  // null
    value(std::nullptr_t) noexcept;
    // Templates, so that pointers and floating-point numbers do not silently become bools or
    // integers through standard conversions.
    template <typename B>
        requires std::same_as<B, bool>
    value(B b) noexcept;
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    value(I i) noexcept;
    value(std::string text);  // UTF-8 text; throws errc::invalid_argument if it is not
    value(std::string_view text);
    value(const char* text);
    value(array items);
    value(map entries);  // sorted into canonical order; throws errc::invalid_argument on a duplicate
    explicit value(double d);  // throws errc::invalid_argument on NaN

    [[nodiscard]] static value negative(std::uint64_t n);  // the integer -1 - n
    [[nodiscard]] static value bytes(bytes_view b);
    [[nodiscard]] static value bytes(byte_buffer b);
    [[nodiscard]] static value tag(std::uint64_t number, value content);

    value(const value&) = default;
    value(value&&) noexcept = default;
    value& operator=(const value&) = default;
    value& operator=(value&&) noexcept = default;
    ~value() = default;

    [[nodiscard]] cbor::kind type() const noexcept { return static_cast<cbor::kind>(v_.index()); }
    [[nodiscard]] bool is(cbor::kind k) const noexcept { return type() == k; }
    [[nodiscard]] bool is_null() const noexcept { return is(kind::null); }
    [[nodiscard]] bool is_integer() const noexcept {
        return is(kind::unsigned_integer) || is(kind::negative_integer);
    }

    [[nodiscard]] bool as_bool() const;
    [[nodiscard]] std::uint64_t as_uint() const;
    [[nodiscard]] std::int64_t as_int() const;  // also type_mismatch when outside int64
    [[nodiscard]] std::uint64_t negative_argument() const;  // n of a negative integer -1 - n
    [[nodiscard]] const byte_buffer& as_bytes() const;
    [[nodiscard]] const std::string& as_text() const;
    [[nodiscard]] const array& as_array() const;
    [[nodiscard]] array& as_array();  // arrays have no ordering invariant, so they are mutable
    [[nodiscard]] const map& as_map() const;
    [[nodiscard]] std::uint64_t tag_number() const;
    [[nodiscard]] const value& tag_content() const;
    [[nodiscard]] double as_double() const;

    // Map lookup (binary search); nullptr when absent; type_mismatch when not a map.
    [[nodiscard]] const value* find(const value& key) const;
    [[nodiscard]] const value* find(std::string_view text_key) const;
    [[nodiscard]] const value* find(const char* text_key) const { return find(std::string_view(text_key)); }
    // Inserts or replaces the entry for `key`, keeping canonical order.
    void set(value key, value mapped);

    friend std::strong_ordering operator<=>(const value& a, const value& b) noexcept;
    friend bool operator==(const value& a, const value& b) noexcept;

private:
    struct negative_int {
        std::uint64_t n = 0;
    };
    // A tag holds one value: boxed, because a value cannot contain itself directly.
    struct tag_box {
        std::uint64_t number = 0;
        std::unique_ptr<value> content;
        tag_box(std::uint64_t num, value c);
        tag_box(const tag_box& other);
        tag_box(tag_box&&) noexcept;
        tag_box& operator=(const tag_box& other);
        tag_box& operator=(tag_box&&) noexcept;
        ~tag_box();
    };
    using storage = std::variant<std::nullptr_t, bool, std::uint64_t, negative_int, byte_buffer,
                                 std::string, array, map, tag_box, double>;

    template <typename T>
    [[nodiscard]] const T& get(cbor::kind expected) const;
    [[nodiscard]] map& map_storage();

    storage v_;
};

struct map_entry {
    value key;
    value val;
};

// ---- implementation -------------------------------------------------------------------------

namespace detail {

[[nodiscard]] inline major_type major_of(kind k) noexcept {
    switch (k) {
        case kind::unsigned_integer: return major_type::unsigned_integer;
        case kind::negative_integer: return major_type::negative_integer;
        case kind::bytes: return major_type::byte_string;
        case kind::text: return major_type::text_string;
        case kind::array: return major_type::array;
        case kind::map: return major_type::map;
        case kind::tag: return major_type::tag;
        default: return major_type::simple;
    }
}

// For major type 7 the encoding is the initial byte, then (for floats) the big-endian bits.
[[nodiscard]] inline std::pair<byte, std::uint64_t> simple_encoding(const value& v) {
    if (v.is(kind::boolean)) return {v.as_bool() ? initial_true : initial_false, 0};
    if (v.is_null()) return {initial_null, 0};
    const float_form f = shortest_float(v.as_double());
    const byte initial = f.width == 2 ? initial_half : f.width == 4 ? initial_single : initial_double;
    return {initial, f.bits};
}

// Strings: the head (length) first, then the bytes.
[[nodiscard]] inline std::strong_ordering compare_string(bytes_view a, bytes_view b) noexcept {
    if (a.size() != b.size()) return a.size() <=> b.size();
    return compare_bytes(a, b) <=> 0;
}

template <typename Seq, typename ElementCompare>
[[nodiscard]] std::strong_ordering compare_sequence(const Seq& a, const Seq& b, ElementCompare cmp) {
    if (a.size() != b.size()) return a.size() <=> b.size();
    for (std::size_t i = 0; i < a.size(); ++i)
        if (const auto c = cmp(a[i], b[i]); c != 0) return c;
    return std::strong_ordering::equal;
}

// The canonical order without encoding. Shortest-form heads of one major type sort bytewise
// exactly as their arguments sort numerically, and encoded items are prefix-free, so comparing
// (major type, argument, then contents item by item) equals comparing the encoded bytes.
// tests/unit/cbor_test.cpp checks this equivalence on random values.
[[nodiscard]] inline std::strong_ordering canonical_compare(const value& a, const value& b) {
    const major_type ma = major_of(a.type());
    const major_type mb = major_of(b.type());
    if (ma != mb) return ma <=> mb;
    switch (ma) {
        case major_type::unsigned_integer: return a.as_uint() <=> b.as_uint();
        case major_type::negative_integer: return a.negative_argument() <=> b.negative_argument();
        case major_type::byte_string: return compare_string(a.as_bytes(), b.as_bytes());
        case major_type::text_string:
            return compare_string(entidb::as_bytes(a.as_text()), entidb::as_bytes(b.as_text()));
        case major_type::array: return compare_sequence(a.as_array(), b.as_array(), canonical_compare);
        case major_type::map:
            return compare_sequence(a.as_map(), b.as_map(), [](const map_entry& x, const map_entry& y) {
                if (const auto c = canonical_compare(x.key, y.key); c != 0) return c;
                return canonical_compare(x.val, y.val);
            });
        case major_type::tag:
            if (a.tag_number() != b.tag_number()) return a.tag_number() <=> b.tag_number();
            return canonical_compare(a.tag_content(), b.tag_content());
        case major_type::simple: break;
    }
    return simple_encoding(a) <=> simple_encoding(b);
}

// A map key against the text key `t`, in canonical order.
[[nodiscard]] inline std::strong_ordering compare_with_text(const value& key, std::string_view t) {
    const major_type m = major_of(key.type());
    if (m != major_type::text_string) return m <=> major_type::text_string;
    return compare_string(entidb::as_bytes(key.as_text()), entidb::as_bytes(t));
}

[[noreturn]] inline void wrong_kind(kind expected, kind found) {
    fail(errc::type_mismatch, "expected {}, found {}", to_string(expected), to_string(found));
}

}  // namespace detail

inline value::value(std::nullptr_t) noexcept {}

template <typename B>
    requires std::same_as<B, bool>
value::value(B b) noexcept : v_(std::in_place_type<bool>, b) {}

template <std::integral I>
    requires(!std::same_as<I, bool>)
value::value(I i) noexcept {
    if constexpr (std::is_signed_v<I>) {
        const auto wide = static_cast<std::int64_t>(i);
        // -1 - wide, computed without overflow even for INT64_MIN.
        if (wide < 0) v_.emplace<negative_int>(negative_int{static_cast<std::uint64_t>(-(wide + 1))});
        else v_.emplace<std::uint64_t>(static_cast<std::uint64_t>(wide));
    } else {
        v_.emplace<std::uint64_t>(static_cast<std::uint64_t>(i));
    }
}

inline value::value(std::string text) {
    if (const auto bad = detail::find_invalid_utf8(entidb::as_bytes(text)); bad != detail::utf8_valid)
        fail_at(errc::invalid_argument, {.offset = bad}, "text is not valid UTF-8");
    v_.emplace<std::string>(std::move(text));
}

inline value::value(std::string_view text) : value(std::string(text)) {}
inline value::value(const char* text) : value(std::string_view(text)) {}

inline value::value(array items) : v_(std::in_place_type<array>, std::move(items)) {}

inline value::value(map entries) {
    const auto out_of_order = [](const map_entry& a, const map_entry& b) {
        return detail::canonical_compare(a.key, b.key) >= 0;
    };
    // Most maps arrive sorted and unique (decoded, or written in order): one pass proves it.
    if (std::adjacent_find(entries.begin(), entries.end(), out_of_order) != entries.end()) {
        std::sort(entries.begin(), entries.end(), [](const map_entry& a, const map_entry& b) {
            return detail::canonical_compare(a.key, b.key) < 0;
        });
        const auto dup = std::adjacent_find(entries.begin(), entries.end(), [](const map_entry& a, const map_entry& b) {
            return detail::canonical_compare(a.key, b.key) == 0;
        });
        if (dup != entries.end()) fail(errc::invalid_argument, "duplicate map key");
    }
    v_.emplace<map>(std::move(entries));
}

inline value::value(double d) {
    if (std::isnan(d)) fail(errc::invalid_argument, "NaN cannot be stored in canonical CBOR");
    v_.emplace<double>(d);
}

inline value value::negative(std::uint64_t n) {
    value v;
    v.v_.emplace<negative_int>(negative_int{n});
    return v;
}

inline value value::bytes(bytes_view b) { return bytes(byte_buffer(b.begin(), b.end())); }

inline value value::bytes(byte_buffer b) {
    value v;
    v.v_.emplace<byte_buffer>(std::move(b));
    return v;
}

inline value value::tag(std::uint64_t number, value content) {
    value v;
    v.v_.emplace<tag_box>(number, std::move(content));
    return v;
}

inline value::tag_box::tag_box(std::uint64_t num, value c)
    : number(num), content(std::make_unique<value>(std::move(c))) {}
inline value::tag_box::tag_box(const tag_box& other)
    : number(other.number), content(std::make_unique<value>(*other.content)) {}
inline value::tag_box::tag_box(tag_box&&) noexcept = default;
inline value::tag_box& value::tag_box::operator=(const tag_box& other) {
    if (this != &other) *this = tag_box(other);
    return *this;
}
inline value::tag_box& value::tag_box::operator=(tag_box&&) noexcept = default;
inline value::tag_box::~tag_box() = default;

template <typename T>
const T& value::get(cbor::kind expected) const {
    if (type() != expected) detail::wrong_kind(expected, type());
    return *std::get_if<T>(&v_);
}

inline map& value::map_storage() {
    if (!is(kind::map)) detail::wrong_kind(kind::map, type());
    return *std::get_if<map>(&v_);
}

inline bool value::as_bool() const { return get<bool>(kind::boolean); }
inline std::uint64_t value::as_uint() const { return get<std::uint64_t>(kind::unsigned_integer); }
inline std::uint64_t value::negative_argument() const { return get<negative_int>(kind::negative_integer).n; }
inline const byte_buffer& value::as_bytes() const { return get<byte_buffer>(kind::bytes); }
inline const std::string& value::as_text() const { return get<std::string>(kind::text); }
inline const array& value::as_array() const { return get<array>(kind::array); }
inline array& value::as_array() { return const_cast<array&>(std::as_const(*this).as_array()); }
inline const map& value::as_map() const { return get<map>(kind::map); }
inline std::uint64_t value::tag_number() const { return get<tag_box>(kind::tag).number; }
inline const value& value::tag_content() const { return *get<tag_box>(kind::tag).content; }
inline double value::as_double() const { return get<double>(kind::floating); }

inline std::int64_t value::as_int() const {
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (is(kind::unsigned_integer) && as_uint() <= max) return static_cast<std::int64_t>(as_uint());
    if (is(kind::negative_integer) && negative_argument() <= max)
        return -1 - static_cast<std::int64_t>(negative_argument());
    if (is_integer()) fail(errc::type_mismatch, "integer outside the int64 range");
    detail::wrong_kind(kind::unsigned_integer, type());
}

inline const value* value::find(const value& key) const {
    const map& m = as_map();
    const auto it = std::lower_bound(m.begin(), m.end(), key, [](const map_entry& e, const value& k) {
        return detail::canonical_compare(e.key, k) < 0;
    });
    return it != m.end() && detail::canonical_compare(it->key, key) == 0 ? &it->val : nullptr;
}

// Without building a value for the key: text keys are the common case (and the hot one).
inline const value* value::find(std::string_view text_key) const {
    const map& m = as_map();
    const auto it = std::lower_bound(m.begin(), m.end(), text_key, [](const map_entry& e, std::string_view k) {
        return detail::compare_with_text(e.key, k) < 0;
    });
    return it != m.end() && detail::compare_with_text(it->key, text_key) == 0 ? &it->val : nullptr;
}

inline void value::set(value key, value mapped) {
    map& m = map_storage();
    const auto it = std::lower_bound(m.begin(), m.end(), key, [](const map_entry& e, const value& k) {
        return detail::canonical_compare(e.key, k) < 0;
    });
    if (it != m.end() && detail::canonical_compare(it->key, key) == 0) it->val = std::move(mapped);
    else m.insert(it, map_entry{std::move(key), std::move(mapped)});
}

inline std::strong_ordering operator<=>(const value& a, const value& b) noexcept {
    return detail::canonical_compare(a, b);
}

inline bool operator==(const value& a, const value& b) noexcept { return detail::canonical_compare(a, b) == 0; }

}  // namespace cbor
}  // namespace v1
}  // namespace entidb

template <>
struct fmt::formatter<entidb::cbor::kind> : fmt::formatter<std::string_view> {
    template <typename Ctx>
    auto format(entidb::cbor::kind k, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(entidb::cbor::to_string(k), ctx);
    }
};
