// entidb/segment/factory.hpp — the segment factory concept and the stock factories.
//
// A segment factory makes the backend for segment number N (1, 2, ...): `create(n)` for
// a new, empty segment whose existence is durable when it returns (for files: the
// directory is fsynced), `open(n)` for one that exists, `existing()` for the numbers that
// exist, ascending. It declares at compile time what it can do:
//   using backend_type = ...;               // a storage_backend
//   static constexpr bool rotates = ...;    // can it make more than one segment?
//   static constexpr bool journaled = ...;  // optional (default false): see below
// The database checks these declarations with static_asserts (database.hpp): a durable
// database whose factory makes non-durable backends does not compile (SPEC.md §9 rule 2),
// nor does a factory of durable, rotating segments that is not journaled (below).
//
// Compaction (core/compaction.hpp) writes new segments under temporary names that
// `existing()` ignores and makes them current through a journal; a factory whose segments
// are files declares that it offers that protocol and has its members:
//   static constexpr bool journaled = true;
// create_temporary(n) / open_temporary(n) for SEGMENTS/seg-NNNNNN.dat.compact,
// publish_temporary(n) (rename over the final name), remove(n) / remove_temporary(n) (a
// missing file is not an error), temporaries(), has(n) / has_temporary(n), and sync() (fsync
// the segment directory, which every rename or removal needs before it is relied on).
// `segment_file_protocol` is "declared journaled and has the members"; compaction and
// recovery take the journaled path exactly for those factories. The declaration is what
// decides, never the members alone: a factory missing one member must not quietly compact
// without the journal. A factory that does not declare `journaled` is not journaled (its
// segments are not files: memory, one caller-supplied backend); database.hpp refuses a
// composition whose factory makes durable backends and rotates without being journaled, and
// one that declares `journaled = true` without every member.
//
// Thread-safety: a factory is used by the single writer only.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <unistd.h>

#include "../error.hpp"
#include "../storage/backend.hpp"
#include "../storage/file_backend.hpp"
#include "../storage/filesystem.hpp"
#include "../storage/memory_backend.hpp"

