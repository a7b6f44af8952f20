// entidb/core/engine.hpp — the state one open database shares with its transactions.
//
// The engine owns the WAL writer (wal/writer.hpp), the segment set, the primary index and
// the catalog, and implements the commit pipeline (SPEC.md §5), in commit():
//   prepare (checks, encode) → wal_.append_commit (BEGIN, PUT/DELETE..., COMMIT) →
//   wal_.wait_durable (one flush) → apply (segment records through the one record_batch,
//   index update; apply_durable) → publish the sequence.
// Group commit: the writer lock covers only the preparation and the WAL append. The
// committer then releases it and waits until a flush covers its bytes (wal::writer: one
// committer at a time leads a flush that covers everything appended so far, the others
// wait for it, so transactions prepared during one flush share the next). The leader
// applies every commit its flush covered (flow_, commit_flow.hpp), and durable commits are
// applied and published strictly in sequence order. Until then a commit is "in flight":
// the next writer sees it (its reads and unique checks go through flow_), readers do not —
// a commit is visible, like it is acknowledged, only once durable. Once the flush has
// returned, the commit *is* durable: a later failure never reports the commit as failed;
// the engine refuses further writes (errc::needs_reopen, poison_, poison.hpp) and recovery
// on reopen completes the apply. A failed flush reports errc::outcome_unknown and also
// refuses further writes (the WAL writer's fault handler poisons the engine). So
// everything that can refuse a commit is checked before its WAL append: unique keys,
// sizes, and the room left in the one segment of a factory that cannot rotate
// (segment_room_for). Recovery (open) lives in recovery.hpp and reads the WAL with
// wal/reader.hpp; checkpoints are here. The persisted history (changes_since) is read
// through history.hpp and segment_cursor.hpp; scans in storage order and compactions meet
// at storage_scans_ (scan_gate.hpp).
//
// Thread-safety: reads (get, read_published, view, changes_since) from any thread; commit
// and checkpoint only while holding the writer lock (`writer_mutex()`), which write
// transactions take at begin and commit hands back once its WAL append is done.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <shared_mutex>
#include <vector>

#include "../config.hpp"
#include "../directory/lock.hpp"
#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../format/manifest_file.hpp"
#include "../format/segment_record.hpp"
#include "../index/primary_index.hpp"
#include "../index_kind.hpp"
#include "../segment/record_batch.hpp"
#include "../segment/segment_set.hpp"
#include "../statistics.hpp"
#include "../storage/filesystem.hpp"
#include "../wal/writer.hpp"
#include "../change_feed.hpp"
#include "catalog.hpp"
#include "../detail/shared_gate.hpp"
#include "../detail/snapshot_registry.hpp"
#include "commit_flow.hpp"
#include "history.hpp"
#include "index_file.hpp"
#include "payload_codec.hpp"
#include "poison.hpp"
#include "scan_gate.hpp"
#include "segment_cursor.hpp"
#include "write_set.hpp"

