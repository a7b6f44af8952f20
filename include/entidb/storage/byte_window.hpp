// entidb/storage/byte_window.hpp — streams a backend front to back through a bounded buffer.
//
// Open, verify and recovery read every record of the WAL and the segments; a window keeps
// only the bytes of the record at hand (plus one read chunk) in memory, so opening a
// database never holds all records at once (SPEC.md §9 rule 4).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../bytes.hpp"
#include "../storage/backend.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

template <storage_backend B>
class byte_window {
public:
    // `map`: use views where the backend has them (scans that run while the database is
    // open; open itself reads through the buffer, so the file's pages do not count in its
    // resident memory). The window covers the bytes the backend held when it was made.
    byte_window(const B& backend, std::size_t chunk, std::uint64_t start = 0, bool map = false)
        : backend_(backend), chunk_(chunk), start_(start), end_(backend.size()), pos_(start),
          map_(map && mappable_backend<B>) {
        if constexpr (mappable_backend<B>)
            if (map_) mapped_ = backend_.view_at(start, static_cast<std::size_t>(remaining()));
    }

    [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }
    [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
    [[nodiscard]] std::uint64_t remaining() const noexcept { return end_ - pos_; }

    // The bytes from position(): at least min(n, remaining()) of them. The view stays
    // valid until the next call to view() or advance() (mapped: while the backend lives).
    [[nodiscard]] bytes_view view(std::uint64_t n) {
        n = std::min<std::uint64_t>(n, remaining());
        if (map_) return mapped_.subspan(static_cast<std::size_t>(pos_ - start_), static_cast<std::size_t>(n));
        if (held() < n) refill(static_cast<std::size_t>(n));
        return bytes_view(buf_).subspan(off_, std::min<std::size_t>(held(), remaining()));
    }

    void advance(std::uint64_t n) {
        const auto step = static_cast<std::size_t>(std::min<std::uint64_t>(n, held()));
        off_ += step;
        pos_ += n;
        if (step < n) clear();  // skipped past what is buffered
    }

private:
    [[nodiscard]] std::size_t held() const noexcept { return buf_.size() - off_; }
    void clear() noexcept {
        buf_.clear();
        off_ = 0;
    }

    // Keeps what is buffered from position() and reads at least up to `need` bytes.
    void refill(std::size_t need) {
        const std::size_t have = held();
        if (have != 0 && off_ != 0) std::memmove(buf_.data(), buf_.data() + off_, have);
        off_ = 0;
        const auto want = static_cast<std::size_t>(
            std::min<std::uint64_t>(std::max<std::uint64_t>(need, chunk_), remaining()));
        buf_.resize(want);
        backend_.read_at(pos_ + have, mutable_bytes(buf_).subspan(have, want - have));
    }

    const B& backend_;
    std::size_t chunk_;
    std::uint64_t start_;
    std::uint64_t end_;
    std::uint64_t pos_;
    bool map_;
    // Mapped: [start, end_) as one view, taken once. A mapping is never moved or unmapped
    // while the backend lives, even when the file grows (file_mappings.hpp), so one view
    // serves the whole walk instead of a mapping lookup per record.
    bytes_view mapped_;
    byte_buffer buf_;
    std::size_t off_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
