// The error code a call ends with (shared by every suite; includes only entidb/error.hpp, so
// that suites of the layers below the engine need not include the whole library).
#pragma once

// The library's own header where the include path has it; the single header (which holds it)
// in the configuration that builds the suites against single_include/ alone.
#if __has_include(<entidb/error.hpp>)
#include <entidb/error.hpp>
#else
#include <entidb/entidb.hpp>
#endif

namespace test_support {

// The errc `f` throws, or errc::ok when it returns.
inline entidb::errc code_of(auto&& f) {
    try {
        f();
    } catch (const entidb::error& e) {
        return e.value();
    }
    return entidb::errc::ok;
}

}  // namespace test_support
