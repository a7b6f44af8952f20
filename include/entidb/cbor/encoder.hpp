// entidb/cbor/encoder.hpp — streaming canonical CBOR encoder.
//
// Contract: an `encoder` appends canonical CBOR (RFC 8949 §4.2 core deterministic encoding, see
// docs/cbor.md) to a caller-owned `byte_buffer`. It keeps a reference: the buffer must outlive
// the encoder and nobody else may append to it meanwhile. Items go out in order; containers
// declare their size up front (definite lengths only) and are closed by the matching end_*(),
// which checks the count. Map entries may be written in any order: end_map() sorts them in place
// into canonical order (bytewise order of the encoded keys) and throws on a duplicate key, with no
// intermediate tree. Several top-level items may follow each other (a CBOR sequence); the
// decoder accepts exactly one, and `complete()` says whether every container is closed.
//
// Errors: entidb::error with errc::invalid_argument — wrong container counts or end_*() calls,
// text that is not UTF-8, a duplicate map key, a float without `allow_floats`, NaN, nesting
// deeper than `max_depth`. After an exception the buffer's tail and the encoder are unspecified:
// discard both.
//
// Thread-safety: none; an encoder and its buffer belong to one thread at a time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string_view>
#include <vector>

#include "value.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

struct encode_options {
    bool allow_floats = false;   // floats are opt-in; NaN is never accepted
    std::size_t max_depth = 64;  // containers (arrays, maps, tags) open at once; as decode_options
};

namespace detail {

// The shortest head (initial byte + argument) for `arg`: the core rule of canonical CBOR.
inline void put_head(byte_buffer& out, major_type major, std::uint64_t arg) {
    const auto high = static_cast<byte>(static_cast<unsigned>(major) << 5);
    if (arg < 24) {
        out.push_back(static_cast<byte>(high | arg));
        return;
    }
    const int width = arg <= 0xFF ? 1 : arg <= 0xFFFF ? 2 : arg <= 0xFFFFFFFF ? 4 : 8;
    const int info = width == 1 ? 24 : width == 2 ? 25 : width == 4 ? 26 : 27;
    out.push_back(static_cast<byte>(high | info));
    for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) out.push_back(static_cast<byte>(arg >> shift));
}

}  // namespace detail

class encoder {
public:
    explicit encoder(byte_buffer& out, encode_options options = {}) : out_(out), opts_(options) {}

    encoder& uint(std::uint64_t v);
    encoder& integer(std::int64_t v);
    encoder& negative(std::uint64_t n);  // the integer -1 - n, so down to -2^64
    encoder& bytes(bytes_view b);
    encoder& text(std::string_view s);   // must be UTF-8
    encoder& boolean(bool b);
    encoder& null();
    encoder& floating(double d);         // needs allow_floats; shortest exact width
    encoder& tag(std::uint64_t number);  // the next item is the tag's content
    encoder& begin_array(std::uint64_t count);
    encoder& end_array();
    encoder& begin_map(std::uint64_t pairs);  // then key, value, key, value... in any key order
    encoder& end_map();
    encoder& write(const value& v);

    [[nodiscard]] bool complete() const noexcept { return stack_.empty(); }
    [[nodiscard]] std::size_t depth() const noexcept { return stack_.size(); }

private:
    enum class frame_kind : std::uint8_t { array, map, tag };
    struct frame {
        frame_kind kind;
        std::uint64_t expected;  // items (a map counts keys and values)
        std::uint64_t written;
        std::size_t first_entry;  // maps: index of their first entry in entries_
    };
    // Where one map entry lives in out_: key in [key_begin, value_begin), value up to the next
    // entry (or the end of the buffer).
    struct entry {
        std::size_t key_begin;
        std::size_t value_begin;
    };

    void begin_item();
    void end_item();
    void open(frame_kind kind, std::uint64_t expected);
    void close(frame_kind kind, std::string_view what);
    void sort_entries(std::size_t first);
    [[nodiscard]] bytes_view key_of(const entry& e) const noexcept {
        return {out_.data() + e.key_begin, e.value_begin - e.key_begin};
    }

