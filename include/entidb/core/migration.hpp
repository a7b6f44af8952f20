// entidb/core/migration.hpp — how a migration runs (docs/migrations.md).
//
// A migration is published by one atomic MANIFEST replace, so that a crash at any moment
// leaves the database at the version before it or after it:
//
//   1. checkpoint: the WAL is empty, the active segment is new and empty (sequence S)
//   2. the steps change a copy of the MANIFEST (collections, indexes, schema version and the
//      applied list); each collection that data steps touch (or that is dropped) is streamed
//      once, entity by entity, through its chain of steps. An entity the chain changes gets
//      a put record with sequence S+1, one it deletes a tombstone with S+1 — written into
//      new segment files above the active one, as temporaries (seg-NNNNNN.dat.compact, like
//      a compaction's; core/segment_outputs.hpp), plus an empty segment above them. Unique
//      indexes are checked against the new contents as they stream: a repeated key stops the
//      run with nothing published. Memory: one entity at a time plus the unique keys, never
//      the collection.
//   3. flush every output, fsync SEGMENTS/
//   4. durable_replace MANIFEST: the new catalog and schema, checkpoint_seq S+1, and a
//      segment publish section {publish: the outputs, remove: the old (empty) active
//      segment}. THE COMMIT POINT: before it the temporaries are strays that the next open
//      deletes (version n); after it the next open makes them current (version n+1).
//   5. the engine that ran it is retired (poisoned: it writes nothing more) and the database
//      reopened: open renames the outputs into place, deletes the old active segment and
//      primary.index, fsyncs SEGMENTS/ and writes the MANIFEST without the section
//      (finish_published_segments, idempotent), then recovers as always — the records of
//      S+1 supersede the older versions, and the indexes are built from them.
// A migration that changes no entity (only catalog steps) writes no segment: its MANIFEST
// replace alone is the commit point. A dry run reads a read-only engine, counts what each
// step would touch (composing all pending migrations) and writes nothing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../cbor/decoder.hpp"
#include "../cbor/encoder.hpp"
#include "../config.hpp"
#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../format/segment_record.hpp"
#include "../index/index_kinds.hpp"
#include "../migration.hpp"
#include "../storage/filesystem.hpp"
#include "engine.hpp"
#include "index_set.hpp"
#include "open.hpp"
#include "segment_outputs.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

// ---- field edits on a decoded entity ----

// Applies `leaf` to the map at `parent` inside `v` (creating missing maps on the way when
// `create`); false, changing nothing, where `v` or a map on the way is something else.
template <typename Leaf>
bool edit_map(cbor::value& v, std::span<const std::string> parent, bool create, Leaf&& leaf) {
    if (!v.is(cbor::kind::map)) return false;
    if (parent.empty()) return leaf(v);
    const cbor::value* found = v.find(std::string_view(parent.front()));
    if (!found && !create) return false;
    cbor::value child = found ? *found : cbor::value(cbor::map{});
    if (!edit_map(child, parent.subspan(1), create, leaf)) return false;
    v.set(cbor::value(parent.front()), std::move(child));
    return true;
}

// `m` without its entry `key` (which it has).
[[nodiscard]] inline cbor::value without(const cbor::value& m, std::string_view key) {
    cbor::map entries;
    entries.reserve(m.as_map().size());
    for (const auto& e : m.as_map())
        if (!(e.key.is(cbor::kind::text) && e.key.as_text() == key)) entries.push_back(e);
    return cbor::value(std::move(entries));
}

