// Compile-time checks of every concept of the library: the library's own models satisfy
// them, and types that miss a member or get one wrong do not. The file only has to compile:
// it is compiled into the test program of the layers below the engine (tests/unit/suite_core.cpp),
// whose build fails if any check here does.
#include <entidb/entidb.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace entidb;

// ---- storage_backend, durable_backend, mappable_backend (storage/backend.hpp) ----

// Every member a backend needs, with the right types: the base the non-models below change.
struct complete_backend {
    static constexpr bool durable = false;
    void read_at(std::uint64_t, mutable_bytes) const {}
    std::uint64_t append(bytes_view) { return 0; }
    void flush() {}
    [[nodiscard]] std::uint64_t size() const { return 0; }
    void truncate(std::uint64_t) {}
};
struct backend_without_durable {  // durability is an explicit declaration, never guessed
    void read_at(std::uint64_t, mutable_bytes) const {}
    std::uint64_t append(bytes_view) { return 0; }
    void flush() {}
    [[nodiscard]] std::uint64_t size() const { return 0; }
    void truncate(std::uint64_t) {}
};
struct backend_without_truncate {
    static constexpr bool durable = false;
    void read_at(std::uint64_t, mutable_bytes) const {}
    std::uint64_t append(bytes_view) { return 0; }
    void flush() {}
    [[nodiscard]] std::uint64_t size() const { return 0; }
};
struct backend_append_returns_nothing {
    static constexpr bool durable = false;
    void read_at(std::uint64_t, mutable_bytes) const {}
    void append(bytes_view) {}
    void flush() {}
    [[nodiscard]] std::uint64_t size() const { return 0; }
    void truncate(std::uint64_t) {}
};
struct backend_reads_only_when_mutable {  // read_at and size must work on a const backend
    static constexpr bool durable = false;
    void read_at(std::uint64_t, mutable_bytes) {}
    std::uint64_t append(bytes_view) { return 0; }
    void flush() {}
    [[nodiscard]] std::uint64_t size() { return 0; }
    void truncate(std::uint64_t) {}
};
struct durable_backend_model : complete_backend {
    static constexpr bool durable = true;
};
struct backend_with_view : complete_backend {
    [[nodiscard]] bytes_view view_at(std::uint64_t, std::size_t) const { return {}; }
};
struct backend_with_copying_view : complete_backend {  // a view must be a bytes_view
    [[nodiscard]] byte_buffer view_at(std::uint64_t, std::size_t) const { return {}; }
};

static_assert(storage_backend<memory_backend>);
static_assert(storage_backend<file_backend>);
static_assert(storage_backend<fault_injecting_backend<memory_backend>>);
static_assert(storage_backend<fault_injecting_backend<file_backend>>);
static_assert(storage_backend<complete_backend>);
static_assert(!storage_backend<backend_without_durable>);
static_assert(!storage_backend<backend_without_truncate>);
static_assert(!storage_backend<backend_append_returns_nothing>);
static_assert(!storage_backend<backend_reads_only_when_mutable>);
static_assert(!storage_backend<int>);
static_assert(!storage_backend<byte_buffer>);

static_assert(durable_backend<file_backend>);
static_assert(durable_backend<fault_injecting_backend<file_backend>>);
static_assert(durable_backend<durable_backend_model>);
static_assert(!durable_backend<memory_backend>);
static_assert(!durable_backend<fault_injecting_backend<memory_backend>>);
static_assert(!durable_backend<complete_backend>);

static_assert(mappable_backend<file_backend>);
static_assert(mappable_backend<backend_with_view>);
static_assert(!mappable_backend<memory_backend>);
static_assert(!mappable_backend<fault_injecting_backend<file_backend>>);  // the adapter does not map
static_assert(!mappable_backend<backend_with_copying_view>);

// ---- segment_factory, segment_file_protocol (segment/factory.hpp) ----

struct complete_factory {
    using backend_type = memory_backend;
    static constexpr bool rotates = true;
    std::unique_ptr<memory_backend> create(std::uint32_t) { return nullptr; }
    std::unique_ptr<memory_backend> open(std::uint32_t) { return nullptr; }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};
struct factory_without_rotates {
    using backend_type = memory_backend;
    std::unique_ptr<memory_backend> create(std::uint32_t) { return nullptr; }
    std::unique_ptr<memory_backend> open(std::uint32_t) { return nullptr; }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};
struct factory_of_non_backends {
    using backend_type = int;
    static constexpr bool rotates = true;
    std::unique_ptr<int> create(std::uint32_t) { return nullptr; }
    std::unique_ptr<int> open(std::uint32_t) { return nullptr; }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};
