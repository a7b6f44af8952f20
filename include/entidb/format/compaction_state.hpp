// entidb/format/compaction_state.hpp — the COMPACTION file, byte for byte.
//
// Contract: pure encode/decode of the whole file; no I/O (the engine replaces the file
// atomically with durable_replace). The file is not part of SPEC.md §3 (the reference
// engine knows no compaction); docs/file-format.md has the table:
//     magic "ECMP" | version u16 = 1 | history_horizon u64 |
//     publish_count u32 | { segment u32 } ascending | remove_count u32 | { segment u32 } ascending |
//     crc32 u32 (over every byte before it)
// `history_horizon`: changes_since(after) needs after >= horizon (records at or below it
// may have been dropped by a compaction, or never existed after a restore).
// `publish` / `remove`: non-empty only while a compaction is being made current: the
// temporaries SEGMENTS/seg-NNNNNN.dat.compact to rename into place and the old segments to
// delete. Every published number is above every removed one.
// Errors:
//   encode                  errc::invalid_argument for lists that break the rules above.
//   decode_compaction_state errc::corruption (with the path and offset) for a bad magic,
//                           truncation, trailing bytes, a CRC mismatch or lists that break
//                           the rules; errc::unsupported_version for a version other than 1.
//
// Thread-safety: pure functions; `compaction_state` is a plain value.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "../bytes.hpp"
#include "../detail/endian.hpp"
#include "../error.hpp"
#include "crc32.hpp"

namespace entidb {
inline namespace v1 {
namespace format {

inline constexpr std::array<byte, 4> compaction_magic{'E', 'C', 'M', 'P'};
inline constexpr std::uint16_t compaction_version = 1;
inline constexpr std::uint32_t max_segment_number = 999999;  // six digits (SPEC.md §3)

struct compaction_state {
    std::uint64_t history_horizon = 0;
    std::vector<std::uint32_t> publish;  // temporaries to rename into place (ascending)
    std::vector<std::uint32_t> remove;   // old segments to delete (ascending)

    [[nodiscard]] bool pending() const noexcept { return !publish.empty() || !remove.empty(); }
    friend bool operator==(const compaction_state&, const compaction_state&) = default;
};

namespace detail {
// Empty when the lists are valid, else what is wrong.
[[nodiscard]] inline std::string compaction_lists_problem(const compaction_state& s) {
    for (const auto* list : {&s.publish, &s.remove})
        for (std::size_t i = 0; i < list->size(); ++i) {
            const auto n = (*list)[i];
            if (n == 0 || n > max_segment_number)
                return fmt::format("segment number {} outside 1..{}", n, max_segment_number);
            if (i > 0 && (*list)[i - 1] >= n) return "segment numbers not strictly ascending";
        }
    if (!s.publish.empty() && !s.remove.empty() && s.publish.front() <= s.remove.back())
        return fmt::format("published segment {} is not above removed segment {}", s.publish.front(),
                           s.remove.back());
    return {};
}
}  // namespace detail

[[nodiscard]] inline byte_buffer encode(const compaction_state& s) {
    if (const auto problem = detail::compaction_lists_problem(s); !problem.empty())
        fail(errc::invalid_argument, "compaction state: {}", problem);
    using entidb::detail::put_u16;
    using entidb::detail::put_u32;
    using entidb::detail::put_u64;
    byte_buffer out(compaction_magic.begin(), compaction_magic.end());
    put_u16(out, compaction_version);
    put_u64(out, s.history_horizon);
    for (const auto* list : {&s.publish, &s.remove}) {
        put_u32(out, static_cast<std::uint32_t>(list->size()));
        for (const auto n : *list) put_u32(out, n);
    }
    put_u32(out, crc32(out));
    return out;
}

[[nodiscard]] inline compaction_state decode_compaction_state(bytes_view in, const std::string& path) {
    const auto corrupt = [&](std::uint64_t at, const std::string& what) {
        fail_at(errc::corruption, {.path = path, .offset = at}, "COMPACTION: {}", what);
    };
    if (in.size() < 4 || !std::equal(compaction_magic.begin(), compaction_magic.end(), in.begin()))
        corrupt(0, "bad magic (expected \"ECMP\")");
    constexpr std::size_t fixed = 4 + 2 + 8 + 4 + 4 + 4;  // magic, version, horizon, two counts, crc
    if (in.size() < 6) corrupt(in.size(), "truncated before the version");
    const auto version = entidb::detail::get_u16(in.data() + 4);
    if (version != compaction_version)
        fail_at(errc::unsupported_version, {.path = path, .offset = 4},
                "COMPACTION version {} (this build reads version {})", version, compaction_version);
    if (in.size() < fixed) corrupt(in.size(), fmt::format("truncated: {} bytes, at least {} needed", in.size(), fixed));
    const std::size_t body = in.size() - 4;
    const auto stored = entidb::detail::get_u32(in.data() + body);
    if (const auto computed = crc32(in.first(body)); stored != computed)
        corrupt(body, fmt::format("stored crc32 {:08x}, computed {:08x}", stored, computed));

    entidb::detail::byte_reader r(in.first(body));
    (void)r.bytes(6);
    compaction_state s;
    s.history_horizon = r.u64();
    for (auto* list : {&s.publish, &s.remove}) {
        const auto at = r.offset();
        if (r.remaining() < 4) corrupt(at, "truncated segment count");
        const std::uint32_t count = r.u32();
        if (count > r.remaining() / 4) corrupt(at, fmt::format("segment count {} exceeds the file", count));
        list->reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) list->push_back(r.u32());
    }
    if (!r.empty()) corrupt(r.offset(), fmt::format("{} trailing bytes", r.remaining()));
    if (const auto problem = detail::compaction_lists_problem(s); !problem.empty()) corrupt(14, problem);
    return s;
}

}  // namespace format
}  // namespace v1
}  // namespace entidb