    byte_buffer& out_;
    encode_options opts_;
    std::vector<frame> stack_;
    std::vector<entry> entries_;       // entries of every open map, innermost last
    std::vector<std::size_t> order_;   // scratch for sort_entries
    byte_buffer scratch_;              // scratch for sort_entries
};

// The canonical encoding of `v` as a new buffer.
[[nodiscard]] inline byte_buffer encode(const value& v, encode_options options = {}) {
    byte_buffer out;
    encoder(out, options).write(v);
    return out;
}

// ---- implementation -------------------------------------------------------------------------

// Called before an item's first byte: the enclosing container must have room for it, and a map
// records where its entry's key or value starts.
inline void encoder::begin_item() {
    if (stack_.empty()) return;
    frame& f = stack_.back();
    if (f.written == f.expected) {
        const char* what = f.kind == frame_kind::array ? "array" : f.kind == frame_kind::map ? "map" : "tag";
        fail(errc::invalid_argument, "{} declared {} items; one more was written", what,
             f.kind == frame_kind::map ? f.expected / 2 : f.expected);
    }
    if (f.kind != frame_kind::map) return;
    if (f.written % 2 == 0) entries_.push_back({out_.size(), 0});
    else entries_.back().value_begin = out_.size();
}

// Called after an item's last byte. A tag's content completes the tag too.
inline void encoder::end_item() {
    while (!stack_.empty()) {
        frame& f = stack_.back();
        ++f.written;
        if (f.kind != frame_kind::tag) return;
        stack_.pop_back();
    }
}

inline void encoder::open(frame_kind kind, std::uint64_t expected) {
    if (stack_.size() >= opts_.max_depth)
        fail(errc::invalid_argument, "nesting deeper than {} containers", opts_.max_depth);
    stack_.push_back({kind, expected, 0, entries_.size()});
}

inline void encoder::close(frame_kind kind, std::string_view what) {
    if (stack_.empty() || stack_.back().kind != kind) fail(errc::invalid_argument, "end_{} without an open {}", what, what);
    const frame& f = stack_.back();
    if (f.written != f.expected)
        fail(errc::invalid_argument, "{} declared {} items but {} were written", what,
             kind == frame_kind::map ? f.expected / 2 : f.expected,
             kind == frame_kind::map ? f.written / 2 : f.written);
    if (kind == frame_kind::map) {
        sort_entries(f.first_entry);
        entries_.resize(f.first_entry);
    }
    stack_.pop_back();
    end_item();
}

inline encoder& encoder::uint(std::uint64_t v) {
    begin_item();
    detail::put_head(out_, detail::major_type::unsigned_integer, v);
    end_item();
    return *this;
}

inline encoder& encoder::integer(std::int64_t v) {
    if (v >= 0) return uint(static_cast<std::uint64_t>(v));
    return negative(static_cast<std::uint64_t>(-(v + 1)));  // -1 - v without overflow
}

inline encoder& encoder::negative(std::uint64_t n) {
    begin_item();
    detail::put_head(out_, detail::major_type::negative_integer, n);
    end_item();
    return *this;
}

inline encoder& encoder::bytes(bytes_view b) {
    begin_item();
    detail::put_head(out_, detail::major_type::byte_string, b.size());
    out_.insert(out_.end(), b.begin(), b.end());
    end_item();
    return *this;
}

inline encoder& encoder::text(std::string_view s) {
    const bytes_view b = entidb::as_bytes(s);
    if (const auto bad = detail::find_invalid_utf8(b); bad != detail::utf8_valid)
        fail_at(errc::invalid_argument, {.offset = bad}, "text is not valid UTF-8");
    begin_item();
    detail::put_head(out_, detail::major_type::text_string, b.size());
    out_.insert(out_.end(), b.begin(), b.end());
    end_item();
    return *this;
}

inline encoder& encoder::boolean(bool b) {
    begin_item();
    out_.push_back(b ? detail::initial_true : detail::initial_false);
    end_item();
    return *this;
}

inline encoder& encoder::null() {
    begin_item();
    out_.push_back(detail::initial_null);
    end_item();
    return *this;
}

