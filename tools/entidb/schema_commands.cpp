// The schema commands of the entidb tool: migrate (a JSON plan, docs/migrations.md) and
// schema (the version and the migrations applied).
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/core.h>

#include <entidb/database.hpp>
#include <entidb/migration.hpp>

#include "command_line.hpp"

namespace entidb_tool {
namespace {

std::vector<entidb::migration> read_plan(std::string_view file) {
    std::ifstream in{fs::path(std::string(file)), std::ios::binary};
    if (!in) throw usage_error{fmt::format("cannot read the plan {}", file)};
    const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        return entidb::parse_migration_plan(json);
    } catch (const entidb::error& e) {
        throw usage_error{fmt::format("{}: {}", file, e.detail())};
    }
}

// One line on stderr, rewritten in place, while stderr is a terminal; nothing otherwise.
struct progress_line {
    bool shown = false;
    void operator()(const entidb::migration_progress& p) {
        const int pct = p.total == 0 ? 100 : static_cast<int>(p.done * 100 / p.total);
        fmt::print(stderr, "\rmigration {}: {} {}/{} entities ({}%)", p.version, p.collection, p.done, p.total, pct);
        std::fflush(stderr);
        shown = true;
    }
    void end() {
        if (shown) fmt::print(stderr, "\n");
        shown = false;
    }
    ~progress_line() { end(); }
};

void print_report(const entidb::migration_report& r) {
    fmt::print("{}\nschema version: {} -> {}\n", r.dry_run ? "dry run" : "ok", r.version_before, r.version_after);
    for (const auto& m : r.applied) {
        fmt::print("migration {} ({}): steps hash {:016x}\n", m.version, m.name, m.steps_hash);
        for (const auto& s : m.steps) fmt::print("  {}: {} entities\n", s.description, s.entities_touched);
    }
    for (const auto v : r.already_applied) fmt::print("already applied: {}\n", v);
    fmt::print("records written: {}\n", r.records_written);
}

int cmd_migrate(args a) {
    const auto cl = parse(a, 2, {"--applied-at"}, {"--dry-run"});
    const auto plan = read_plan(cl.positional[1]);  // bad input is refused before the database is opened
    entidb::migrate_options opt;
    opt.dry_run = cl.flag("--dry-run");
    opt.applied_at = cl.number("--applied-at").value_or(static_cast<std::uint64_t>(std::time(nullptr)));
    progress_line progress;
    if (::isatty(STDERR_FILENO) == 1) opt.on_progress = [&](const entidb::migration_progress& p) { progress(p); };
    auto cfg = cl.cfg;
    cfg.create_if_missing = false;
    const auto report = with_storage(cl, [&]<typename Traits>(std::type_identity<Traits>, auto env) {
        return entidb::migrate<Traits>(fs::path(std::string(cl.positional[0])), plan, opt, cfg, std::move(env));
    });
    progress.end();
    print_report(report);
    return exit_ok;
}

int cmd_schema(args a) {
    const auto cl = parse(a, 1);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        const auto d = db.describe();
        fmt::print("version: {}\n", d.schema_version);
        for (const auto& m : d.migrations)
            fmt::print("{}\t{}\t{}\t{:016x}\n", m.version, m.name, m.applied_at, m.steps_hash);
        return exit_ok;
    });
}

}  // namespace

void add_schema_commands(std::vector<command>& out) {
    out.push_back({"migrate", "migrate DB PLAN.json [--dry-run] [--applied-at N]", cmd_migrate});
    out.push_back({"schema", "schema DB", cmd_schema});
}

}  // namespace entidb_tool