struct factory_returning_raw_pointers {
    using backend_type = memory_backend;
    static constexpr bool rotates = true;
    memory_backend* create(std::uint32_t) { return nullptr; }
    memory_backend* open(std::uint32_t) { return nullptr; }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};
struct factory_without_open {
    using backend_type = memory_backend;
    static constexpr bool rotates = true;
    std::unique_ptr<memory_backend> create(std::uint32_t) { return nullptr; }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};

static_assert(segment_factory<file_segment_factory>);
static_assert(segment_factory<memory_segment_factory>);
static_assert(segment_factory<single_backend_factory<memory_backend>>);
static_assert(segment_factory<single_backend_factory<file_backend>>);
static_assert(segment_factory<fault_injecting_factory<memory_segment_factory>>);
static_assert(segment_factory<fault_injecting_factory<file_segment_factory>>);
static_assert(segment_factory<complete_factory>);
static_assert(!segment_factory<factory_without_rotates>);
static_assert(!segment_factory<factory_of_non_backends>);
static_assert(factory_of_non_backends::rotates);  // only its backend_type is wrong
static_assert(!segment_factory<factory_returning_raw_pointers>);
static_assert(!segment_factory<factory_without_open>);
static_assert(!segment_factory<memory_backend>);

static_assert(segment_file_protocol<file_segment_factory>);
static_assert(segment_file_protocol<fault_injecting_factory<file_segment_factory>>);
static_assert(!segment_file_protocol<memory_segment_factory>);
static_assert(!segment_file_protocol<fault_injecting_factory<memory_segment_factory>>);
static_assert(!segment_file_protocol<single_backend_factory<file_backend>>);
static_assert(!segment_file_protocol<complete_factory>);

static_assert(file_segment_factory::rotates && memory_segment_factory::rotates);
static_assert(!single_backend_factory<memory_backend>::rotates);
static_assert(segment_set<file_segment_factory>::viewable);
static_assert(!segment_set<memory_segment_factory>::viewable);

// ---- database_traits (database.hpp) ----

struct single_file_segment_traits {
    using wal_backend = file_backend;
    using segment_factory = single_backend_factory<file_backend>;
    static constexpr bool rotating = false;
};
struct traits_without_factory {
    using wal_backend = memory_backend;
};
struct traits_with_a_non_backend_wal {
    using wal_backend = std::string;
    using segment_factory = memory_segment_factory;
};
struct traits_with_a_backend_as_factory {
    using wal_backend = memory_backend;
    using segment_factory = memory_backend;
};

static_assert(database_traits<file_storage>);
static_assert(database_traits<memory_storage>);
static_assert(database_traits<fault_injecting_file_storage>);
static_assert(database_traits<single_file_segment_traits>);
static_assert(!database_traits<traits_without_factory>);
static_assert(!database_traits<traits_with_a_non_backend_wal>);
static_assert(!database_traits<traits_with_a_backend_as_factory>);
static_assert(!database_traits<int>);
static_assert(traits_rotating<file_storage>());
static_assert(!traits_rotating<single_file_segment_traits>());

// ---- directory_storage (database.hpp): traits that entidb::open<Traits>(dir) accepts ----

struct directory_traits_with_a_wrong_hook {
    using wal_backend = file_backend;
    using segment_factory = file_segment_factory;
    struct environment {};
    static std::unique_ptr<file_backend> open_wal(environment&, const std::filesystem::path&, bool);
    static file_segment_factory make_segment_factory(environment&, const std::filesystem::path&);  // no read_only
};

static_assert(directory_storage<file_storage>);
static_assert(directory_storage<fault_injecting_file_storage>);
static_assert(!directory_storage<memory_storage>);
static_assert(!directory_storage<single_file_segment_traits>);
static_assert(!directory_storage<directory_traits_with_a_wrong_hook>);

// The engine is sealed (docs/architecture.md, "Sealed engine"): a database has no member
// `engine` to hand it out, only public values.
template <typename Db>
concept hands_out_engine = requires { &Db::engine; };
static_assert(!hands_out_engine<database>);
static_assert(!hands_out_engine<memory_database>);
static_assert(requires(const database& db) {
    { db.describe() } -> std::same_as<database_description>;
    { db.stats() } -> std::same_as<statistics>;
    { db.recovery() } -> std::same_as<const recovery_report&>;
    { db.share() } -> std::same_as<database>;
});

// ---- index_policy (collection.hpp) ----