namespace entidb {
inline namespace v1 {

template <typename F>
concept segment_factory = requires(F& f, const F& cf, std::uint32_t n) {
    typename F::backend_type;
    requires storage_backend<typename F::backend_type>;
    { F::rotates } -> std::convertible_to<bool>;
    { f.create(n) } -> std::same_as<std::unique_ptr<typename F::backend_type>>;
    { f.open(n) } -> std::same_as<std::unique_ptr<typename F::backend_type>>;
    { cf.existing() } -> std::same_as<std::vector<std::uint32_t>>;
};

// Whether a factory declares the journaled temporary-file protocol (default: no).
template <typename F>
[[nodiscard]] consteval bool factory_journaled() {
    if constexpr (requires { F::journaled; })
        return F::journaled;
    else
        return false;
}

// The members of the temporary-file protocol compaction's journal needs (see the header
// comment), whether or not the factory declares it.
template <typename F>
concept segment_file_members = segment_factory<F> && requires(F& f, const F& cf, std::uint32_t n) {
    { f.create_temporary(n) } -> std::same_as<std::unique_ptr<typename F::backend_type>>;
    { f.open_temporary(n) } -> std::same_as<std::unique_ptr<typename F::backend_type>>;
    { f.publish_temporary(n) } -> std::same_as<void>;
    { f.remove(n) } -> std::same_as<void>;
    { f.remove_temporary(n) } -> std::same_as<void>;
    { cf.temporaries() } -> std::same_as<std::vector<std::uint32_t>>;
    { cf.has(n) } -> std::same_as<bool>;
    { cf.has_temporary(n) } -> std::same_as<bool>;
    { f.sync() } -> std::same_as<void>;
};

// A factory whose segments are files in one directory, declared journaled, with every member
// of the protocol: the factories compaction and recovery drive through the COMPACTION journal.
template <typename F>
concept segment_file_protocol = segment_factory<F> && factory_journaled<F>() && segment_file_members<F>;

// The file name of segment n: seg-000001.dat (six digits, SPEC.md §3).
[[nodiscard]] inline std::string segment_file_name(std::uint32_t n) { return fmt::format("seg-{:06}.dat", n); }

// Parses a segment file name; anything else (including seg-0.dat) yields 0.
[[nodiscard]] inline std::uint32_t parse_segment_file_name(std::string_view name) {
    constexpr std::string_view prefix = "seg-", suffix = ".dat";
    if (name.size() != prefix.size() + 6 + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
        return 0;
    const auto digits = name.substr(prefix.size(), 6);
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return ec == std::errc{} && end == digits.data() + digits.size() ? n : 0;
}

// A compaction's temporary name for segment n: seg-000001.dat.compact (ignored by open
// unless the COMPACTION journal names it).
inline constexpr std::string_view temporary_segment_suffix = ".compact";
[[nodiscard]] inline std::string temporary_segment_file_name(std::uint32_t n) {
    return segment_file_name(n) + std::string(temporary_segment_suffix);
}
[[nodiscard]] inline std::uint32_t parse_temporary_segment_file_name(std::string_view name) {
    if (!name.ends_with(temporary_segment_suffix)) return 0;
    return parse_segment_file_name(name.substr(0, name.size() - temporary_segment_suffix.size()));
}

// Segment files in <db>/SEGMENTS: durable, rotating. The everyday factory.
// `read_only`: a read-only database's factory. It never writes the directory: segments
// are opened as private views (file_backend.hpp) and a new segment lives in memory only
// (WAL replay in memory); the compaction protocol's writes are errc::read_only.
class file_segment_factory {
public:
    using backend_type = file_backend;
    static constexpr bool rotates = true;
    static constexpr bool journaled = true;

    explicit file_segment_factory(std::filesystem::path dir, bool read_only = false)
        : dir_(std::move(dir)), read_only_(read_only) {}

    [[nodiscard]] std::unique_ptr<file_backend> create(std::uint32_t n) {
        if (read_only_) return std::make_unique<file_backend>(file_backend::in_memory(path_of(n)));
        auto b = std::make_unique<file_backend>(file_backend::open(path_of(n), file_mode::create_new));
        sync_directory(dir_);  // the new file exists only once its directory entry is durable
        return b;
    }
    [[nodiscard]] std::unique_ptr<file_backend> open(std::uint32_t n) {
        return std::make_unique<file_backend>(file_backend::open(path_of(n), open_mode()));
    }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return list(parse_segment_file_name); }

    // ---- the temporary-file protocol of compaction (segment_file_protocol) ----
    // Creating a temporary does not sync the directory: the caller syncs once for all.
    [[nodiscard]] std::unique_ptr<file_backend> create_temporary(std::uint32_t n) {
        require_writable();
        return std::make_unique<file_backend>(file_backend::open(temporary_path_of(n), file_mode::create_new));
    }
    [[nodiscard]] std::unique_ptr<file_backend> open_temporary(std::uint32_t n) {
        return std::make_unique<file_backend>(file_backend::open(temporary_path_of(n), open_mode()));
    }
    void publish_temporary(std::uint32_t n) {
        require_writable();
        if (::rename(temporary_path_of(n).c_str(), path_of(n).c_str()) != 0)
            fail_at(errc::io_error, {.path = temporary_path_of(n).string(), .sys_errno = errno},
                    "cannot rename the compacted segment into place");
    }
    void remove(std::uint32_t n) {
        require_writable();
        unlink_if_present(path_of(n));
    }
    void remove_temporary(std::uint32_t n) {
        require_writable();
        unlink_if_present(temporary_path_of(n));
    }
    [[nodiscard]] std::vector<std::uint32_t> temporaries() const { return list(parse_temporary_segment_file_name); }
    [[nodiscard]] bool has(std::uint32_t n) const { return path_exists(path_of(n)); }
    [[nodiscard]] bool has_temporary(std::uint32_t n) const { return path_exists(temporary_path_of(n)); }
    void sync() {
        if (!read_only_) sync_directory(dir_);  // a read-only factory changed nothing to sync
    }

    [[nodiscard]] std::filesystem::path path_of(std::uint32_t n) const { return dir_ / segment_file_name(n); }
    [[nodiscard]] std::filesystem::path temporary_path_of(std::uint32_t n) const {
        return dir_ / temporary_segment_file_name(n);
    }
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }

private:
    [[nodiscard]] file_mode open_mode() const noexcept {
        return read_only_ ? file_mode::private_view : file_mode::open_existing;
    }
    void require_writable() const {
        if (read_only_) fail_at(errc::read_only, {.path = dir_.string()}, "the database was opened read-only");
    }

    // Numbers of the directory entries `parse` accepts, ascending.
    [[nodiscard]] std::vector<std::uint32_t> list(std::uint32_t (*parse)(std::string_view)) const {
        std::vector<std::uint32_t> out;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
            if (const auto n = parse(it->path().filename().string()); n != 0) out.push_back(n);
        if (ec) fail_at(errc::io_error, {.path = dir_.string(), .sys_errno = ec.value()}, "cannot list segments");
        std::sort(out.begin(), out.end());
        return out;
    }
    static void unlink_if_present(const std::filesystem::path& p) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            fail_at(errc::io_error, {.path = p.string(), .sys_errno = errno}, "cannot remove the segment file");
    }

