// entidb/detail/poison_note.hpp — "why this object refuses writes", set at most once.
//
// A durable backend's flush runs on the group-commit leader's thread while the writer
// appends on its own (engine.hpp), and either may poison the backend. The note is one
// atomic pointer to an immutable message: checking it is a load, the first setter wins,
// later ones keep the first reason (the earliest failure is the one worth reporting).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace entidb {
inline namespace v1 {
namespace detail {

class poison_note {
public:
    poison_note() = default;
    poison_note(poison_note&& other) noexcept : note_(other.note_.exchange(nullptr)) {}
    poison_note& operator=(poison_note&& other) noexcept {
        if (this != &other) delete note_.exchange(other.note_.exchange(nullptr));
        return *this;
    }
    poison_note(const poison_note&) = delete;
    poison_note& operator=(const poison_note&) = delete;
    ~poison_note() { delete note_.load(); }

    // Records `why` unless a reason is already recorded; returns the recorded reason.
    std::string_view set(std::string why) {
        auto fresh = std::make_unique<const std::string>(std::move(why));
        const std::string* expected = nullptr;
        if (note_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
        return *expected;
    }

    [[nodiscard]] bool is_set() const noexcept { return note_.load(std::memory_order_acquire) != nullptr; }
    // The reason, or empty while healthy. Valid for the object's life.
    [[nodiscard]] std::string_view reason() const noexcept {
        const auto* p = note_.load(std::memory_order_acquire);
        return p ? std::string_view(*p) : std::string_view();
    }

private:
    std::atomic<const std::string*> note_{nullptr};
};

}  // namespace detail
}  // namespace v1
}  // namespace entidb