struct policy_without_unique {
    static constexpr std::string_view path = "email";
    static constexpr index_kind kind = index_kind::hash;
};
struct policy_with_a_numeric_path {
    static constexpr int path = 1;
    static constexpr index_kind kind = index_kind::hash;
    static constexpr bool unique = false;
};

static_assert(index_policy<hash_index<"email">>);
static_assert(index_policy<ordered_index<"address.city">>);
static_assert(index_policy<unique_hash_index<"email">>);
static_assert(index_policy<unique_ordered_index<"n">>);
static_assert(!index_policy<policy_without_unique>);
static_assert(!index_policy<policy_with_a_numeric_path>);
static_assert(policy_with_a_numeric_path::kind == index_kind::hash &&  // only its path is wrong
              !policy_with_a_numeric_path::unique);
static_assert(!index_policy<int>);

// ---- index_implementation (index/index_implementation.hpp) ----

// Every member a kind needs: the base the non-models below change.
struct complete_index_kind {
    static constexpr index_kind kind = index_kind::hash;
    explicit complete_index_kind(format::manifest_index d) : def(std::move(d)) {}
    format::manifest_index def;
    [[nodiscard]] const format::manifest_index& definition() const noexcept { return def; }
    [[nodiscard]] std::optional<index_key> key_of(bytes_view) const { return {}; }
    void add(const index_key&, const entity_id&, std::uint64_t) {}
    void remove(const index_key&, const entity_id&, std::uint64_t, std::uint64_t) {}
    [[nodiscard]] std::vector<entity_id> find(const index_key&, std::uint64_t) const { return {}; }
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key&) const { return {}; }
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t) const { return 0; }
    [[nodiscard]] std::size_t memory_bytes() const { return 0; }
};
struct index_kind_without_remove {  // a kind that could never forget an entity's old key
    static constexpr index_kind kind = index_kind::hash;
    explicit index_kind_without_remove(format::manifest_index) {}
    [[nodiscard]] const format::manifest_index& definition() const noexcept;
    [[nodiscard]] std::optional<index_key> key_of(bytes_view) const { return {}; }
    void add(const index_key&, const entity_id&, std::uint64_t) {}
    [[nodiscard]] std::vector<entity_id> find(const index_key&, std::uint64_t) const { return {}; }
    [[nodiscard]] std::vector<entity_id> live_holders(const index_key&) const { return {}; }
    [[nodiscard]] std::uint64_t entry_count(std::uint64_t) const { return 0; }
    [[nodiscard]] std::size_t memory_bytes() const { return 0; }
};
struct index_kind_without_memory : complete_index_kind {  // memory statistics would miss it
    using complete_index_kind::complete_index_kind;
    void memory_bytes() const = delete;
};
struct index_kind_not_from_manifest : complete_index_kind {  // open could not declare it
    index_kind_not_from_manifest() : complete_index_kind({}) {}
    explicit index_kind_not_from_manifest(format::manifest_index) = delete;
};
struct ordered_kind_without_range : complete_index_kind {  // claims order it cannot answer
    using complete_index_kind::complete_index_kind;
    static constexpr bool ordered = true;
};

static_assert(index_implementation<indexes::hash_index>);
static_assert(index_implementation<indexes::ordered_index>);
static_assert(index_is_ordered<indexes::ordered_index> && !index_is_ordered<indexes::hash_index>);
static_assert(index_supports_unique<indexes::hash_index> && index_supports_unique<indexes::ordered_index>);
static_assert(index_implementation<complete_index_kind>);
static_assert(!index_is_ordered<complete_index_kind> && !index_supports_unique<complete_index_kind>);  // opt-in
static_assert(!index_implementation<index_kind_without_remove>);
static_assert(!index_implementation<index_kind_without_memory>);
static_assert(!index_implementation<index_kind_not_from_manifest>);
static_assert(!index_implementation<ordered_kind_without_range>);
static_assert(!index_implementation<int>);

// ---- reflected, codec_for, has_default_codec (codec.hpp) ----

struct reflected_model {
    std::string name;
    std::uint32_t age = 0;
    static constexpr auto entidb_fields =
        entidb::fields(entidb::field("name", &reflected_model::name), entidb::field("age", &reflected_model::age));
};
struct plain_struct {
    int x = 0;
};
enum class colour : std::uint8_t { red, green };

struct custom_codec {  // a codec of plain_struct, not the default one
    static void encode(cbor::encoder& e, const plain_struct& v) { e.integer(v.x); }
    static plain_struct decode(const cbor::value& v) { return {static_cast<int>(v.as_int())}; }
};
struct codec_decoding_another_type {
    static void encode(cbor::encoder&, const plain_struct&) {}
    static int decode(const cbor::value&) { return 0; }
};
struct codec_without_decode {
    static void encode(cbor::encoder&, const plain_struct&) {}
};

