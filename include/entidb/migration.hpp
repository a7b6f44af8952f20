// entidb/migration.hpp — schema migrations: what a migration is, and what running one reports
// (docs/migrations.md). entidb::migrate and the open that takes migrations (database.hpp) run
// them; core/migration.hpp is how.
//
// A migration brings the database from schema version `version - 1` to `version`. Its steps
// run in order, each over every entity of one collection: create or drop a collection,
// declare or drop an index (any kind), rename, remove or add a field (with a default, where
// absent), or a C++ transform (entity to entity, or deletion). The schema version and the
// migrations applied (version, name, the caller's `applied_at`, a checksum of the step list)
// live in the MANIFEST. A migration is atomic: after a crash at any moment the database is
// at the version before it or after it, never between.
//
// The checksum (steps_hash) covers every step's kind and arguments; a transform contributes
// its name, which stands for its code: give a changed transform a new name.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bytes.hpp"
#include "cbor/decoder.hpp"
#include "cbor/encoder.hpp"
#include "cbor/json.hpp"
#include "cbor/value.hpp"
#include "codec.hpp"
#include "entity_id.hpp"
#include "error.hpp"
#include "hash.hpp"
#include "index/index_key.hpp"
#include "index/text_index.hpp"
#include "index_kind.hpp"

