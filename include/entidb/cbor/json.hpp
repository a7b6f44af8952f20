// entidb/cbor/json.hpp — a JSON bridge to canonical CBOR, for the command-line tool and tests.
//
// Contract: `from_json` parses one JSON text (RFC 8259) into canonical CBOR (`parse_json` stops
// at the `cbor::value`); `to_json` renders canonical CBOR (or a value) as compact JSON, map
// members in canonical order. The mapping (docs/cbor.md has the table):
//   null/true/false/strings/arrays — themselves; integers in [-2^64, 2^64-1] — CBOR integers
//   (JSON fractions and exponents are rejected: no floats); objects — maps with text keys;
//   {"$bytes":"<hex>"} — a byte string; {"$tag":N,"$value":V} — tag N;
//   {"$map":[[K,V],...]} — a map with any keys (to_json uses it for non-text keys, and for text-key
//   maps that would read back as one of these forms, so to_json output always reads back to the
//   same CBOR). to_json (only) renders floats, when the decode options allow them, as JSON
//   numbers, and infinities as {"$float":"Infinity"} / {"$float":"-Infinity"}.
// from_json errors: entidb::error errc::invalid_argument, with the byte offset of the problem in
// the input (in the message and in error_context::offset): malformed JSON, invalid UTF-8, lone
// surrogate escapes, floats, integers out of range, duplicate object keys, bad reserved forms,
// nesting deeper than max_depth, trailing characters. to_json throws what decode throws.
// Parsing recurses, at most 3 * max_depth + 1 levels (see json_options).
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "decoder.hpp"
#include "encoder.hpp"
#include "value.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

struct json_options {
    // Containers (arrays, maps, tags) open at once in the CBOR value, as in decode_options. The
    // JSON text may nest up to three times deeper: {"$map":[[K,V]]} spends three JSON levels on
    // one map.
    std::size_t max_depth = 64;
};

[[nodiscard]] inline value parse_json(std::string_view json, const json_options& options = {});

[[nodiscard]] inline byte_buffer from_json(std::string_view json, const json_options& options = {}) {
    return encode(parse_json(json, options), {.allow_floats = false, .max_depth = options.max_depth});
}

[[nodiscard]] inline std::string to_json(const value& v, const json_options& options = {});

[[nodiscard]] inline std::string to_json(bytes_view cbor, const decode_options& options = {}) {
    return to_json(decode(cbor, options), {.max_depth = options.max_depth});
}

// ---- implementation -------------------------------------------------------------------------