namespace entidb {
inline namespace v1 {

namespace detail {

// A snapshot sequence above every commit: "the newest state" (writer and open only).
inline constexpr std::uint64_t latest_snapshot = std::numeric_limits<std::uint64_t>::max() - 1;

template <typename Traits>
class engine {
public:
    using wal_backend = typename Traits::wal_backend;
    using factory_type = typename Traits::segment_factory;
    using codec_type = payload_codec<cipher_of_t<Traits>>;
    static constexpr bool encrypts = codec_type::encrypts;

    // `codec`: how payloads are stored (an encrypted database's cipher; payload_codec.hpp).
    engine(config cfg, std::unique_ptr<wal_backend> wal, factory_type factory, format::manifest manifest,
           std::optional<std::filesystem::path> dir, std::optional<directory_lock> lock, codec_type codec = {})
        : codec_(std::move(codec)),
          cfg_(cfg),
          dir_(std::move(dir)),
          lock_(std::move(lock)),
          wal_(std::move(wal), wal_path(), cfg.wal, cfg.max_wal_size, [this](std::string_view why) { poison(why); }),
          segments_(std::move(factory), cfg.max_segment_size),
          manifest_(std::move(manifest)),
          catalog_(std::make_shared<const catalog>(manifest_, index_set{})) {}

    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // A clean close leaves the primary index on disk for the next open (core/index_file.hpp).
    ~engine() {
        if (opened_) maybe_write_index_file(true, false);
    }

    // ---- reads (any thread) ----

    [[nodiscard]] std::uint64_t last_sequence() const noexcept { return last_seq_.load(std::memory_order_acquire); }
    [[nodiscard]] const config& cfg() const noexcept { return cfg_; }
    [[nodiscard]] std::shared_ptr<const catalog> catalog_snapshot() const {
        std::shared_lock lock(catalog_gate_);
        return catalog_;
    }
    // The id of a collection, without copying the catalog (point reads).
    [[nodiscard]] std::optional<std::uint32_t> collection_id(std::string_view name) const {
        std::shared_lock lock(catalog_gate_);
        return catalog_->find(name);
    }
    [[nodiscard]] const primary_index& index() const noexcept { return index_; }
    [[nodiscard]] snapshot_registry& snapshots() noexcept { return snapshots_; }
    [[nodiscard]] const std::atomic<std::uint64_t>& published_sequence() const noexcept { return last_seq_; }

    // The payload of the version visible at `snapshot`, read from its segment.
    [[nodiscard]] std::optional<byte_buffer> get(std::uint32_t collection, const entity_id& id,
                                                 std::uint64_t snapshot) const {
        const auto v = index_.find(collection, id, snapshot);
        if (!v || v->tombstone) return std::nullopt;
        return read_payload(collection, id, *v);
    }

    // Reads and checks the record at `v`, returning its payload.
    [[nodiscard]] byte_buffer read_payload(std::uint32_t collection, const entity_id& id,
                                           const entity_version& v) const {
        byte_buffer out;
        read_payload_into(collection, id, v, out);
        return out;
    }

    // The same into `out`, whose capacity is reused (scans: no allocation per entity).
    void read_payload_into(std::uint32_t collection, const entity_id& id, const entity_version& v,
                           byte_buffer& out) const {
        if constexpr (segment_set<factory_type>::viewable) {
            deliver(v, checked_record(collection, id, v, segments_.view(v.location)), out);
        } else if constexpr (encrypts) {
            thread_local byte_buffer record;  // the sealed record; `out` gets the plaintext
            segments_.read(v.location, record);
            deliver(v, checked_record(collection, id, v, record), out);
        } else {
            segments_.read(v.location, out);
            const auto payload = checked_record(collection, id, v, out).payload;
            const auto at = static_cast<std::size_t>(payload.data() - out.data());
            const auto size = payload.size();
            std::memmove(out.data(), out.data() + at, size);
            out.resize(size);
        }
    }

    // Scans: the records of a batch of versions as views, under one segment-table lock
    // (valid while the snapshot the batch was read at is open).
    void record_views(const std::vector<std::pair<entity_id, entity_version>>& batch,
                      std::vector<bytes_view>& out) const
        requires segment_set<factory_type>::viewable
    {
        out.clear();
        segments_.view_each(batch.size(), [&](std::size_t i) { return batch[i].second.location; }, out);
    }
    // The payload of `record`, a view record_views() gave for `v`, into `out` (an empty
    // view, which could not be had, is read the ordinary way to raise its error).
    void read_payload_into(std::uint32_t collection, const entity_id& id, const entity_version& v,
                           bytes_view record, byte_buffer& out) const {
        if (record.empty()) return read_payload_into(collection, id, v, out);
        deliver(v, checked_record(collection, id, v, record), out);
    }

    // A point read of the last published state without registering a snapshot: the
    // payload into `out` (capacity reused), false if the entity does not exist. Pruning
    // only drops a key's oldest versions, so a version missing at a sequence the writer
    // has since moved past means "look again at the newer sequence"; segments a
    // compaction retires are not destroyed while a point read is running.
    bool read_published(std::uint32_t collection, const entity_id& id, byte_buffer& out) const {
        const std::shared_lock pin(point_reads_);
        for (;;) {
            const auto seq = last_sequence();
            const auto v = index_.find(collection, id, seq);
            if (!v && last_sequence() != seq) continue;
            if (!v || v->tombstone) return false;
            read_payload_into(collection, id, *v, out);
            return true;
        }
    }

    // The payload of the version visible at `snapshot` as a view into the mapped segment
    // (checked like every read), valid while a snapshot at or below `snapshot` is open.
    // Not for an encrypted database: the mapped bytes are ciphertext.
    [[nodiscard]] std::optional<bytes_view> view(std::uint32_t collection, const entity_id& id,
                                                 std::uint64_t snapshot) const
        requires(segment_set<factory_type>::viewable && !encrypts)
    {
        const auto v = index_.find(collection, id, snapshot);
        if (!v || v->tombstone) return std::nullopt;
        return checked_record(collection, id, *v, segments_.view(v->location)).payload;
    }

    // How payloads are stored (the cipher of an encrypted database).
    [[nodiscard]] const codec_type& codec() const noexcept { return codec_; }

    void count_scan() noexcept { full_scans_.fetch_add(1, std::memory_order_relaxed); }
    void count_index_lookup() noexcept { index_lookups_.fetch_add(1, std::memory_order_relaxed); }

    [[nodiscard]] statistics stats() const {
        return {.last_sequence = last_sequence(),
                .index_lookups = index_lookups_.load(std::memory_order_relaxed),
                .commits = commits_.load(std::memory_order_relaxed),
                .wal_flushes = wal_.flushes(),
                .checkpoints = checkpoints_.load(std::memory_order_relaxed),
                .full_scans = full_scans_.load(std::memory_order_relaxed),
                .wal_bytes = wal_.backend().size(),
                .segment_count = segments_.table().size(),
                .retired_segments = segments_.retired_count(),
                .change_callback_failures = feed_.callback_failures()};
    }

    // ---- the writer (holding writer_mutex()) ----

    [[nodiscard]] std::mutex& writer_mutex() noexcept { return writer_mutex_; }

    // Throws unless writes are accepted.
    void ensure_writable() const {
        if (cfg_.read_only) fail(errc::read_only, "the database was opened read-only");
        poison_.ensure_healthy();
    }

    // The id the next new collection gets (the writer assigns ids inside a transaction).
    [[nodiscard]] std::uint32_t next_collection_id() const noexcept { return manifest_.next_collection_id; }

    // Commits `w` and returns its sequence. `writer` is the caller's hold on the writer
    // lock; it is released once the WAL append is done (group commit), or left held when
    // the commit fails before that. Throws only while the outcome is "not committed" (or
    // errc::outcome_unknown when the flush itself failed).
    std::uint64_t commit(pending_write& w, std::unique_lock<std::mutex>& writer) {
        ensure_writable();
        if (w.ops.empty()) return last_sequence();
        if (!w.ops.sealed()) fail(errc::invalid_argument, "a write set is committed only once sealed (in key order)");
        housekeeping();
        const std::uint64_t seq = appended_seq_ + 1;
        const std::uint64_t txid = next_txid_;
        check_unique(w);                                   // unique_violation: nothing written
        const bytes_view batch = encode_commit(w, txid, seq);  // throws too_large before any write
        const std::uint64_t segment_bytes = segment_room_for(w);  // rotation_unsupported before any write
        if (!w.new_collections.empty()) add_collections(w.new_collections);
        {
            // Listed before its bytes are in the log, so that a flush leader covering them
            // finds it; the next writer sees it from now on (removed again if the append fails).
            const commit_flow::entry entry(flow_, seq, w, wal_.appended_end() + batch.size());
            const std::uint64_t wal_end = wal_.append_commit(batch);  // undone if it fails
            segment_claimed_ += segment_bytes;
            ++next_txid_;
            appended_seq_ = seq;
            writer.unlock();  // the next transaction prepares while this one waits for its flush
            wait_applied(wal_end);
        }
        commits_.fetch_add(1, std::memory_order_relaxed);
        if (std::unique_lock again(writer_mutex_, std::try_to_lock); again && !flow_.any_in_flight()) housekeeping();
        return seq;
    }

    // Waits until every commit whose WAL append is done has been applied (holding the
    // writer lock, so no new one starts): checkpoints, compaction and index builds need
    // the segments and indexes to hold everything the WAL holds.
    void quiesce() { flow_.quiesce(); }

    // The newest state as the writer sees it: in-flight commits first, then the index
    // (checked in this order: a commit counts as applied only once the index holds it).
    [[nodiscard]] std::optional<byte_buffer> get_newest(std::uint32_t collection, const entity_id& id) const {
        if (auto op = flow_.in_flight_op({collection, id})) {
            if (op->tombstone) return std::nullopt;
            return std::move(op->payload);
        }
        return get(collection, id, latest_snapshot);
    }
    [[nodiscard]] bool exists_newest(std::uint32_t collection, const entity_id& id) const {
        if (const auto op = flow_.in_flight_op({collection, id})) return !op->tombstone;
        const auto v = index_.find(collection, id, latest_snapshot);
        return v && !v->tombstone;
    }

    // Destroys segments a compaction retired once no snapshot that may hold a location in
    // them is open (segment_set::reclaim). The writer calls it after commits and
    // compactions; until then their files (already unlinked) keep their disk space.
    void reclaim_retired() noexcept {
        if (keep_retired_.load(std::memory_order_acquire)) return;
        try {
            segments_.reclaim([&](std::uint64_t mark) {
                // seq_cst pairs with the pin's increment: a point read that began after this
                // load finds the index already pointing into the new segments.
                return point_reads_.idle() && !snapshots_.any_before(mark);
            });
        } catch (...) {
        }
    }
    // After a compaction that could not relocate every index entry: retired segments are
    // kept until close, since the index may still point into them.
    void keep_retired_until_close() noexcept { keep_retired_.store(true, std::memory_order_release); }

    // changes_since(after) needs after >= this: records at or below it may be gone
    // (compacted away, or never present in a restored database). Kept in the COMPACTION file.
    [[nodiscard]] std::uint64_t history_horizon() const noexcept {
        return history_.horizon();
    }
    void set_history_horizon(std::uint64_t h) noexcept { history_.set_horizon(h); }

    // SPEC.md §5 order: flush segments → seal the active segment → CHECKPOINT record →
    // MANIFEST with the checkpoint sequence → only then truncate the WAL.
    // `requested`: the application asked for it (database::checkpoint), which also writes the
    // index file once the changes since the last reach 1/64 of its entries, as a close does;
    // the automatic checkpoints write it less often (index_file_policy).
    void checkpoint(bool requested = false) {
        ensure_writable();
        quiesce();
        guard_durability([&] {
            const std::uint64_t seq = last_sequence();
            segments_.flush();
            // A fresh active segment keeps the rule that the active segment only holds
            // WAL-covered records, so a torn tail there is never a checkpointed record.
            if constexpr (factory_type::rotates)
                if (segments_.active().backend->size() > 0) segments_.rotate();
            wal_.append_checkpoint(seq);
            manifest_.checkpoint_seq = seq;
            save_manifest();
            wal_.clear();
            next_txid_ = 1;  // txids only need to be unique within one WAL
        });
        checkpoints_.fetch_add(1, std::memory_order_relaxed);
        maybe_write_index_file(requested);
    }

    // ---- the persisted primary index (core/index_file.hpp) ----

    // Open finished (recovery and the secondary indexes): from now on the index may be written.
    void mark_opened() noexcept { opened_ = true; }
    // What open found: a file it used (with its entries), or none it could use.
    void index_file_loaded(std::uint64_t entries) noexcept {
        index_file_ = {.stale = false, .entries = entries, .failures = index_file_.failures};
    }
    // The segments changed under the file (a compaction): it cannot serve the next open.
    void index_file_stale() noexcept { index_file_.stale = true; }
    // A block of the mapped index file failed its check when a lookup first read it
    // (index/primary_index_file.hpp): the file goes, so that the next open rebuilds the index
    // from the segments, and until then the engine refuses writes (a commit being applied
    // may have stopped halfway). The reads that need the damaged block fail with it.
    void index_file_damaged(const error& x) noexcept {
        if (index_file_damaged_.exchange(true)) return;
        if (dir_) {
            std::error_code ignored;
            std::filesystem::remove(*dir_ / primary_index_file_name, ignored);
        }
        poison(fmt::format("{}; the index file was removed: reopen to rebuild the index from the segments", x.what()));
    }
    [[nodiscard]] bool index_file_was_damaged() const noexcept { return index_file_damaged_.load(); }
    [[nodiscard]] std::uint64_t index_file_failures() const noexcept { return index_file_.failures; }

    // Writes the index file if it is due, holding the writer lock with every commit applied
    // (a checkpoint, or the close). Never fails: the file only saves work at open.
    // `eager`: at a close or a requested checkpoint (index_file_policy::due).
    void maybe_write_index_file(bool eager, bool checkpointed = true) noexcept {
        if constexpr (segment_file_protocol<factory_type>) {
            try {
                if (!dir_ || cfg_.read_only || poison_.poisoned() || keep_retired_.load(std::memory_order_acquire))
                    return;
                if (index_.version_count() < cfg_.index_file_min_entries) {
                    // Small: the next open streams the segments. A stale file would only
                    // cost that open a check, so it goes.
                    std::error_code ignored;
                    if (index_file_.stale) std::filesystem::remove(*dir_ / primary_index_file_name, ignored);
                    return;
                }
                if (!index_file_.due(eager, index_.applied_since_image())) return;
                // The bytes the file covers must be durable before it names them (a checkpoint
                // has just flushed them).
                if (!checkpointed) segments_.flush();
                write_primary_index_file(*dir_ / primary_index_file_name, index_, last_sequence(),
                                         segment_coverages(segments_.table()));
                index_.mark_imaged();
                index_file_loaded(index_.version_count());
            } catch (...) {
                ++index_file_.failures;
            }
        }
    }

    // Declares a secondary index on `collection` (created if needed) and builds it by
    // streaming the collection's entities. An identical declaration returns the existing
    // index; the same path with another kind, uniqueness or options is errc::invalid_argument.
    // A unique index over data that already repeats a key is errc::unique_violation.
    // `options`: the kind's own (manifest_index::options; text_index.hpp). Holding the writer lock.
    std::shared_ptr<secondary_index> declare_index(std::string_view collection, std::vector<std::string> path,
                                                   index_kind kind, bool unique, byte_buffer options = {}) {
        ensure_writable();
        quiesce();
        if (path.empty() || std::any_of(path.begin(), path.end(), [](const auto& p) { return p.empty(); }))
            fail(errc::invalid_argument, "an index needs a field path of non-empty names");
        auto cat = catalog_snapshot();
        auto coll = cat->find(collection);
        if (coll)
            if (auto existing = cat->index_on(*coll, path)) {
                const auto& d = existing->definition();
                if (d.kind != kind || d.unique != unique || d.options != options)
                    fail(errc::invalid_argument, "collection '{}' already has a different index on '{}'", collection,
                         join_path(path));
                return existing;
            }
        if (!coll) {
            add_collections({{std::string(collection), manifest_.next_collection_id}});
            coll = catalog_snapshot()->find(collection);
        }
        format::manifest_index def{.id = manifest_.next_index_id,
                                   .collection_id = *coll,
                                   .path = std::move(path),
                                   .kind = kind,
                                   .unique = unique,
                                   .created_at_seq = last_sequence(),
                                   .options = std::move(options)};
        // Unique violations surface here, before anything is recorded.
        auto ix = index_set::build(def, live_entities());
        format::manifest next = manifest_;
        next.indexes.push_back(def);
        next.next_index_id = def.id + 1;
        replace_manifest(std::move(next));
        indexes_.add(ix);
        publish_catalog();
        return ix;
    }

    // Streams a collection's live entities, one payload in memory at a time, to index_set
    // and migrations (core/migration.hpp), at the latest state:
    // f(id, sequence, payload) in id order.
    [[nodiscard]] auto live_entities() const {
        return [this](std::uint32_t coll, const auto& f) {
            std::optional<entity_id> last;
            while (auto next = index_.next_live(coll, last ? &*last : nullptr, latest_snapshot)) {
                last = next->first;
                f(next->first, next->second.sequence, read_payload(coll, next->first, next->second));
            }
        };
    }

    // Records the schema version and applied migrations of the database this one was made
    // from (salvage), durably. Holding the writer lock.
    void adopt_schema(std::optional<format::manifest_schema> s) {
        ensure_writable();
        format::manifest next = manifest_;
        next.extension.schema = std::move(s);
        replace_manifest(std::move(next));
        publish_catalog();
    }

    // Builds every index the MANIFEST declares (open, after recovery).
    void build_indexes() {
        indexes_.open(manifest_, live_entities());
        publish_catalog();
    }

    // The change feed (committed operations, in commit order).
    [[nodiscard]] change_feed_hub& feed() noexcept { return feed_; }

    // Persisted history: every applied operation with a sequence above `after` (up to the
    // last published commit), in commit order, at most `limit` of them. Streams the
    // segments, skipping those whose newest sequence is not above `after`.
    // errc::invalid_argument when `after` is below the history horizon (a compaction
    // dropped records the answer would need): the caller resynchronises from a snapshot.
    [[nodiscard]] std::vector<change> changes_since(std::uint64_t after, std::size_t limit) const {
        // Registered like a snapshot: a concurrent compaction keeps the files read here.
        const snapshot_guard guard(snapshots_, last_seq_);
        const std::uint64_t upto = guard.sequence();
        history_.check_reachable(after);
        const auto cat = catalog_snapshot();
        segment_cursor<factory_type> records(history::segments_after(segments_.table(), after), cfg_.read_chunk_bytes,
                                             dir_, "reading the change feed");
        return history::read(records, after, upto, limit, *cat, [&](const format::segment_record& r, byte_buffer& out) {
            const auto at = records.location();
            codec_.open(r, [&] { return error_place(at); }, out);
        });
    }

    // ---- scans in storage order (txn/snapshot.hpp, storage_range) ----

    using segment_table = typename segment_cursor<factory_type>::segment_table;

    // The segments a storage-order scan walks (with a segment_cursor).
    [[nodiscard]] segment_table segments_for_scan() const { return segments_.table(); }

    // Registers a scan in storage order. False, registering nothing, while a compaction
    // runs or after one left index entries in retired segments: the scan then walks the
    // index instead (its order is unspecified either way). A compaction relocates index
    // entries and retires segments, which a scan walking the files could not follow.
    bool begin_storage_scan() noexcept {
        if (!storage_scans_.try_begin()) return false;
        if (!keep_retired_.load(std::memory_order_acquire)) return true;
        storage_scans_.end();
        return false;
    }
    void end_storage_scan() noexcept { storage_scans_.end(); }
    // Held by a compaction (scan_gate::exclusion): new storage-order scans walk the index
    // instead, and the compaction starts once the open ones have ended, or fails with
    // errc::busy after waiting.
    [[nodiscard]] scan_gate& storage_scans() noexcept { return storage_scans_; }

    // Refuses further writes; `why` is repeated by every later write attempt.
    void poison(std::string_view why) noexcept { poison_.poison(why); }

    // ---- used by recovery (recovery.hpp) before the database is shared ----

    segment_set<factory_type>& segments() noexcept { return segments_; }
    const segment_set<factory_type>& segments() const noexcept { return segments_; }
    wal_backend& wal() noexcept { return wal_.backend(); }
    // After recovery, before the first commit: an empty log takes the configured layout.
    void prepare_wal() {
        if (!cfg_.read_only) wal_.prepare_empty();
    }
    primary_index& mutable_index() noexcept { return index_; }
    format::manifest& manifest() noexcept { return manifest_; }
    [[nodiscard]] std::optional<std::uint64_t> checkpoint_sequence() const { return manifest_.checkpoint_seq; }
    recovery_report& report() noexcept { return report_; }
    void set_recovered_state(std::uint64_t last_seq, std::uint64_t next_txid) {
        last_seq_.store(last_seq, std::memory_order_release);
        appended_seq_ = last_seq;
        flow_.set_recovered(last_seq);
        next_txid_ = next_txid;
        segment_claimed_ = segments_.active().backend->size();
    }

    // Recovery and restore write segment records the way commits do: fill the batch
    // start_batch returns with records of commit `seq`, then apply_batch appends them and
    // makes them visible in the index (no publication).
    [[nodiscard]] record_batch& start_batch(std::uint64_t seq) noexcept {
        segment_batch_.start(seq);
        return segment_batch_;
    }
    // Commits apply their records the same way.
    void apply_batch(std::uint64_t oldest_snapshot) {
        const auto locations = segment_batch_.append_to(segments_);
        const auto& keys = segment_batch_.keys();
        // The index's misses for keys a few ahead overlap the current key's apply (a batch
        // of one key has nothing to overlap).
        constexpr std::size_t lookahead = 8;
        const std::size_t first_ahead = keys.size() > 1 ? 0 : keys.size();
        for (std::size_t a = first_ahead; a < std::min(keys.size(), first_ahead + lookahead); ++a)
            index_.prefetch(keys[a].collection, keys[a].id);
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (const auto a = i + lookahead; keys.size() > 1 && a < keys.size())
                index_.prefetch(keys[a].collection, keys[a].id);
            const entity_version v{.sequence = segment_batch_.sequence(),
                                   .location = locations[i],
                                   .tombstone = keys[i].tombstone};
            index_.apply(keys[i].collection, keys[i].id, v, oldest_snapshot);
        }
    }

    [[nodiscard]] std::string segment_path(std::uint32_t n) const { return detail::segment_path(dir_, n); }
    // Where a record lies, for an error about it.
    [[nodiscard]] error_context error_place(const record_location& at) const {
        return {.path = segment_path(at.segment), .offset = at.offset, .sys_errno = 0};
    }
    [[nodiscard]] std::string wal_path() const { return dir_ ? (*dir_ / "wal.log").string() : "wal.log"; }
    [[nodiscard]] const std::optional<std::filesystem::path>& directory() const noexcept { return dir_; }

private:
    // The whole segment record `record`, after checking its CRC and that it is the record the
    // index says (collection and id).
    [[nodiscard]] format::segment_record checked_record(std::uint32_t collection, const entity_id& id,
                                                       const entity_version& v, bytes_view record) const {
        const auto d = format::decode_segment(record);
        if (d.status != format::decode_status::ok || d.record.collection_id != collection || d.record.id != id)
            fail_at(errc::corruption, {.path = segment_path(v.location.segment), .offset = v.location.offset},
                    "record does not match the index ({})", d.problem.empty() ? "wrong key" : d.problem);
        return d.record;
    }

    // The entity's bytes of the checked record at `v` (opened, for an encrypted database).
    void deliver(const entity_version& v, const format::segment_record& r, byte_buffer& out) const {
        codec_.open(r, [&] { return error_place(v.location); }, out);
    }

    // The commit's WAL records. An encrypted database seals each put's payload once, bound to
    // its place at this sequence; the segment record takes the same bytes (apply_durable).
    [[nodiscard]] bytes_view encode_commit(pending_write& w, std::uint64_t txid, std::uint64_t seq) {
        if constexpr (encrypts) {
            w.stored.clear();
            for (const auto& [key, op] : w.ops) {
                if (!op.tombstone)
                    codec_.seal(op.payload,
                                {.collection = key.first, .id = key.second, .sequence = seq, .kind = put_record_kind},
                                w.stored.bytes);
                w.stored.ends.push_back(w.stored.bytes.size());
            }
            return wal_.encode(txid, seq, w.ops,
                               [&](std::size_t i, const auto& op) { return stored_payload(w, i, op); });
        } else {
            return wal_.encode(txid, seq, w.ops);
        }
    }
    // What the i-th operation's records hold: its sealed payload, or the payload itself.
    template <typename Op>
    [[nodiscard]] static bytes_view stored_payload(const pending_write& w, std::size_t i, const Op& op) noexcept {
        if constexpr (encrypts)
            return w.stored.at(i);
        else
            return op.payload;
    }

    // A factory that cannot rotate keeps everything in its one segment, which holds at most
    // max_segment_size bytes: a commit whose records would not fit is refused here, before
    // its WAL record makes it durable (applying a durable commit that does not fit could
    // only fail after it was acknowledged). The room left counts the commits appended but
    // not applied yet (segment_claimed_). Returns the bytes the commit's records take.
    [[nodiscard]] std::uint64_t segment_room_for(const pending_write& w) const {
        if constexpr (factory_type::rotates) {
            return 0;
        } else {
            std::uint64_t need = 0;
            std::size_t i = 0;
            for (const auto& [key, op] : w.ops) need += format::segment_record_overhead + stored_payload(w, i++, op).size();
            const std::uint64_t limit = cfg_.max_segment_size;
            const std::uint64_t left = limit - std::min(segment_claimed_, limit);
            if (need > left)
                fail(errc::rotation_unsupported,
                     "segment {} is full: the commit needs {} bytes, {} of max_segment_size {} are left, and the "
                     "segment factory cannot make another segment; nothing was written (use a rotating factory "
                     "such as file_segment_factory, or a larger max_segment_size)",
                     segments_.segments().back().number, need, left, limit);
            return need;
        }
    }

    void publish_catalog() {
        auto c = std::make_shared<const catalog>(manifest_, indexes_);
        std::unique_lock lock(catalog_gate_);
        catalog_.swap(c);
    }

    // Records new collections durably in the MANIFEST before the WAL refers to them.
    void add_collections(const std::vector<std::pair<std::string, std::uint32_t>>& added) {
        format::manifest next = manifest_;
        for (const auto& [name, id] : added) {
            next.collections.push_back({name, id});
            next.next_collection_id = std::max(next.next_collection_id, id + 1);
        }
        replace_manifest(std::move(next));  // failing, not named anywhere durable: forgotten
        publish_catalog();
    }

    void save_manifest() {
        if (dir_) durable_replace(*dir_ / "MANIFEST", format::encode_manifest_file(manifest_, codec_.cipher_or_null()));
    }

    // Makes `next` the MANIFEST, durably; if that fails the engine keeps the one it had.
    void replace_manifest(format::manifest next) {
        std::swap(manifest_, next);
        try {
            save_manifest();
        } catch (...) {
            std::swap(manifest_, next);
            throw;
        }
    }

    // Returns once a flush covered the WAL up to `wal_end` and the commits it covered are
    // applied (commit_flow: the flush's leader applies the group in sequence order). A
    // failed flush fails every commit it should have covered (errc::outcome_unknown; the
    // writer's fault handler poisoned the engine); a commit a flush covered is durable and
    // waits for its apply whatever came later.
    void wait_applied(std::uint64_t wal_end) {
        const auto covers = wal_.wait_durable(wal_end);
        flow_.wait_applied(covers, wal_end,
                           [this](const pending_write& w, std::uint64_t seq) { apply_durable(w, seq); });
    }

    // Checkpoints past max_wal_size and releases retired segments: under the writer lock,
    // before a commit's append or after the last in-flight commit is applied.
    void housekeeping() noexcept {
        maybe_checkpoint();
        reclaim_retired();
    }

    // After the durable flush nothing may report failure: problems poison the engine.
    void apply_durable(const pending_write& w, std::uint64_t seq) noexcept {
        try {
            const std::uint64_t oldest = snapshots_.oldest(last_sequence());
            const auto cat = catalog_snapshot();
            const auto moves = cat->indexes().moves(  // from the versions this commit replaces
                w.ops, [&](std::uint32_t coll, const entity_id& id) { return get(coll, id, latest_snapshot); });
            // One segment record per operation (one append when they fit), then the index.
            auto& batch = start_batch(seq);
            std::size_t i = 0;
            for (const auto& [key, op] : w.ops) {
                batch.add(key.first, key.second, op.tombstone, stored_payload(w, i++, op), encrypts);
            }
            apply_batch(oldest);
            index_set::apply(moves, seq, oldest);
            last_seq_.store(seq, std::memory_order_release);
        } catch (const std::exception& e) {
            poison(fmt::format("commit {} is durable but could not be applied ({}); reopen to finish it", seq, e.what()));
            return;
        }
        feed_.publish(w.ops, seq, *catalog_snapshot());
    }

    // Unique indexes: no two live entities may share a key after this commit and the ones
    // in flight ahead of it.
    void check_unique(const pending_write& w) const {
        const auto cat = catalog_snapshot();
        cat->indexes().check_unique(
            w.ops, [&](std::uint32_t coll, const auto& f) { flow_.for_each_in_flight_op(coll, f); },
            [&](std::uint32_t coll) { return cat->name_of(coll); });
    }

    void maybe_checkpoint() noexcept {
        try {
            if (!poison_.poisoned() && wal_.backend().size() > cfg_.max_wal_size) checkpoint();
        } catch (...) {
            // A checkpoint that did not finish leaves a consistent directory (SPEC.md §5
            // order); durability failures already poisoned the engine in guard_durability,
            // and a backend that cannot even report its size fails the next append.
        }
    }

    // Runs a step whose flush failure leaves durability unknown: poison and rethrow.
    template <typename F>
    void guard_durability(F&& step) {
        try {
            step();
        } catch (const error& e) {
            if (e.value() == errc::outcome_unknown || e.value() == errc::io_error)
                poison(fmt::format("checkpoint failed: {}", e.what()));
            throw;
        }
    }

    codec_type codec_;  // how payloads and the MANIFEST are stored
    config cfg_;
    std::optional<std::filesystem::path> dir_;
    std::optional<directory_lock> lock_;
    ::entidb::wal::writer<wal_backend> wal_;
    segment_set<factory_type> segments_;
    primary_index index_;
    mutable snapshot_registry snapshots_;  // internally synchronised; changes_since registers too
    format::manifest manifest_;  // the writer's copy
    index_set indexes_;  // the writer's list
    change_feed_hub feed_;

    mutable shared_gate catalog_gate_;  // guards catalog_
    std::shared_ptr<const catalog> catalog_;
    poison_state poison_;
    commit_flow flow_{poison_};  // group commit: the commits appended to the WAL and not yet applied
    std::mutex writer_mutex_;
    std::atomic<std::uint64_t> last_seq_{0};  // published: what new snapshots see
    std::uint64_t appended_seq_ = 0;          // the newest commit in the WAL (the writer's)
    std::uint64_t next_txid_ = 1;
    // A factory that cannot rotate: the size of its one segment once every appended commit
    // is applied (segment_room_for).
    std::uint64_t segment_claimed_ = 0;

    record_batch segment_batch_;  // the applier's (one at a time, in sequence order), reused

    std::atomic<std::uint64_t> commits_{0}, checkpoints_{0}, full_scans_{0}, index_lookups_{0};
    history history_;  // its horizon
    std::atomic<bool> keep_retired_{false};
    scan_gate storage_scans_;  // begin_storage_scan
    mutable shared_gate point_reads_;  // counts read_published calls running (never locked exclusively)
    recovery_report report_;
    bool opened_ = false;  // mark_opened
    index_file_policy index_file_;  // the writer's
    std::atomic<bool> index_file_damaged_{false};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
