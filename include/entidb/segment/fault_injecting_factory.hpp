// entidb/segment/fault_injecting_factory.hpp — crash-test compositions.
//
// `fault_injecting_factory<F>` wraps every backend F makes in a fault_injecting_backend
// sharing one fault_plan, so a test can fail "the Nth write or flush" anywhere in a
// database — WAL or any segment — and then cut the power (fault_plan::power_cut).
// `fault_injecting_file_storage` is the file composition with both wrapped: open it with
// `entidb::open<entidb::fault_injecting_file_storage>(path, cfg, {plan})`; it goes
// through the same directory open path as `entidb::database`.
#pragma once

#include <filesystem>
#include <memory>

#include "../storage/fault_injecting_backend.hpp"
#include "../storage/file_backend.hpp"
#include "file_factory.hpp"

namespace entidb {
inline namespace v1 {

template <segment_factory F>
class fault_injecting_factory {
public:
    using backend_type = fault_injecting_backend<typename F::backend_type>;
    static constexpr bool rotates = F::rotates;
    static constexpr bool journaled = factory_journaled<F>();

    fault_injecting_factory(std::shared_ptr<fault_plan> plan, F inner) : plan_(std::move(plan)), inner_(std::move(inner)) {}

    [[nodiscard]] std::unique_ptr<backend_type> create(std::uint32_t n) { return wrap(inner_.create(n), n); }
    [[nodiscard]] std::unique_ptr<backend_type> open(std::uint32_t n) { return wrap(inner_.open(n), n); }
    [[nodiscard]] std::vector<std::uint32_t> existing() const { return inner_.existing(); }

    // The compaction protocol, when F is journaled: temporaries are wrapped (their appends and
    // flushes count in the plan); renames, removals and directory syncs are not backend
    // operations and are forwarded as they are.
    [[nodiscard]] std::unique_ptr<backend_type> create_temporary(std::uint32_t n)
        requires segment_file_protocol<F>
    {
        return wrap(inner_.create_temporary(n), n);
    }
    [[nodiscard]] std::unique_ptr<backend_type> open_temporary(std::uint32_t n)
        requires segment_file_protocol<F>
    {
        return wrap(inner_.open_temporary(n), n);
    }
    void publish_temporary(std::uint32_t n) requires segment_file_protocol<F> { inner_.publish_temporary(n); }
    void remove(std::uint32_t n) requires segment_file_protocol<F> { inner_.remove(n); }
    void remove_temporary(std::uint32_t n) requires segment_file_protocol<F> { inner_.remove_temporary(n); }
    [[nodiscard]] std::vector<std::uint32_t> temporaries() const requires segment_file_protocol<F> {
        return inner_.temporaries();
    }
    [[nodiscard]] bool has(std::uint32_t n) const requires segment_file_protocol<F> { return inner_.has(n); }
    [[nodiscard]] bool has_temporary(std::uint32_t n) const requires segment_file_protocol<F> {
        return inner_.has_temporary(n);
    }
    void sync() requires segment_file_protocol<F> { inner_.sync(); }

private:
    std::unique_ptr<backend_type> wrap(std::unique_ptr<typename F::backend_type> b, std::uint32_t n) {
        return std::make_unique<backend_type>(plan_, std::shared_ptr<typename F::backend_type>(std::move(b)),
                                              segment_file_name(n));
    }
    std::shared_ptr<fault_plan> plan_;
    F inner_;
};

struct fault_injecting_file_storage {
    using wal_backend = fault_injecting_backend<file_backend>;
    using segment_factory = fault_injecting_factory<file_segment_factory>;
    struct environment {
        std::shared_ptr<fault_plan> plan = std::make_shared<fault_plan>();
    };

    static std::unique_ptr<wal_backend> open_wal(environment& env, const std::filesystem::path& path,
                                                 bool read_only) {
        return std::make_unique<wal_backend>(
            env.plan,
            std::make_shared<file_backend>(
                file_backend::open(path, read_only ? file_mode::private_view : file_mode::create_or_open)),
            "wal.log");
    }
    static segment_factory make_segment_factory(environment& env, const std::filesystem::path& dir,
                                                bool read_only) {
        return segment_factory(env.plan, file_segment_factory(dir, read_only));
    }
};

}  // namespace v1
}  // namespace entidb
