// entidb/segment/single_backend_factory.hpp — one caller-supplied backend as the only segment.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../storage/backend.hpp"
#include "factory.hpp"

namespace entidb {
inline namespace v1 {

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
