// entidb — the command-line tool. Dispatches to the command groups.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include <entidb/version.hpp>

#include "tool.hpp"

namespace entidb_tool {

int exit_code_for(entidb::errc e) noexcept {
    switch (e) {
        case entidb::errc::ok: return exit_ok;
        case entidb::errc::not_found: return exit_not_found;
        case entidb::errc::corruption:
        case entidb::errc::unsupported_version: return exit_corruption;
        case entidb::errc::locked: return exit_locked;
        case entidb::errc::io_error:
        case entidb::errc::outcome_unknown:
        case entidb::errc::no_space:
        case entidb::errc::needs_reopen:
        case entidb::errc::read_only: return exit_io;
        case entidb::errc::schema_mismatch: return exit_schema_mismatch;
        case entidb::errc::bad_key: return exit_bad_key;
        default: return exit_usage;
    }
}

namespace {

std::vector<command> all_commands() {
    std::vector<command> out;
    out.push_back({"version", "version", [](args a) {
                       if (!a.empty()) throw usage_error{"version takes no arguments"};
                       fmt::print("entidb {} (format {}.{})\n", entidb::library_version,
                                  entidb::format_major, entidb::format_minor);
                       return int{exit_ok};
                   }});
    add_codec_commands(out);
    add_db_commands(out);
    add_index_commands(out);
    add_ops_commands(out);
    add_schema_commands(out);
    add_sync_commands(out);
    return out;
}

// Every error is one line on stderr; a bad command line names what the tool accepts.
int usage_error_line(std::string_view message, std::string_view hint) {
    fmt::print(stderr, "error: {} ({})\n", message, hint);
    return exit_usage;
}

std::string command_names(const std::vector<command>& cmds) {
    std::string out = "commands:";
    for (const auto& c : cmds) out += fmt::format("{} {}", &c == &cmds.front() ? "" : ",", c.name);
    return out;
}

}  // namespace
}  // namespace entidb_tool

int main(int argc, char** argv) {
    using namespace entidb_tool;
    const auto cmds = all_commands();
    std::vector<std::string_view> words(argv + 1, argv + argc);
    if (words.empty()) return usage_error_line("no command given", command_names(cmds));
    for (const auto& c : cmds) {
        if (c.name != words[0]) continue;
        try {
            const int rc = c.run(args(words).subspan(1));
            std::fflush(stdout);
            return rc;
        } catch (const usage_error& e) {
            return usage_error_line(e.message, fmt::format("usage: entidb {}", c.synopsis));
        } catch (const entidb::error& e) {
            fmt::print(stderr, "error: {}\n", e.what());
            return exit_code_for(e.value());
        } catch (const std::exception& e) {
            fmt::print(stderr, "error: {}\n", e.what());
            return exit_io;
        }
    }
    return usage_error_line(fmt::format("unknown command '{}'", words[0]), command_names(cmds));
}