// Whether the step changed `v`; nullopt when it deletes the entity.
[[nodiscard]] inline std::optional<bool> apply_step(const migration_step& s, const entity_id& id, cbor::value& v) {
    using op = migration_step::op;
    const std::span<const std::string> path(s.path);
    const auto parent = path.empty() ? path : path.first(path.size() - 1);
    const std::string& leaf = path.empty() ? s.new_name : path.back();
    switch (s.kind) {
        case op::rename_field:
            return edit_map(v, parent, false, [&](cbor::value& m) {
                const cbor::value* x = m.find(std::string_view(leaf));
                if (!x) return false;
                if (m.find(std::string_view(s.new_name)))
                    fail(errc::invalid_argument, "{}: entity {} already has a field '{}'", s.describe(), id.to_hex(),
                         s.new_name);
                cbor::value moved = *x;
                m = without(m, leaf);
                m.set(cbor::value(s.new_name), std::move(moved));
                return true;
            });
        case op::remove_field:
            return edit_map(v, parent, false, [&](cbor::value& m) {
                if (!m.find(std::string_view(leaf))) return false;
                m = without(m, leaf);
                return true;
            });
        case op::add_field:
            return edit_map(v, parent, true, [&](cbor::value& m) {
                if (m.find(std::string_view(leaf))) return false;
                m.set(cbor::value(leaf), s.value);
                return true;
            });
        case op::transform: {
            auto out = s.transform(id, v);
            if (!out) return std::nullopt;
            const bool changed = !(*out == v);
            v = std::move(*out);
            return changed;
        }
        default: return false;  // catalog steps touch no entity
    }
}

// ---- the plan against the database ----

struct migration_plan {
    std::uint64_t current = 0, target = 0;
    std::vector<const migration*> pending;  // current+1 .. target, in order
    std::vector<std::uint64_t> already;     // plan versions the database has applied
};

// Checks `plan` against what `m` records: versions ascending from 1, names storable; those
// applied must match what was applied (name and steps_hash); the rest must lead without a
// gap from the current version to the target. errc::invalid_argument for a malformed plan,
// errc::schema_mismatch for one that does not fit the database.
[[nodiscard]] inline migration_plan plan_against(const format::manifest& m, const std::vector<migration>& plan,
                                                 std::optional<std::uint64_t> target) {
    migration_plan out;
    out.current = schema_version_of(m);
    for (std::size_t i = 0; i < plan.size(); ++i) {
        if (plan[i].version == 0) fail(errc::invalid_argument, "migration '{}' has version 0 (versions start at 1)", plan[i].name);
        if (i > 0 && plan[i - 1].version >= plan[i].version)
            fail(errc::invalid_argument, "migrations must be given by ascending version, each once ({} after {})",
                 plan[i].version, plan[i - 1].version);
    }
    out.target = target.value_or(plan.empty() ? out.current : plan.back().version);
    if (out.target < out.current)
        fail(errc::schema_mismatch, "the database is at schema version {}; going back to {} is refused (a downgrade)",
             out.current, out.target);
    const auto* applied = m.extension.schema ? &m.extension.schema->applied : nullptr;
    std::uint64_t expect = out.current + 1;
    for (const auto& mig : plan) {
        if (mig.version > out.target) break;
        if (mig.version <= out.current) {
            const format::manifest_migration* a = nullptr;
            if (applied)
                for (const auto& x : *applied)
                    if (x.version == mig.version) a = &x;
            if (!a)
                fail(errc::schema_mismatch, "migration {} ('{}') is below the database's schema version {} but was "
                     "never applied to it", mig.version, mig.name, out.current);
            if (a->steps_hash != mig.steps_hash() || a->name != mig.name)
                fail(errc::schema_mismatch,
                     "migration {} was applied as '{}' with steps hash {:016x}; the plan gives '{}' with {:016x} "
                     "(a changed migration needs a new version)",
                     mig.version, a->name, a->steps_hash, mig.name, mig.steps_hash());
            out.already.push_back(mig.version);
            continue;
        }
        if (mig.version != expect)
            fail(errc::schema_mismatch, "no migration to schema version {} in the plan (the next one given is {})",
                 expect, mig.version);
        out.pending.push_back(&mig);
        ++expect;
    }
    if (expect <= out.target)
        fail(errc::schema_mismatch, "no migration to schema version {} in the plan (the target is {})", expect,
             out.target);
    return out;
}

// ---- running migrations on an engine ----

template <typename Traits>
class migrator {
public:
    migrator(engine<Traits>& e, const migrate_options& opt) : e_(e), opt_(opt), next_(e.manifest()) {}

