// entidb/salvage.hpp — get back what a damaged database still holds, into a new database.
//
//   const auto report = entidb::salvage("/srv/app/db", "/srv/app/db-salvaged");
//   const auto enc = entidb::salvage("/srv/app/db", "/srv/app/db-salvaged", entidb::passphrase_from(pw));
//   // report.entities, report.files[i].damaged (byte ranges), report.lost_anything() ...
//
// Open refuses a database with a damaged record in a sealed segment (errc::corruption), and
// rightly so: it cannot know what the record held. `salvage(db, out)` is the way out. It
//   1. checks the paths: `db` must hold a database (a MANIFEST, wal.log or SEGMENTS;
//      errc::not_found otherwise), `out` must not exist or be an empty directory
//      (errc::invalid_argument otherwise); then takes `db`'s LOCK if the file is there
//      (errc::locked while the database is open) and creates nothing in `db`; then opens an
//      encrypted database's KEY with the key given (docs/encryption.md): an encrypted `db`
//      without a key, a plain one with a key, or a wrong key → errc::bad_key, and a damaged
//      KEY → errc::corruption (nothing can be read without it), all before anything is written;
//   2. reads the MANIFEST (sealed, in an encrypted database); if it does not decode (or
//      authenticate), the problem is reported and the records
//      are salvaged without it: their collections are named `salvaged-<id>` and no index
//      is declared;
//   3. reads every segment file (seg-NNNNNN.dat and compaction temporaries
//      seg-NNNNNN.dat.compact: every record that verifies is a committed version, so reading
//      files a compaction had not yet deleted or published adds nothing wrong) and then the
//      WAL, record by record, with the same decoders and scanner as open. After a record that
//      does not decode it looks for the next offset where a record decodes with a valid
//      checksum and goes on from there; the bytes between are reported as damaged. A
//      recycled wal.log whose lap reads cleanly is read to the lap's end only: the bytes
//      after it are an earlier lap's (docs/file-format.md), neither damage nor data;
//   4. keeps, per (collection, entity id), the version with the highest commit sequence that
//      verifies (checksum, canonical CBOR; in an encrypted database the payload must also
//      authenticate at its place, and a segment record whose payload does not is reported as
//      a damaged range, like one with a bad checksum); a tombstone hides older versions as in
//      the database. A WAL transaction counts only when its BEGIN, every operation and its
//      COMMIT are there and verify (an encrypted PUT authenticates at its COMMIT's sequence):
//      an aborted, unfinished or damaged transaction is dropped whole (atomicity), as
//      recovery drops an uncommitted one;
//   5. writes the newest live versions into `out` through entidb::open and ordinary write
//      transactions (bounded batches), then re-declares the MANIFEST's secondary indexes
//      (a declaration that fails, e.g. a unique index with two holders of one key, is
//      reported, not fatal). If writing fails, what was written to `out` is removed. The new
//      database of an encrypted `db` is encrypted with `db`'s KEY, copied into `out` first,
//      so it opens with the same key.
// `db` is never written: files are opened read-only, and no LOCK, MANIFEST, WAL or segment
// is created, truncated or replayed. What salvage cannot know: a version lost in damaged
// bytes is gone, and the entity then comes back as its newest older version that survived
// (or, when the lost record was a tombstone, as the version it had deleted). The report
// lists every damaged byte range, so nothing is lost silently.
//
// Errors (thrown; `out` is then left as it was): errc::not_found, errc::invalid_argument,
// errc::locked, errc::bad_key, errc::io_error, errc::no_space, and errc::corruption for a
// damaged KEY only. Other damage is never thrown: it is what the report describes. The keyed
// overload needs libsodium.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "backup.hpp"
#include "cbor/reader.hpp"
#include "database.hpp"
#include "format/record_scanner.hpp"
#include "directory/lock.hpp"
#include "segment/file_factory.hpp"
#include "storage/file_backend.hpp"
#include "verify.hpp"
#include "wal/reader.hpp"

