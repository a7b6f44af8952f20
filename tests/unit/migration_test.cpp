// Schema migrations (migration.hpp, core/migration.hpp): every step kind, the schema version and
// applied list in the MANIFEST, the refusals (gap, downgrade, changed steps, required version),
// the dry run that leaves every byte as it was, and a refused migration that publishes nothing.
// The kill test (tests/crash/kill_test.cpp) proves the atomicity against SIGKILL.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::code_of;
using test_support::id_of;
using test_support::temp_dir;

namespace {

using step = entidb::migration_step;

entidb::byte_buffer user(std::string_view name, std::uint64_t age, bool legacy = true) {
    entidb::byte_buffer out;
    entidb::cbor::encoder enc(out);
    enc.begin_map(legacy ? 3 : 2).text("age").uint(age).text("name").text(name);
    if (legacy) enc.text("legacy").boolean(true);
    enc.end_map();
    return out;
}

std::string json_of(entidb::database& db, std::string_view coll, const entidb::entity_id& id) {
    const auto b = db.get(coll, id);
    return b ? entidb::cbor::to_json(*b) : "absent";
}

entidb::byte_buffer read_bytes(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return entidb::byte_buffer(s.begin(), s.end());
}

void write_bytes(const std::filesystem::path& p, const entidb::byte_buffer& b) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void load_users(const std::filesystem::path& dir, int n) {
    auto db = entidb::open(dir);
    db.transaction([&](auto& txn) {
        for (int i = 1; i <= n; ++i) txn.put("users", id_of(i), user("user" + std::to_string(i), i % 50));
    });
}

struct note {
    std::string body;
    std::uint64_t stars = 0;
    static constexpr auto entidb_fields =
        entidb::fields(entidb::field("body", &note::body), entidb::field("stars", &note::stars));
};

std::vector<entidb::migration> plan_v2() {
    return {
        {.version = 1,
         .name = "rename and tidy",
         .steps = {step::rename_field("users", "name", "full_name"), step::remove_field("users", "legacy"),
                   step::add_field("users", "prefs.theme", "dark"),
                   step::declare_index("users", "full_name", entidb::index_kind::hash, true)}},
        {.version = 2,
         .name = "drop minors",
         .steps = {step::transform_entities("users", "drop age < 18",
                                            [](const entidb::entity_id&, entidb::cbor::value v)
                                                -> std::optional<entidb::cbor::value> {
                                                if (v.find("age")->as_uint() < 18) return std::nullopt;
                                                return v;
                                            }),
                   step::create_collection("audit")}},
    };
}

}  // namespace

TEST_CASE("migrate: every field step, an index, a transform; the schema is in the MANIFEST", "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 100);
    const auto report = entidb::migrate(dir.path(), plan_v2(), {.applied_at = 1700000000});
    CHECK(report.version_before == 0);
    CHECK(report.version_after == 2);
    REQUIRE(report.applied.size() == 2);
    CHECK(report.applied[0].steps[0].entities_touched == 100);
    CHECK(report.applied[0].steps[1].entities_touched == 100);
    CHECK(report.applied[0].steps[2].entities_touched == 100);
    CHECK(report.applied[0].steps[3].entities_touched == 0);  // a catalog step
    CHECK(report.applied[1].steps[0].entities_touched == 36);  // ages 0..17 of 1..100 % 50
    CHECK(report.records_written == 136);

    auto db = entidb::open(dir.path(), {.required_schema_version = 2});
    CHECK(json_of(db, "users", id_of(20)) == R"({"age":20,"prefs":{"theme":"dark"},"full_name":"user20"})");
    CHECK(json_of(db, "users", id_of(5)) == "absent");
    {
        auto r = db.begin_read();
        CHECK(r.count("users") == 64);
        const auto found = r.find("users", "full_name", entidb::cbor::value("user20")).ids();
        CHECK(found == std::vector<entidb::entity_id>{id_of(20)});
    }
    const auto d = db.describe();
    CHECK(d.schema_version == 2);
    REQUIRE(d.migrations.size() == 2);
    CHECK(d.migrations[0].name == "rename and tidy");
    CHECK(d.migrations[1].applied_at == 1700000000);
    CHECK(d.migrations[1].steps_hash == plan_v2()[1].steps_hash());
    CHECK(d.collection_id("audit"));
    // The migration is one commit in the change feed: 100 puts, then 36 removes.
    const auto changes = db.changes_since(d.last_sequence - 2, 1000);
    REQUIRE(changes.size() == 136);
    CHECK(changes.front().sequence == d.last_sequence - 1);
    CHECK(changes.back().sequence == d.last_sequence);
    db.close();
    CHECK(entidb::verify(dir.path()).ok());
}

