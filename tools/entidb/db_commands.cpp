// The database commands of the entidb tool: put, get, delete, scan, count, collections,
// load, checkpoint, verify, inspect (compact, backup, restore: ops_commands.cpp). Every one opens the directory through entidb::open
// (or entidb::verify), the library's one open path.
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <entidb/cbor.hpp>
#include <entidb/database.hpp>
#include <entidb/directory/key_file.hpp>
#include <entidb/index_kind.hpp>
#include <entidb/verify.hpp>

#include "command_line.hpp"

namespace entidb_tool {

namespace {

int cmd_put(args a) {
    const auto cl = parse(a, 4);
    const auto id = cl.positional[2] == "new" ? entidb::entity_id::generate() : parse_id(cl.positional[2]);
    entidb::check_collection_name(cl.positional[1]);  // bad input: nothing opened, nothing created
    const auto bytes = entidb::cbor::from_json(cl.positional[3]);
    if (bytes.size() > cl.cfg.max_entity_bytes)
        entidb::fail(entidb::errc::too_large, "entity of {} bytes exceeds max_entity_bytes ({})", bytes.size(),
                     cl.cfg.max_entity_bytes);
    return with_db(cl, open_mode::create, [&](auto& db) -> int {
        db.transaction([&](auto& txn) { txn.put(cl.positional[1], id, bytes); });
        fmt::print("{}\n", id.to_hex());
        return exit_ok;
    });
}

int cmd_get(args a) {
    const auto cl = parse(a, 3);
    const auto id = parse_id(cl.positional[2]);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        const auto bytes = db.begin_read().get(cl.positional[1], id);
        if (!bytes) return not_found(fmt::format("entity {} in collection '{}'", id.to_hex(), cl.positional[1]));
        fmt::print("{}\n", entidb::cbor::to_json(*bytes));
        return exit_ok;
    });
}

int cmd_delete(args a) {
    const auto cl = parse(a, 3);
    const auto id = parse_id(cl.positional[2]);
    return with_db(cl, open_mode::read_write, [&](auto& db) -> int {
        auto txn = db.begin_write();
        if (!txn.remove(cl.positional[1], id))
            return not_found(fmt::format("entity {} in collection '{}'", id.to_hex(), cl.positional[1]));
        txn.commit();
        return exit_ok;
    });
}

int cmd_scan(args a) {
    const auto cl = parse(a, 2, {"--limit"});
    const auto limit = cl.number("--limit");
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        std::uint64_t n = 0;
        for (const auto& e : db.begin_read().scan(cl.positional[1])) {
            if (limit && n++ >= *limit) break;
            fmt::print("{}\t{}\n", e.id.to_hex(), entidb::cbor::to_json(e.bytes));
        }
        return exit_ok;
    });
}

int cmd_count(args a) {
    const auto cl = parse(a, 2);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        fmt::print("{}\n", db.begin_read().count(cl.positional[1]));
        return exit_ok;
    });
}

int cmd_collections(args a) {
    const auto cl = parse(a, 1);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        for (const auto& name : db.begin_read().collections()) fmt::print("{}\n", name);
        return exit_ok;
    });
}

// {"i": i, "pad": "xxx…", "t": t} sized to about `size` bytes of CBOR.
entidb::byte_buffer load_payload(std::uint64_t t, std::uint64_t i, std::uint64_t size) {
    constexpr std::uint64_t fixed = 32;  // map head, keys, integers, text head: roughly
    entidb::byte_buffer out;
    entidb::cbor::encoder enc(out);
    enc.begin_map(3).text("t").uint(t).text("i").uint(i).text("pad").text(
        std::string(size > fixed ? size - fixed : 0, 'x'));
    enc.end_map();
    return out;
}

