// entidb/index/primary_index_file.hpp — the primary index persisted as one file,
// `primary.index` in the database directory, so that open maps it instead of streaming
// every segment record (docs/file-format.md, "The primary index file").
//
// The file holds each collection's slot array exactly as lookups use it in memory
// (index/detail/slot_array.hpp: 40-byte slots, spread or guided layout, the guide), at
// page-aligned offsets, so that open maps the arrays privately: a page is read only when a
// lookup touches it, and an update copies only the page it changes. Beside the arrays it
// records what it covers: for each segment file, how many bytes of it the index reflects
// (with a hash of the last 4 KiB of them, the sequences they hold and the superseded
// counts), and the last commit sequence. Open scans only what the segments hold past those
// sizes and what the WAL holds.
//
// Trusted only as far as checked: the header and the metadata carry XXH3-64 hashes, checked
// at open with the coverage and the layout (that lookups stay inside their arrays). The
// arrays are cut into blocks of 1,024 elements, each with its hash (and a slot block with
// its erased count) in the metadata; a block is checked — hash, order (also against its
// neighbours' edges), erased count, every record inside the covered segment bytes, guide
// entries within the slots — when a lookup first reads it (detail/checked_blocks.hpp), so
// that open reads only the metadata and the few blocks its lookups need. Any failure is
// errc::corruption: at open, the caller rebuilds the index from the segments; once the
// file is in use, the image's on_damage hook tells the engine, which removes the file and
// needs a reopen (which rebuilds): never a repair of the file, never a wrong answer.
// Slots are written in the machine's byte order, which must be little-endian (the format
// says so): elsewhere the file is neither written nor read.
//
// Thread-safety: the functions share no state; the engine writes the file under its
// writer lock and reads it before the database is shared. A mapped array's block checks
// run on the threads that read it (checked_blocks is thread-safe).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <sys/stat.h>

#include "../bytes.hpp"
#include "../detail/checked_blocks.hpp"
#include "../detail/endian.hpp"
#include "../detail/posix_file.hpp"
#include "../error.hpp"
#include "../hash.hpp"
#include "../storage/filesystem.hpp"
#include "primary_index.hpp"

