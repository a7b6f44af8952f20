// entidb/core/segment_outputs.hpp — new segment files written beside the live ones, made
// current later by a commit point of their own.
//
// Compaction (core/compaction.hpp: its COMPACTION journal) and migration (core/migration.hpp:
// the MANIFEST's segment publish section) both write records into segments numbered above
// the active one, rotating at max_segment_size, then an empty segment above them all (the
// next active one). With a journaled factory the files are temporaries
// (seg-NNNNNN.dat.compact), which open deletes unless a commit point names them; any other
// rotating factory creates them directly (their segments are in memory). Until finish()
// returns nothing has been made durable; abandon() removes what was created.
//
// Thread-safety: one thread, holding the engine's writer lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "../error.hpp"
#include "../format/segment_record.hpp"
#include "../segment/factory.hpp"
#include "../segment/segment_set.hpp"
#include "engine.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {

template <typename Traits>
class segment_outputs {
    using factory_type = typename Traits::segment_factory;
    static constexpr bool files = segment_file_protocol<factory_type>;

public:
    using segment = typename segment_set<factory_type>::segment;

    // The outputs are numbered from one above the active segment. Temporaries no commit
    // point names (left by a run that never reached one) are removed first.
    explicit segment_outputs(engine<Traits>& e) : e_(e), next_(e.segments().segments().back().number + 1) {
        if constexpr (files)
            for (const auto n : e_.segments().factory().temporaries()) e_.segments().factory().remove_temporary(n);
    }
    segment_outputs(const segment_outputs&) = delete;
    segment_outputs& operator=(const segment_outputs&) = delete;
    ~segment_outputs() {
        if (!kept_) abandon();
    }

    // Appends one record, starting a new output when this one would pass max_segment_size.
    void append(const format::segment_record& r) {
        rec_.clear();
        format::encode(r, rec_);
        if (outputs_.empty() ||
            (outputs_.back().backend->size() > 0 && outputs_.back().backend->size() + rec_.size() > e_.cfg().max_segment_size))
            start_output();
        auto& o = outputs_.back();
        o.backend->append(rec_);
        o.max_sequence = std::max(o.max_sequence, r.sequence);
        if (o.min_sequence == 0 || r.sequence < o.min_sequence) o.min_sequence = r.sequence;
    }

    [[nodiscard]] bool empty() const noexcept { return outputs_.empty(); }

    // Flushes the last output, adds the empty next active segment above every output and
    // makes the new names durable (fsync SEGMENTS/).
    void finish() {
        start_output();
        if constexpr (files) e_.segments().factory().sync();
    }

    // The outputs, in number order, for the segment table (once a commit point named them).
    [[nodiscard]] std::vector<segment> take() noexcept { return std::move(outputs_); }

    // Their numbers, ascending (after finish()).
    [[nodiscard]] std::vector<std::uint32_t> numbers() const {
        std::vector<std::uint32_t> out;
        for (const auto& o : outputs_) out.push_back(o.number);
        return out;
    }

    // Total bytes written.
    [[nodiscard]] std::uint64_t bytes() const {
        std::uint64_t n = 0;
        for (const auto& o : outputs_) n += o.backend->size();
        return n;
    }

    // Removes every output this run created (only before a commit point names them).
    // Also what the destructor does unless keep() was called.
    void abandon() noexcept {
        outputs_.clear();
        kept_ = true;
        if constexpr (files)
            for (const auto n : created_) try {
                    e_.segments().factory().remove_temporary(n);
                } catch (...) {
                }
    }

    // The commit point may have named the outputs: their files stay whatever happens next
    // (open finishes the job from the commit point).
    void keep() noexcept {
        kept_ = true;
        created_.clear();
    }

private:
    // Seals the current output (flush) and starts the next number.
    void start_output() {
        if (!outputs_.empty()) outputs_.back().backend->flush();
        const std::uint32_t n = next_++;
        if (n > format::max_segment_number)
            fail(errc::invalid_argument, "writing new segments needs segment number {}, above the six-digit limit {}", n,
                 format::max_segment_number);
        created_.push_back(n);
        if constexpr (files)
            outputs_.push_back({n, e_.segments().factory().create_temporary(n), 0});
        else
            outputs_.push_back({n, e_.segments().factory().create(n), 0});
    }

    engine<Traits>& e_;
    std::uint32_t next_;
    std::vector<segment> outputs_;
    std::vector<std::uint32_t> created_;
    byte_buffer rec_;
    bool kept_ = false;
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