    // Runs `todo` as one: a real run takes one migration (holding the writer lock) and ends at
    // its commit point, after which the engine is retired; a dry run may compose several.
    std::vector<migration_run> run(std::span<const migration* const> todo) {
        if (!opt_.dry_run) {
            e_.checkpoint();
            if (e_.segments().segments().back().backend->size() != 0)
                fail(errc::invalid_argument, "a migration needs an empty active segment after its checkpoint");
        }
        base_ = e_.last_sequence();
        runs_.reserve(todo.size());  // reports are referred to by address below
        for (const auto* m : todo) plan_catalog(*m);
        if (!opt_.dry_run) out_.emplace(e_);
        stream();
        if (!opt_.dry_run) commit();
        return std::move(runs_);
    }

    [[nodiscard]] std::uint64_t records_written() const noexcept { return records_; }

private:
    struct link {
        const migration_step* step;
        migration_step_report* report;
    };
    struct collection_plan {
        std::vector<link> chain;
        migration_step_report* dropped_by = nullptr;
    };

    [[nodiscard]] std::optional<std::uint32_t> find_collection(std::string_view name) const {
        for (const auto& c : next_.collections)
            if (c.name == name) return c.id;
        return std::nullopt;
    }
    std::uint32_t collection_or_create(std::string_view name) {
        if (auto id = find_collection(name)) return *id;
        next_.collections.push_back({std::string(name), next_.next_collection_id});
        return next_.next_collection_id++;
    }
    [[nodiscard]] format::manifest_index* index_on(std::uint32_t coll, const std::vector<std::string>& path) {
        for (auto& x : next_.indexes)
            if (x.collection_id == coll && x.path == path) return &x;
        return nullptr;
    }

    // Step 2's catalog half: the MANIFEST copy and each collection's chain.
    void plan_catalog(const migration& m) {
        using op = migration_step::op;
        runs_.push_back({.version = m.version, .name = m.name, .steps_hash = m.steps_hash(), .steps = {}});
        auto& run = runs_.back();
        run.steps.reserve(m.steps.size());
        for (const auto& s : m.steps) run.steps.push_back({.description = s.describe(), .entities_touched = 0});
        for (std::size_t k = 0; k < m.steps.size(); ++k) {
            const auto& s = m.steps[k];
            auto* report = &run.steps[k];
            const auto where = [&] { return fmt::format("migration {} step {} ({})", m.version, k + 1, s.describe()); };
            switch (s.kind) {
                case op::create_collection:
                    if (find_collection(s.collection))
                        fail(errc::invalid_argument, "{}: the collection exists", where());
                    (void)collection_or_create(s.collection);
                    break;
                case op::drop_collection: {
                    const auto id = find_collection(s.collection);
                    if (!id) fail(errc::invalid_argument, "{}: no such collection", where());
                    plans_[*id] = {.chain = {}, .dropped_by = report};
                    std::erase_if(next_.indexes, [&](const auto& x) { return x.collection_id == *id; });
                    std::erase_if(next_.collections, [&](const auto& c) { return c.id == *id; });
                    break;
                }
                case op::declare_index: {
                    const auto id = collection_or_create(s.collection);
                    if (const auto* x = index_on(id, s.path)) {
                        if (x->kind != s.index || x->unique != s.unique || x->options != s.index_options)
                            fail(errc::invalid_argument, "{}: the collection has a different index on that path",
                                 where());
                        break;  // declared already: nothing to do
                    }
                    next_.indexes.push_back({.id = next_.next_index_id++,
                                             .collection_id = id,
                                             .path = s.path,
                                             .kind = s.index,
                                             .unique = s.unique,
                                             .created_at_seq = base_,
                                             .options = s.index_options});
                    new_indexes_.push_back(next_.indexes.back().id);
                    if (s.unique) new_unique_.push_back(next_.indexes.back().id);
                    break;
                }
                case op::drop_index: {
                    const auto id = find_collection(s.collection);
                    const auto* x = id ? index_on(*id, s.path) : nullptr;
                    if (!x) fail(errc::invalid_argument, "{}: no such index", where());
                    const auto gone = x->id;
                    std::erase_if(next_.indexes, [&](const auto& i) { return i.id == gone; });
                    break;
                }
                default:
                    // A collection that does not exist has no entity to touch.
                    if (const auto id = find_collection(s.collection)) plans_[*id].chain.push_back({&s, report});
            }
        }
        auto schema = next_.extension.schema.value_or(format::manifest_schema{});
        schema.version = m.version;
        schema.applied.push_back(
            {.version = m.version, .name = m.name, .applied_at = opt_.applied_at, .steps_hash = run.steps_hash});
        next_.extension.schema = std::move(schema);
    }