TEST_CASE("migrate: applied migrations are no-ops; a changed, missing or lower plan is refused", "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 10);
    (void)entidb::migrate(dir.path(), plan_v2());
    const auto before = test_support::snapshot_files(dir.path());
    const auto again = entidb::migrate(dir.path(), plan_v2());
    CHECK(again.applied.empty());
    CHECK(again.already_applied == std::vector<std::uint64_t>{1, 2});
    CHECK(test_support::snapshot_files(dir.path()) == before);

    auto changed = plan_v2();
    changed[0].steps.pop_back();
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), changed); }) == entidb::errc::schema_mismatch);
    auto renamed = plan_v2();
    renamed[1].name = "another name";
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), renamed); }) == entidb::errc::schema_mismatch);
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), plan_v2(), {.target_version = 1}); }) ==
          entidb::errc::schema_mismatch);  // a downgrade
    auto gap = plan_v2();
    gap.push_back({.version = 4, .name = "four", .steps = {step::create_collection("x")}});
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), gap); }) == entidb::errc::schema_mismatch);
    auto unordered = plan_v2();
    std::swap(unordered[0], unordered[1]);
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), unordered); }) == entidb::errc::invalid_argument);
    CHECK(test_support::snapshot_files(dir.path()) == before);
}

TEST_CASE("migrate: open with required_schema_version refuses another version unless given the way there",
          "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 10);
    const auto before = test_support::snapshot_files(dir.path());
    CHECK(code_of([&] { (void)entidb::open(dir.path(), {.required_schema_version = 2}); }) ==
          entidb::errc::schema_mismatch);
    CHECK(test_support::snapshot_files(dir.path()) == before);
    // A plan that does not reach the required version is refused before it changes anything.
    CHECK(code_of([&] {
              (void)entidb::open(dir.path(), {.required_schema_version = 2}, {plan_v2()[0]});
          }) == entidb::errc::schema_mismatch);
    CHECK(entidb::open(dir.path()).describe().schema_version == 0);
    auto db = entidb::open(dir.path(), {.required_schema_version = 2}, plan_v2());
    CHECK(db.describe().schema_version == 2);
    db.close();
    CHECK(code_of([&] { (void)entidb::open(dir.path(), {.required_schema_version = 1}); }) ==
          entidb::errc::schema_mismatch);
    // A new database would be at version 0: nothing is created for an open that requires 1,
    // and the migrations create it and bring it there.
    const auto fresh = dir.path().parent_path() / (dir.path().filename().string() + ".fresh");
    CHECK(code_of([&] { (void)entidb::open(fresh, {.required_schema_version = 1}); }) ==
          entidb::errc::schema_mismatch);
    CHECK(!std::filesystem::exists(fresh));
    CHECK(entidb::open(fresh, {.required_schema_version = 1}, {plan_v2()[0]}).describe().schema_version == 1);
    std::filesystem::remove_all(fresh);
}

TEST_CASE("migrate: a dry run reports what each step would touch and leaves every byte", "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 100);
    const auto before = test_support::snapshot_files(dir.path());
    const auto report = entidb::migrate(dir.path(), plan_v2(), {.dry_run = true});
    CHECK(report.dry_run);
    CHECK(report.version_after == 2);
    REQUIRE(report.applied.size() == 2);
    CHECK(report.applied[0].steps[0].entities_touched == 100);
    CHECK(report.applied[1].steps[0].entities_touched == 36);  // on what migration 1 would leave
    CHECK(report.records_written == 0);
    CHECK(test_support::snapshot_files(dir.path()) == before);
    CHECK(entidb::open(dir.path()).describe().schema_version == 0);
}

