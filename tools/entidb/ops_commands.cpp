// The operations commands of the entidb tool: compact, backup, restore (docs/operations.md).
// compact and backup open the directory through entidb::open; restore creates the new
// directory through it (entidb::restore).
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include <entidb/backup.hpp>
#include <entidb/database.hpp>

#include "command_line.hpp"

namespace entidb_tool {
namespace {

int cmd_compact(args a) {
    const auto cl = parse(a, 1, {"--tombstone-retention"}, {"--json"});
    entidb::compact_options options;
    options.tombstone_retention = cl.number("--tombstone-retention").value_or(0);
    auto db = open_db(cl, open_mode::read_write);
    const auto r = db.compact(options);
    if (cl.flag("--json")) {
        fmt::print(R"({{"sequence":{},"segments_before":{},"segments_after":{},"bytes_before":{},"bytes_after":{},)"
                   R"("bytes_reclaimed":{},"records_kept":{},"records_dropped":{},"tombstones_kept":{},)"
                   R"("tombstones_dropped":{},"history_horizon":{}}})"
                   "\n",
                   r.sequence, r.segments_before, r.segments_after, r.bytes_before, r.bytes_after, r.bytes_reclaimed,
                   r.records_kept, r.records_dropped, r.tombstones_kept, r.tombstones_dropped, r.history_horizon);
        return exit_ok;
    }
    fmt::print("ok\nsequence: {}\nsegments: {} -> {}\nbytes: {} -> {} (reclaimed {})\n", r.sequence, r.segments_before,
               r.segments_after, r.bytes_before, r.bytes_after, r.bytes_reclaimed);
    fmt::print("records: {} kept, {} dropped ({} tombstones kept, {} dropped)\nhistory horizon: {}\n", r.records_kept,
               r.records_dropped, r.tombstones_kept, r.tombstones_dropped, r.history_horizon);
    return exit_ok;
}

void print_backup_info(const entidb::backup_info& i) {
    fmt::print("ok\nsequence: {}\nentities: {}\ncollections: {}\nindexes: {}\nbytes: {}\nxxh3-64: {:016x}\n", i.sequence,
               i.entities, i.collections, i.indexes, i.bytes, i.checksum);
}

int cmd_backup(args a) {
    const auto cl = parse(a, 2);
    const fs::path file(std::string(cl.positional[1]));
    if (std::error_code ec; fs::exists(file, ec))  // before opening: bad input changes nothing
        throw usage_error{fmt::format("{} already exists (choose a new file name)", file.string())};
    auto db = open_db(cl, open_mode::read_only);
    print_backup_info(entidb::backup(db, file));
    return exit_ok;
}

int cmd_restore(args a) {
    const auto cl = parse(a, 2);
    print_backup_info(entidb::restore(fs::path(std::string(cl.positional[0])), fs::path(std::string(cl.positional[1])),
                                      cl.cfg));
    return exit_ok;
}

}  // namespace

void add_ops_commands(std::vector<command>& out) {
    out.push_back(
        {"compact", "compact DB [--tombstone-retention N] [--json]", cmd_compact});
    out.push_back({"backup", "backup DB FILE", cmd_backup});
    out.push_back({"restore", "restore FILE DB", cmd_restore});
}

}  // namespace entidb_tool