namespace entidb {
inline namespace v1 {

// Bytes [begin, end) of a file that hold no record that verifies.
struct salvage_damage {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;  // the next record that verifies, or the end of the file
    std::string problem;    // what the decoder found at `begin`
};

// A record that verifies but is not used.
struct salvage_skip {
    std::uint64_t offset = 0;
    std::string reason;
};

struct salvage_file {
    std::string name;                     // relative to the database directory: "SEGMENTS/seg-000001.dat", "wal.log"
    std::uint64_t bytes = 0;              // the file's size
    std::uint64_t records_recovered = 0;  // records that verify and were taken into account
    std::vector<salvage_damage> damaged;  // ascending, not overlapping
    std::vector<salvage_skip> skipped;    // ascending by offset within each kind

    [[nodiscard]] std::uint64_t damaged_bytes() const noexcept {
        std::uint64_t n = 0;
        for (const auto& d : damaged) n += d.end - d.begin;
        return n;
    }
};

struct salvage_report {
    std::optional<std::string> manifest_problem;  // set when the MANIFEST is missing or does not decode
    std::vector<salvage_file> files;              // every segment file, then wal.log
    std::uint64_t entities = 0;                   // live entities written to the new database
    std::uint64_t collections = 0;                // collections in the new database
    std::uint64_t indexes = 0;                    // secondary indexes declared in the new database
    std::uint64_t transactions_dropped = 0;       // WAL transactions not applied, other than aborted ones
    std::vector<std::string> index_problems;      // index declarations of the MANIFEST that could not be made

    [[nodiscard]] std::uint64_t damaged_bytes() const noexcept {
        std::uint64_t n = 0;
        for (const auto& f : files) n += f.damaged_bytes();
        return n;
    }
    [[nodiscard]] std::uint64_t damaged_ranges() const noexcept {
        std::uint64_t n = 0;
        for (const auto& f : files) n += f.damaged.size();
        return n;
    }
    [[nodiscard]] std::uint64_t records_skipped() const noexcept {
        std::uint64_t n = 0;
        for (const auto& f : files) n += f.skipped.size();
        return n;
    }
    // True when the new database may lack something the old one held.
    [[nodiscard]] bool lost_anything() const noexcept {
        return manifest_problem || damaged_ranges() != 0 || records_skipped() != 0 || transactions_dropped != 0 ||
               !index_problems.empty();
    }
};

namespace detail {

// Traits: file_storage for a plain database, the encrypted traits (whose environment holds the
// key) for an encrypted one; the new database is opened with the same traits.
template <typename Traits>
class salvager {
public:
    using cipher_type = cipher_of_t<Traits>;

    salvager(std::filesystem::path db, config cfg, typename Traits::environment env)
        : db_(std::move(db)), cfg_(std::move(cfg)), env_(std::move(env)) {}

    salvage_report run(const std::filesystem::path& out) {
        check_source();
        const bool out_existed = check_target(out);
        const auto lock = directory_lock::acquire_existing(db_);  // no writer meanwhile; creates nothing
        open_key();
        read_manifest();
        open_files();
        for (std::uint32_t f = 0; f < files_.size(); ++f) {
            if (f == wal_file_)
                scan_wal();
            else
                scan_segment(f);
        }
        name_unknown_collections();
        try {
            write_out(out);
        } catch (...) {
            remove_output(out, out_existed);
            throw;
        }
        return std::move(report_);
    }

private:
    using key = std::pair<std::uint32_t, entity_id>;
    static constexpr std::uint32_t no_file = ~std::uint32_t{0};
    static constexpr std::array<const char*, 3> database_files{"MANIFEST", "wal.log", "SEGMENTS"};

    // Where the newest version of an entity is: re-read (and verified again) when written out.
    struct version {
        std::uint64_t sequence;
        bool tombstone;
        std::uint32_t file;
        std::uint64_t offset;
        std::uint64_t size;
    };
    struct wal_op {
        key k;
        bool tombstone;
        std::uint64_t offset;
        std::uint64_t size;
    };
    struct pending_txn {
        std::vector<wal_op> ops;
        std::uint64_t records = 1;        // its BEGIN, its operations
        std::optional<std::string> broken;  // why it cannot be applied whole
    };

    // ---- paths ----

    void check_source() const {
        std::error_code ec;
        const bool any = fs::is_directory(db_, ec) &&
                         std::any_of(database_files.begin(), database_files.end(),
                                     [&](const char* name) { return fs::exists(db_ / name, ec); });
        if (!any)
            fail_at(errc::not_found, {.path = db_.string()},
                    "no EntiDB database here (no MANIFEST, wal.log or SEGMENTS)");
    }

    // Returns whether `out` exists (as an empty directory).
    bool check_target(const fs::path& out) const {
        std::error_code ec;
        const auto normal = [](const fs::path& p, std::error_code& err) {
            auto n = fs::weakly_canonical(p, err).lexically_normal();
            return n.has_filename() ? n : n.parent_path();  // "db/" is "db"
        };
        std::error_code db_ec;
        const auto db = normal(db_, db_ec), target = normal(out, ec);
        if (!db_ec && !ec && std::mismatch(db.begin(), db.end(), target.begin(), target.end()).first == db.end())
            fail_at(errc::invalid_argument, {.path = out.string()},
                    "is inside the database directory {}: salvage never writes there", db_.string());
        const auto st = fs::status(out, ec);
        if (!fs::exists(st)) return false;
        if (!fs::is_directory(st) || !fs::is_empty(out, ec) || ec)
            fail_at(errc::invalid_argument, {.path = out.string()},
                    "already exists and is not an empty directory: salvage writes a new database");
        return true;
    }

    static void remove_output(const fs::path& out, bool existed) noexcept {
        std::error_code ec;
        if (!existed) {
            fs::remove_all(out, ec);
            return;
        }
        for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code ignored;
            fs::remove_all(it->path(), ignored);
        }
    }

    // ---- KEY ----

    // The codec records are read through: an encrypted database's KEY opens with the key given
    // (errc::bad_key otherwise, or for a plain database given a key, or an encrypted one given
    // none; a damaged KEY is errc::corruption: without it nothing can be read).
    void open_key() {
        const bool encrypted = has_key_file(db_);
        if constexpr (cipher_type::encrypts) {
            if (!encrypted)
                fail_at(errc::bad_key, {.path = db_.string()},
                        "a key was given but the database is not encrypted (it has no KEY file); salvage it without one");
            key_file_ = read_key_file(db_);
            codec_.emplace(cipher_from_key_file<cipher_type>(key_file_, key_file_path(db_).string(), env_.key));
        } else {
            if (encrypted)
                fail_at(errc::bad_key, {.path = key_file_path(db_).string()},
                        "the database is encrypted: salvage it with its key (a passphrase or a raw key)");
            codec_.emplace();
        }
    }

    // ---- MANIFEST ----

    void read_manifest() {
        const auto path = db_ / "MANIFEST";
        std::error_code ec;
        if (!fs::exists(path, ec)) {
            report_.manifest_problem = "missing";
            return;
        }
        try {
            manifest_ = format::decode_manifest_file(read_file(path), path.string(), codec_->cipher_or_null());
        } catch (const error& e) {
            if (!is_finding(e) && e.value() != errc::bad_key) throw;  // a sealed MANIFEST without a KEY: unreadable
            report_.manifest_problem = e.what();
        }
        if (manifest_)
            for (const auto& c : manifest_->collections) names_[c.id] = c.name;
    }

    // ---- files ----

    // Every segment file (temporaries after the file of the same number), then wal.log.
    void open_files() {
        std::vector<std::pair<std::uint32_t, std::string>> segs;
        std::error_code ec;
        for (fs::directory_iterator it(db_ / "SEGMENTS", ec), end; !ec && it != end; it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (const auto n = parse_segment_file_name(name); n != 0) segs.emplace_back(n, name);
            if (const auto n = parse_temporary_segment_file_name(name); n != 0) segs.emplace_back(n, name);
        }
        std::sort(segs.begin(), segs.end());
        for (const auto& [n, name] : segs) add_file("SEGMENTS/" + name);
        if (fs::exists(db_ / "wal.log", ec)) {
            wal_file_ = static_cast<std::uint32_t>(files_.size());
            add_file("wal.log");
        }
    }

    void add_file(const std::string& name) {
        files_.push_back(file_backend::open(db_ / name, file_mode::read_only));
        report_.files.push_back({.name = name, .bytes = files_.back().size(), .records_recovered = 0, .damaged = {},
                                 .skipped = {}});
    }

    // Walks file `f` record by record; `on` gets each record that decodes. After one that
    // does not, the walk resumes at the next record that decodes and the bytes between are
    // reported as damaged (`on_damage` is told).
    template <typename Format, typename OnRecord, typename OnDamage>
    void walk(std::uint32_t f, std::uint64_t max_record, OnRecord on, OnDamage on_damage,
              std::optional<std::uint64_t> limit = std::nullopt) {
        const auto& backend = files_[f];
        const std::uint64_t end = limit.value_or(backend.size());
        std::uint64_t pos = 0;
        while (pos < end) {
            record_scanner<Format, file_backend> scanner(backend, cfg_.read_chunk_bytes, max_record, pos);
            pos = end;
            while (const auto step = scanner.next()) {
                if (step->offset >= end) break;
                if (step->decoded.status == format::decode_status::ok) {
                    on(*step);
                    continue;
                }
                const auto next =
                    find_next_record<Format>(backend, cfg_.read_chunk_bytes, max_record, step->offset + 1);
                pos = next.value_or(backend.size());
                report_.files[f].damaged.push_back({step->offset, pos, describe_problem(step->decoded)});
                on_damage();
                break;
            }
        }
    }

    void skip(std::uint32_t f, std::uint64_t offset, std::string reason) {
        report_.files[f].skipped.push_back({offset, std::move(reason)});
    }

    // The newest version wins; at one sequence the first offered stays (the same write).
    void offer(const key& k, const version& v) {
        const auto [it, inserted] = newest_.try_emplace(k, v);
        if (!inserted && v.sequence > it->second.sequence) it->second = v;
    }

    [[nodiscard]] static std::optional<std::string> not_canonical(bytes_view payload) {
        try {
            cbor::validate(payload);
            return std::nullopt;
        } catch (const error& e) {
            return fmt::format("payload is not canonical CBOR: {}", e.detail());
        }
    }

    // ---- segments ----

    // A record whose payload the codec refuses (in an encrypted database: one that does not
    // authenticate at its place, or is not sealed) holds nothing that verifies: its bytes are
    // reported as damaged, like a record with a bad checksum.
    void scan_segment(std::uint32_t f) {
        walk<segment_format>(
            f, max_segment_record,
            [&](const scan_step<format::segment_decoded>& s) {
                const auto& r = s.decoded.record;
                if (!r.tombstone()) {
                    try {
                        codec_->open(r, [&] { return where(f, s.offset); }, plain_);
                    } catch (const error& e) {
                        if (e.value() != errc::corruption) throw;
                        report_.files[f].damaged.push_back({s.offset, s.offset + s.decoded.size, e.detail()});
                        return;
                    }
                    if (auto bad = not_canonical(plain_)) return skip(f, s.offset, std::move(*bad));
                }
                ++report_.files[f].records_recovered;
                offer({r.collection_id, r.id}, {r.sequence, r.tombstone(), f, s.offset, s.decoded.size});
            },
            [] {});
    }

    // ---- WAL ----

    // A recycled log's bytes after its lap are earlier laps' (wal/reader.hpp), not damage:
    // when the lap reads cleanly, the walk ends with it; a damaged one is walked whole.
    [[nodiscard]] std::optional<std::uint64_t> recycled_lap_end() const {
        try {
            const auto checkpoint = manifest_ ? manifest_->checkpoint_seq.value_or(0) : 0;
            ::entidb::wal::reader<file_backend> lap(files_[wal_file_], cfg_.read_chunk_bytes, "wal.log", false,
                                                    checkpoint);
            while (lap.next()) {
            }
            if (lap.recycled()) return lap.end();
        } catch (const error&) {
        }
        return std::nullopt;
    }

    void scan_wal() {
        const auto f = wal_file_;
        walk<wal_format>(
            f, max_wal_record,
            [&](const scan_step<format::wal_decoded>& s) {
                std::visit([&](const auto& rec) { on(rec, s.offset, s.decoded.size); }, s.decoded.record);
            },
            [&] {
                for (auto& [txid, t] : open_)
                    if (!t.broken) t.broken = "part of it is in a damaged range";
            },
            recycled_lap_end());
        for (auto& [txid, t] : open_) drop(txid, t, "no COMMIT");
        open_.clear();
    }

    void on(const format::wal_begin& r, std::uint64_t offset, std::uint64_t) {
        if (const auto it = open_.find(r.txid); it != open_.end()) {
            drop(r.txid, it->second, fmt::format("began again at offset {}", offset));
            open_.erase(it);
        }
        open_.emplace(r.txid, pending_txn{});
    }
    // An encrypted PUT is checked at its COMMIT, which gives the sequence it is sealed for.
    void on(const format::wal_put& r, std::uint64_t offset, std::uint64_t size) {
        op(r.txid, {{r.collection_id, r.id}, false, offset, size},
           cipher_type::encrypts ? std::nullopt : not_canonical(r.after));
    }
    void on(const format::wal_delete& r, std::uint64_t offset, std::uint64_t size) {
        op(r.txid, {{r.collection_id, r.id}, true, offset, size}, std::nullopt);
    }
    void on(const format::wal_commit& r, std::uint64_t offset, std::uint64_t) {
        const auto it = open_.find(r.txid);
        if (it == open_.end())
            return skip(wal_file_, offset, fmt::format("COMMIT of transaction {} without BEGIN", r.txid));
        if (!it->second.broken) it->second.broken = unreadable_put(it->second, r.sequence);
        if (it->second.broken) {
            drop(r.txid, it->second, *it->second.broken);
            skip(wal_file_, offset, fmt::format("COMMIT of transaction {}, which is dropped", r.txid));
        } else {
            apply(it->second, r.sequence);
        }
        open_.erase(it);
    }
    void on(const format::wal_abort& r, std::uint64_t, std::uint64_t) {
        if (const auto it = open_.find(r.txid); it != open_.end()) {
            report_.files[wal_file_].records_recovered += it->second.records + 1;  // never committed: nothing lost
            open_.erase(it);
        } else {
            ++report_.files[wal_file_].records_recovered;
        }
    }
    void on(const format::wal_checkpoint&, std::uint64_t, std::uint64_t) {
        ++report_.files[wal_file_].records_recovered;
    }
    void on(const format::wal_recycled&, std::uint64_t, std::uint64_t) {
        ++report_.files[wal_file_].records_recovered;
    }

    // Why a committed transaction's PUTs cannot be read at `seq`, if one cannot: an encrypted
    // one must authenticate at its place and hold canonical CBOR (a plain one was checked as it
    // was read).
    [[nodiscard]] std::optional<std::string> unreadable_put([[maybe_unused]] const pending_txn& t,
                                                            [[maybe_unused]] std::uint64_t seq) {
        if constexpr (cipher_type::encrypts) {
            byte_buffer record;
            for (const auto& o : t.ops) {
                if (o.tombstone) continue;
                try {
                    (void)payload_of({seq, false, wal_file_, o.offset, o.size}, o.k, record);
                } catch (const error& e) {
                    if (e.value() != errc::corruption) throw;
                    return fmt::format("an operation at offset {}: {}", o.offset, e.detail());
                }
                if (auto bad = not_canonical(plain_)) return fmt::format("an operation at offset {}: {}", o.offset, *bad);
            }
        }
        return std::nullopt;
    }

    void op(std::uint64_t txid, const wal_op& o, std::optional<std::string> bad) {
        const auto it = open_.find(txid);
        if (it == open_.end())
            return skip(wal_file_, o.offset, fmt::format("operation of transaction {} without BEGIN", txid));
        auto& t = it->second;
        if (bad && !t.broken) t.broken = fmt::format("an operation at offset {}: {}", o.offset, *bad);
        t.ops.push_back(o);
        ++t.records;
    }

    // Last operation first: within a transaction the last write to an entity is the one that
    // counts, and offer() keeps the first at one sequence.
    void apply(const pending_txn& t, std::uint64_t seq) {
        for (auto it = t.ops.rbegin(); it != t.ops.rend(); ++it)
            offer(it->k, {seq, it->tombstone, wal_file_, it->offset, it->size});
        report_.files[wal_file_].records_recovered += t.records + 1;
    }

    void drop(std::uint64_t txid, const pending_txn& t, const std::string& why) {
        ++report_.transactions_dropped;
        for (const auto& o : t.ops) skip(wal_file_, o.offset, fmt::format("transaction {} is dropped: {}", txid, why));
        report_.files[wal_file_].records_recovered += t.records - t.ops.size();  // its BEGIN
    }

    // ---- the new database ----

    // Collections the records name but no readable MANIFEST lists.
    void name_unknown_collections() {
        std::set<std::string> taken;
        for (const auto& [id, name] : names_) taken.insert(name);
        for (const auto& [k, v] : newest_) {
            if (names_.contains(k.first)) continue;
            std::string name = fmt::format("salvaged-{}", k.first);
            for (int n = 2; taken.contains(name); ++n) name = fmt::format("salvaged-{}-{}", k.first, n);
            taken.insert(name);
            names_[k.first] = name;
        }
    }

    // An encrypted database's salvage is encrypted with its KEY (create_database copies it).
    void write_out(const fs::path& out) {
        config ocfg = cfg_;
        ocfg.create_if_missing = true;
        ocfg.max_entity_bytes = config::payload_limit;  // whatever the old database held fits
        auto db = create_database<Traits>(out, ocfg, std::move(env_), key_file_);
        write_entities(db);
        declare_indexes(db);
        if (manifest_ && manifest_->extension.schema) {  // the entities are at that version
            auto& e = detail::backup_access::engine_of(db);
            std::lock_guard lock(e.writer_mutex());
            e.adopt_schema(manifest_->extension.schema);
        }
        report_.collections = db.begin_read().collections().size();
    }

    // Bounded batches: a transaction holds at most `batch_entities` entities or about
    // `batch_bytes` of payload (at least one entity).
    template <typename Db>
    void write_entities(Db& db) {
        constexpr std::uint64_t batch_entities = 1000, batch_bytes = 8u << 20;
        std::optional<decltype(db.begin_write())> txn;
        std::uint64_t n = 0, bytes = 0;
        byte_buffer record;
        for (const auto& [k, v] : newest_) {
            if (v.tombstone) continue;
            const auto payload = reread(v, k, record);
            if (!txn) txn.emplace(db.begin_write());
            txn->put(names_.at(k.first), k.second, payload);
            ++report_.entities;
            bytes += payload.size();
            if (++n >= batch_entities || bytes >= batch_bytes) {
                txn->commit();
                txn.reset();
                n = bytes = 0;
            }
        }
        if (txn) txn->commit();
    }

    [[nodiscard]] error_context where(std::uint32_t f, std::uint64_t offset) const {
        return {.path = (db_ / report_.files[f].name).string(), .offset = offset};
    }

    // The entity's bytes of a kept version `v` of `k`, read and decoded again (the file is not
    // ours to trust twice) into `record`, and opened through the codec (a view of plain_). A
    // record that no longer decodes → errc::io_error; one that does not open → the codec's
    // errc::corruption.
    bytes_view payload_of(const version& v, const key& k, byte_buffer& record) {
        record.resize(static_cast<std::size_t>(v.size));
        files_[v.file].read_at(v.offset, mutable_bytes(record));
        const auto at = where(v.file, v.offset);
        if (v.file == wal_file_) {
            const auto d = format::decode_wal(record);
            if (d.status == format::decode_status::ok)
                if (const auto* put = std::get_if<format::wal_put>(&d.record)) {
                    codec_->open_put(put->after,
                                     {.collection = k.first, .id = k.second, .sequence = v.sequence, .kind = put_record_kind},
                                     [&] { return at; }, plain_);
                    return plain_;
                }
        } else {
            const auto d = format::decode_segment(record);
            if (d.status == format::decode_status::ok) {
                codec_->open(d.record, [&] { return at; }, plain_);
                return plain_;
            }
        }
        fail_at(errc::io_error, at, "the record changed while it was salvaged");
    }

    // payload_of for a version that verified when it was scanned: failing now, it changed since.
    bytes_view reread(const version& v, const key& k, byte_buffer& record) {
        try {
            return payload_of(v, k, record);
        } catch (const error& e) {
            if (e.value() != errc::corruption) throw;
            fail_at(errc::io_error, where(v.file, v.offset), "the record changed while it was salvaged ({})", e.detail());
        }
    }

    template <typename Db>
    void declare_indexes(Db& db) {
        if (!manifest_) return;
        for (const auto& ix : manifest_->indexes) {
            const auto what = fmt::format("index {} on '{}'", ix.id, join_path(ix.path));
            const auto name = names_.find(ix.collection_id);
            if (name == names_.end() || !listed(ix.collection_id)) {
                report_.index_problems.push_back(
                    fmt::format("{}: its collection id {} is not in the MANIFEST", what, ix.collection_id));
                continue;
            }
            try {
                if (ix.kind == index_kind::text)
                    db.declare_index(name->second, join_path(ix.path), detail::decode_text_options(ix));
                else
                    db.declare_index(name->second, join_path(ix.path), ix.kind, ix.unique);
                ++report_.indexes;
            } catch (const error& e) {
                if (e.value() == errc::io_error || e.value() == errc::no_space) throw;
                report_.index_problems.push_back(
                    fmt::format("{} of collection '{}': {}", what, name->second, e.detail()));
            }
        }
    }

    [[nodiscard]] bool listed(std::uint32_t collection) const {
        return std::any_of(manifest_->collections.begin(), manifest_->collections.end(),
                           [&](const auto& c) { return c.id == collection; });
    }

    fs::path db_;
    config cfg_;
    typename Traits::environment env_;             // the key, for an encrypted database
    byte_buffer key_file_;                         // an encrypted database's KEY, for the new one
    std::optional<payload_codec<cipher_type>> codec_;  // how records are read, once KEY is open
    byte_buffer plain_;                            // the payload of the record read last
    salvage_report report_;
    std::optional<format::manifest> manifest_;
    std::map<std::uint32_t, std::string> names_;  // collection id → name in the new database
    std::vector<file_backend> files_;             // parallel to report_.files
    std::uint32_t wal_file_ = no_file;
    std::map<key, version> newest_;
    std::map<std::uint64_t, pending_txn> open_;  // WAL transactions begun, not yet ended
};

}  // namespace detail

// Salvages `db` into the new database `out` (see the header comment; an encrypted `db`:
// errc::bad_key, nothing written).
inline salvage_report salvage(const std::filesystem::path& db, const std::filesystem::path& out, config cfg = {}) {
    cfg.validate();
    return detail::salvager<file_storage>(db, std::move(cfg), {}).run(out);
}

#if ENTIDB_HAVE_SODIUM

// Salvages the encrypted database `db` with its key into the new database `out`, which is
// encrypted with the same KEY (it opens with the same key as `db`).
inline salvage_report salvage(const std::filesystem::path& db, const std::filesystem::path& out, const key_source& key,
                              config cfg = {}) {
    cfg.validate();
    return detail::salvager<encrypted_file_storage>(db, std::move(cfg), {.key = detail::copy_key(key), .kdf = {}})
        .run(out);
}

#else  // no libsodium: the keyed overload stops the build where it is called

template <typename Unused = void>
salvage_report salvage(const std::filesystem::path&, const std::filesystem::path&, const key_source&, config = {}) {
    static_assert(detail::sodium_required<Unused>,
                  "entidb: salvaging an encrypted database needs libsodium: install Debian's libsodium-dev "
                  "(scripts/setup.sh does) and build with it");
    return {};
}

#endif

}  // namespace v1
}  // namespace entidb
