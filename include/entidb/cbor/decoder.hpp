// entidb/cbor/decoder.hpp — canonical CBOR bytes to a `cbor::value` tree.
//
// Contract: `decode` is total: any byte string either yields the value of exactly one canonical
// item or throws (`cbor::decode_error` for every rule of reader.hpp, including trailing bytes).
// It is built on `cbor::reader`, so there is one set of rules and one parser. The tree is built
// with an explicit stack (no recursion); memory is bounded by the input: the reader has checked
// every declared count against the bytes that remain before the decoder reserves anything.
// The returned value owns its data; the input may be released afterwards.
//
// Thread-safety: a pure function of its arguments.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "reader.hpp"
#include "value.hpp"

namespace entidb {
inline namespace v1 {
namespace cbor {

namespace detail {

// One container being built. A map's entries arrive as key, value, key...; `key` holds the
// pending key.
struct decode_frame {
    item_kind kind = item_kind::array;
    std::uint64_t tag_number = 0;
    array items;  // array elements, or the content of a tag
    map entries;
    value key;
    bool has_key = false;

    void add(value v) {
        if (kind != item_kind::map) {
            items.push_back(std::move(v));
        } else if (!has_key) {
            key = std::move(v);
            has_key = true;
        } else {
            entries.push_back(map_entry{std::move(key), std::move(v)});
            has_key = false;
        }
    }

    [[nodiscard]] value finish() {
        switch (kind) {
            case item_kind::array: return value(std::move(items));
            case item_kind::map: return value(std::move(entries));  // already in canonical order
            default: return value::tag(tag_number, std::move(items.front()));
        }
    }
};

[[nodiscard]] inline value scalar_value(const item& it) {
    switch (it.kind) {
        case item_kind::unsigned_integer: return value(it.argument);
        case item_kind::negative_integer: return value::negative(it.argument);
        case item_kind::bytes: return value::bytes(it.data);
        case item_kind::text: return value(it.text());
        case item_kind::boolean: return value(it.argument != 0);
        case item_kind::floating: return value(it.number);
        default: return value();
    }
}

}  // namespace detail

[[nodiscard]] inline value decode(bytes_view input, const decode_options& options = {}) {
    reader r(input, options);
    std::vector<detail::decode_frame> stack;
    value result;
    const auto deliver = [&](value v) {
        if (stack.empty()) result = std::move(v);
        else stack.back().add(std::move(v));
    };
    while (const auto it = r.next()) {
        if (it->opens()) {
            detail::decode_frame& f = stack.emplace_back();
            f.kind = it->kind;
            // Safe sizes: the reader bounded these counts by the remaining input.
            if (it->kind == item_kind::array) f.items.reserve(static_cast<std::size_t>(it->argument));
            if (it->kind == item_kind::map) f.entries.reserve(static_cast<std::size_t>(it->argument));
            if (it->kind == item_kind::tag) f.tag_number = it->argument;
        } else if (it->closes()) {
            value done = stack.back().finish();
            stack.pop_back();
            deliver(std::move(done));
        } else {
            deliver(detail::scalar_value(*it));
        }
    }
    return result;
}

}  // namespace cbor
}  // namespace v1
}  // namespace entidb
