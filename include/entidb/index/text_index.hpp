// entidb/index/text_index.hpp — the full-text kind (index_kind::text, MANIFEST byte 2): the
// words of one text field, searched with SQLite FTS5's query syntax and ranked by BM25
// (docs/indexes.md, "Full-text indexes").
//
// Its key is the field's text (a CBOR text string, keyed as make_index_key keys text; an
// absent field or a value of another type is not indexed): a commit that changes the text ends the old version's words
// at its sequence and indexes the new one's (text_postings.hpp), with the snapshot rules of
// every secondary index. Lookups: search(query, syntax, snapshot, limit), the best hits with
// their scores; find(text value, snapshot), the entities holding every word, in id order. It is
// never unique and has no key order (no range or prefix lookups over the field).
//
// Options (manifest_index::options, a MANIFEST version-3 section): `version u8 = 1 |
// flags u8 (bit 0: keep diacritics) | stemmer u8 (0 none, 1 english)`, always present, so a
// declaration names them whether or not they are the defaults.
//
// Thread-safety: as text_postings (one writer, readers beside it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../cbor/reader.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../format/manifest.hpp"
#include "../index_kind.hpp"
#include "../text/query.hpp"
#include "../text/search.hpp"
#include "../text/tokenizer.hpp"
#include "index_implementation.hpp"
#include "index_key.hpp"
#include "text_postings.hpp"

namespace entidb {
inline namespace v1 {

// How a text index cuts and folds words (text/tokenizer.hpp); fixed when it is declared.
struct text_index_options {
    bool keep_diacritics = false;                // "é" and "e" stay different words
    text::stemmer stem = text::stemmer::none;    // english: "running" finds "runs"

    friend bool operator==(const text_index_options&, const text_index_options&) = default;

    [[nodiscard]] text::tokenizer_options tokenizer() const noexcept {
        return {.remove_diacritics = !keep_diacritics, .stem = stem};
    }
};

// How a search reads its query string.
enum class query_syntax : std::uint8_t {
    fts5,   // AND, OR, NOT, "phrases", prefix*, parentheses (docs/indexes.md, "Query syntax")
    plain,  // the words of the string, all required: never a syntax error
};

// A search hit: the entity and its BM25 score (higher is better).
using text_hit = text::search_hit<entity_id>;

namespace detail {
inline constexpr std::uint8_t text_options_version = 1;

[[nodiscard]] inline byte_buffer encode_text_options(const text_index_options& o) {
    return {text_options_version, static_cast<byte>(o.keep_diacritics ? 1 : 0), static_cast<byte>(o.stem)};
}

// errc::corruption: options that are not what encode_text_options writes.
[[nodiscard]] inline text_index_options decode_text_options(const format::manifest_index& def) {
    const auto& b = def.options;
    if (b.size() != 3 || b[0] != text_options_version || b[1] > 1 || b[2] > 1)
        fail(errc::corruption, "MANIFEST: text index {} has {} bytes of options that are not version 1 with flags 0-1 "
             "and stemmer 0-1", def.id, b.size());
    return {.keep_diacritics = b[1] == 1, .stem = static_cast<text::stemmer>(b[2])};
}
}  // namespace detail

namespace indexes {

class text_index {
public:
    static constexpr index_kind kind = index_kind::text;
    static constexpr bool searchable = true;

    explicit text_index(format::manifest_index def)
        : def_(std::move(def)), options_(detail::decode_text_options(def_)), postings_(options_.tokenizer()) {
        path_views_.assign(def_.path.begin(), def_.path.end());
    }
    text_index(const text_index&) = delete;
    text_index& operator=(const text_index&) = delete;

    [[nodiscard]] const format::manifest_index& definition() const noexcept { return def_; }
    [[nodiscard]] const text_index_options& options() const noexcept { return options_; }

    // The field's text as make_index_key keys it (a rank byte, then the UTF-8), or nullopt
    // when the field is absent or not a text string.
    [[nodiscard]] std::optional<index_key> key_of(bytes_view payload) const {
        const auto field = cbor::find_path(payload, std::span<const std::string_view>(path_views_));
        if (!field || field->empty() || (static_cast<std::uint8_t>((*field)[0]) >> 5) != 3) return std::nullopt;
        return make_index_key(*field);
    }

    void add(const index_key& key, const entity_id& id, std::uint64_t from, std::uint64_t oldest_snapshot) {
        postings_.add(id, text_of(key), from, oldest_snapshot);
    }
    void add(const index_key& text, const entity_id& id, std::uint64_t from) { add(text, id, from, 0); }
    // After the bulk build: the lists give back the room they grew into.
    void built() { postings_.shrink_to_fit(); }
    void remove(const index_key&, const entity_id& id, std::uint64_t at, std::uint64_t oldest_snapshot) {
        postings_.remove(id, at, oldest_snapshot);
    }

    // The entities whose text holds every word of the text value `key` (make_index_key: its
    // rank byte, then the text), in id order; nothing for a value that is not text.
    [[nodiscard]] std::vector<entity_id> find(const index_key& key, std::uint64_t snapshot) const {
        if (!key.starts_with(make_text_prefix_key(""))) return {};
        const auto q = text::plain_query(text_of(key), options_.tokenizer());
        const auto view = postings_.view(snapshot);
        std::vector<entity_id> out;
        for (const auto& hit : text::search_all(view, q)) out.push_back(view.id_of(hit.doc));
        std::sort(out.begin(), out.end());
        return out;
    }

    // The best `limit` hits of `query` at `snapshot`, best first (equal scores: the version
    // indexed first). errc::invalid_argument, with the column, for an fts5 query that does
    // not parse.
    [[nodiscard]] std::vector<text_hit> search(std::string_view query, query_syntax syntax, std::uint64_t snapshot,
                                               std::size_t limit) const {
        const auto q = syntax == query_syntax::plain ? text::plain_query(query, options_.tokenizer())
                                                     : text::parse_query(query, options_.tokenizer());
        return entidb::search(postings_.view(snapshot), q, limit);
    }

    [[nodiscard]] std::vector<entity_id> live_holders(const index_key&) const { return {}; }  // never unique
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t snapshot) const { return postings_.view(snapshot).doc_count(); }
    [[nodiscard]] std::size_t memory_bytes() const { return postings_.memory_bytes(); }

private:
    // The text of a key key_of made.
    [[nodiscard]] static std::string_view text_of(const index_key& key) noexcept {
        return std::string_view(key).substr(std::min<std::size_t>(1, key.size()));
    }

    format::manifest_index def_;
    text_index_options options_;
    std::vector<std::string_view> path_views_;  // views into def_.path
    text_postings postings_;
};
static_assert(index_implementation<text_index>);

}  // namespace indexes
}  // namespace v1
}  // namespace entidb