namespace detail {

[[nodiscard]] inline int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class json_parser {
public:
    json_parser(std::string_view text, std::size_t max_depth) : s_(text), max_json_depth_(3 * max_depth + 1) {}

    value parse_document() {
        if (const auto bad = find_invalid_utf8(entidb::as_bytes(s_)); bad != utf8_valid)
            fail_here(bad, "the input is not valid UTF-8");
        skip_space();
        value v = parse_value(0);
        skip_space();
        if (pos_ != s_.size()) fail_here(pos_, "unexpected characters after the JSON value");
        return v;
    }

private:
    struct entry {
        value key;
        value val;
        std::size_t offset;  // of the key, for error messages
    };

    [[noreturn]] static void fail_here(std::size_t at, std::string_view what) {
        fail_at(errc::invalid_argument, {.offset = at}, "invalid JSON at character {}: {}", at, what);
    }
    [[nodiscard]] bool at_end() const noexcept { return pos_ >= s_.size(); }
    [[nodiscard]] char peek() const noexcept { return at_end() ? '\0' : s_[pos_]; }

    void skip_space() noexcept {
        while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }

    void expect(char c) {
        if (peek() != c) fail_here(pos_, fmt::format("expected '{}'", c));
        ++pos_;
    }

    value parse_value(std::size_t depth) {
        switch (peek()) {
            case '{': return parse_object(depth);
            case '[': return parse_array(depth);
            case '"': return value(parse_string());
            case 't': return parse_literal("true", value(true));
            case 'f': return parse_literal("false", value(false));
            case 'n': return parse_literal("null", value());
            default: break;
        }
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        fail_here(pos_, at_end() ? "unexpected end of input" : "expected a JSON value");
    }

    value parse_literal(std::string_view word, value v) {
        if (s_.substr(pos_, word.size()) != word) fail_here(pos_, "expected a JSON value");
        pos_ += word.size();
        return v;
    }

    void enter(std::size_t depth) const {
        if (depth >= max_json_depth_) fail_here(pos_, fmt::format("nesting deeper than {} levels", max_json_depth_));
    }

    value parse_array(std::size_t depth) {
        enter(depth);
        ++pos_;  // '['
        array items;
        skip_space();
        if (peek() == ']') {
            ++pos_;
            return value(std::move(items));
        }
        for (;;) {
            skip_space();
            items.push_back(parse_value(depth + 1));
            skip_space();
            if (peek() == ']') break;
            expect(',');
        }
        ++pos_;
        return value(std::move(items));
    }

    value parse_object(std::size_t depth) {
        enter(depth);
        ++pos_;  // '{'
        std::vector<entry> entries;
        skip_space();
        if (peek() == '}') {
            ++pos_;
            return value(map{});
        }
        for (;;) {
            skip_space();
            const std::size_t key_at = pos_;
            if (peek() != '"') fail_here(pos_, "expected a string key");
            std::string key = parse_string();
            skip_space();
            expect(':');
            skip_space();
            value v = parse_value(depth + 1);
            entries.push_back({value(std::move(key)), std::move(v), key_at});
            skip_space();
            if (peek() == '}') break;
            expect(',');
        }
        ++pos_;
        return reserved_form(entries);
    }

    // {"$bytes":hex}, {"$tag":N,"$value":V} and {"$map":[[K,V]...]} stand for CBOR items JSON
    // cannot express; any other object is a map with text keys.
    static value reserved_form(std::vector<entry>& entries) {
        const auto key_is = [&](std::size_t i, std::string_view k) { return entries[i].key.as_text() == k; };
        if (entries.size() == 1 && key_is(0, "$bytes")) return bytes_form(entries[0].val, entries[0].offset);
        if (entries.size() == 1 && key_is(0, "$map")) return map_form(entries[0].val, entries[0].offset);
        if (entries.size() == 2 && ((key_is(0, "$tag") && key_is(1, "$value")) || (key_is(0, "$value") && key_is(1, "$tag")))) {
            const entry& number = key_is(0, "$tag") ? entries[0] : entries[1];
            if (!number.val.is(kind::unsigned_integer)) fail_here(number.offset, "\"$tag\" needs an unsigned integer");
            return value::tag(number.val.as_uint(), std::move(key_is(0, "$tag") ? entries[1].val : entries[0].val));
        }
        return make_map(entries);
    }

    static value bytes_form(const value& hex, std::size_t at) {
        if (!hex.is(kind::text) || hex.as_text().size() % 2 != 0)
            fail_here(at, "\"$bytes\" needs a string of hex digit pairs");
        const std::string& h = hex.as_text();
        byte_buffer out(h.size() / 2);
        for (std::size_t i = 0; i < out.size(); ++i) {
            const int hi = hex_digit(h[2 * i]);
            const int lo = hex_digit(h[2 * i + 1]);
            if (hi < 0 || lo < 0) fail_here(at, "\"$bytes\" needs a string of hex digit pairs");
            out[i] = static_cast<byte>(hi * 16 + lo);
        }
        return value::bytes(std::move(out));
    }

    static value map_form(value& pairs, std::size_t at) {
        if (!pairs.is(kind::array)) fail_here(at, "\"$map\" needs an array of [key, value] pairs");
        std::vector<entry> entries;
        for (value& pair : pairs.as_array()) {
            if (!pair.is(kind::array) || pair.as_array().size() != 2)
                fail_here(at, "\"$map\" needs an array of [key, value] pairs");
            entries.push_back({std::move(pair.as_array()[0]), std::move(pair.as_array()[1]), at});
        }
        return make_map(entries);
    }

    // Sorts into canonical order and reports a duplicate at its later occurrence.
    static value make_map(std::vector<entry>& entries) {
        std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) { return a.key < b.key; });
        for (std::size_t i = 1; i < entries.size(); ++i)
            if (entries[i - 1].key == entries[i].key)
                fail_here(std::max(entries[i - 1].offset, entries[i].offset), "duplicate object key");
        map m;
        m.reserve(entries.size());
        for (entry& e : entries) m.push_back({std::move(e.key), std::move(e.val)});
        return value(std::move(m));
    }

    std::string parse_string() {
        ++pos_;  // '"'
        std::string out;
        for (;;) {
            if (at_end()) fail_here(pos_, "unterminated string");
            const char c = s_[pos_];
            if (c == '"') break;
            if (static_cast<unsigned char>(c) < 0x20) fail_here(pos_, "control character in a string (escape it)");
            if (c == '\\') {
                parse_escape(out);
            } else {
                out += c;
                ++pos_;
            }
        }
        ++pos_;
        return out;
    }

    void parse_escape(std::string& out) {
        const std::size_t at = pos_++;  // the backslash
        const char c = peek();
        ++pos_;
        switch (c) {
            case '"': out += '"'; return;
            case '\\': out += '\\'; return;
            case '/': out += '/'; return;
            case 'b': out += '\b'; return;
            case 'f': out += '\f'; return;
            case 'n': out += '\n'; return;
            case 'r': out += '\r'; return;
            case 't': out += '\t'; return;
            case 'u': break;
            default: fail_here(at, "invalid escape");
        }
        std::uint32_t cp = read_hex4(at);
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail_here(at, "lone low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // must be followed by \u of a low surrogate
            if (s_.substr(pos_, 2) != "\\u") fail_here(at, "high surrogate escape without its low half");
            pos_ += 2;
            const std::uint32_t low = read_hex4(at);
            if (low < 0xDC00 || low > 0xDFFF) fail_here(at, "high surrogate escape without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
    }

    std::uint32_t read_hex4(std::size_t escape_at) {
        std::uint32_t cp = 0;
        for (int i = 0; i < 4; ++i) {
            const int d = hex_digit(peek());
            if (d < 0) fail_here(escape_at, "\\u needs four hex digits");
            cp = cp * 16 + static_cast<std::uint32_t>(d);
            ++pos_;
        }
        return cp;
    }

    value parse_number() {
        const std::size_t at = pos_;
        const bool minus = peek() == '-';
        if (minus) ++pos_;
        const std::size_t digits_at = pos_;
        if (peek() == '0') ++pos_;
        else if (peek() >= '1' && peek() <= '9') while (peek() >= '0' && peek() <= '9') ++pos_;
        else fail_here(pos_, "expected a digit");
        if (peek() == '.' || peek() == 'e' || peek() == 'E')
            fail_here(at, "floating-point numbers are not supported (integers only)");
        if (peek() >= '0' && peek() <= '9') fail_here(at, "leading zeros are not allowed");
        const std::string_view digits = s_.substr(digits_at, pos_ - digits_at);
        // -2^64 is the one magnitude beyond u64 we accept: its CBOR argument is 2^64 - 1.
        if (minus && digits == "18446744073709551616") return value::negative(std::numeric_limits<std::uint64_t>::max());
        std::uint64_t magnitude = 0;
        for (const char d : digits) {
            const auto digit = static_cast<std::uint64_t>(d - '0');
            if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
                fail_here(at, "integer outside [-2^64, 2^64-1]");
            magnitude = magnitude * 10 + digit;
        }
        if (!minus || magnitude == 0) return value(magnitude);
        return value::negative(magnitude - 1);
    }

    std::string_view s_;
    std::size_t max_json_depth_;  // the exact CBOR depth is enforced when the value is encoded
    std::size_t pos_ = 0;
};

inline void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
            out += c;
        }
    }
    out += '"';
}

