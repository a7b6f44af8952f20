// The operations commands of the entidb tool: compact, backup, restore, salvage
// (docs/operations.md). compact and backup open the directory through entidb::open; restore
// and salvage create the new directory through it (entidb::restore, entidb::salvage; salvage
// only reads the damaged directory).
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include <entidb/backup.hpp>
#include <entidb/database.hpp>
#include <entidb/directory/key_file.hpp>
#include <entidb/salvage.hpp>

#include "command_line.hpp"

namespace entidb_tool {
namespace {

int cmd_compact(args a) {
    const auto cl = parse(a, 1, {"--tombstone-retention"}, {"--json"});
    entidb::compact_options options;
    options.tombstone_retention = cl.number("--tombstone-retention").value_or(0);
    return with_db(cl, open_mode::read_write, [&](auto& db) -> int {
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
    });
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
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        print_backup_info(entidb::backup(db, file));
        return exit_ok;
    });
}

int cmd_restore(args a) {
    const auto cl = parse(a, 2, {}, {}, 1);  // restore FILE DB: the database comes second
    print_backup_info(with_key(cl, [&](const auto&... key) {
        return entidb::restore(fs::path(std::string(cl.positional[0])), fs::path(std::string(cl.positional[1])), key...,
                               cl.cfg);
    }));
    return exit_ok;
}

void print_salvage_file(const entidb::salvage_file& f) {
    fmt::print("file {}: {} bytes, {} records recovered, {} skipped, {} damaged bytes\n", f.name, f.bytes,
               f.records_recovered, f.skipped.size(), f.damaged_bytes());
    for (const auto& d : f.damaged) fmt::print("  damaged {}..{}: {}\n", d.begin, d.end, d.problem);
    for (const auto& s : f.skipped) fmt::print("  skipped {}: {}\n", s.offset, s.reason);
}

// The report (docs/tool.md, "salvage"): a summary, then what each file lost.
void print_salvage_report(const entidb::salvage_report& r) {
    fmt::print("{}\nentities: {}\ncollections: {}\nindexes: {}\n", r.lost_anything() ? "lost data" : "ok", r.entities,
               r.collections, r.indexes);
    fmt::print("damaged: {} bytes in {} ranges\nskipped: {} records\ntransactions dropped: {}\n", r.damaged_bytes(),
               r.damaged_ranges(), r.records_skipped(), r.transactions_dropped);
    fmt::print("manifest: {}\n", r.manifest_problem ? "unreadable (" + *r.manifest_problem + ")" : std::string("ok"));
    for (const auto& f : r.files) print_salvage_file(f);
    for (const auto& p : r.index_problems) fmt::print("index not declared: {}\n", p);
}

// Exit 0 when something was recovered or nothing was lost; 3 when the damage left nothing.
int cmd_salvage(args a) {
    const auto cl = parse(a, 2);
    const auto r = with_key(cl, [&](const auto&... key) {
        return entidb::salvage(fs::path(std::string(cl.positional[0])), fs::path(std::string(cl.positional[1])),
                               key..., cl.cfg);
    });
    print_salvage_report(r);
    if (r.entities == 0 && r.lost_anything()) {
        std::fflush(stdout);
        fmt::print(stderr, "error: nothing could be salvaged from {}\n", cl.positional[0]);
        return exit_corruption;
    }
    return exit_ok;
}

// rekey DB --key-file OLD|--raw-key-file OLD --new-key-file NEW|--new-raw-key-file NEW: wraps
// the data key under the new key (docs/encryption.md, "Rekey and its atomicity"); no payload is
// rewritten. Refused while the database is open elsewhere (exit 4); a wrong old key is exit 6
// with nothing written.
int cmd_rekey(args a) {
    const auto cl = parse(a, 1, {"--new-key-file", "--new-raw-key-file"});
    const auto new_key = key_option(cl, "--new-key-file", "--new-raw-key-file");
    if (!cl.key || !new_key)
        throw usage_error{"rekey needs the old key (--key-file or --raw-key-file) and the new one (--new-key-file "
                          "or --new-raw-key-file)"};
    check_kdf_goes_with(cl, new_key, "--new-key-file");
    const fs::path dir(std::string(cl.positional[0]));
    if (!entidb::has_key_file(dir) && fs::exists(dir / "MANIFEST"))
        entidb::fail_at(entidb::errc::bad_key, {.path = dir.string()}, "the database is not encrypted: it has no key to change");
    entidb::rekey(dir, *cl.key, *new_key, cl.kdf);
    fmt::print("ok\n");
    return exit_ok;
}

}  // namespace

void add_ops_commands(std::vector<command>& out) {
    out.push_back(
        {"compact", "compact DB [--tombstone-retention N] [--json]", cmd_compact});
    out.push_back({"backup", "backup DB FILE", cmd_backup});
    out.push_back({"restore", "restore FILE DB", cmd_restore});
    out.push_back({"salvage", "salvage DB OUT", cmd_salvage});
    out.push_back({"rekey",
                   "rekey DB --key-file OLD|--raw-key-file OLD --new-key-file NEW|--new-raw-key-file NEW "
                   "[--kdf-ops N --kdf-memory-mib M]",
                   cmd_rekey});
}

}  // namespace entidb_tool