TEST_CASE("migrate: a refused migration publishes nothing and leaves no file behind", "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 100);
    {
        auto db = entidb::open(dir.path());
        db.transaction([](auto& txn) { txn.put("users", id_of(7), user("user8", 8)); });  // two named user8
    }
    const auto before = test_support::snapshot_files(dir.path());
    const std::vector<entidb::migration> unique{
        {.version = 1,
         .name = "unique names",
         .steps = {step::rename_field("users", "name", "full_name"),
                   step::declare_index("users", "full_name", entidb::index_kind::ordered, true)}}};
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), unique); }) == entidb::errc::unique_violation);
    int throws_at = 0;
    const std::vector<entidb::migration> failing{
        {.version = 1,
         .name = "fails halfway",
         .steps = {step::transform_entities("users", "throws", [&](const entidb::entity_id& id, entidb::cbor::value v)
                                                                   -> std::optional<entidb::cbor::value> {
             if (++throws_at == 60) entidb::fail(entidb::errc::invalid_argument, "no: {}", id.to_hex());
             v.set("x", 1);
             return v;
         })}}};
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), failing); }) == entidb::errc::invalid_argument);
    const std::vector<entidb::migration> clash{
        {.version = 1, .name = "rename onto a field", .steps = {step::rename_field("users", "name", "age")}}};
    CHECK(code_of([&] { (void)entidb::migrate(dir.path(), clash); }) == entidb::errc::invalid_argument);
    // The checkpoint each attempt took may have moved the WAL into the segments; the
    // entities and the version are what they were, and no temporary is left.
    auto db = entidb::open(dir.path());
    CHECK(db.describe().schema_version == 0);
    CHECK(json_of(db, "users", id_of(7)) == R"({"age":8,"name":"user8","legacy":true})");
    for (const auto& [name, bytes] : test_support::snapshot_files(dir.path())) CHECK(name.find(".compact") == std::string::npos);
}

TEST_CASE("migrate: collections and indexes come and go; a text index is declared by a migration",
          "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 20);
    {
        auto db = entidb::open(dir.path());
        db.declare_index("users", "age", entidb::index_kind::ordered);
        db.transaction([](auto& txn) { txn.put("notes", id_of(1), entidb::cbor::from_json(R"({"body":"the quick brown fox"})")); });
    }
    const std::vector<entidb::migration> plan{
        {.version = 1,
         .name = "reshape",
         .steps = {step::drop_index("users", "age"), step::drop_collection("users"),
                   step::add_field("notes", "stars", 0),
                   step::transform_as<note>("notes", "star foxes",
                                            [](note n) -> std::optional<note> {
                                                n.stars = n.body.find("fox") != std::string::npos ? 5 : 1;
                                                return n;
                                            }),
                   step::declare_index("notes", "body", entidb::text_index_options{})}}};
    const auto report = entidb::migrate(dir.path(), plan);
    CHECK(report.applied[0].steps[1].entities_touched == 20);
    auto db = entidb::open(dir.path());
    const auto d = db.describe();
    CHECK(!d.collection_id("users"));
    REQUIRE(d.indexes.size() == 1);
    CHECK(d.indexes[0].kind == entidb::index_kind::text);
    CHECK(json_of(db, "notes", id_of(1)) == R"({"body":"the quick brown fox","stars":5})");
    {
        auto r = db.begin_read();
        CHECK(r.search("notes", "body", "fox").size() == 1);
        CHECK(r.count("users") == 0);
    }
    db.close();
    CHECK(entidb::verify(dir.path()).ok());
    // A step that does not fit the catalog is refused before anything is written.
    CHECK(code_of([&] {
              (void)entidb::migrate(dir.path(), {plan[0], {.version = 2, .name = "x", .steps = {step::drop_collection("users")}}});
          }) == entidb::errc::invalid_argument);
    CHECK(code_of([] { (void)step::rename_field("c", "a", "b.c"); }) == entidb::errc::invalid_argument);
}

