// entidb/codec.hpp — typed entities: how a C++ type becomes canonical CBOR and back.
//
// A codec for T is a type with
//   static void encode(cbor::encoder&, const T&);   // writes exactly one CBOR item
//   static T decode(const cbor::value&);              // errc::type_mismatch on the wrong shape
// checked by the `codec_for<C, T>` concept. `codec<T>` is the default: it serves integers,
// bool, std::string, byte_buffer (a byte string), entity_id (a 16-byte string),
// std::optional, std::vector, std::map<std::string, U>, enums (as their integer), and any
// aggregate that declares its fields once:
//
//   struct user {
//       std::string name;
//       std::uint32_t age = 0;
//       static constexpr auto entidb_fields = entidb::fields(entidb::field("name", &user::name),
//                                                            entidb::field("age", &user::age));
//   };
//
// Such a struct is a CBOR map from field name to value (in canonical key order, sorted by
// the encoder). Decoding requires every field except std::optional ones, and ignores
// fields it does not know (a newer writer may have added them). Values decode only from
// canonical bytes (the decoder is strict); a value of the wrong type is a typed error.
//
// Thread-safety: codecs are stateless.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "bytes.hpp"
#include "cbor/decoder.hpp"
#include "cbor/encoder.hpp"
#include "cbor/value.hpp"
#include "entity_id.hpp"
#include "error.hpp"

namespace entidb {
inline namespace v1 {

// One reflected field: its CBOR key and the member it maps to.
template <typename T, typename M>
struct field_ref {
    std::string_view name;
    M T::*member;
};

template <typename T, typename M>
[[nodiscard]] constexpr field_ref<T, M> field(std::string_view name, M T::*member) noexcept {
    return {name, member};
}

template <typename... F>
[[nodiscard]] constexpr std::tuple<F...> fields(F... f) noexcept {
    return {f...};
}

// A type that declares its fields with `static constexpr auto entidb_fields = fields(...)`.
template <typename T>
concept reflected = requires { T::entidb_fields; };

template <typename T>
struct codec;

// A codec type `C` can encode and decode `T`.
template <typename C, typename T>
concept codec_for = requires(cbor::encoder& enc, const T& v, const cbor::value& in) {
    { C::encode(enc, v) } -> std::same_as<void>;
    { C::decode(in) } -> std::same_as<T>;
};

// Whether the default codec serves T (checked at the API so misuse fails at the call).
template <typename T>
concept has_default_codec = requires { codec<T>::supported; };

namespace detail {
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

template <typename T>
    requires(std::integral<T> && !std::same_as<T, bool>)
struct codec<T> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, T v) {
        if constexpr (std::is_signed_v<T>)
            e.integer(v);
        else
            e.uint(v);
    }
    static T decode(const cbor::value& v) {
        if constexpr (std::is_signed_v<T>) {
            const auto i = v.as_int();
            if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max())
                fail(errc::type_mismatch, "integer {} does not fit the field's type", i);
            return static_cast<T>(i);
        } else {
            const auto u = v.as_uint();
            if (u > std::numeric_limits<T>::max()) fail(errc::type_mismatch, "integer {} does not fit the field's type", u);
            return static_cast<T>(u);
        }
    }
};

template <>
struct codec<bool> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, bool v) { e.boolean(v); }
    static bool decode(const cbor::value& v) { return v.as_bool(); }
};

template <>
struct codec<std::string> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const std::string& v) { e.text(v); }
    static std::string decode(const cbor::value& v) { return v.as_text(); }
};

template <>
struct codec<byte_buffer> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const byte_buffer& v) { e.bytes(v); }
    static byte_buffer decode(const cbor::value& v) { return v.as_bytes(); }
};

template <>
struct codec<entity_id> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const entity_id& v) { e.bytes(v.bytes()); }
    static entity_id decode(const cbor::value& v) {
        const auto& b = v.as_bytes();
        if (b.size() != 16) fail(errc::type_mismatch, "an entity id needs 16 bytes, got {}", b.size());
        return entity_id::from_bytes(b);
    }
};

