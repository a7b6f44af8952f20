// entidb/cbor/reader.hpp — strict pull parser over canonical CBOR, and what is built on it
// without a tree: `validate` (run on every put) and `find_path` (secondary index keys).
//
// Contract: a `reader` walks one encoded document in pre-order. Each `next()` returns one item —
// kind, argument, a view of its string bytes, its offset and depth — or the end of a container,
// and finally `std::nullopt` once the whole top-level item was read. Every rule of our canonical
// form is checked at the item where it can first be checked (docs/cbor.md): shortest heads, no
// indefinite lengths, no reserved additional information, UTF-8 text, only false/true/null
// among simple values, floats only when allowed and then in shortest exact form and never NaN,
// map keys strictly increasing bytewise (which also excludes duplicates), declared lengths and
// counts bounded by the bytes that remain, nesting at most `max_depth`, nothing after the item.
// A violation throws `cbor::decode_error` (an entidb::error with errc::invalid_cbor or
// errc::non_canonical, the byte offset, and the `fault`).
//
// The reader never allocates and never recurses: its container stack is a fixed array of
// `max_depth_limit` frames. Item views point into the input, which the caller keeps alive.
//
// Thread-safety: a reader is single-threaded; any number of readers may share one input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "value.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

// Which rule an input broke. errc_of() says which error code each one carries.
enum class fault : std::uint8_t {
    truncated,            // the input ends inside an item, or a length/count exceeds what is left
    trailing_bytes,       // bytes follow the top-level item
    non_shortest,         // an integer, length or tag number not in its shortest head
    indefinite_length,    // an indefinite-length string, array or map
    reserved_info,        // additional information 28-30, or 31 where it is never valid
    unexpected_break,     // the break stop code (0xFF) outside an indefinite-length item
    unsorted_keys,        // a map key not bytewise greater than the key before it
    duplicate_key,        // a map key equal to the key before it
    invalid_utf8,         // a text string that is not UTF-8
    unsupported_simple,   // a simple value other than false, true, null (e.g. undefined)
    float_rejected,       // a float where floats are not allowed
    nan,                  // a NaN (never allowed)
    non_canonical_float,  // a float that fits exactly in a shorter width
    too_deep,             // more containers open at once than max_depth
};

[[nodiscard]] constexpr std::string_view to_string(fault f) noexcept {
    switch (f) {
        case fault::truncated: return "truncated input";
        case fault::trailing_bytes: return "trailing bytes after the top-level item";
        case fault::non_shortest: return "integer, length or tag not in shortest form";
        case fault::indefinite_length: return "indefinite-length item";
        case fault::reserved_info: return "reserved additional information";
        case fault::unexpected_break: return "break code outside an indefinite-length item";
        case fault::unsorted_keys: return "map keys not in canonical order";
        case fault::duplicate_key: return "duplicate map key";
        case fault::invalid_utf8: return "text is not valid UTF-8";
        case fault::unsupported_simple: return "unsupported simple value";
        case fault::float_rejected: return "floating-point value not allowed";
        case fault::nan: return "NaN not allowed";
        case fault::non_canonical_float: return "float not in its shortest exact form";
        case fault::too_deep: return "nesting too deep";
    }
    return "unknown fault";
}

// Well-formed but not in canonical form -> non_canonical; everything else -> invalid_cbor.
[[nodiscard]] constexpr errc errc_of(fault f) noexcept {
    switch (f) {
        case fault::non_shortest:
        case fault::indefinite_length:
        case fault::unsorted_keys:
        case fault::duplicate_key:
        case fault::non_canonical_float: return errc::non_canonical;
        default: return errc::invalid_cbor;
    }
}

class decode_error : public error {
public:
    decode_error(fault f, std::uint64_t offset)
        : error(errc_of(f), std::string(to_string(f)), error_context{.offset = offset}), fault_(f) {}
    [[nodiscard]] fault which() const noexcept { return fault_; }

private:
    fault fault_;
};

// The reader's fixed stack size: the largest max_depth it accepts.
inline constexpr std::size_t max_depth_limit = 128;

struct decode_options {
    bool allow_floats = false;   // floats are opt-in (spec §4); NaN is rejected regardless
    std::size_t max_depth = 64;  // containers (arrays, maps, tags) open at once; <= max_depth_limit
};