    std::filesystem::path dir_;
    bool read_only_ = false;
};

static_assert(segment_file_protocol<file_segment_factory>);

// Segments in memory: rotating, not durable. For the in-memory database and tests.
class memory_segment_factory {
public:
    using backend_type = memory_backend;
    static constexpr bool rotates = true;
    static constexpr bool journaled = false;  // nothing outlives the process: no journal to write

    [[nodiscard]] std::unique_ptr<memory_backend> create(std::uint32_t) { return std::make_unique<memory_backend>(); }
    [[nodiscard]] std::unique_ptr<memory_backend> open(std::uint32_t n) {
        fail(errc::not_found, "memory segment {} does not exist", n);
    }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return {}; }
};

// Exactly one caller-supplied backend as segment 1, and no rotation: asking for a second
// segment is errc::rotation_unsupported, never a silent fallback to memory (SPEC.md §9
// rule 2). The backend is handed out once, to the segment set (the open path must not
// probe it). The engine keeps the one segment within max_segment_size by refusing a commit
// that would not fit before its WAL append (errc::rotation_unsupported, nothing written).
template <storage_backend B>
class single_backend_factory {
public:
    using backend_type = B;
    static constexpr bool rotates = false;
    static constexpr bool journaled = false;  // cannot rotate, so it never compacts

    explicit single_backend_factory(std::unique_ptr<B> backend) : backend_(std::move(backend)) {}

    [[nodiscard]] std::unique_ptr<B> create(std::uint32_t n) { return take(n); }
    [[nodiscard]] std::unique_ptr<B> open(std::uint32_t n) { return take(n); }
    [[nodiscard]] std::vector<std::uint32_t> existing() const {
        if (backend_ && backend_->size() > 0) return {1};
        return {};
    }

private:
    std::unique_ptr<B> take(std::uint32_t n) {
        if (n != 1 || !backend_)
            fail(errc::rotation_unsupported,
                 "single_backend_factory holds one segment and cannot make segment {}: use a rotating "
                 "factory (file_segment_factory) or a max_segment_size the data never reaches",
                 n);
        return std::move(backend_);
    }
    std::unique_ptr<B> backend_;
};

}  // namespace v1
}  // namespace entidb
