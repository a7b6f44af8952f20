// entidb/error.hpp — the one error model of the library.
//
// Contract: every failing operation throws `entidb::error` (a `std::system_error`
// whose code is an `entidb::errc` in `entidb::error_category()`). Absence is not an
// error: lookups return `std::optional`. The numeric values of `errc` are stable:
// the C ABI returns them as they are, and the first six double as the `entidb`
// tool's exit codes. docs/errors.md explains why exceptions were chosen.
//
// Thread-safety: the types here are values; `error_category()` is a stateless singleton.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace entidb {
inline namespace v1 {

// Stable numbers: never renumber, only append.
enum class errc : int {
    ok = 0,
    not_found = 1,          // the named thing does not exist (only where absence is exceptional)
    invalid_argument = 2,   // the caller passed something unusable; nothing was changed
    corruption = 3,         // on-disk bytes fail a check; names the file and offset
    locked = 4,             // another handle or process holds the database's LOCK
    io_error = 5,           // the operating system refused an I/O call (errno attached)
    outcome_unknown = 6,    // a durable flush failed: the commit may or may not survive a reopen
    no_space = 7,           // ENOSPC: the operation failed cleanly and may be retried
    needs_reopen = 8,       // the database refuses writes until reopened (recovery finishes the job)
    read_only = 9,          // the database was opened read-only (or its format minor is newer)
    writer_busy = 10,       // try_begin_write found another write transaction open
    too_large = 11,         // a payload exceeds the configured maximum or a length field
    unsupported_version = 12,  // a format version this build cannot open
    invalid_cbor = 13,      // bytes that are not well-formed CBOR under our rules
    non_canonical = 14,     // well-formed CBOR that is not in canonical form
    scan_forbidden = 15,    // a full scan while the configuration forbids it
    unique_violation = 16,  // a unique index already holds the key
    closed = 17,            // the handle was closed or the transaction already ended
    type_mismatch = 18,     // a value does not have the shape the caller asked for
    rotation_unsupported = 19,  // the segment factory cannot make another segment
    no_such_index = 20,     // an access path names an index that is not declared
    busy = 21,              // the operation needs scans, transactions or cursors to end first; nothing changed
    schema_mismatch = 22,   // the database is at another schema version than the caller requires (migrations)
    bad_key = 23,           // a wrong or missing key, or a key given for a database that is not encrypted
};

[[nodiscard]] constexpr std::string_view to_string(errc e) noexcept {
    switch (e) {
        case errc::ok: return "ok";
        case errc::not_found: return "not found";
        case errc::invalid_argument: return "invalid argument";
        case errc::corruption: return "corruption";
        case errc::locked: return "database locked";
        case errc::io_error: return "I/O error";
        case errc::outcome_unknown: return "outcome unknown";
        case errc::no_space: return "no space left on device";
        case errc::needs_reopen: return "database needs reopen";
        case errc::read_only: return "read-only";
        case errc::writer_busy: return "writer busy";
        case errc::too_large: return "too large";
        case errc::unsupported_version: return "unsupported version";
        case errc::invalid_cbor: return "invalid CBOR";
        case errc::non_canonical: return "non-canonical CBOR";
        case errc::scan_forbidden: return "full scan forbidden";
        case errc::unique_violation: return "unique index violation";
        case errc::closed: return "closed";
        case errc::type_mismatch: return "type mismatch";
        case errc::rotation_unsupported: return "segment rotation unsupported";
        case errc::no_such_index: return "no such index";
        case errc::busy: return "busy";
        case errc::schema_mismatch: return "schema mismatch";
        case errc::bad_key: return "bad key";
    }
    return "unknown error";
}

namespace detail {
class error_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "entidb"; }
    [[nodiscard]] std::string message(int ev) const override {
        return std::string(to_string(static_cast<errc>(ev)));
    }
};
}  // namespace detail

[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl instance;
    return instance;
}

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

// Where an error happened: the file (if any), the byte offset (if any) and the
// operating system's errno (0 if none).
struct error_context {
    std::string path{};
    std::optional<std::uint64_t> offset{};
    int sys_errno = 0;
};

class error : public std::system_error {
public:
    error(errc code, std::string detail, error_context ctx = {})
        : std::system_error(make_error_code(code)),
          code_(code),
          what_(compose(code, detail, ctx)),
          detail_(std::move(detail)),
          ctx_(std::move(ctx)) {}

    // "<code text>: <detail> [<path> at offset <n>] (<errno text>)"
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

    [[nodiscard]] errc value() const noexcept { return code_; }
    // The message without the code prefix and context.
    [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
    [[nodiscard]] const std::string& path() const noexcept { return ctx_.path; }
    [[nodiscard]] std::optional<std::uint64_t> offset() const noexcept { return ctx_.offset; }
    [[nodiscard]] int sys_errno() const noexcept { return ctx_.sys_errno; }

private:
    static std::string compose(errc code, const std::string& detail, const error_context& ctx);

    errc code_;
    std::string what_;
    std::string detail_;
    error_context ctx_;
};

inline std::string error::compose(errc code, const std::string& detail, const error_context& ctx) {
    std::string out = fmt::format("{}: {}", to_string(code), detail);
    if (!ctx.path.empty()) out += fmt::format(" [{}", ctx.path);
    if (ctx.offset) out += fmt::format("{}offset {}", ctx.path.empty() ? " [" : " at ", *ctx.offset);
    if (!ctx.path.empty() || ctx.offset) out += "]";
    if (ctx.sys_errno != 0) out += fmt::format(" ({})", std::generic_category().message(ctx.sys_errno));
    return out;
}

// Throws an `error` whose detail is formatted by fmt.
template <typename... Args>
[[noreturn]] void fail(errc code, fmt::format_string<Args...> f, Args&&... args) {
    throw error(code, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_at(errc code, error_context ctx, fmt::format_string<Args...> f, Args&&... args) {
    throw error(code, fmt::format(f, std::forward<Args>(args)...), std::move(ctx));
}

}  // namespace v1
}  // namespace entidb

template <>
struct std::is_error_code_enum<entidb::errc> : std::true_type {};

template <>
struct fmt::formatter<entidb::errc> : fmt::formatter<std::string_view> {
    template <typename Ctx>
    auto format(entidb::errc e, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(entidb::to_string(e), ctx);
    }
};