    // Unique indexes of the new catalog whose keys this run may change: on a collection it
    // rewrites, or declared by it. Checked as the collection streams.
    [[nodiscard]] std::vector<std::shared_ptr<secondary_index>> unique_checks(std::uint32_t coll) const {
        std::vector<std::shared_ptr<secondary_index>> out;
        const bool rewritten = plans_.contains(coll);
        for (const auto& x : next_.indexes)
            if (x.collection_id == coll && x.unique &&
                (rewritten || std::find(new_unique_.begin(), new_unique_.end(), x.id) != new_unique_.end()))
                out.push_back(make_secondary_index(x));
        return out;
    }

    // Step 2's data half.
    void stream() {
        std::vector<std::uint32_t> colls;
        for (const auto& [id, p] : plans_) colls.push_back(id);
        for (const auto& x : next_.indexes)
            if (std::find(new_unique_.begin(), new_unique_.end(), x.id) != new_unique_.end() &&
                !plans_.contains(x.collection_id))
                colls.push_back(x.collection_id);
        for (const auto coll : colls) stream_collection(coll);
    }

    void stream_collection(std::uint32_t coll) {
        static const collection_plan untouched{};
        const auto found = plans_.find(coll);
        const auto& plan = found == plans_.end() ? untouched : found->second;
        auto checks = unique_checks(coll);
        if (plan.chain.empty() && !plan.dropped_by && checks.empty()) return;
        const std::string name = collection_name(coll);
        migration_progress progress{.version = runs_.back().version, .collection = name, .done = 0, .total = 0};
        if (opt_.on_progress) e_.live_entities()(coll, [&](const entity_id&, std::uint64_t, bytes_view) { ++progress.total; });
        const std::uint64_t seq = base_ + 1;
        e_.live_entities()(coll, [&](const entity_id& id, std::uint64_t, bytes_view payload) {
            if (opt_.on_progress && ++progress.done % 4096 == 0) opt_.on_progress(progress);
            if (plan.dropped_by) {
                ++plan.dropped_by->entities_touched;
                write({coll, id, format::flag_tombstone, seq, {}});
                return;
            }
            if (plan.chain.empty()) return admit(checks, id, seq, payload);
            cbor::value v = cbor::decode(payload);
            bool changed = false;
            for (const auto& l : plan.chain) {
                const auto r = apply_step(*l.step, id, v);
                if (!r || *r) ++l.report->entities_touched;
                if (!r) return write({coll, id, format::flag_tombstone, seq, {}});
                changed = changed || *r;
            }
            if (!changed) return admit(checks, id, seq, payload);
            scratch_ = cbor::encode(v);
            if (scratch_.size() > e_.cfg().max_entity_bytes)
                fail(errc::too_large, "migration {}: entity {} of '{}' would be {} bytes, above max_entity_bytes {}",
                     runs_.back().version, id.to_hex(), name, scratch_.size(), e_.cfg().max_entity_bytes);
            admit(checks, id, seq, scratch_);
            write_put(coll, id, seq, scratch_);
        });
        if (opt_.on_progress) opt_.on_progress(progress);
    }

    [[nodiscard]] std::string collection_name(std::uint32_t coll) const {
        for (const auto& c : e_.manifest().collections)
            if (c.id == coll) return c.name;
        for (const auto& c : next_.collections)
            if (c.id == coll) return c.name;
        return fmt::format("#{}", coll);
    }

    static void admit(const std::vector<std::shared_ptr<secondary_index>>& checks, const entity_id& id,
                      std::uint64_t seq, bytes_view payload) {
        for (const auto& ix : checks) index_set::admit(*ix, id, seq, payload);
    }

