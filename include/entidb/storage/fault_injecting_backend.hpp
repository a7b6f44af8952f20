// entidb/storage/fault_injecting_backend.hpp — a backend adapter for crash and fault tests.
//
// Contract: `fault_injecting_backend<Inner>` forwards every operation to an Inner
// backend and is exactly as durable (`durable == Inner::durable`). Any number of
// adapters share one `fault_plan` (through std::shared_ptr), which counts the
// *mutating* operations (append, flush, truncate) of all of them in one counter, so
// "the Nth mutating operation of the database" — across wal.log and every segment —
// is addressable. One armed fault fires at operation index N (0-based):
//
//   kind            append                          truncate              flush
//   io_error        errc::io_error (EIO)            errc::io_error (EIO)  errc::outcome_unknown (EIO)
//   no_space        errc::no_space (ENOSPC)         errc::no_space        errc::outcome_unknown (ENOSPC)
//   short_write     a prefix reaches Inner, then    errc::io_error (EIO)  errc::outcome_unknown (EIO)
//                   errc::io_error (EIO)
//   flush_failure   errc::io_error (EIO)            errc::io_error (EIO)  errc::outcome_unknown (EIO)
//
// Apart from short_write's prefix, a faulted operation does nothing to Inner. A flush
// fails only with outcome_unknown, as backend.hpp requires, and, like file_backend, the
// adapter then refuses every further append/flush/truncate with errc::outcome_unknown.
// With `crash_after_fault`, every later operation of every adapter on the plan (reads
// and size() included) throws errc::io_error: the process is dead.
//
// Power cuts: each adapter remembers Inner's size at its last successful flush.
// drop_unflushed(k) truncates Inner back to that size plus at most k bytes of the
// unflushed tail (a torn write); fault_plan::power_cut(k) does it for every live
// adapter of the plan. Only truncate is used, so this works over memory_backend and
// file_backend alike. Limitation: a truncate is treated as durable at once (bytes it
// removed are never resurrected by a power cut, although a real file system might).
// Over a recyclable_backend the adapter is one too (reserve is a mutating operation,
// set_end is not: it writes nothing), and a power cut also undoes what appends wrote
// over bytes the file already held since the last flush (the old bytes come back, but
// for at most keep_torn_bytes of the newest such write) and drops an unflushed reserve;
// afterwards size() == capacity(), as a reopened file would show.
//
// Ownership: the adapter shares ownership of Inner (std::shared_ptr), so a test can
// keep an in-memory Inner alive across a simulated restart. The adapter is move-only
// and movable, so it can be an element of std::vector; a moved-from adapter may only
// be destroyed or assigned to.
//
// Thread-safety: the plan is internally locked. An adapter follows Inner's rules (one
// writer, concurrent readers); call drop_unflushed/power_cut only while no operation
// runs (the "process" is dead or idle).
#pragma once

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../error.hpp"
#include "backend.hpp"
#include "memory_backend.hpp"

