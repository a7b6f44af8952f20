// The entidb command-line tool: shared vocabulary of its command groups.
//
// Output goes to stdout; errors are one line `error: <message>` on stderr. Exit codes
// are a stable interface (docs/tool.md): 0 ok, 1 not found, 2 bad usage or bad input,
// 3 corruption detected, 4 database locked, 5 other I/O error, 6 bad key (a wrong or missing
// key for an encrypted database, or a key for a plain one), 7 the sync server could not be reached
// or refused the sync, 8 schema mismatch.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <entidb/error.hpp>

namespace entidb_tool {

enum exit_code : int {
    exit_ok = 0,
    exit_not_found = 1,
    exit_usage = 2,
    exit_corruption = 3,
    exit_locked = 4,
    exit_io = 5,
    exit_bad_key = 6,  // a wrong or missing key (errc::bad_key; encryption.md)
    exit_sync_failed = 7,  // entidb sync: the server could not be reached, or refused (docs/tool.md, "Sync")
    exit_schema_mismatch = 8,  // the database is at another schema version (migrate, open with --schema-version)
};

// Thrown for bad command lines; main() prints it and exits with exit_usage.
struct usage_error {
    std::string message;
};

using args = std::span<const std::string_view>;

struct command {
    std::string_view name;
    std::string_view synopsis;
    std::function<int(args)> run;  // receives the words after the command name
};

// Each command group registers its commands here (one function per group).
void add_codec_commands(std::vector<command>& out);
void add_db_commands(std::vector<command>& out);
void add_index_commands(std::vector<command>& out);
void add_ops_commands(std::vector<command>& out);
void add_schema_commands(std::vector<command>& out);
void add_sync_commands(std::vector<command>& out);

// Maps a library error to the tool's exit code.
[[nodiscard]] int exit_code_for(entidb::errc e) noexcept;

}  // namespace entidb_tool
