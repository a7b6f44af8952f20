// entidb/segment/factory.hpp — the segment factory concept. The stock factories are one file
// each: file_factory.hpp, memory_factory.hpp, single_backend_factory.hpp.
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

#include <concepts>
#include <cstdint>
#include <memory>
#include <vector>

#include "../storage/backend.hpp"

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

}  // namespace v1
}  // namespace entidb
