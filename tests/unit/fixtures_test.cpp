// Databases written by the reference implementation open with exactly their expected
// state (../shared/fixtures/rust-reference). Tests work on copies; fixtures stay untouched.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;
using test_support::temp_dir;

namespace {

fs::path fixtures_dir() {
    const char* env = std::getenv("ENTIDB_FIXTURES_DIR");
    REQUIRE(env != nullptr);
    return env;
}

// A writable copy of fixture `name` at `to`.
void copy_fixture(const std::string& name, const fs::path& to) {
    fs::copy(fixtures_dir() / name, to, fs::copy_options::recursive);
    for (const auto& e : fs::recursive_directory_iterator(to))
        fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    fs::permissions(to, fs::perms::owner_write, fs::perm_options::add);
}

entidb::cbor::value expected_of(const std::string& name) {
    std::ifstream in(fixtures_dir() / (name + ".expected.json"));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return entidb::cbor::decode(entidb::cbor::from_json(text));
}

entidb::byte_buffer unhex(const std::string& hex) {
    entidb::byte_buffer out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return out;
}

// Checks the database against the fixture's expected state.
void check_state(const entidb::database& db, const entidb::cbor::value& expected) {
    auto r = db.begin_read();
    const auto layout = db.describe();
    for (const auto& entry : expected.find("collection_ids")->as_map())
        CHECK(layout.collection_id(entry.key.as_text()) == entry.val.as_uint());
    for (const auto& coll : expected.find("collections")->as_map()) {
        const auto& name = coll.key.as_text();
        CHECK(r.count(name) == coll.val.as_map().size());
        for (const auto& e : coll.val.as_map()) {
            INFO(name << "/" << e.key.as_text());
            CHECK(r.get(name, entidb::entity_id::parse(e.key.as_text())) == unhex(e.val.as_text()));
        }
        std::size_t scanned = 0;
        for (const auto& e : r.scan(name)) {
            CHECK(coll.val.find(std::string_view(e.id.to_hex())) != nullptr);
            ++scanned;
        }
        CHECK(scanned == coll.val.as_map().size());
    }
    for (const auto& coll : expected.find("absent")->as_map())
        for (const auto& id : coll.val.as_array()) {
            INFO("absent " << coll.key.as_text() << "/" << id.as_text());
            CHECK_FALSE(r.get(coll.key.as_text(), entidb::entity_id::parse(id.as_text())));
        }
}

}  // namespace

TEST_CASE("reference fixtures open with their expected state") {
    const auto name = GENERATE(as<std::string>{}, "ckpt", "wal", "aborted", "rotated", "wal_noseg", "wal_reopened",
                               "aborted_walsynth");
    INFO("fixture " << name);
    const auto before = test_support::snapshot_files(fixtures_dir() / name);
    const auto expected = expected_of(name);
    temp_dir dir;
    const auto db_path = dir / "db";
    copy_fixture(name, db_path);

    CHECK_NOTHROW(entidb::verify(db_path));
    {
        auto db = entidb::open(db_path);
        check_state(db, expected);
        CHECK(db.last_sequence() == expected.find("meta")->find("engine_committed_seq_at_end")->as_uint());
    }
    {
        // Reopening is idempotent, and writing more keeps the old state right.
        auto db = entidb::open(db_path);
        check_state(db, expected);
        const auto id = entidb::entity_id::generate();
        const auto segments_before = db.stats().segment_count;
        const bool checkpointed = db.describe().last_checkpoint.has_value();
        db.transaction([&](auto& txn) { txn.put("added", id, test_support::payload(7)); });
        // The active segment held checkpointed records: new records go to a new segment,
        // so the active segment again holds only WAL-covered records.
        CHECK(db.stats().segment_count == segments_before + (checkpointed ? 1 : 0));
        db.checkpoint();
        db.close();
        auto again = entidb::open(db_path);
        check_state(again, expected);
        CHECK(again.begin_read().get("added", id) == test_support::payload(7));
    }
    CHECK_NOTHROW(entidb::verify(db_path));
    CHECK(test_support::snapshot_files(fixtures_dir() / name) == before);
}
