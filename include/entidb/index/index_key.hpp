// entidb/index/index_key.hpp — order-preserving keys for secondary indexes.
//
// An index key is derived from the canonical CBOR bytes of a field (cbor::find_path), so
// indexes can be rebuilt from raw records without the C++ type. The key is a byte string
// whose bytewise order is the order ranges promise:
//   null < false < true < integers (numeric) < byte strings (bytewise) < text (by code point)
//   < anything else (arrays, maps, tags, floats: by canonical encoding; equality only)
// Text keys keep their UTF-8 bytes after a one-byte rank, so a text prefix of the field is a
// byte prefix of the key (prefix queries). Equal values give equal keys, always.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../bytes.hpp"
#include "../cbor/reader.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {

using index_key = std::string;  // bytes; std::string for cheap hashing and ordering

namespace detail {
enum class key_rank : char { null = 0x01, boolean = 0x02, integer = 0x03, bytes = 0x04, text = 0x05, other = 0x06 };

inline void append_be64(index_key& out, std::uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
}  // namespace detail

// The key of a field value given as canonical CBOR bytes (one whole item).
[[nodiscard]] inline index_key make_index_key(bytes_view item_bytes) {
    using detail::key_rank;
    if (item_bytes.empty()) fail(errc::invalid_argument, "an index key needs a value");
    index_key out;
    const std::uint8_t head = item_bytes[0];
    const unsigned major = head >> 5;
    cbor::reader r(item_bytes);
    const auto it = r.next();
    if (!it) fail(errc::invalid_argument, "an index key needs a value");
    switch (major) {
        case 0:  // non-negative: after every negative
            out.push_back(static_cast<char>(key_rank::integer));
            out.push_back(1);
            detail::append_be64(out, it->argument);
            return out;
        case 1:  // -1 - n: larger n sorts first
            out.push_back(static_cast<char>(key_rank::integer));
            out.push_back(0);
            detail::append_be64(out, ~it->argument);
            return out;
        case 2:
            out.push_back(static_cast<char>(key_rank::bytes));
            out.append(reinterpret_cast<const char*>(it->data.data()), it->data.size());
            return out;
        case 3:
            out.push_back(static_cast<char>(key_rank::text));
            out.append(reinterpret_cast<const char*>(it->data.data()), it->data.size());
            return out;
        default:
            break;
    }
    if (head == 0xf6) return index_key(1, static_cast<char>(key_rank::null));
    if (head == 0xf4 || head == 0xf5) return index_key{static_cast<char>(key_rank::boolean), static_cast<char>(head == 0xf5)};
    out.push_back(static_cast<char>(key_rank::other));
    out.append(reinterpret_cast<const char*>(item_bytes.data()), item_bytes.size());
    return out;
}

// The key prefix that every text value starting with `prefix` has.
[[nodiscard]] inline index_key make_text_prefix_key(std::string_view prefix) {
    index_key out(1, static_cast<char>(detail::key_rank::text));
    out.append(prefix);
    return out;
}

// "address.city" → {"address", "city"}; errc::invalid_argument for empty parts.
[[nodiscard]] inline std::vector<std::string> parse_field_path(std::string_view dotted) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const auto dot = dotted.find('.', start);
        const auto part = dotted.substr(start, dot == std::string_view::npos ? dotted.size() - start : dot - start);
        if (part.empty()) fail(errc::invalid_argument, "field path '{}' has an empty part", dotted);
        out.emplace_back(part);
        if (dot == std::string_view::npos) return out;
        start = dot + 1;
    }
}

}  // namespace v1
}  // namespace entidb