namespace entidb {
inline namespace v1 {

inline constexpr std::string_view primary_index_file_name = "primary.index";

// How much of one segment file an index file reflects.
struct segment_coverage {
    std::uint32_t number = 0;
    std::uint64_t size = 0;          // bytes [0, size) of the segment are in the index
    std::uint64_t min_sequence = 0;  // of the records in those bytes (0 when none)
    std::uint64_t max_sequence = 0;
    std::uint64_t tail_hash = 0;     // XXH3-64 of the last min(size, 4096) of those bytes
};

// Called with the error when a block of a mapped array fails its check after open.
using index_file_damage_hook = std::function<void(const error&)>;

// What a checked index file holds: the arrays are private mappings of it, whose blocks are
// checked as lookups reach them; `on_damage` (empty until the caller sets it) hears of a
// block that fails.
struct primary_index_image {
    std::uint64_t covered_sequence = 0;
    std::vector<segment_coverage> segments;
    std::vector<std::pair<std::uint32_t, detail::slot_array>> tables;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> superseded;
    std::uint64_t entries = 0;  // slots holding a key, over all tables
    std::shared_ptr<index_file_damage_hook> on_damage = std::make_shared<index_file_damage_hook>();
};

namespace detail::index_file {

inline constexpr std::array<byte, 4> magic{'E', 'P', 'I', 'X'};
inline constexpr std::uint16_t version = 2;
inline constexpr std::size_t header_size = 64;
inline constexpr std::uint64_t page = 4096;
inline constexpr std::size_t segment_entry = 48, superseded_entry = 16, table_entry = 104, meta_head = 16;
inline constexpr std::size_t check_block = checked_blocks::block;  // elements per hashed block
inline constexpr std::size_t slot_block_entry = 16, guide_block_entry = 8;
inline constexpr bool supported = std::endian::native == std::endian::little;

[[nodiscard]] inline std::uint64_t page_up(std::uint64_t n) noexcept { return (n + page - 1) / page * page; }

template <typename T>
[[nodiscard]] bytes_view bytes_of(const flat_array<T>& a) noexcept {
    return {reinterpret_cast<const byte*>(a.data()), a.size() * sizeof(T)};
}

// Whether every slot's record lies within the segment bytes a file covers: the check that
// makes a file whose index points elsewhere impossible to write, and to use. It caches the
// last segment looked up: one per thread (copies are cheap).
class coverage_check {
public:
    explicit coverage_check(const std::vector<segment_coverage>& segments) {
        for (const auto& s : segments) sizes_.emplace_back(s.number, s.size);
        std::sort(sizes_.begin(), sizes_.end());
    }
    [[nodiscard]] bool inside(const packed_version& v) const noexcept {
        if (v.erased()) return true;
        if (v.segment == 0) return false;  // numbers start at 1 (and 0 marks the empty cache)
        if (v.segment != last_.first) {  // slots of one segment come in runs: look up only when it changes
            const auto it =
                std::lower_bound(sizes_.begin(), sizes_.end(), std::pair<std::uint32_t, std::uint64_t>{v.segment, 0});
            if (it == sizes_.end() || it->first != v.segment) return false;
            last_ = *it;
        }
        return v.offset <= last_.second && v.length <= last_.second - v.offset;
    }

private:
    std::vector<std::pair<std::uint32_t, std::uint64_t>> sizes_;
    mutable std::pair<std::uint32_t, std::uint64_t> last_{0, 0};  // segment 0 does not exist
};

// A table's entry in the metadata.
struct table_record {
    std::uint32_t collection = 0;
    slot_array::layout_params layout;
    std::uint64_t slots_offset = 0, slot_count = 0, reserved_a = 0;
    std::uint64_t guide_offset = 0, guide_count = 0, reserved_b = 0;

    [[nodiscard]] std::uint64_t slot_blocks() const noexcept { return (slot_count + check_block - 1) / check_block; }
    [[nodiscard]] std::uint64_t guide_blocks() const noexcept { return (guide_count + check_block - 1) / check_block; }
    [[nodiscard]] std::uint64_t block_bytes() const noexcept {
        return slot_blocks() * slot_block_entry + guide_blocks() * guide_block_entry;
    }
};

inline void put_table(byte_buffer& out, const table_record& t) {
    put_u32(out, t.collection);
    put_u32(out, t.layout.spread);
    put_u32(out, t.layout.spread_from);
    put_u32(out, t.layout.guide_from);
    put_u32(out, t.layout.guide_bits);
    put_u32(out, 0);
    for (const auto v : {t.layout.erased, t.layout.gaps, t.layout.spread_low, t.layout.spread_scale, t.slots_offset,
                         t.slot_count, t.reserved_a, t.guide_offset, t.guide_count, t.reserved_b})
        put_u64(out, v);
}

[[nodiscard]] inline table_record get_table(const byte* p) {
    table_record t;
    t.collection = get_u32(p);
    t.layout.spread = get_u32(p + 4);
    t.layout.spread_from = get_u32(p + 8);
    t.layout.guide_from = get_u32(p + 12);
    t.layout.guide_bits = get_u32(p + 16);
    std::array<std::uint64_t*, 10> fields{&t.layout.erased,  &t.layout.gaps,   &t.layout.spread_low, &t.layout.spread_scale,
                                          &t.slots_offset,   &t.slot_count,    &t.reserved_a,        &t.guide_offset,
                                          &t.guide_count,    &t.reserved_b};
    for (std::size_t i = 0; i < fields.size(); ++i) *fields[i] = get_u64(p + 24 + 8 * i);
    return t;
}

[[noreturn]] inline void damaged(const std::filesystem::path& path, std::uint64_t offset, std::string_view what) {
    fail_at(errc::corruption, {.path = path.string(), .offset = offset}, "index file: {}", what);
}

// The block hashes (and erased counts) of an array, as the metadata records them.
template <typename T>
void put_blocks(byte_buffer& out, const flat_array<T>& a) {
    for (std::size_t first = 0; first < a.size(); first += check_block) {
        const std::size_t n = std::min(check_block, a.size() - first);
        put_u64(out, hash64({reinterpret_cast<const byte*>(a.data() + first), n * sizeof(T)}));
        if constexpr (std::is_same_v<T, index_slot>) {
            put_u32(out, static_cast<std::uint32_t>(
                             std::count_if(a.data() + first, a.data() + first + n, [](const index_slot& s) { return s.v.erased(); })));
            put_u32(out, 0);
        }
    }
}

// One block of a mapped array failed its check: tell the hook (once the file is in use),
// then fail.
[[noreturn]] inline void block_damaged(const std::shared_ptr<index_file_damage_hook>& hook,
                                       const std::filesystem::path& path, std::uint64_t offset, std::string_view what) {
    const error x(errc::corruption, fmt::format("index file: {}", what), {.path = path.string(), .offset = offset});
    if (*hook) (*hook)(x);
    throw x;
}

// The check of one block of a mapped slot array: its hash and erased count as recorded,
// its keys in order (also against the neighbouring blocks' edges: a block whose bytes are
// damaged fails its own hash when it is read), every record inside the covered bytes.
struct slot_block_check {
    const index_slot* slots;
    std::size_t count;
    std::uint64_t offset;  // of the array in the file
    std::vector<std::pair<std::uint64_t, std::uint32_t>> blocks;  // hash, erased count
    coverage_check coverage;
    std::filesystem::path path;
    std::shared_ptr<index_file_damage_hook> hook;

    [[nodiscard]] static bool out_of_order(const index_slot& before, const index_slot& s) noexcept {
        return s.key < before.key || (s.key == before.key && !s.v.erased());
    }
    void operator()(std::size_t b) const {
        const std::size_t first = b * check_block, last = std::min(count, first + check_block);
        const auto at = [&](std::size_t i) { return offset + i * sizeof(index_slot); };
        const bytes_view bytes{reinterpret_cast<const byte*>(slots + first), (last - first) * sizeof(index_slot)};
        if (hash64(bytes) != blocks[b].first) block_damaged(hook, path, at(first), "slot block checksum mismatch");
        coverage_check inside = coverage;  // its cache is per thread
        std::uint32_t erased = 0;
        for (std::size_t i = first; i < last; ++i) {
            erased += slots[i].v.erased() ? 1 : 0;
            if (!inside.inside(slots[i].v)) block_damaged(hook, path, at(i), "a slot points outside the segments the file covers");
            if (i > 0 && out_of_order(slots[i - 1], slots[i])) block_damaged(hook, path, at(i), "slots out of order");
        }
        if (last < count && out_of_order(slots[last - 1], slots[last])) block_damaged(hook, path, at(last), "slots out of order");
        if (erased != blocks[b].second) block_damaged(hook, path, at(first), "erased slot count mismatch");
    }
};

// The check of one block of a mapped guide: its hash, entries non-decreasing (also against
// the neighbours' edges) and within the slot array.
struct guide_block_check {
    const std::uint32_t* guide;
    std::size_t count;
    std::uint64_t offset;
    std::uint64_t slot_count;
    std::vector<std::uint64_t> hashes;
    std::filesystem::path path;
    std::shared_ptr<index_file_damage_hook> hook;

    void operator()(std::size_t b) const {
        const std::size_t first = b * check_block, last = std::min(count, first + check_block);
        const auto at = [&](std::size_t i) { return offset + i * sizeof(std::uint32_t); };
        if (hash64({reinterpret_cast<const byte*>(guide + first), (last - first) * sizeof(std::uint32_t)}) != hashes[b])
            block_damaged(hook, path, at(first), "guide block checksum mismatch");
        for (std::size_t i = first; i < last; ++i)
            if (guide[i] > slot_count || (i > 0 && guide[i] < guide[i - 1])) block_damaged(hook, path, at(i), "guide out of order");
        if (last < count && guide[last] < guide[last - 1]) block_damaged(hook, path, at(last), "guide out of order");
    }
};

// A private, writable mapping of `count` elements of T at `offset` (page-aligned).
template <typename T>
[[nodiscard]] flat_array<T> map_array(int fd, const std::filesystem::path& path, std::uint64_t offset,
                                      std::uint64_t count, int advice) {
    flat_array<T> a;
    if (count == 0) return a;
    const std::size_t bytes = static_cast<std::size_t>(page_up(count * sizeof(T)));
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED)
        fail_at(errc::io_error, {.path = path.string(), .offset = offset, .sys_errno = errno}, "index file: mmap failed");
    (void)::madvise(p, bytes, advice);  // advice: a lookup reads one slot, not its neighbours' pages
    a.adopt_mapping(p, bytes, static_cast<std::size_t>(count));
    return a;
}

}  // namespace detail::index_file

// Writes `ix` as the index file at `path` (atomically: durable_replace_parts), covering
// `segments` and the commits up to `covered_sequence`. The caller makes sure the index
// holds exactly the records in those segment bytes, and holds off changes meanwhile.
// Errors: as durable_replace (the previous file, if any, stays); errc::not_supported on a
// big-endian machine.
inline void write_primary_index_file(const std::filesystem::path& path, const primary_index& ix,
                                     std::uint64_t covered_sequence, const std::vector<segment_coverage>& segments) {
    using namespace detail;
    using namespace detail::index_file;
    if constexpr (!supported) fail(errc::unsupported_version, "index files are written on little-endian machines only");
    ix.with_image([&](const std::vector<primary_index::image_table>& tables, const auto& superseded) {
        static const std::array<byte, page> zeros{};
        std::vector<table_record> records;
        std::vector<bytes_view> parts;
        byte_buffer header(page, 0);
        parts.push_back(header);
        std::uint64_t at = page;
        const auto add_array = [&](bytes_view bytes, std::uint64_t& offset) {
            offset = bytes.empty() ? 0 : at;
            if (bytes.empty()) return;
            parts.push_back(bytes);
            const auto padded = page_up(bytes.size());
            if (padded > bytes.size()) parts.push_back({zeros.data(), static_cast<std::size_t>(padded - bytes.size())});
            at += padded;
        };
        const coverage_check coverage(segments);
        for (const auto& t : tables) {
            for (const auto& s : t.slots->slots())
                if (!coverage.inside(s.v))
                    fail(errc::corruption, "index file not written: collection {} has a record at segment {} offset {} "
                         "outside the segments it would cover", t.collection, s.v.segment, s.v.offset);
            table_record r{.collection = t.collection, .layout = t.slots->params()};
            r.slot_count = t.slots->slots().size();
            r.guide_count = t.slots->guide().size();
            add_array(bytes_of(t.slots->slots()), r.slots_offset);
            add_array(bytes_of(t.slots->guide()), r.guide_offset);
            records.push_back(r);
        }
        byte_buffer meta;
        put_u32(meta, static_cast<std::uint32_t>(segments.size()));
        put_u32(meta, static_cast<std::uint32_t>(records.size()));
        put_u32(meta, static_cast<std::uint32_t>(superseded.size()));
        put_u32(meta, 0);
        for (const auto& s : segments) {
            put_u32(meta, s.number);
            put_u32(meta, 0);
            for (const auto v : {s.size, s.min_sequence, s.max_sequence, s.tail_hash, std::uint64_t{0}}) put_u64(meta, v);
        }
        for (const auto& [segment, count] : superseded) {
            put_u32(meta, segment);
            put_u32(meta, 0);
            put_u64(meta, count);
        }
        for (const auto& r : records) put_table(meta, r);
        for (const auto& t : tables) {
            put_blocks(meta, t.slots->slots());
            put_blocks(meta, t.slots->guide());
        }
        parts.push_back(meta);
        byte_buffer h;
        put_bytes(h, magic);
        put_u16(h, version);
        put_u16(h, static_cast<std::uint16_t>(header_size));
        for (const auto v : {covered_sequence, at + meta.size(), at, std::uint64_t{meta.size()}, hash64(meta), std::uint64_t{0}})
            put_u64(h, v);
        put_u64(h, hash64(h));
        std::copy(h.begin(), h.end(), header.begin());
        durable_replace_parts(path, parts);
    });
}

// Reads and checks the index file at `path` and maps its arrays. `coverage_problem(segments)`
// says, before the arrays are read, why the segments it covers are not the database's (a
// stale or foreign file), if they are not. Errors: errc::corruption (what is wrong, with the
// offset) for a file that is not a whole, undamaged index file of this format or whose
// coverage has a problem; errc::unsupported_version for another version; errc::io_error if
// it cannot be read (ENOENT for none).
template <typename CoverageProblem>
[[nodiscard]] primary_index_image read_primary_index_file(const std::filesystem::path& path,
                                                          CoverageProblem&& coverage_problem) {
    using namespace detail;
    using namespace detail::index_file;
    if constexpr (!supported) fail(errc::unsupported_version, "index files are read on little-endian machines only");
    const detail::unique_fd fd = detail::open_fd(path, O_RDONLY);
    if (!fd) fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "cannot open the index file");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        fail_at(errc::io_error, {.path = path.string(), .sys_errno = errno}, "fstat of the index file failed");
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size < page) damaged(path, 0, "shorter than its header");

    std::array<byte, header_size> h{};
    if (!detail::pread_fully(fd.get(), h, 0).complete(h.size())) damaged(path, 0, "cannot read the header");
    if (!std::equal(magic.begin(), magic.end(), h.begin())) damaged(path, 0, "not an index file (bad magic)");
    if (hash64({h.data(), 56}) != get_u64(h.data() + 56)) damaged(path, 56, "header checksum mismatch");
    if (get_u16(h.data() + 4) != version)
        fail_at(errc::unsupported_version, {.path = path.string(), .offset = 4}, "index file version {} (this build reads {})",
                get_u16(h.data() + 4), version);
    primary_index_image out;
    out.covered_sequence = get_u64(h.data() + 8);
    const auto size = get_u64(h.data() + 16), meta_at = get_u64(h.data() + 24), meta_size = get_u64(h.data() + 32);
    if (size != file_size) damaged(path, 16, "file size differs from the size its header records");
    if (meta_at < page || meta_at > size || meta_size != size - meta_at || meta_size < meta_head || meta_size > (64u << 20))
        damaged(path, 24, "metadata out of range");

    byte_buffer meta(static_cast<std::size_t>(meta_size));
    if (!detail::pread_fully(fd.get(), meta, meta_at).complete(meta.size())) damaged(path, meta_at, "cannot read metadata");
    if (hash64(meta) != get_u64(h.data() + 40)) damaged(path, meta_at, "metadata checksum mismatch");
    const auto segments = get_u32(meta.data()), tables = get_u32(meta.data() + 4), superseded = get_u32(meta.data() + 8);
    const std::uint64_t fixed_size = meta_head + std::uint64_t{segments} * segment_entry +
                                     std::uint64_t{superseded} * superseded_entry + std::uint64_t{tables} * table_entry;
    if (fixed_size > meta_size) damaged(path, meta_at, "metadata length does not match its counts");
    const byte* p = meta.data() + meta_head;
    for (std::uint32_t i = 0; i < segments; ++i, p += segment_entry)
        out.segments.push_back({get_u32(p), get_u64(p + 8), get_u64(p + 16), get_u64(p + 24), get_u64(p + 32)});
    for (std::uint32_t i = 0; i < superseded; ++i, p += superseded_entry) out.superseded.emplace_back(get_u32(p), get_u64(p + 8));
    if (const std::optional<std::string> why = coverage_problem(out.segments))
        fail_at(errc::corruption, {.path = path.string()}, "index file is stale: {}", *why);

    // The table entries first (each array within the file, the block tables' total length
    // matching the metadata's), then each table's blocks, mapped and checked as read.
    std::vector<table_record> records;
    std::uint64_t block_bytes = 0;
    for (std::uint32_t i = 0; i < tables; ++i, p += table_entry) {
        const auto t = get_table(p);
        const auto entry_at = meta_at + static_cast<std::uint64_t>(p - meta.data());
        if (i > 0 && t.collection <= records.back().collection) damaged(path, entry_at, "tables out of order");
        const auto in_file = [&](std::uint64_t offset, std::uint64_t count, std::size_t element) {
            return count == 0 || (offset % page == 0 && offset >= page && count <= meta_at / element &&
                                  offset <= meta_at - count * element);
        };
        if (!in_file(t.slots_offset, t.slot_count, sizeof(detail::index_slot)) ||
            !in_file(t.guide_offset, t.guide_count, sizeof(std::uint32_t)))
            damaged(path, entry_at, "array out of range");
        block_bytes += t.block_bytes();
        records.push_back(t);
    }
    if (fixed_size + block_bytes != meta_size) damaged(path, meta_at, "metadata length does not match its counts");
    const auto shared_coverage = coverage_check(out.segments);
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& t = records[i];
        const auto entry_at = meta_at + meta_head + std::uint64_t{segments} * segment_entry +
                              std::uint64_t{superseded} * superseded_entry + i * table_entry;
        auto slots = map_array<detail::index_slot>(fd.get(), path, t.slots_offset, t.slot_count, MADV_RANDOM);
        auto guide = map_array<std::uint32_t>(fd.get(), path, t.guide_offset, t.guide_count, MADV_NORMAL);
        slot_block_check slot_check{slots.data(), slots.size(), t.slots_offset, {}, shared_coverage, path, out.on_damage};
        std::uint64_t erased = 0;
        for (std::uint64_t b = 0; b < t.slot_blocks(); ++b, p += slot_block_entry) {
            slot_check.blocks.emplace_back(get_u64(p), get_u32(p + 8));
            erased += get_u32(p + 8);
        }
        if (erased != t.layout.erased + t.layout.gaps) damaged(path, entry_at, "erased slot count mismatch");
        guide_block_check guide_check{guide.data(), guide.size(), t.guide_offset, t.slot_count, {}, path, out.on_damage};
        for (std::uint64_t b = 0; b < t.guide_blocks(); ++b, p += guide_block_entry) guide_check.hashes.push_back(get_u64(p));
        const char* problem = nullptr;
        auto a = detail::slot_array::adopt(
            std::move(slots), std::move(guide), t.layout,
            std::make_unique<checked_blocks>(static_cast<std::size_t>(t.slot_count), std::move(slot_check)),
            std::make_unique<checked_blocks>(static_cast<std::size_t>(t.guide_count), std::move(guide_check)), problem);
        if (!a) damaged(path, entry_at, problem);
        out.entries += a->live();
        out.tables.emplace_back(t.collection, std::move(*a));
    }
    return out;
}

}  // namespace v1
}  // namespace entidb