template <typename E>
    requires std::is_enum_v<E>
struct codec<E> {
    static constexpr bool supported = true;
    using underlying = std::underlying_type_t<E>;
    static void encode(cbor::encoder& e, E v) { codec<underlying>::encode(e, static_cast<underlying>(v)); }
    static E decode(const cbor::value& v) { return static_cast<E>(codec<underlying>::decode(v)); }
};

template <typename U>
    requires has_default_codec<U>
struct codec<std::optional<U>> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const std::optional<U>& v) {
        if (v)
            codec<U>::encode(e, *v);
        else
            e.null();
    }
    static std::optional<U> decode(const cbor::value& v) {
        if (v.is_null()) return std::nullopt;
        return codec<U>::decode(v);
    }
};

template <typename U>
    requires has_default_codec<U>
struct codec<std::vector<U>> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const std::vector<U>& v) {
        e.begin_array(v.size());
        for (const auto& x : v) codec<U>::encode(e, x);
        e.end_array();
    }
    static std::vector<U> decode(const cbor::value& v) {
        std::vector<U> out;
        for (const auto& x : v.as_array()) out.push_back(codec<U>::decode(x));
        return out;
    }
};

template <typename U>
    requires has_default_codec<U>
struct codec<std::map<std::string, U>> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const std::map<std::string, U>& v) {
        e.begin_map(v.size());
        for (const auto& [k, x] : v) {
            e.text(k);
            codec<U>::encode(e, x);
        }
        e.end_map();
    }
    static std::map<std::string, U> decode(const cbor::value& v) {
        std::map<std::string, U> out;
        for (const auto& entry : v.as_map()) out.emplace(entry.key.as_text(), codec<U>::decode(entry.val));
        return out;
    }
};

// Aggregates with `entidb_fields`: a map from field name to value.
template <reflected T>
struct codec<T> {
    static constexpr bool supported = true;
    static void encode(cbor::encoder& e, const T& v) {
        std::apply(
            [&](const auto&... f) {
                e.begin_map(sizeof...(f));
                ((e.text(f.name), codec<std::remove_cvref_t<decltype(v.*(f.member))>>::encode(e, v.*(f.member))), ...);
                e.end_map();
            },
            T::entidb_fields);
    }
    static T decode(const cbor::value& v) {
        if (!v.is(cbor::kind::map)) fail(errc::type_mismatch, "expected a map for a reflected struct");
        T out{};
        std::apply([&](const auto&... f) { (read_field(v, out, f), ...); }, T::entidb_fields);
        return out;
    }

private:
    template <typename F>
    static void read_field(const cbor::value& map, T& out, const F& f) {
        using member_t = std::remove_cvref_t<decltype(out.*(f.member))>;
        const cbor::value* found = map.find(f.name);
        if (!found) {
            if constexpr (detail::is_optional<member_t>::value) return;
            fail(errc::type_mismatch, "field '{}' is missing", f.name);
        }
        try {
            out.*(f.member) = codec<member_t>::decode(*found);
        } catch (const error& e) {
            fail(errc::type_mismatch, "field '{}': {}", f.name, e.detail());
        }
    }
};

// Encodes `v` with codec C into canonical CBOR bytes.
template <typename T, typename C = codec<T>>
    requires codec_for<C, T>
[[nodiscard]] byte_buffer encode_entity(const T& v) {
    byte_buffer out;
    cbor::encoder enc(out);
    C::encode(enc, v);
    return out;
}

// Decodes canonical CBOR bytes into a T with codec C (strict: non-canonical input fails).
template <typename T, typename C = codec<T>>
    requires codec_for<C, T>
[[nodiscard]] T decode_entity(bytes_view bytes) {
    return C::decode(cbor::decode(bytes));
}

}  // namespace v1
}  // namespace entidb
