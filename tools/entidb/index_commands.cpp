// The index and change-feed commands of the entidb tool: index, find, range, search, changes.
// `find` and `range` only use declared indexes (exit 2 when there is none); `scan` stays
// the explicit alternative.
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include <entidb/cbor.hpp>
#include <entidb/database.hpp>
#include <entidb/index/index_kinds.hpp>
#include <entidb/index_kind.hpp>

#include "command_line.hpp"

namespace entidb_tool {
namespace {

entidb::cbor::value json_value(std::string_view text) {
    return entidb::cbor::decode(entidb::cbor::from_json(text));
}

template <typename Range>
void print_entities(const Range& r) {
    for (const auto& e : r) fmt::print("{}\t{}\n", e.id.to_hex(), entidb::cbor::to_json(e.bytes));
}

// The flag of each registered index kind (index/index_kinds.hpp): --hash, --ordered.
const std::vector<std::string>& kind_flags() {
    static const std::vector<std::string> flags = [] {
        std::vector<std::string> out;
        for (const auto name : entidb::index_kind_names()) out.push_back(fmt::format("--{}", name));
        return out;
    }();
    return flags;
}

// The one kind flag given; a usage error unless exactly one is.
entidb::index_kind kind_flag(const command_line& cl) {
    std::optional<entidb::index_kind> kind;
    bool twice = false;
    for (const std::string_view flag : kind_flags())
        if (cl.flag(flag)) {
            twice = twice || kind.has_value();
            kind = entidb::index_kind_named(flag.substr(2));
        }
    if (kind && !twice) return *kind;
    std::string choices;
    const auto& flags = kind_flags();
    for (std::size_t i = 0; i < flags.size(); ++i)
        choices += (i == 0 ? "" : i + 1 == flags.size() ? " and " : ", ") + flags[i];
    throw usage_error{fmt::format("index needs exactly one of {}", choices)};
}

// "index DB COLLECTION --hash|--ordered|--text [--unique] FIELD.PATH": one flag per
// registered kind; a text index takes [--stem english] [--keep-diacritics] instead of --unique.
const std::string& index_synopsis() {
    static const std::string synopsis = [] {
        std::string flags;
        for (const auto& f : kind_flags()) flags += (flags.empty() ? "" : "|") + f;
        return fmt::format("index DB COLLECTION {} [--unique] [--stem english] [--keep-diacritics] FIELD.PATH", flags);
    }();
    return synopsis;
}

// The text index options on the command line (usage errors for a wrong stemmer, or for
// text options on another kind).
entidb::text_index_options text_options(const command_line& cl, entidb::index_kind kind) {
    const auto stem = cl.values.find("--stem");
    const bool keep = cl.flag("--keep-diacritics");
    if (kind != entidb::index_kind::text) {
        if (stem != cl.values.end() || keep) throw usage_error{"--stem and --keep-diacritics go with --text"};
        return {};
    }
    if (cl.flag("--unique")) throw usage_error{"a text index cannot be --unique"};
    entidb::text_index_options o{.keep_diacritics = keep};
    if (stem != cl.values.end()) {
        if (stem->second != "english") throw usage_error{fmt::format("--stem takes english, got '{}'", stem->second)};
        o.stem = entidb::text::stemmer::english;
    }
    return o;
}

int cmd_index(args a) {
    std::vector<std::string_view> flags(kind_flags().begin(), kind_flags().end());
    flags.push_back("--unique");
    flags.push_back("--keep-diacritics");
    const auto cl = parse(a, 3, {"--stem"}, flags);
    const auto kind = kind_flag(cl);
    const auto options = text_options(cl, kind);
    entidb::check_collection_name(cl.positional[1]);  // bad input fails before anything is opened
    (void)entidb::parse_field_path(cl.positional[2]);
    return with_db(cl, open_mode::read_write, [&](auto& db) -> int {
        if (kind == entidb::index_kind::text)
            db.declare_index(cl.positional[1], cl.positional[2], options);
        else
            db.declare_index(cl.positional[1], cl.positional[2], kind, cl.flag("--unique"));
        fmt::print("ok\n");
        return exit_ok;
    });
}

// "search DB COLLECTION FIELD.PATH QUERY [--limit N]": one line per hit, best first,
// ID<TAB>SCORE<TAB>JSON (the score to 6 significant digits); no line when nothing matches.
// A query that does not parse is exit 2, with its column.
int cmd_search(args a) {
    const auto cl = parse(a, 4, {"--limit"});
    const auto limit = cl.number("--limit").value_or(10);
    require_positive("--limit", limit);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        const auto r = db.begin_read();
        const auto& collection = cl.positional[1];
        for (const auto& hit : r.search(collection, cl.positional[2], cl.positional[3], static_cast<std::size_t>(limit))) {
            const auto payload = r.get(collection, hit.doc);
            if (!payload) continue;  // cannot happen: the hit is from the same snapshot
            fmt::print("{}\t{:.6g}\t{}\n", hit.doc.to_hex(), hit.score, entidb::cbor::to_json(*payload));
        }
        return exit_ok;
    });
}

int cmd_find(args a) {
    const auto cl = parse(a, 4);
    const auto key = json_value(cl.positional[3]);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        print_entities(db.begin_read().find(cl.positional[1], cl.positional[2], key));
        return exit_ok;
    });
}

int cmd_range(args a) {
    const auto cl = parse(a, 5);
    const entidb::bound lo{json_value(cl.positional[3]), true}, hi{json_value(cl.positional[4]), true};
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        print_entities(db.begin_read().range(cl.positional[1], cl.positional[2], lo, hi));
        return exit_ok;
    });
}

int cmd_changes(args a) {
    const auto cl = parse(a, 1, {"--since"});
    const auto since = cl.number("--since").value_or(0);
    return with_db(cl, open_mode::read_only, [&](auto& db) -> int {
        for (const auto& c : db.changes_since(since)) {
            if (c.kind == entidb::change_kind::put)
                fmt::print("{}\t{}\t{}\tput\t{}\n", c.sequence, c.collection, c.id.to_hex(), entidb::cbor::to_json(c.payload));
            else
                fmt::print("{}\t{}\t{}\tdelete\n", c.sequence, c.collection, c.id.to_hex());
        }
        return exit_ok;
    });
}

}  // namespace

void add_index_commands(std::vector<command>& out) {
    out.push_back({"index", index_synopsis(), cmd_index});
    out.push_back({"find", "find DB COLLECTION FIELD.PATH JSON_VALUE", cmd_find});
    out.push_back({"range", "range DB COLLECTION FIELD.PATH LO HI", cmd_range});
    out.push_back({"search", "search DB COLLECTION FIELD.PATH QUERY [--limit N]", cmd_search});
    out.push_back({"changes", "changes DB [--since SEQ]", cmd_changes});
}

}  // namespace entidb_tool
