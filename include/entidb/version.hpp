// entidb/version.hpp — library and on-disk format versions.
#pragma once

#include <cstdint>
#include <string_view>

namespace entidb {
inline namespace v1 {

inline constexpr std::string_view library_version = "1.0.0";
inline constexpr int library_version_major = 1;
inline constexpr int library_version_minor = 0;
inline constexpr int library_version_patch = 0;

// The on-disk format this build writes (SPEC.md §3, docs/file-format.md).
inline constexpr std::uint16_t format_major = 1;
inline constexpr std::uint16_t format_minor = 0;

}  // namespace v1
}  // namespace entidb
