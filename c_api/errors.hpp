// c_api/errors.hpp — error capture of the C ABI: the ENTIDB_ codes are entidb::errc, the
// calling thread's last error (code and message), and `guarded`, the one place exceptions
// stop: entidb::error -> its errc and what(); std::bad_alloc -> ENTIDB_OUT_OF_MEMORY;
// std::system_error -> ENTIDB_IO_ERROR / ENTIDB_NO_SPACE; anything else -> ENTIDB_INTERNAL.
//
// Private to c_api/entidb_c.cpp, the library's one translation unit: what is here has
// internal linkage (an anonymous namespace), so nothing of it is exported from libentidb_c,
// shared or static.
#pragma once

#include <cerrno>
#include <exception>
#include <iterator>
#include <new>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "entidb/c/entidb.h"
#include "entidb/error.hpp"

namespace {

using entidb::errc;

// ---- the codes are entidb::errc ---------------------------------------------------------------

#define ENTIDB_SAME_CODE(c_name, cxx_name)                    \
    static_assert(c_name == static_cast<int>(errc::cxx_name), \
                  "include/entidb/c/entidb.h: " #c_name " must equal entidb::errc::" #cxx_name)
ENTIDB_SAME_CODE(ENTIDB_OK, ok);
ENTIDB_SAME_CODE(ENTIDB_NOT_FOUND, not_found);
ENTIDB_SAME_CODE(ENTIDB_INVALID_ARGUMENT, invalid_argument);
ENTIDB_SAME_CODE(ENTIDB_CORRUPTION, corruption);
ENTIDB_SAME_CODE(ENTIDB_LOCKED, locked);
ENTIDB_SAME_CODE(ENTIDB_IO_ERROR, io_error);
ENTIDB_SAME_CODE(ENTIDB_OUTCOME_UNKNOWN, outcome_unknown);
ENTIDB_SAME_CODE(ENTIDB_NO_SPACE, no_space);
ENTIDB_SAME_CODE(ENTIDB_NEEDS_REOPEN, needs_reopen);
ENTIDB_SAME_CODE(ENTIDB_READ_ONLY, read_only);
ENTIDB_SAME_CODE(ENTIDB_WRITER_BUSY, writer_busy);
ENTIDB_SAME_CODE(ENTIDB_TOO_LARGE, too_large);
ENTIDB_SAME_CODE(ENTIDB_UNSUPPORTED_VERSION, unsupported_version);
ENTIDB_SAME_CODE(ENTIDB_INVALID_CBOR, invalid_cbor);
ENTIDB_SAME_CODE(ENTIDB_NON_CANONICAL, non_canonical);
ENTIDB_SAME_CODE(ENTIDB_SCAN_FORBIDDEN, scan_forbidden);
ENTIDB_SAME_CODE(ENTIDB_UNIQUE_VIOLATION, unique_violation);
ENTIDB_SAME_CODE(ENTIDB_CLOSED, closed);
ENTIDB_SAME_CODE(ENTIDB_TYPE_MISMATCH, type_mismatch);
ENTIDB_SAME_CODE(ENTIDB_ROTATION_UNSUPPORTED, rotation_unsupported);
ENTIDB_SAME_CODE(ENTIDB_NO_SUCH_INDEX, no_such_index);
ENTIDB_SAME_CODE(ENTIDB_BUSY, busy);
ENTIDB_SAME_CODE(ENTIDB_SCHEMA_MISMATCH, schema_mismatch);
ENTIDB_SAME_CODE(ENTIDB_BAD_KEY, bad_key);
#undef ENTIDB_SAME_CODE
// A code appended to entidb::errc must be added to the header and to code_names below.
static_assert(entidb::to_string(static_cast<errc>(ENTIDB_BAD_KEY + 1)) == "unknown error",
              "entidb::errc has a code after bad_key: add its ENTIDB_ constant to "
              "include/entidb/c/entidb.h, its name to code_names in c_api/errors.hpp, and a row to "
              "docs/c-abi.md");

constexpr const char* code_names[] = {
    "ok",          "not_found",     "invalid_argument", "corruption",          "locked",
    "io_error",    "outcome_unknown", "no_space",       "needs_reopen",        "read_only",
    "writer_busy", "too_large",     "unsupported_version", "invalid_cbor",     "non_canonical",
    "scan_forbidden", "unique_violation", "closed",     "type_mismatch",       "rotation_unsupported",
    "no_such_index", "busy",       "schema_mismatch", "bad_key",
};
static_assert(std::size(code_names) == ENTIDB_BAD_KEY + 1);

// ---- the calling thread's last error ---------------------------------------------------------

thread_local int t_last_code = ENTIDB_OK;
thread_local std::string t_last_message;

int set_last(int code, std::string_view message) noexcept {
    t_last_code = code;
    try {
        t_last_message.assign(message);
    } catch (...) {  // out of memory while reporting: keep the code, drop the text
        t_last_message.clear();
    }
    return code;
}

// Absence (ENTIDB_NOT_FOUND) is a status, not an exception: returned with a message.
int status(int code, std::string_view message) noexcept { return set_last(code, message); }

int code_of_system_error(const std::system_error& e) noexcept {
    const auto& cat = e.code().category();
    if (cat == std::generic_category() || cat == std::system_category())
        return e.code().value() == ENOSPC ? ENTIDB_NO_SPACE : ENTIDB_IO_ERROR;
    return ENTIDB_INTERNAL;
}

// Runs `body` (which returns ENTIDB_OK or a status it has already reported) and reports any
// exception as a code. The only place exceptions stop.
template <typename F>
int guarded(const char* fn, F&& body) noexcept {
    try {
        const int rc = body();
        if (rc == ENTIDB_OK) set_last(ENTIDB_OK, {});
        return rc;
    } catch (const entidb::error& e) {
        return set_last(static_cast<int>(e.value()), e.what());
    } catch (const std::bad_alloc&) {
        return set_last(ENTIDB_OUT_OF_MEMORY, "out of memory");
    } catch (const std::system_error& e) {
        const int code = code_of_system_error(e);
        try {
            return set_last(code, fmt::format("{}: {}", fn, e.what()));
        } catch (...) {
            return set_last(code, e.what());
        }
    } catch (const std::exception& e) {
        try {
            return set_last(ENTIDB_INTERNAL, fmt::format("internal error in {}: {}", fn, e.what()));
        } catch (...) {
            return set_last(ENTIDB_INTERNAL, e.what());
        }
    } catch (...) {
        return set_last(ENTIDB_INTERNAL, "internal error: an exception of unknown type");
    }
}

}  // namespace