enum class item_kind : std::uint8_t {
    unsigned_integer,  // argument = the value
    negative_integer,  // argument = n, the value is -1 - n
    bytes,             // argument = length, data = the bytes
    text,              // argument = length, data = the UTF-8 bytes
    array,             // argument = element count
    map,               // argument = number of pairs
    tag,               // argument = tag number; the next item is its content
    boolean,           // argument = 0 or 1
    null,
    floating,          // number = the value
    end_array,         // the container opened at the same depth is complete
    end_map,
    end_tag,
};

struct item {
    item_kind kind = item_kind::null;
    std::uint64_t argument = 0;
    bytes_view data{};
    double number = 0;
    std::size_t offset = 0;  // of the item's first byte (for an end: where the container ends)
    std::size_t depth = 0;   // containers enclosing the item; the top-level item is at 0

    [[nodiscard]] std::string_view text() const noexcept { return as_chars(data); }
    [[nodiscard]] bool opens() const noexcept {
        return kind == item_kind::array || kind == item_kind::map || kind == item_kind::tag;
    }
    [[nodiscard]] bool closes() const noexcept {
        return kind == item_kind::end_array || kind == item_kind::end_map || kind == item_kind::end_tag;
    }
};

class reader {
public:
    // Throws errc::invalid_argument if options.max_depth > max_depth_limit.
    explicit reader(bytes_view input, decode_options options = {});

    // The next item in pre-order; nullopt after the top-level item (whose trailing bytes, if
    // any, throw first). Calling it again after nullopt keeps returning nullopt.
    [[nodiscard]] std::optional<item> next();
    // Given the item next() just returned, consumes its contents up to and including its end
    // (nothing for a scalar), still checking every rule.
    void skip(const item& it);
    [[nodiscard]] std::size_t offset() const noexcept { return pos_; }

private:
    struct frame {
        std::uint64_t remaining;     // items still to complete (a map counts keys and values)
        std::size_t key_begin;       // maps: where the key being read started
        std::size_t prev_key_begin;  // maps: the previous key, [begin, end)
        std::size_t prev_key_end;
        item_kind kind;
        bool has_prev_key;
    };

    [[noreturn]] static void fail(fault f, std::size_t at) { throw decode_error(f, at); }
    [[nodiscard]] std::size_t left() const noexcept { return in_.size() - pos_; }
    [[nodiscard]] item close_container();
    [[nodiscard]] item read_item();
    [[nodiscard]] std::uint64_t read_argument(std::size_t at, unsigned info);
    [[nodiscard]] item read_simple(std::size_t at, unsigned info);
    void read_string(item& it, bool is_text);
    void open(const item& it);
    void complete_item();
    void check_key_order(frame& f);

    bytes_view in_;
    decode_options opts_;
    std::size_t pos_ = 0;
    std::size_t depth_ = 0;
    bool started_ = false;
    std::array<frame, max_depth_limit> stack_;  // only [0, depth_) is meaningful
};

// Checks that `input` is exactly one canonical CBOR item; throws decode_error otherwise.
// Allocates nothing (on success).
inline void validate(bytes_view input, const decode_options& options = {}) {
    reader r(input, options);
    while (r.next()) {
    }
}

// The encoded bytes (a view into `doc`) of the value reached from the top-level map by the text
// keys of `path`; nullopt if a key is absent or a step is not a map. An empty path gives the whole
// top-level item. Only the bytes read up to the end of the found value are checked: run
// validate() first on untrusted input. No allocation, no tree.
[[nodiscard]] inline std::optional<bytes_view> find_path(bytes_view doc, std::span<const std::string_view> path,
                                                         const decode_options& options = {});
[[nodiscard]] inline std::optional<bytes_view> find_path(bytes_view doc, std::initializer_list<std::string_view> path,
                                                         const decode_options& options = {}) {
    return find_path(doc, std::span<const std::string_view>(path.begin(), path.size()), options);
}

// ---- implementation -------------------------------------------------------------------------

inline reader::reader(bytes_view input, decode_options options) : in_(input), opts_(options) {
    if (opts_.max_depth > max_depth_limit)
        entidb::fail(errc::invalid_argument, "max_depth {} exceeds the reader's limit of {}", opts_.max_depth,
                     max_depth_limit);
}

