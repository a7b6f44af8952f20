// c_api/conversions.hpp — C arguments into C++ values (NULL and length checks, entity ids)
// and C++ bytes into the caller's entidb_buffer.
//
// Private to c_api/entidb_c.cpp, the library's one translation unit: what is here has
// internal linkage (an anonymous namespace), so nothing of it is exported from libentidb_c,
// shared or static.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "entidb/bytes.hpp"
#include "entidb/c/entidb.h"
#include "entidb/entity_id.hpp"
#include "entidb/error.hpp"

namespace {

using entidb::errc;

// ---- argument checks --------------------------------------------------------------------------

template <typename T>
void require(const T* p, const char* fn, const char* name) {
    if (p == nullptr) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL", fn, name);
}

// (data, len) with NULL allowed only for the empty input.
entidb::bytes_view input_bytes(const std::uint8_t* data, std::size_t len, const char* fn, const char* name) {
    if (data == nullptr && len != 0) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL but its length is {}", fn, name, len);
    if (data == nullptr) return {};
    return {data, len};
}

std::string_view input_text(const char* data, std::size_t len, const char* fn, const char* name) {
    if (data == nullptr && len != 0) entidb::fail(errc::invalid_argument, "{}: `{}` is NULL but its length is {}", fn, name, len);
    if (data == nullptr) return {};
    return {data, len};
}

entidb::entity_id input_id(const std::uint8_t* id, const char* fn) {
    require(id, fn, "id");
    return entidb::entity_id::from_bytes({id, entidb::entity_id::size});
}

// Fills a caller's buffer with a malloc'd copy plus a NUL byte (entidb_buffer_free frees it).
void fill_buffer(entidb_buffer* out, const void* data, std::size_t len) {
    out->data = nullptr;
    out->len = 0;
    auto* p = static_cast<std::uint8_t*>(std::malloc(len + 1));
    if (p == nullptr) throw std::bad_alloc();
    if (len != 0) std::memcpy(p, data, len);
    p[len] = 0;
    out->data = p;
    out->len = len;
}

void clear_buffer(entidb_buffer* out) noexcept {
    if (out != nullptr) *out = {nullptr, 0};
}

}  // namespace