TEST_CASE("migrate: a publish interrupted after the commit point is finished by the next read-write open",
          "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 50);
    (void)entidb::migrate(dir.path(), {plan_v2()[0]});
    // Put the directory back in the state a crash right after the MANIFEST replace leaves:
    // the outputs still temporaries, the old active segment still there, the MANIFEST with
    // its segment publish section. `renamed` of them were already renamed into place.
    const auto renamed = GENERATE(0, 1);
    const auto segments = entidb::open(dir.path()).describe().segments;
    const auto migrated = test_support::snapshot_files(dir.path());
    REQUIRE(segments.size() >= 3);
    std::vector<std::uint32_t> outputs;
    for (std::size_t i = segments.size() - 2; i < segments.size(); ++i) outputs.push_back(segments[i].number);
    const auto old_active = outputs.front() - 1;
    const auto seg_dir = dir.path() / "SEGMENTS";
    for (std::size_t i = static_cast<std::size_t>(renamed); i < outputs.size(); ++i)
        std::filesystem::rename(seg_dir / entidb::segment_file_name(outputs[i]),
                                seg_dir / (entidb::segment_file_name(outputs[i]) + ".compact"));
    std::ofstream(seg_dir / entidb::segment_file_name(old_active)).flush();
    const auto manifest_path = dir.path() / "MANIFEST";
    auto m = entidb::format::decode_manifest(read_bytes(manifest_path), "MANIFEST");
    m.extension.publish = entidb::format::manifest_publish{outputs, {old_active}};
    write_bytes(manifest_path, entidb::format::encode(m));

    CHECK(code_of([&] { (void)entidb::verify(dir.path()); }) == entidb::errc::needs_reopen);
    entidb::config read_only;
    read_only.read_only = true;
    CHECK(code_of([&] { (void)entidb::open(dir.path(), read_only); }) == entidb::errc::needs_reopen);
    {
        auto db = entidb::open(dir.path());
        CHECK(db.describe().schema_version == 1);
        CHECK(json_of(db, "users", id_of(3)) == R"({"age":3,"prefs":{"theme":"dark"},"full_name":"user3"})");
    }
    auto now = test_support::snapshot_files(dir.path());
    now.erase("primary.index");
    auto expected = migrated;
    expected.erase("primary.index");
    CHECK(now == expected);  // the same files as the uninterrupted migration left
}

TEST_CASE("migrate: with a recycled WAL, then compacted, then opened read-only", "[migration]") {
    temp_dir dir;
    entidb::config cfg;
    cfg.wal = entidb::wal_mode::recycled;
    cfg.max_wal_size = 64 * 1024;
    {
        auto db = entidb::open(dir.path(), cfg);
        for (int t = 0; t < 5; ++t)
            db.transaction([&](auto& txn) {
                for (int i = 1; i <= 40; ++i) txn.put("users", id_of(i), user("user" + std::to_string(i), i + t));
            });
    }
    (void)entidb::migrate(dir.path(), plan_v2(), {}, cfg);
    {
        auto db = entidb::open(dir.path(), cfg);
        db.transaction([&](auto& txn) { txn.put("users", id_of(99), user("late", 30, false)); });
        (void)db.compact();
        CHECK(db.begin_read().count("users") == 28);  // ages 5..44: the 13 under 18 are gone; + 1
        CHECK(json_of(db, "users", id_of(20)) == R"({"age":24,"prefs":{"theme":"dark"},"full_name":"user20"})");
    }
    entidb::config read_only = cfg;
    read_only.read_only = true;
    read_only.required_schema_version = 2;
    CHECK(entidb::open(dir.path(), read_only, plan_v2()).describe().schema_version == 2);  // nothing pending
    CHECK(entidb::verify(dir.path()).ok());
}

TEST_CASE("migrate: a backup, its restore and a salvage keep the schema version and the applied list",
          "[migration]") {
    temp_dir dir;
    load_users(dir.path(), 30);
    (void)entidb::migrate(dir.path(), plan_v2(), {.applied_at = 42});
    const auto expected = entidb::open(dir.path()).describe();
    {
        auto db = entidb::open(dir.path());
        (void)entidb::backup(db, dir.path().parent_path() / (dir.path().filename().string() + ".backup"));
    }
    const auto file = dir.path().parent_path() / (dir.path().filename().string() + ".backup");
    const auto restored = dir.path().parent_path() / (dir.path().filename().string() + ".restored");
    const auto salvaged = dir.path().parent_path() / (dir.path().filename().string() + ".salvaged");
    (void)entidb::restore(file, restored);
    (void)entidb::salvage(dir.path(), salvaged);
    for (const auto& p : {restored, salvaged}) {
        INFO(p.filename().string());
        const auto d = entidb::open(p, {.required_schema_version = 2}).describe();
        CHECK(d.schema_version == 2);
        REQUIRE(d.migrations.size() == 2);
        CHECK(d.migrations[1].name == expected.migrations[1].name);
        CHECK(d.migrations[1].applied_at == 42);
        CHECK(d.migrations[1].steps_hash == expected.migrations[1].steps_hash);
        CHECK(entidb::migrate(p, plan_v2()).applied.empty());
    }
    std::filesystem::remove(file);
    std::filesystem::remove_all(restored);
    std::filesystem::remove_all(salvaged);
}