namespace entidb {
inline namespace v1 {

enum class fault_kind { io_error, no_space, short_write, flush_failure };

[[nodiscard]] constexpr std::string_view to_string(fault_kind kind) noexcept {
    switch (kind) {
        case fault_kind::io_error: return "io_error";
        case fault_kind::no_space: return "no_space";
        case fault_kind::short_write: return "short_write";
        case fault_kind::flush_failure: return "flush_failure";
    }
    return "unknown";
}

struct fault_options {
    bool crash_after_fault = false;        // every later operation throws errc::io_error
    std::optional<std::size_t> short_write_bytes{};  // prefix kept by short_write; default: half
};

template <storage_backend Inner>
class fault_injecting_backend;

namespace detail {
// What a plan needs from each adapter to cut the power on all of them at once.
class fault_target {
public:
    virtual void drop_unflushed(std::size_t keep_torn_bytes) = 0;

protected:
    fault_target() = default;
    fault_target(const fault_target&) = default;
    fault_target& operator=(const fault_target&) = default;
    ~fault_target() = default;
};
}  // namespace detail

class fault_plan {
public:
    // Arms one fault (replacing any armed one) at mutating operation `op_index`,
    // counted from construction or the last reset().
    void arm(std::uint64_t op_index, fault_kind kind, fault_options options = {}) {
        std::lock_guard lock(mutex_);
        armed_ = armed_fault{op_index, kind, std::move(options)};
    }

    void disarm() {
        std::lock_guard lock(mutex_);
        armed_.reset();
    }

    // Back to a fresh plan: counter 0, nothing armed, nothing fired, process alive.
    void reset() {
        std::lock_guard lock(mutex_);
        armed_.reset();
        operations_ = 0;
        fired_ = false;
        crashed_ = false;
    }

    // Mutating operations started so far (a dry run tells a sweep how many N to try).
    [[nodiscard]] std::uint64_t operations() const {
        std::lock_guard lock(mutex_);
        return operations_;
    }

    [[nodiscard]] bool fired() const {
        std::lock_guard lock(mutex_);
        return fired_;
    }

    [[nodiscard]] bool crashed() const {
        std::lock_guard lock(mutex_);
        return crashed_;
    }

    // Simulates a power cut on every live adapter sharing this plan: each drops its
    // unflushed bytes, keeping at most `keep_torn_bytes` of its unflushed tail.
    void power_cut(std::size_t keep_torn_bytes = 0) {
        std::vector<std::shared_ptr<detail::fault_target>> live;
        {
            std::lock_guard lock(mutex_);
            for (const auto& weak : targets_)
                if (auto target = weak.lock()) live.push_back(std::move(target));
        }
        for (const auto& target : live) target->drop_unflushed(keep_torn_bytes);
    }

private:
    template <storage_backend>
    friend class fault_injecting_backend;

    struct armed_fault {
        std::uint64_t op_index;
        fault_kind kind;
        fault_options options;
    };

    struct injected {
        std::uint64_t op_index;
        fault_kind kind;
        fault_options options;
    };

    // Called by an adapter before every mutating operation: counts it, and returns the
    // fault to inject if this is the armed index.
    [[nodiscard]] std::optional<injected> begin_mutation(std::string_view op, std::string_view name) {
        std::lock_guard lock(mutex_);
        throw_if_crashed(op, name);
        const std::uint64_t index = operations_++;
        if (!armed_ || armed_->op_index != index) return std::nullopt;
        injected fault{index, armed_->kind, armed_->options};
        armed_.reset();
        fired_ = true;
        crashed_ = fault.options.crash_after_fault;
        return fault;
    }

    // Called by an adapter before every non-mutating operation.
    void check_alive(std::string_view op, std::string_view name) const {
        std::lock_guard lock(mutex_);
        throw_if_crashed(op, name);
    }

    void enroll(std::weak_ptr<detail::fault_target> target) {
        std::lock_guard lock(mutex_);
        std::erase_if(targets_, [](const auto& weak) { return weak.expired(); });
        targets_.push_back(std::move(target));
    }

    void throw_if_crashed(std::string_view op, std::string_view name) const {
        if (crashed_)
            fail_at(errc::io_error, {.path = std::string(name), .sys_errno = EIO},
                    "{} after an injected crash: the process is dead", op);
    }

    mutable std::mutex mutex_;
    std::optional<armed_fault> armed_;
    std::uint64_t operations_ = 0;
    bool fired_ = false;
    bool crashed_ = false;
    std::vector<std::weak_ptr<detail::fault_target>> targets_;
};

template <storage_backend Inner>
class fault_injecting_backend {
public:
    static constexpr bool durable = Inner::durable;

    // `name` appears as the path in injected errors (e.g. "wal.log").
    fault_injecting_backend(std::shared_ptr<fault_plan> plan, std::shared_ptr<Inner> inner,
                            std::string name = "<fault-injected>")
        : plan_(std::move(plan)), state_(std::make_shared<state>(std::move(inner), std::move(name))) {
        if (!plan_) fail(errc::invalid_argument, "fault_injecting_backend needs a fault_plan");
        plan_->enroll(state_);
    }

    fault_injecting_backend(std::shared_ptr<fault_plan> plan, Inner&& inner, std::string name = "<fault-injected>")
        requires std::move_constructible<Inner>
        : fault_injecting_backend(std::move(plan), std::make_shared<Inner>(std::move(inner)), std::move(name)) {}

    explicit fault_injecting_backend(std::shared_ptr<fault_plan> plan)
        requires std::default_initializable<Inner>
        : fault_injecting_backend(std::move(plan), std::make_shared<Inner>()) {}

    fault_injecting_backend(fault_injecting_backend&&) noexcept = default;
    fault_injecting_backend& operator=(fault_injecting_backend&&) noexcept = default;
    fault_injecting_backend(const fault_injecting_backend&) = delete;
    fault_injecting_backend& operator=(const fault_injecting_backend&) = delete;
    ~fault_injecting_backend() = default;

    void read_at(std::uint64_t offset, mutable_bytes out) const {
        plan_->check_alive("read_at", state_->name);
        state_->inner->read_at(offset, out);
    }

    [[nodiscard]] std::uint64_t size() const {
        plan_->check_alive("size", state_->name);
        return state_->inner->size();
    }

    std::uint64_t append(bytes_view in) {
        const auto fault = plan_->begin_mutation("append", state_->name);
        require_healthy("append");
        state_->note_overwrite(in.size());
        if (fault) inject_into_append(*fault, in);
        return state_->inner->append(in);
    }

    [[nodiscard]] std::uint64_t capacity() const
        requires recyclable_backend<Inner>
    {
        plan_->check_alive("capacity", state_->name);
        return state_->inner->capacity();
    }

    void reserve(std::uint64_t n)
        requires recyclable_backend<Inner>
    {
        const auto fault = plan_->begin_mutation("reserve", state_->name);
        require_healthy("reserve");
        if (fault) {
            const bool full = fault->kind == fault_kind::no_space;
            fail_at(full ? errc::no_space : errc::io_error, context(full ? ENOSPC : EIO),
                    "injected {} fault on reserve at operation {}", to_string(fault->kind), fault->op_index);
        }
        state_->inner->reserve(n);
    }

    void set_end(std::uint64_t n)
        requires recyclable_backend<Inner>
    {
        plan_->check_alive("set_end", state_->name);
        require_healthy("set_end");
        state_->inner->set_end(n);
    }

    void flush() {
        const auto fault = plan_->begin_mutation("flush", state_->name);
        require_healthy("flush");
        if (fault) {
            const int err = fault->kind == fault_kind::no_space ? ENOSPC : EIO;
            state_->poisoned = fmt::format("injected flush failure at operation {}", fault->op_index);
            fail_at(errc::outcome_unknown, context(err), "{}", state_->poisoned);
        }
        const auto covered = state_->inner->size();  // an append racing the flush is not covered
        state_->inner->flush();
        state_->flushed(covered);
    }

    void truncate(std::uint64_t new_size) {
        const auto fault = plan_->begin_mutation("truncate", state_->name);
        require_healthy("truncate");
        if (fault) {
            const bool full = fault->kind == fault_kind::no_space;
            fail_at(full ? errc::no_space : errc::io_error, context(full ? ENOSPC : EIO, new_size),
                    "injected {} fault on truncate at operation {}", to_string(fault->kind), fault->op_index);
        }
        state_->inner->truncate(new_size);
        // Treated as durable at once: see the limitation in the header comment.
        state_->truncated(new_size);
    }

    // Power cut for this adapter alone (see fault_plan::power_cut). Works after a crash.
    void drop_unflushed(std::size_t keep_torn_bytes = 0) { state_->drop_unflushed(keep_torn_bytes); }

    [[nodiscard]] std::uint64_t flushed_size() const noexcept { return state_->flushed_size; }
    [[nodiscard]] Inner& inner() noexcept { return *state_->inner; }
    [[nodiscard]] const Inner& inner() const noexcept { return *state_->inner; }
    [[nodiscard]] const std::shared_ptr<Inner>& shared_inner() const noexcept { return state_->inner; }
    [[nodiscard]] const std::shared_ptr<fault_plan>& plan() const noexcept { return plan_; }

private:
    // Heap-held so that the plan's weak reference survives moves of the adapter.
    struct state final : detail::fault_target {
        state(std::shared_ptr<Inner> in, std::string n) : inner(std::move(in)), name(std::move(n)) {
            if (!inner) fail(errc::invalid_argument, "fault_injecting_backend needs an inner backend");
            flushed_size = inner->size();  // what exists at start counts as durable
            flushed_capacity = held();
        }

        void drop_unflushed(std::size_t keep_torn_bytes) override {
            if constexpr (recyclable_backend<Inner>) {
                restore_overwritten(keep_torn_bytes);
                const std::uint64_t cap = inner->capacity();
                const std::uint64_t keep = std::min<std::uint64_t>(cap, flushed_capacity + keep_torn_bytes);
                inner->set_end(cap);
                if (keep < cap) inner->truncate(keep);
                flushed_size = flushed_capacity = inner->size();  // what a reopen sees
            } else {
                const std::uint64_t keep = std::min<std::uint64_t>(inner->size(), flushed_size + keep_torn_bytes);
                if (keep < inner->size()) inner->truncate(keep);
                flushed_size = keep;  // after the "reboot", what is left is what is on disk
            }
        }

        // Before an append of `n` bytes: keeps the bytes it overwrites (a recycled log's
        // earlier lap) for a power cut to bring back.
        void note_overwrite(std::size_t n) {
            if constexpr (recyclable_backend<Inner>) {
                const std::uint64_t at = inner->size(), cap = inner->capacity();
                if (at >= cap || n == 0) return;
                byte_buffer old(static_cast<std::size_t>(std::min<std::uint64_t>(n, cap - at)));
                inner->set_end(cap);
                inner->read_at(at, old);
                inner->set_end(at);
                overwritten.emplace_back(at, std::move(old));
            }
        }

        void flushed(std::uint64_t covered) {
            flushed_size = covered;
            flushed_capacity = held();
            overwritten.clear();
        }

        void truncated(std::uint64_t n) {
            flushed_size = std::min(flushed_size, n);
            flushed_capacity = std::min(flushed_capacity, n);
            std::erase_if(overwritten, [n](const auto& w) { return w.first >= n; });
            for (auto& [at, old] : overwritten)
                if (at + old.size() > n) old.resize(static_cast<std::size_t>(n - at));
        }

        std::uint64_t held() const {
            if constexpr (recyclable_backend<Inner>) return inner->capacity();
            else return inner->size();
        }

        // Newest first, so each range ends up with what it held at the last flush.
        void restore_overwritten(std::size_t keep_torn_bytes) {
            for (std::size_t i = overwritten.size(); i-- > 0;) {
                const auto& [at, old] = overwritten[i];
                const std::size_t torn = i + 1 == overwritten.size() ? std::min(keep_torn_bytes, old.size()) : 0;
                if (torn == old.size()) continue;
                inner->set_end(at + torn);
                (void)inner->append(bytes_view(old).subspan(torn));
            }
            overwritten.clear();
        }

        std::shared_ptr<Inner> inner;
        std::string name;
        std::uint64_t flushed_size = 0;
        std::uint64_t flushed_capacity = 0;  // capacity() at the last flush
        std::vector<std::pair<std::uint64_t, byte_buffer>> overwritten;  // (offset, old bytes) since then
        std::string poisoned;  // why writes are refused after an injected flush failure
    };

    [[nodiscard]] error_context context(int err, std::optional<std::uint64_t> offset = std::nullopt) const {
        return {.path = state_->name, .offset = offset.value_or(state_->inner->size()), .sys_errno = err};
    }

    void require_healthy(std::string_view op) const {
        if (!state_->poisoned.empty())
            fail_at(errc::outcome_unknown, context(0), "{} refused: {}; reopen", op, state_->poisoned);
    }

    [[noreturn]] void inject_into_append(const fault_plan::injected& fault, bytes_view in) {
        const auto where = context(fault.kind == fault_kind::no_space ? ENOSPC : EIO);
        if (fault.kind == fault_kind::short_write) {
            const std::size_t prefix = std::min(fault.options.short_write_bytes.value_or(in.size() / 2), in.size());
            if (prefix > 0) (void)state_->inner->append(in.first(prefix));
            fail_at(errc::io_error, where, "injected short write at operation {}: {} of {} bytes written",
                    fault.op_index, prefix, in.size());
        }
        fail_at(fault.kind == fault_kind::no_space ? errc::no_space : errc::io_error, where,
                "injected {} fault on append at operation {}", to_string(fault.kind), fault.op_index);
    }

    std::shared_ptr<fault_plan> plan_;
    std::shared_ptr<state> state_;
};

static_assert(recyclable_backend<fault_injecting_backend<memory_backend>>);
static_assert(!fault_injecting_backend<memory_backend>::durable);

}  // namespace v1
}  // namespace entidb