// Whether a map can be a plain JSON object: all keys text, and not a key set that reads back as a
// reserved form.
[[nodiscard]] inline bool plain_object(const map& m) {
    for (const map_entry& e : m)
        if (!e.key.is(kind::text)) return false;
    if (m.size() == 1) {
        const std::string& k = m[0].key.as_text();
        return k != "$bytes" && k != "$map" && k != "$float";
    }
    return !(m.size() == 2 && m[0].key.as_text() == "$tag" && m[1].key.as_text() == "$value");
}

inline void append_json(std::string& out, const value& v, std::size_t depth, std::size_t max_depth) {
    if ((v.is(kind::array) || v.is(kind::map) || v.is(kind::tag)) && depth >= max_depth)
        fail(errc::invalid_argument, "value nested deeper than {} containers", max_depth);
    const auto it = std::back_inserter(out);
    switch (v.type()) {
        case kind::null: out += "null"; return;
        case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
        case kind::unsigned_integer: fmt::format_to(it, "{}", v.as_uint()); return;
        case kind::negative_integer:
            if (v.negative_argument() == std::numeric_limits<std::uint64_t>::max()) out += "-18446744073709551616";
            else fmt::format_to(it, "-{}", v.negative_argument() + 1);
            return;
        case kind::text: append_json_string(out, v.as_text()); return;
        case kind::bytes:
            out += "{\"$bytes\":\"";
            for (const byte b : v.as_bytes()) fmt::format_to(it, "{:02x}", b);
            out += "\"}";
            return;
        case kind::floating: {
            const double d = v.as_double();
            if (std::isinf(d)) {
                out += d > 0 ? "{\"$float\":\"Infinity\"}" : "{\"$float\":\"-Infinity\"}";
                return;
            }
            const std::string num = fmt::format("{}", d);  // shortest text that reads back exactly
            out += num;
            if (num.find_first_of(".e") == std::string::npos) out += ".0";  // stay visibly a float
            return;
        }
        case kind::tag:
            fmt::format_to(it, "{{\"$tag\":{},\"$value\":", v.tag_number());
            append_json(out, v.tag_content(), depth + 1, max_depth);
            out += '}';
            return;
        case kind::array:
            out += '[';
            for (std::size_t i = 0; i < v.as_array().size(); ++i) {
                if (i != 0) out += ',';
                append_json(out, v.as_array()[i], depth + 1, max_depth);
            }
            out += ']';
            return;
        case kind::map: break;
    }
    const map& m = v.as_map();
    const bool plain = plain_object(m);
    out += plain ? "{" : "{\"$map\":[";
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (i != 0) out += ',';
        if (!plain) out += '[';
        append_json(out, m[i].key, depth + 1, max_depth);
        out += plain ? ':' : ',';
        append_json(out, m[i].val, depth + 1, max_depth);
        if (!plain) out += ']';
    }
    out += plain ? "}" : "]}";
}

}  // namespace detail

inline value parse_json(std::string_view json, const json_options& options) {
    return detail::json_parser(json, options.max_depth).parse_document();
}

inline std::string to_json(const value& v, const json_options& options) {
    std::string out;
    detail::append_json(out, v, 0, options.max_depth);
    return out;
}

}  // namespace cbor
}  // namespace v1
}  // namespace entidb
