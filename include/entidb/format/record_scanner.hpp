// entidb/format/record_scanner.hpp — walks the records of a WAL or segment backend in order.
//
// One mechanism for both formats: a scanner asks its format for the size of the record
// at hand (from the length field), makes that many bytes available through a byte_window,
// decodes, and stops at the first record that does not decode. The caller decides what
// a bad record means (torn tail or corruption): that is recovery policy, not scanning.
// A declared length above `max_record` is reported as malformed without reading it, so
// a damaged length field never makes the scanner allocate.
//
// A step is the scanner's own, decoded in place (scans decode one record per entity: no
// fresh struct, string or optional per record) and overwritten by the next call. The
// failed step is sticky: every later call returns it again, so a caller that steps on
// after reporting it cannot silently pass over the rest of the file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "../format/segment_record.hpp"
#include "../format/wal_record.hpp"
#include "../storage/byte_window.hpp"
#include "../detail/endian.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

struct segment_format {
    using decoded = format::segment_decoded;
    static constexpr std::size_t header_size = 4;
    static std::uint64_t record_size(bytes_view header) { return get_u32(header.data()); }
    // Resynchronising (find_next_record): a record can start only where the length is
    // possible and the flags byte (offset 24) is one a writer produces; everything else is
    // passed over without reading a record's worth of bytes and checksumming them.
    static constexpr std::size_t sync_bytes = 25;
    static bool may_start(bytes_view at) {
        const auto len = get_u32(at.data());
        const auto flags = at[24];
        if (len < format::segment_record_overhead || (flags & ~format::segment_known_flags) != 0)
            return false;
        return (flags & format::flag_tombstone) == 0 || len == format::segment_record_overhead;
    }
    static void decode_into(bytes_view in, decoded& out) { (void)format::decode_segment_into(in, out); }
};

struct wal_format {
    using decoded = format::wal_decoded;
    static constexpr std::size_t header_size = format::wal_header_size;
    static std::uint64_t record_size(bytes_view header) {
        return format::wal_header_size + std::uint64_t{get_u32(header.data() + 7)} + format::wal_crc_size;
    }
    // Resynchronising: every WAL record starts with its magic, so only offsets holding its
    // first byte are candidates (a recycled log's allocation is mostly zeros: memchr skips them).
    static constexpr std::size_t sync_bytes = format::wal_magic.size();
    static constexpr byte first_byte = format::wal_magic[0];
    static bool may_start(bytes_view at) {
        return std::equal(format::wal_magic.begin(), format::wal_magic.end(), at.begin());
    }
    // The WAL is read once, at open: a fresh decode per record costs nothing that matters.
    static void decode_into(bytes_view in, decoded& out) { out = format::decode_wal(in); }
};

template <typename Decoded>
struct scan_step {
    std::uint64_t offset;  // where the record starts in the file
    Decoded decoded;       // views into the scanner's window: valid until the next step
};

template <typename Format, storage_backend B>
class record_scanner {
public:
    record_scanner(const B& backend, std::size_t chunk, std::uint64_t max_record, std::uint64_t start = 0,
                   bool map = false)
        : window_(backend, chunk, start, map), max_record_(max_record) {}

    // The next record, or null at the end; valid until the next call. A step whose status
    // is not ok is the last: every later call returns it again.
    [[nodiscard]] const scan_step<typename Format::decoded>* next() {
        if (stopped_) return &step_;
        if (window_.remaining() == 0) return nullptr;
        step_.offset = window_.position();
        std::uint64_t need = Format::header_size;
        const bytes_view header = window_.view(need);
        if (header.size() >= Format::header_size) need = Format::record_size(header);
        if (need > max_record_) {
            stopped_ = true;
            too_long(need, step_.decoded);
            return &step_;
        }
        Format::decode_into(window_.view(need), step_.decoded);
        if (step_.decoded.status == format::decode_status::ok)
            window_.advance(step_.decoded.size);
        else
            stopped_ = true;
        return &step_;
    }

    [[nodiscard]] std::uint64_t position() const noexcept { return window_.position(); }

private:
    static void too_long(std::uint64_t need, typename Format::decoded& d) {
        d = {};
        d.status = format::decode_status::malformed;
        d.problem = fmt::format("declared record length {} exceeds the largest possible record", need);
    }

    byte_window<B> window_;
    std::uint64_t max_record_;
    scan_step<typename Format::decoded> step_{};
    bool stopped_ = false;
};

// What is wrong with a record that did not decode, in words.
template <typename Decoded>
[[nodiscard]] std::string describe_problem(const Decoded& d) {
    if (!d.problem.empty()) return d.problem;
    switch (d.status) {
        case format::decode_status::incomplete: return "incomplete record";
        case format::decode_status::bad_checksum: return "checksum mismatch";
        default: return "malformed record";
    }
}

// Where the first record at or after `from` starts that decodes (checksum included), if
// any: how a reader finds its footing again after a damaged record. Recovery uses it to tell
// a torn tail (nothing valid follows) from damage; salvage to skip the damage. Candidates
// are the offsets Format::may_start accepts; each is probed with a scanner reading just the
// record (a small chunk), so a long damaged stretch costs a pass, not a chunk per byte.
template <typename Format, storage_backend B>
[[nodiscard]] std::optional<std::uint64_t> find_next_record(const B& backend, std::size_t chunk,
                                                           std::uint64_t max_record, std::uint64_t from) {
    constexpr std::size_t look = Format::sync_bytes;
    constexpr std::size_t probe_chunk = 64;
    byte_window<B> w(backend, std::max(chunk, look), from);
    while (w.remaining() >= look) {
        const bytes_view v = w.view(std::max(chunk, look));
        const std::size_t last = v.size() - look;  // the last offset with `look` bytes in view
        for (std::size_t at = 0; at <= last; ++at) {
            if constexpr (requires { Format::first_byte; }) {
                const void* hit = std::memchr(v.data() + at, Format::first_byte, last + 1 - at);
                if (hit == nullptr) break;
                at = static_cast<std::size_t>(static_cast<const byte*>(hit) - v.data());
            }
            if (!Format::may_start(v.subspan(at, look))) continue;
            record_scanner<Format, B> probe(backend, probe_chunk, max_record, w.position() + at);
            if (const auto step = probe.next(); step && step->decoded.status == format::decode_status::ok)
                return w.position() + at;
        }
        w.advance(last + 1);
    }
    return std::nullopt;
}

template <storage_backend B>
using segment_scanner = record_scanner<segment_format, B>;
template <storage_backend B>
using wal_scanner = record_scanner<wal_format, B>;

}  // namespace detail
}  // namespace v1
}  // namespace entidb