inline std::optional<item> reader::next() {
    if (depth_ > 0 && stack_[depth_ - 1].remaining == 0) return close_container();
    if (depth_ == 0 && started_) {
        if (pos_ != in_.size()) fail(fault::trailing_bytes, pos_);
        return std::nullopt;
    }
    started_ = true;
    if (depth_ > 0) {
        frame& f = stack_[depth_ - 1];
        if (f.kind == item_kind::map && f.remaining % 2 == 0) f.key_begin = pos_;
    }
    item it = read_item();
    it.depth = depth_;
    if (it.opens()) open(it);
    else complete_item();
    return it;
}

inline void reader::skip(const item& it) {
    if (!it.opens()) return;
    while (const auto e = next()) {
        if (e->closes() && e->depth == it.depth) return;
    }
    entidb::fail(errc::invalid_argument, "reader::skip called with an item that is not open");
}

inline item reader::close_container() {
    const frame& f = stack_[--depth_];
    item end;
    end.kind = f.kind == item_kind::array ? item_kind::end_array
               : f.kind == item_kind::map ? item_kind::end_map
                                          : item_kind::end_tag;
    end.offset = pos_;
    end.depth = depth_;
    complete_item();
    return end;
}

inline void reader::open(const item& it) {
    if (depth_ >= opts_.max_depth) fail(fault::too_deep, it.offset);
    frame& f = stack_[depth_++];
    f.kind = it.kind;
    f.remaining = it.kind == item_kind::tag ? 1 : it.kind == item_kind::map ? it.argument * 2 : it.argument;
    f.key_begin = f.prev_key_begin = f.prev_key_end = 0;
    f.has_prev_key = false;
}

// An item (scalar, or a container whose end was just returned) ended at pos_.
inline void reader::complete_item() {
    if (depth_ == 0) return;
    frame& f = stack_[depth_ - 1];
    if (f.kind == item_kind::map && f.remaining % 2 == 0) check_key_order(f);
    --f.remaining;
}

// RFC 8949 §4.2.1: keys sorted by their encoded bytes, compared bytewise. Comparing each key
// with its predecessor only needs two offsets per open map, and catches duplicates too.
inline void reader::check_key_order(frame& f) {
    const bytes_view key = in_.subspan(f.key_begin, pos_ - f.key_begin);
    if (f.has_prev_key) {
        const bytes_view prev = in_.subspan(f.prev_key_begin, f.prev_key_end - f.prev_key_begin);
        const int c = detail::compare_bytes(prev, key);
        if (c == 0) fail(fault::duplicate_key, f.key_begin);
        if (c > 0) fail(fault::unsorted_keys, f.key_begin);
    }
    f.prev_key_begin = f.key_begin;
    f.prev_key_end = pos_;
    f.has_prev_key = true;
}

inline item reader::read_item() {
    const std::size_t at = pos_;
    if (at >= in_.size()) fail(fault::truncated, at);
    const unsigned major = in_[at] >> 5;
    const unsigned info = in_[at] & 0x1F;
    if (major == 7) return read_simple(at, info);
    if (info == 31) fail(major >= 2 && major <= 5 ? fault::indefinite_length : fault::reserved_info, at);
    if (info >= 28) fail(fault::reserved_info, at);

    item it;
    it.offset = at;
    it.argument = read_argument(at, info);
    switch (static_cast<detail::major_type>(major)) {
        case detail::major_type::unsigned_integer: it.kind = item_kind::unsigned_integer; break;
        case detail::major_type::negative_integer: it.kind = item_kind::negative_integer; break;
        case detail::major_type::byte_string: read_string(it, false); break;
        case detail::major_type::text_string: read_string(it, true); break;
        case detail::major_type::array:
            // Every element takes at least one byte: a larger count cannot be satisfied, and
            // rejecting it here means no consumer ever sizes anything by an unchecked count.
            if (it.argument > left()) fail(fault::truncated, at);
            it.kind = item_kind::array;
            break;
        case detail::major_type::map:
            if (it.argument > left() / 2) fail(fault::truncated, at);
            it.kind = item_kind::map;
            break;
        case detail::major_type::tag: it.kind = item_kind::tag; break;
        case detail::major_type::simple: break;  // handled above
    }
    return it;
}