int cmd_load(args a) {
    const auto cl = parse(a, 2, {"--txns", "--per-txn", "--size"});
    const auto txns = cl.number("--txns"), per_txn = cl.number("--per-txn");
    if (!txns || !per_txn) throw usage_error{"load needs --txns N and --per-txn K"};
    require_positive("--txns", *txns);
    require_positive("--per-txn", *per_txn);
    const auto size = cl.number("--size").value_or(100);
    entidb::check_collection_name(cl.positional[1]);  // bad input: nothing opened, nothing created
    if (size > cl.cfg.max_entity_bytes)  // before the sample below allocates `size` bytes
        entidb::fail(entidb::errc::too_large, "--size {} exceeds max_entity_bytes ({})", size, cl.cfg.max_entity_bytes);
    const auto sample = load_payload(*txns, *per_txn, size).size();
    if (sample > cl.cfg.max_entity_bytes)
        entidb::fail(entidb::errc::too_large, "entity of {} bytes exceeds max_entity_bytes ({})", sample,
                     cl.cfg.max_entity_bytes);
    // A transaction commits as one WAL record with a u32 length: refuse one that cannot fit
    // before building it in memory (the commit would refuse it only after that).
    if (*per_txn > std::numeric_limits<std::uint32_t>::max() / sample)
        entidb::fail(entidb::errc::too_large, "--per-txn {} entities of {} bytes do not fit one commit record",
                     *per_txn, sample);
    return with_db(cl, open_mode::create, [&](auto& db) -> int {
        for (std::uint64_t t = 1; t <= *txns; ++t) {
            const auto seq = db.transaction([&](auto& txn) {
                for (std::uint64_t i = 1; i <= *per_txn; ++i)
                    txn.put(cl.positional[1], entidb::entity_id::generate(), load_payload(t, i, size));
            });
            fmt::print("committed {} {}\n", t, seq);
            std::fflush(stdout);  // a crash test reads this line as "acknowledged"
        }
        return exit_ok;
    });
}

int cmd_checkpoint(args a) {
    const auto cl = parse(a, 1);
    return with_db(cl, open_mode::read_write, [&](auto& db) -> int {
        db.checkpoint();
        fmt::print("ok\n");
        return exit_ok;
    });
}

int cmd_verify(args a) {
    const auto cl = parse(a, 1);
    const auto r = with_key(cl, [&](const auto&... key) {
        return entidb::verify_report(fs::path(std::string(cl.positional[0])), key..., cl.cfg);
    });
    if (!r.ok()) {  // every problem found on stdout, the first as the error
        for (const auto& p : r.problems) fmt::print("{}\n", p.message);
        if (r.more_problems) fmt::print("(more problems not listed)\n");
        const auto& first = r.problems.front();
        throw entidb::error(first.code, first.detail, {.path = first.path, .offset = first.offset});
    }
    fmt::print("ok\n");
    if (r.wal_torn_at) fmt::print("note: wal.log has a torn tail at offset {} (the next read-write open truncates it)\n", *r.wal_torn_at);
    if (r.segment_torn_at)
        fmt::print("note: the active segment has a torn tail at offset {} (rebuilt from the WAL on open)\n",
                   *r.segment_torn_at);
    if (const auto& c = r.pending_compaction)
        fmt::print("note: a compaction was interrupted; the next read-write open finishes it ({} segments published, {} removed)\n",
                   c->publish.size(), c->remove.size());
    if (!r.stray_temporaries.empty())
        fmt::print("note: {} unfinished compaction files (seg-NNNNNN.dat.compact); the next read-write open deletes them\n",
                   r.stray_temporaries.size());
    return exit_ok;
}

struct inspection {
    entidb::database_description layout;
    std::uint64_t wal_bytes = 0;
    std::vector<std::uint64_t> entities;  // of each collection of `layout`, in its order
    std::optional<entidb::key_file_info> encryption;  // what the KEY file says: no key material in it
};

template <typename Database>
inspection inspect(const fs::path& dir, const Database& db) {
    inspection out{.layout = db.describe(),
                   .wal_bytes = fs::file_size(dir / "wal.log"),
                   .entities = {},
                   .encryption = entidb::has_key_file(dir) ? std::optional(entidb::describe_key_file(dir))
                                                           : std::nullopt};
    const auto r = db.begin_read();
    for (const auto& c : out.layout.collections) out.entities.push_back(r.count(c.name));
    return out;
}

std::string json_string(std::string_view s) {
    entidb::byte_buffer b;
    entidb::cbor::encoder(b).text(s);
    return entidb::cbor::to_json(b);
}

// "passphrase (argon2id, 3 passes, 256 MiB)" or "raw 32-byte key": how the data key is wrapped.
std::string key_kind(const entidb::key_file_info& k) {
    if (k.kek == "raw") return "raw 32-byte key";
    return fmt::format("passphrase ({}, opslimit {}, memlimit {} MiB)", k.kek, k.kdf.opslimit, k.kdf.memlimit >> 20);
}

std::string encryption_json(const std::optional<entidb::key_file_info>& e) {
    if (!e) return R"("encrypted":false,"cipher":null,"key":null)";
    return fmt::format(R"("encrypted":true,"cipher":"{}","key":{{"kind":"{}","kdf_ops":{},"kdf_memory_bytes":{}}})",
                       e->cipher, e->kek == "raw" ? "raw" : "passphrase", e->kdf.opslimit, e->kdf.memlimit);
}