inline encoder& encoder::floating(double d) {
    if (!opts_.allow_floats) fail(errc::invalid_argument, "floats are not enabled (encode_options::allow_floats)");
    if (std::isnan(d)) fail(errc::invalid_argument, "NaN cannot be encoded in canonical CBOR");
    const detail::float_form f = detail::shortest_float(d);
    begin_item();
    out_.push_back(f.width == 2 ? detail::initial_half : f.width == 4 ? detail::initial_single : detail::initial_double);
    for (int shift = (f.width - 1) * 8; shift >= 0; shift -= 8) out_.push_back(static_cast<byte>(f.bits >> shift));
    end_item();
    return *this;
}

inline encoder& encoder::tag(std::uint64_t number) {
    begin_item();
    detail::put_head(out_, detail::major_type::tag, number);
    open(frame_kind::tag, 1);
    return *this;
}

inline encoder& encoder::begin_array(std::uint64_t count) {
    begin_item();
    detail::put_head(out_, detail::major_type::array, count);
    open(frame_kind::array, count);
    return *this;
}

inline encoder& encoder::end_array() {
    close(frame_kind::array, "array");
    return *this;
}

inline encoder& encoder::begin_map(std::uint64_t pairs) {
    if (pairs > std::numeric_limits<std::uint64_t>::max() / 2) fail(errc::invalid_argument, "map of {} pairs", pairs);
    begin_item();
    detail::put_head(out_, detail::major_type::map, pairs);
    open(frame_kind::map, pairs * 2);
    return *this;
}

inline encoder& encoder::end_map() {
    close(frame_kind::map, "map");
    return *this;
}

// Puts the entries of the map being closed (entries_[first..]) into canonical key order by
// permuting their byte ranges, which are contiguous at the end of out_. Nested maps were closed
// (and sorted) before, so every key's bytes are final.
inline void encoder::sort_entries(std::size_t first) {
    const std::size_t n = entries_.size() - first;
    if (n < 2) return;
    // Fast path: callers often write keys in order already (decoded values always do).
    bool sorted = true;
    for (std::size_t i = first + 1; i < entries_.size() && sorted; ++i)
        sorted = detail::compare_bytes(key_of(entries_[i - 1]), key_of(entries_[i])) < 0;
    if (sorted) return;

    order_.resize(n);
    std::iota(order_.begin(), order_.end(), first);
    std::sort(order_.begin(), order_.end(), [this](std::size_t a, std::size_t b) {
        return detail::compare_bytes(key_of(entries_[a]), key_of(entries_[b])) < 0;
    });
    for (std::size_t i = 1; i < n; ++i) {
        const entry& e = entries_[order_[i]];
        if (detail::compare_bytes(key_of(entries_[order_[i - 1]]), key_of(e)) == 0)
            fail_at(errc::invalid_argument, {.offset = e.key_begin}, "duplicate map key");
    }

    const std::size_t region = entries_[first].key_begin;
    scratch_.assign(out_.begin() + static_cast<std::ptrdiff_t>(region), out_.end());
    std::size_t pos = region;
    for (const std::size_t idx : order_) {
        const std::size_t begin = entries_[idx].key_begin;
        const std::size_t end = idx + 1 < entries_.size() ? entries_[idx + 1].key_begin : out_.size();
        std::memcpy(out_.data() + pos, scratch_.data() + (begin - region), end - begin);
        pos += end - begin;
    }
}

inline encoder& encoder::write(const value& v) {
    switch (v.type()) {
        case kind::null: return null();
        case kind::boolean: return boolean(v.as_bool());
        case kind::unsigned_integer: return uint(v.as_uint());
        case kind::negative_integer: return negative(v.negative_argument());
        case kind::bytes: return bytes(v.as_bytes());
        case kind::text: return text(v.as_text());
        case kind::floating: return floating(v.as_double());
        case kind::tag:
            tag(v.tag_number());
            return write(v.tag_content());
        case kind::array:
            begin_array(v.as_array().size());
            for (const value& item : v.as_array()) write(item);
            return end_array();
        case kind::map:
            begin_map(v.as_map().size());
            for (const map_entry& e : v.as_map()) write(e.key).write(e.val);
            return end_map();
    }
    return *this;
}

}  // namespace cbor
}  // namespace v1
}  // namespace entidb