// The argument of a head with additional information 0..27, in shortest form; leaves pos_ after
// the head.
inline std::uint64_t reader::read_argument(std::size_t at, unsigned info) {
    if (info < 24) {
        pos_ = at + 1;
        return info;
    }
    const std::size_t width = std::size_t{1} << (info - 24);  // 1, 2, 4, 8
    if (in_.size() - at - 1 < width) fail(fault::truncated, at);
    std::uint64_t arg = 0;
    for (std::size_t i = 1; i <= width; ++i) arg = (arg << 8) | in_[at + i];
    pos_ = at + 1 + width;
    // The smallest argument each width may carry: anything less fits a shorter head.
    constexpr std::array<std::uint64_t, 4> least = {24, 0x100, 0x10000, 0x100000000};
    if (arg < least[info - 24]) fail(fault::non_shortest, at);
    return arg;
}

inline void reader::read_string(item& it, bool is_text) {
    if (it.argument > left()) fail(fault::truncated, it.offset);
    it.kind = is_text ? item_kind::text : item_kind::bytes;
    it.data = in_.subspan(pos_, static_cast<std::size_t>(it.argument));
    if (is_text) {
        if (const auto bad = detail::find_invalid_utf8(it.data); bad != detail::utf8_valid)
            fail(fault::invalid_utf8, pos_ + bad);
    }
    pos_ += it.data.size();
}

inline item reader::read_simple(std::size_t at, unsigned info) {
    item it;
    it.offset = at;
    pos_ = at + 1;
    switch (info) {
        case 20: it.kind = item_kind::boolean; return it;
        case 21: it.kind = item_kind::boolean; it.argument = 1; return it;
        case 22: it.kind = item_kind::null; return it;
        case 25:
        case 26:
        case 27: break;  // floats, below
        case 28:
        case 29:
        case 30: fail(fault::reserved_info, at);
        case 31: fail(fault::unexpected_break, at);
        default: fail(fault::unsupported_simple, at);  // 0..19, 23 (undefined), 24 (one-byte simple)
    }
    if (!opts_.allow_floats) fail(fault::float_rejected, at);
    const auto width = static_cast<std::uint8_t>(std::size_t{1} << (info - 24));  // 2, 4, 8
    if (in_.size() - at - 1 < width) fail(fault::truncated, at);
    std::uint64_t bits = 0;
    for (std::size_t i = 1; i <= width; ++i) bits = (bits << 8) | in_[at + i];
    pos_ = at + 1 + width;
    it.kind = item_kind::floating;
    it.argument = bits;
    it.number = detail::float_from_bits(width, bits);
    if (std::isnan(it.number)) fail(fault::nan, at);
    if (detail::shortest_float(it.number).width < width) fail(fault::non_canonical_float, at);
    return it;
}

namespace detail {

// Whether `key`, found in a canonical map while looking for the text key `wanted`, proves that
// `wanted` is absent: keys are sorted by encoding, so a text key's head (its length) and then its
// bytes order it, and every key of a higher major type comes after all text keys.
[[nodiscard]] inline bool key_is_past(const item& key, std::string_view wanted) noexcept {
    switch (key.kind) {
        case item_kind::unsigned_integer:
        case item_kind::negative_integer:
        case item_kind::bytes: return false;
        case item_kind::text:
            if (key.argument != wanted.size()) return key.argument > wanted.size();
            return compare_bytes(key.data, entidb::as_bytes(wanted)) > 0;
        default: return true;
    }
}

}  // namespace detail

inline std::optional<bytes_view> find_path(bytes_view doc, std::span<const std::string_view> path,
                                           const decode_options& options) {
    reader r(doc, options);
    auto current = r.next();
    for (const std::string_view wanted : path) {
        if (current->kind != item_kind::map) return std::nullopt;
        bool found = false;
        for (std::uint64_t i = 0; i < current->argument; ++i) {
            const item key = *r.next();
            if (key.kind == item_kind::text && key.text() == wanted) {
                found = true;
                break;
            }
            if (detail::key_is_past(key, wanted)) return std::nullopt;
            r.skip(key);
            r.skip(*r.next());  // the value of a key we do not want
        }
        if (!found) return std::nullopt;
        current = r.next();
    }
    const std::size_t begin = current->offset;
    r.skip(*current);
    return doc.subspan(begin, r.offset() - begin);
}

}  // namespace cbor
}  // namespace v1
}  // namespace entidb

template <>
struct fmt::formatter<entidb::cbor::fault> : fmt::formatter<std::string_view> {
    template <typename Ctx>
    auto format(entidb::cbor::fault f, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(entidb::cbor::to_string(f), ctx);
    }
};
