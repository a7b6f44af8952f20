// The entidb tool's database command lines: options, opening, ids — shared by the
// command groups so every command parses and opens the same way.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/core.h>

#include <entidb/database.hpp>

#include "tool.hpp"

namespace entidb_tool {

namespace fs = std::filesystem;

[[nodiscard]] inline std::uint64_t parse_number(std::string_view option, std::string_view text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size())
        throw usage_error{fmt::format("{} {} is too large (at most {})", option, text, UINT64_MAX)};
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
        throw usage_error{fmt::format("{} needs a non-negative integer, got '{}'", option, text)};
    return v;
}

// A count that must be at least 1: 0 would ask for nothing (bad input, not a no-op).
inline void require_positive(std::string_view option, std::uint64_t v) {
    if (v == 0) throw usage_error{fmt::format("{} needs a positive integer, got 0", option)};
}

// The words of a database command: positionals, and options anywhere after the name.
struct command_line {
    std::vector<std::string_view> positional;
    std::map<std::string_view, std::string_view> values;  // --option VALUE
    std::map<std::string_view, bool> flags;               // --flag
    entidb::config cfg;

    [[nodiscard]] std::optional<std::uint64_t> number(std::string_view name) const {
        const auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return parse_number(name, it->second);
    }
    [[nodiscard]] bool flag(std::string_view name) const { return flags.contains(name); }
};

// A database path that is, or lies below, something other than a directory (a regular file)
// is bad input: checked before anything is opened so that every command refuses it the same way.
inline void check_database_path(std::string_view text) {
    for (fs::path p(std::string{text}); !p.empty(); p = p.parent_path()) {
        std::error_code ec;
        const auto st = fs::status(p, ec);
        if (fs::exists(st)) {
            if (!fs::is_directory(st))
                entidb::fail_at(entidb::errc::invalid_argument, {.path = p.string()}, "not a directory");
            return;  // the nearest existing ancestor is a directory: the rest can be created
        }
        if (p == p.parent_path()) return;  // the root
    }
}

// Parses `a`: `value_options` take a value, `flag_options` do not; --max-wal-size and
// --max-segment-size are accepted by every command. Exactly `positionals` words remain; the one
// at `database_at` is the database path. An option given twice is refused, not silently
// overridden, and the configuration is validated here, before any command opens anything.
inline command_line parse(args a, std::size_t positionals, std::initializer_list<std::string_view> value_options = {},
                   const std::vector<std::string_view>& flag_options = {}, std::size_t database_at = 0) {
    command_line out;
    std::vector<std::string_view> takes_value(value_options);
    takes_value.insert(takes_value.end(), {"--max-wal-size", "--max-segment-size"});
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto w = a[i];
        if (!w.starts_with("--")) {
            out.positional.push_back(w);
            continue;
        }
        if (out.values.contains(w) || out.flags.contains(w)) throw usage_error{fmt::format("option {} given twice", w)};
        if (std::find(takes_value.begin(), takes_value.end(), w) != takes_value.end()) {
            if (i + 1 == a.size()) throw usage_error{fmt::format("{} needs a value", w)};
            out.values[w] = a[++i];
        } else if (std::find(flag_options.begin(), flag_options.end(), w) != flag_options.end()) {
            out.flags[w] = true;
        } else {
            throw usage_error{fmt::format("unknown option {}", w)};
        }
    }
    if (out.positional.size() != positionals)
        throw usage_error{fmt::format("expected {} arguments, got {}", positionals, out.positional.size())};
    if (auto v = out.number("--max-wal-size")) out.cfg.max_wal_size = *v;
    if (auto v = out.number("--max-segment-size")) out.cfg.max_segment_size = *v;
    out.cfg.validate();
    check_database_path(out.positional[database_at]);
    return out;
}

// How a command opens the database: only put and load create one; commands that only
// read open it read-only (shared lock, nothing written: they work on a directory the
// user may only read, beside other readers); the other writers open it read-write.
enum class open_mode { read_only, read_write, create };

inline entidb::database open_db(const command_line& cl, open_mode mode) {
    auto cfg = cl.cfg;
    cfg.create_if_missing = mode == open_mode::create;
    cfg.read_only = mode == open_mode::read_only;
    return entidb::open(fs::path(std::string(cl.positional[0])), cfg);
}

inline entidb::entity_id parse_id(std::string_view text) {
    try {
        return entidb::entity_id::parse(text);
    } catch (const entidb::error& e) {
        throw usage_error{e.detail()};
    }
}

inline int not_found(std::string_view what) {
    fmt::print(stderr, "error: not found: {}\n", what);
    return exit_not_found;
}

}  // namespace entidb_tool