static_assert(reflected<reflected_model>);
static_assert(!reflected<plain_struct>);
static_assert(!reflected<int>);

static_assert(codec_for<custom_codec, plain_struct>);
static_assert(codec_for<codec<int>, int>);
static_assert(codec_for<codec<reflected_model>, reflected_model>);
static_assert(!codec_for<codec_decoding_another_type, plain_struct>);
static_assert(!codec_for<codec_without_decode, plain_struct>);
static_assert(!codec_for<custom_codec, int>);

static_assert(has_default_codec<int>);
static_assert(has_default_codec<std::uint64_t>);
static_assert(has_default_codec<bool>);
static_assert(has_default_codec<std::string>);
static_assert(has_default_codec<byte_buffer>);
static_assert(has_default_codec<entity_id>);
static_assert(has_default_codec<colour>);
static_assert(has_default_codec<std::optional<std::string>>);
static_assert(has_default_codec<std::vector<std::int32_t>>);
static_assert(has_default_codec<std::map<std::string, reflected_model>>);
static_assert(has_default_codec<reflected_model>);
static_assert(!has_default_codec<plain_struct>);
static_assert(!has_default_codec<double>);
static_assert(!has_default_codec<std::map<int, int>>);
static_assert(!has_default_codec<std::vector<plain_struct>>);
static_assert(!has_default_codec<int*>);

// ---- posting_source (text/posting_source.hpp) ----

// Every member a posting source needs: the base the non-models below change.
struct complete_posting_source {
    using doc_type = entity_id;
    [[nodiscard]] std::uint64_t doc_count() const { return 0; }
    [[nodiscard]] std::uint64_t total_tokens() const { return 0; }
    [[nodiscard]] std::uint64_t doc_length(const entity_id&) const { return 0; }
    template <typename F>
    void for_each_posting(std::string_view, F&&) const {}
    template <typename F>
    void for_each_term_with_prefix(std::string_view, F&&) const {}
};
struct posting_source_without_doc_type {
    [[nodiscard]] std::uint64_t doc_count() const { return 0; }
    [[nodiscard]] std::uint64_t total_tokens() const { return 0; }
    [[nodiscard]] std::uint64_t doc_length(const entity_id&) const { return 0; }
    template <typename F>
    void for_each_posting(std::string_view, F&&) const {}
    template <typename F>
    void for_each_term_with_prefix(std::string_view, F&&) const {}
};
struct unordered_doc {
    int value;
};
struct posting_source_with_unordered_docs {  // top-k ties and merges need a total order
    using doc_type = unordered_doc;
    [[nodiscard]] std::uint64_t doc_count() const { return 0; }
    [[nodiscard]] std::uint64_t total_tokens() const { return 0; }
    [[nodiscard]] std::uint64_t doc_length(const unordered_doc&) const { return 0; }
    template <typename F>
    void for_each_posting(std::string_view, F&&) const {}
    template <typename F>
    void for_each_term_with_prefix(std::string_view, F&&) const {}
};
struct posting_source_without_prefix_walk {
    using doc_type = std::uint64_t;
    [[nodiscard]] std::uint64_t doc_count() const { return 0; }
    [[nodiscard]] std::uint64_t total_tokens() const { return 0; }
    [[nodiscard]] std::uint64_t doc_length(std::uint64_t) const { return 0; }
    template <typename F>
    void for_each_posting(std::string_view, F&&) const {}
};
struct posting_source_with_mutable_walk {  // the evaluator reads through a const reference
    using doc_type = std::uint64_t;
    [[nodiscard]] std::uint64_t doc_count() const { return 0; }
    [[nodiscard]] std::uint64_t total_tokens() const { return 0; }
    [[nodiscard]] std::uint64_t doc_length(std::uint64_t) const { return 0; }
    template <typename F>
    void for_each_posting(std::string_view, F&&) {}
    template <typename F>
    void for_each_term_with_prefix(std::string_view, F&&) const {}
};
static_assert(text::posting_source<complete_posting_source>);
static_assert(!text::posting_source<posting_source_without_doc_type>);
static_assert(!text::posting_source<posting_source_with_unordered_docs>);
static_assert(!text::posting_source<posting_source_without_prefix_walk>);
static_assert(!text::posting_source<posting_source_with_mutable_walk>);
static_assert(!text::posting_source<int>);

}  // namespace