    void write(const format::segment_record& r) {
        ++records_;
        if (out_) out_->append(r);
    }
    // A changed entity's record, sealed for its new place where the database is encrypted.
    void write_put(std::uint32_t coll, const entity_id& id, std::uint64_t seq, bytes_view plain) {
        using codec = std::remove_cvref_t<decltype(e_.codec())>;
        if constexpr (codec::encrypts) {
            sealed_.clear();
            e_.codec().seal(plain, {.collection = coll, .id = id, .sequence = seq, .kind = put_record_kind}, sealed_);
            write({coll, id, codec::flags(false), seq, sealed_});
        } else {
            write({coll, id, codec::flags(false), seq, plain});
        }
    }

    // Steps 3–4.
    void commit() {
        if (records_ > 0) {
            out_->finish();
            next_.checkpoint_seq = base_ + 1;
            for (auto& x : next_.indexes)  // declared with the commit that fills them
                if (std::find(new_indexes_.begin(), new_indexes_.end(), x.id) != new_indexes_.end())
                    x.created_at_seq = base_ + 1;
            next_.extension.publish = format::manifest_publish{
                .publish = out_->numbers(), .remove = {e_.segments().segments().back().number}};
        }
        // A refusal here changes nothing.
        const byte_buffer bytes = format::encode_manifest_file(next_, e_.codec().cipher_or_null());
        try {
            durable_replace(*e_.directory() / "MANIFEST", bytes);
        } catch (const error& err) {
            if (err.value() == errc::outcome_unknown) {
                out_->keep();  // the MANIFEST may name them
                e_.poison(fmt::format("migration: the MANIFEST may or may not be durable ({}); reopen", err.what()));
            }
            throw;
        }
        out_->keep();
        e_.poison("a migration was published; reopen the database to use it");
    }

    engine<Traits>& e_;
    const migrate_options& opt_;
    format::manifest next_;
    std::uint64_t base_ = 0;
    std::vector<migration_run> runs_;
    std::map<std::uint32_t, collection_plan> plans_;
    std::vector<std::uint64_t> new_indexes_, new_unique_;
    std::optional<segment_outputs<Traits>> out_;
    std::uint64_t records_ = 0;
    byte_buffer scratch_;
    byte_buffer sealed_;  // write_put's, reused
};

// Opens `dir` and runs the migrations of `plan` it still needs, one commit point each
// (dry: composed, on a read-only engine, writing nothing). Returns the engine open on the
// result, under `cfg` less its required_schema_version (checked by the caller).
template <typename Traits>
[[nodiscard]] std::shared_ptr<engine<Traits>> migrate_engine(const std::filesystem::path& dir, config cfg,
                                                             typename Traits::environment& env,
                                                             const std::vector<migration>& plan,
                                                             const migrate_options& opt, migration_report& report) {
    static_assert(segment_file_protocol<typename Traits::segment_factory>,
                  "entidb: migrations publish new segment files through the MANIFEST, so they need a journaled "
                  "segment factory such as file_segment_factory (entidb::file_storage)");
    const auto target = opt.target_version ? opt.target_version : cfg.required_schema_version;
    cfg.required_schema_version.reset();
    if (opt.dry_run) cfg.read_only = true;
    auto e = open_engine<Traits>(dir, cfg, env);
    const auto p = plan_against(e->manifest(), plan, target);
    if (cfg.read_only && !opt.dry_run && !p.pending.empty())
        fail(errc::read_only, "migrations to schema version {} are pending and a read-only open cannot run them",
             p.target);
    report = {.dry_run = opt.dry_run, .version_before = p.current, .version_after = p.current, .applied = {},
              .already_applied = p.already, .records_written = 0};
    if (p.pending.empty()) return e;
    if (opt.dry_run) {
        migrator<Traits> m(*e, opt);
        report.applied = m.run(p.pending);
        report.version_after = p.target;
        return e;
    }
    for (const auto* mig : p.pending) {
        {
            std::lock_guard lock(e->writer_mutex());
            migrator<Traits> m(*e, opt);
            auto runs = m.run(std::span<const migration* const>(&mig, 1));
            report.applied.push_back(std::move(runs.front()));
            report.records_written += m.records_written();
        }
        e.reset();  // retired at its commit point; the reopen publishes (finish_published_segments)
        e = open_engine<Traits>(dir, cfg, env);
        report.version_after = mig->version;
    }
    return e;
}

}  // namespace detail
}  // namespace v1
}  // namespace entidb
