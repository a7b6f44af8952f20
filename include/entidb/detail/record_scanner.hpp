// entidb/detail/record_scanner.hpp — walks the records of a WAL or segment backend in order.
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

#include <cstdint>

#include "../format/segment_record.hpp"
#include "../format/wal_record.hpp"
#include "byte_window.hpp"
#include "endian.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

struct segment_format {
    using decoded = format::segment_decoded;
    static constexpr std::size_t header_size = 4;
    static std::uint64_t record_size(bytes_view header) { return get_u32(header.data()); }
    static void decode_into(bytes_view in, decoded& out) { (void)format::decode_segment_into(in, out); }
};

struct wal_format {
    using decoded = format::wal_decoded;
    static constexpr std::size_t header_size = format::wal_header_size;
    static std::uint64_t record_size(bytes_view header) {
        return format::wal_header_size + std::uint64_t{get_u32(header.data() + 7)} + format::wal_crc_size;
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

template <storage_backend B>
using segment_scanner = record_scanner<segment_format, B>;
template <storage_backend B>
using wal_scanner = record_scanner<wal_format, B>;

}  // namespace detail
}  // namespace v1
}  // namespace entidb