namespace entidb {
inline namespace v1 {

struct migration_step {
    enum class op : std::uint8_t {
        create_collection = 1,
        drop_collection = 2,
        declare_index = 3,
        drop_index = 4,
        rename_field = 5,
        remove_field = 6,
        add_field = 7,
        transform = 8,
    };
    // An entity's new value, or nullopt to delete it. Called once per entity, in id order.
    using transform_fn = std::function<std::optional<cbor::value>(const entity_id&, cbor::value)>;

    op kind = op::create_collection;
    std::string collection{};
    std::vector<std::string> path{};  // declare/drop index; rename/remove/add field
    std::string new_name{};           // rename_field: the field's new name, in the same map
    index_kind index = index_kind::hash;
    bool unique = false;
    byte_buffer index_options{};      // the kind's own (a text index's: text_index_options)
    cbor::value value{};              // add_field: the default
    std::string transform_name{};     // transform: stands for its code in steps_hash
    transform_fn transform{};

    // ---- the steps ----
    [[nodiscard]] static migration_step create_collection(std::string_view name) {
        return with(op::create_collection, name);
    }
    // Deletes every entity (a tombstone each, in the change feed) and the collection's indexes.
    [[nodiscard]] static migration_step drop_collection(std::string_view name) {
        return with(op::drop_collection, name);
    }
    [[nodiscard]] static migration_step declare_index(std::string_view collection, std::string_view path,
                                                      index_kind kind, bool unique = false) {
        auto s = with(op::declare_index, collection, path);
        s.index = kind;
        s.unique = unique;
        if (kind == index_kind::text) s.index_options = detail::encode_text_options({});
        return s;
    }
    [[nodiscard]] static migration_step declare_index(std::string_view collection, std::string_view path,
                                                      const text_index_options& options) {
        auto s = with(op::declare_index, collection, path);
        s.index = index_kind::text;
        s.index_options = detail::encode_text_options(options);
        return s;
    }
    [[nodiscard]] static migration_step drop_index(std::string_view collection, std::string_view path) {
        return with(op::drop_index, collection, path);
    }
    // "address.zip" renamed to "address.postcode": rename_field("c", "address.zip", "postcode").
    // An entity without the field is left as it is; one that has both names is refused
    // (errc::invalid_argument, nothing changed).
    [[nodiscard]] static migration_step rename_field(std::string_view collection, std::string_view path,
                                                     std::string_view new_name) {
        auto s = with(op::rename_field, collection, path);
        if (new_name.empty() || new_name.find('.') != std::string_view::npos)
            fail(errc::invalid_argument, "rename_field: the new name '{}' must be one non-empty field name",
                 new_name);
        s.new_name = new_name;
        return s;
    }
    [[nodiscard]] static migration_step remove_field(std::string_view collection, std::string_view path) {
        return with(op::remove_field, collection, path);
    }
    // Sets the field to `value` in every entity that lacks it (missing maps on the way are
    // created; an entity that is not a map there is left as it is).
    [[nodiscard]] static migration_step add_field(std::string_view collection, std::string_view path,
                                                  cbor::value value) {
        auto s = with(op::add_field, collection, path);
        s.value = std::move(value);
        return s;
    }
    // `name` stands for the code in the migration's checksum.
    [[nodiscard]] static migration_step transform_entities(std::string_view collection, std::string_view name,
                                                           transform_fn fn) {
        auto s = with(op::transform, collection);
        if (name.empty()) fail(errc::invalid_argument, "a transform needs a name (it stands for its code)");
        if (!fn) fail(errc::invalid_argument, "transform '{}' has no function", name);
        s.transform_name = name;
        s.transform = std::move(fn);
        return s;
    }
    // The same over a typed entity: fn(T) -> std::optional<T> (nullopt deletes), through
    // T's codec (codec.hpp).
    template <typename T, typename Codec = codec<T>, typename Fn>
    [[nodiscard]] static migration_step transform_as(std::string_view collection, std::string_view name, Fn fn) {
        return transform_entities(collection, name,
                                  [fn = std::move(fn)](const entity_id&, cbor::value v) -> std::optional<cbor::value> {
                                      std::optional<T> out = fn(Codec::decode(v));
                                      if (!out) return std::nullopt;
                                      return cbor::decode(encode_entity<T, Codec>(*out));
                                  });
    }

    // One line for reports: "rename_field users.name -> full_name".
    [[nodiscard]] std::string describe() const {
        std::string p;
        for (const auto& f : path) p += (p.empty() ? "" : ".") + f;
        switch (kind) {
            case op::create_collection: return fmt::format("create_collection {}", collection);
            case op::drop_collection: return fmt::format("drop_collection {}", collection);
            case op::declare_index:
                return fmt::format("declare_index {}.{} {}{}", collection, p, to_string(index), unique ? " unique" : "");
            case op::drop_index: return fmt::format("drop_index {}.{}", collection, p);
            case op::rename_field: return fmt::format("rename_field {}.{} -> {}", collection, p, new_name);
            case op::remove_field: return fmt::format("remove_field {}.{}", collection, p);
            case op::add_field: return fmt::format("add_field {}.{}", collection, p);
            case op::transform: return fmt::format("transform {} {}", collection, transform_name);
        }
        return "unknown step";
    }

    // Appends the step's identity to `enc`: [kind, collection, path, new_name, index kind,
    // unique, options, value, transform name], the input of steps_hash.
    void encode_identity(cbor::encoder& enc) const {
        enc.begin_array(9);
        enc.uint(static_cast<std::uint64_t>(kind)).text(collection);
        enc.begin_array(path.size());
        for (const auto& f : path) enc.text(f);
        enc.end_array();
        enc.text(new_name).uint(static_cast<std::uint64_t>(index)).boolean(unique).bytes(index_options);
        enc.write(value).text(transform_name);
        enc.end_array();
    }

private:
    [[nodiscard]] static migration_step with(op k, std::string_view collection, std::string_view path = {}) {
        if (collection.empty()) fail(errc::invalid_argument, "a migration step needs a collection name");
        migration_step s;
        s.kind = k;
        s.collection = collection;
        if (!path.empty() || k == op::declare_index || k == op::drop_index || k == op::rename_field ||
            k == op::remove_field || k == op::add_field)
            s.path = parse_field_path(path);
        return s;
    }
};

struct migration {
    std::uint64_t version = 0;  // the schema version it brings the database to (at least 1)
    std::string name{};
    std::vector<migration_step> steps{};

    // XXH3-64 of the steps' identities (migration_step::encode_identity), as an array.
    [[nodiscard]] std::uint64_t steps_hash() const {
        byte_buffer out;
        cbor::encoder enc(out);
        enc.begin_array(steps.size());
        for (const auto& s : steps) s.encode_identity(enc);
        enc.end_array();
        return hash64(out);
    }
};

// Where a long step is (migrate_options::on_progress).
struct migration_progress {
    std::uint64_t version = 0;        // the migration running (a dry run's one pass serves all: the last)
    std::string_view collection{};    // the collection its pass reads
    std::uint64_t done = 0, total = 0;  // entities read of the collection's
};

struct migrate_options {
    // Report what would change and write nothing: every file stays byte-identical.
    bool dry_run = false;
    // Recorded with each migration applied (e.g. Unix seconds): the engine reads no clock,
    // so that the same operations write the same bytes (SPEC.md §3).
    std::uint64_t applied_at = 0;
    // Stop at this version (default: the plan's highest). Below the database's: schema_mismatch.
    std::optional<std::uint64_t> target_version{};
    // Called every few thousand entities of a pass, and at its end.
    std::function<void(const migration_progress&)> on_progress{};
};

struct migration_step_report {
    std::string description{};        // migration_step::describe()
    std::uint64_t entities_touched = 0;  // entities the step changed or deleted
};

struct migration_run {
    std::uint64_t version = 0;
    std::string name{};
    std::uint64_t steps_hash = 0;
    std::vector<migration_step_report> steps{};
};

struct migration_report {
    bool dry_run = false;
    std::uint64_t version_before = 0;
    std::uint64_t version_after = 0;  // for a dry run: the version a real run would reach
    std::vector<migration_run> applied{};  // in order (for a dry run: what would be applied)
    std::vector<std::uint64_t> already_applied{};  // versions of the plan the database had: no-ops
    std::uint64_t records_written = 0;   // segment records (puts and tombstones); 0 for a dry run
};

namespace detail {

// A cursor over one JSON object of a plan: each field read is checked off, and fields left
// unread are refused by done() (a misspelt key is an error, not a silent default).
class plan_object {
public:
    plan_object(const cbor::value& v, std::string where) : where_(std::move(where)) {
        if (!v.is(cbor::kind::map)) fail(errc::invalid_argument, "migration plan: {} must be an object", where_);
        v_ = &v;
    }
    [[nodiscard]] const cbor::value* optional(std::string_view key) {
        seen_.emplace_back(key);
        return v_->find(key);
    }
    [[nodiscard]] const cbor::value& required(std::string_view key) {
        const auto* x = optional(key);
        if (!x) fail(errc::invalid_argument, "migration plan: {} needs \"{}\"", where_, key);
        return *x;
    }
    [[nodiscard]] std::string text(std::string_view key) {
        const auto& x = required(key);
        if (!x.is(cbor::kind::text)) fail(errc::invalid_argument, "migration plan: {}.{} must be a string", where_, key);
        return x.as_text();
    }
    [[nodiscard]] std::uint64_t number(std::string_view key) {
        const auto& x = required(key);
        if (!x.is(cbor::kind::unsigned_integer))
            fail(errc::invalid_argument, "migration plan: {}.{} must be a non-negative integer", where_, key);
        return x.as_uint();
    }
    [[nodiscard]] bool flag(std::string_view key) {
        const auto* x = optional(key);
        if (x && !x->is(cbor::kind::boolean))
            fail(errc::invalid_argument, "migration plan: {}.{} must be true or false", where_, key);
        return x && x->as_bool();
    }
    [[nodiscard]] const cbor::array& list(std::string_view key) {
        const auto& x = required(key);
        if (!x.is(cbor::kind::array)) fail(errc::invalid_argument, "migration plan: {}.{} must be an array", where_, key);
        return x.as_array();
    }
    [[nodiscard]] const std::string& where() const noexcept { return where_; }
    void done() const {
        for (const auto& e : v_->as_map()) {
            const bool known = e.key.is(cbor::kind::text) &&
                               std::find(seen_.begin(), seen_.end(), e.key.as_text()) != seen_.end();
            if (!known)
                fail(errc::invalid_argument, "migration plan: {} has an unknown field {}", where_,
                     e.key.is(cbor::kind::text) ? "\"" + e.key.as_text() + "\"" : std::string("(not a string)"));
        }
    }

private:
    const cbor::value* v_ = nullptr;
    std::string where_;
    std::vector<std::string> seen_;
};

[[nodiscard]] inline migration_step plan_step(const cbor::value& v, std::string where) {
    plan_object o(v, std::move(where));
    const std::string op = o.text("op");
    const std::string coll = o.text("collection");
    migration_step s;
    if (op == "create_collection") {
        s = migration_step::create_collection(coll);
    } else if (op == "drop_collection") {
        s = migration_step::drop_collection(coll);
    } else if (op == "declare_index") {
        const std::string path = o.text("path"), kind = o.text("kind");
        const bool unique = o.flag("unique");
        if (kind == "text") {
            if (unique) fail(errc::invalid_argument, "migration plan: {}: a text index cannot be unique", o.where());
            text_index_options t{.keep_diacritics = o.flag("keep_diacritics")};
            if (const auto* stem = o.optional("stem")) {
                if (!stem->is(cbor::kind::text) || (stem->as_text() != "english" && stem->as_text() != "none"))
                    fail(errc::invalid_argument, "migration plan: {}.stem must be \"english\" or \"none\"",
                         o.where());
                t.stem = stem->as_text() == "english" ? text::stemmer::english : text::stemmer::none;
            }
            s = migration_step::declare_index(coll, path, t);
        } else if (kind == "hash" || kind == "ordered") {
            s = migration_step::declare_index(coll, path, kind == "hash" ? index_kind::hash : index_kind::ordered,
                                              unique);
        } else {
            fail(errc::invalid_argument, "migration plan: {}.kind must be \"hash\", \"ordered\" or \"text\"",
                 o.where());
        }
    } else if (op == "drop_index") {
        s = migration_step::drop_index(coll, o.text("path"));
    } else if (op == "rename_field") {
        const std::string path = o.text("path");
        s = migration_step::rename_field(coll, path, o.text("to"));
    } else if (op == "remove_field") {
        s = migration_step::remove_field(coll, o.text("path"));
    } else if (op == "add_field") {
        const std::string path = o.text("path");
        s = migration_step::add_field(coll, path, o.required("value"));
    } else {
        fail(errc::invalid_argument,
             "migration plan: {}.op \"{}\" is not a step (create_collection, drop_collection, declare_index, "
             "drop_index, rename_field, remove_field, add_field; transforms are C++ only)",
             o.where(), op);
    }
    o.done();
    return s;
}

}  // namespace detail

// The migrations of a JSON plan (docs/migrations.md, "Plan files"):
//   {"migrations": [{"version": 1, "name": "…", "steps": [{"op": "rename_field",
//     "collection": "users", "path": "name", "to": "full_name"}, …]}, …]}
// errc::invalid_argument naming the place of the first problem (malformed JSON, an unknown
// or missing field, a value of the wrong type, an unknown step).
[[nodiscard]] inline std::vector<migration> parse_migration_plan(std::string_view json) {
    const cbor::value doc = cbor::parse_json(json);
    detail::plan_object top(doc, "the plan");
    std::vector<migration> out;
    const auto& list = top.list("migrations");
    for (std::size_t i = 0; i < list.size(); ++i) {
        detail::plan_object m(list[i], fmt::format("migrations[{}]", i));
        migration mig{.version = m.number("version"), .name = m.text("name"), .steps = {}};
        const auto& steps = m.list("steps");
        for (std::size_t k = 0; k < steps.size(); ++k)
            mig.steps.push_back(detail::plan_step(steps[k], fmt::format("migrations[{}].steps[{}]", i, k)));
        m.done();
        out.push_back(std::move(mig));
    }
    top.done();
    return out;
}

}  // namespace v1
}  // namespace entidb