int cmd_inspect(args a) {
    const auto cl = parse(a, 1, {}, {"--json"});
    const fs::path dir(std::string(cl.positional[0]));
    // Without a key, an encrypted database still shows what its KEY file says (no key material
    // is in it); the rest is sealed, so the open below then refuses with bad_key (exit 6).
    if (!cl.key && entidb::has_key_file(dir)) {
        const auto e = std::optional(entidb::describe_key_file(dir));
        if (cl.flag("--json"))
            fmt::print("{{{}}}\n", encryption_json(e));
        else
            fmt::print("encrypted: yes\ncipher: {}\nkey: {}\n", e->cipher, key_kind(*e));
        std::fflush(stdout);
    }
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        const auto in = inspect(dir, db);
        const auto& d = in.layout;
        const auto fmt_version = fmt::format("{}.{}", d.format_major, d.format_minor);
        const auto checkpoint = [&](std::string_view none) {
            return d.last_checkpoint ? std::to_string(*d.last_checkpoint) : std::string(none);
        };
        std::uint64_t segment_bytes = 0;
        for (const auto& seg : d.segments) segment_bytes += seg.bytes;
        if (cl.flag("--json")) {
            std::string out = fmt::format(R"({{"format":"{}",{},"last_sequence":{},"last_checkpoint":{},"wal_bytes":{},)",
                                          fmt_version, encryption_json(in.encryption), d.last_sequence,
                                          checkpoint("null"), in.wal_bytes);
            out += R"("collections":[)";
            for (std::size_t i = 0; i < d.collections.size(); ++i)
                out += fmt::format(R"({}{{"name":{},"id":{},"entities":{}}})", i ? "," : "",
                                   json_string(d.collections[i].name), d.collections[i].id, in.entities[i]);
            out += R"(],"segments":[)";
            for (std::size_t i = 0; i < d.segments.size(); ++i)
                out += fmt::format(R"({}{{"file":"{}","bytes":{}}})", i ? "," : "", d.segments[i].file,
                                   d.segments[i].bytes);
            out += fmt::format(R"(],"segment_bytes":{},"history_horizon":{},"indexes":[)", segment_bytes, d.history_horizon);
            for (std::size_t i = 0; i < d.indexes.size(); ++i) {
                const auto& ix = d.indexes[i];
                out += fmt::format(R"({}{{"id":{},"collection_id":{},"path":{},"kind":"{}","unique":{}}})", i ? "," : "",
                                   ix.id, ix.collection_id, json_string(ix.path), entidb::to_string(ix.kind),
                                   ix.unique ? "true" : "false");
            }
            fmt::print("{}]}}\n", out);
            return exit_ok;
        }
        fmt::print("format: {}\n", fmt_version);
        if (const auto& e = in.encryption)
            fmt::print("encrypted: yes\ncipher: {}\nkey: {}\n", e->cipher, key_kind(*e));
        else
            fmt::print("encrypted: no\n");
        fmt::print("last sequence: {}\nlast checkpoint: {}\nwal.log: {} bytes\ncollections: {}\n", d.last_sequence,
                   checkpoint("none"), in.wal_bytes, d.collections.size());
        for (std::size_t i = 0; i < d.collections.size(); ++i)
            fmt::print("  {} (id {}): {} entities\n", d.collections[i].name, d.collections[i].id, in.entities[i]);
        for (const auto& ix : d.indexes)
            fmt::print("  index {}: collection id {}, {} on '{}'{}\n", ix.id, ix.collection_id, entidb::to_string(ix.kind),
                       ix.path, ix.unique ? ", unique" : "");
        fmt::print("segments: {} ({} bytes)\n", d.segments.size(), segment_bytes);
        for (const auto& seg : d.segments) fmt::print("  {}: {} bytes\n", seg.file, seg.bytes);
        fmt::print("history horizon: {}\n", d.history_horizon);
        return exit_ok;
    });
}

}  // namespace

void add_db_commands(std::vector<command>& out) {
    out.push_back({"put", "put DB COLLECTION ID|new JSON", cmd_put});
    out.push_back({"get", "get DB COLLECTION ID", cmd_get});
    out.push_back({"delete", "delete DB COLLECTION ID", cmd_delete});
    out.push_back({"scan", "scan DB COLLECTION [--limit N]", cmd_scan});
    out.push_back({"count", "count DB COLLECTION", cmd_count});
    out.push_back({"collections", "collections DB", cmd_collections});
    out.push_back({"load", "load DB COLLECTION --txns N --per-txn K [--size BYTES]", cmd_load});
    out.push_back({"checkpoint", "checkpoint DB", cmd_checkpoint});
    out.push_back({"verify", "verify DB", cmd_verify});
    out.push_back({"inspect", "inspect DB [--json]", cmd_inspect});
}

}  // namespace entidb_tool
