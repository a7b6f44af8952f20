// Shared helpers for the unit tests: temporary directories and small canonical payloads.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>
#include "test_errors.hpp"
#include "test_ids.hpp"
#include "test_steps.hpp"
#include <entidb/entidb.hpp>

// Readable ids in failure messages.
template <>
struct Catch::StringMaker<entidb::entity_id> {
    static std::string convert(const entidb::entity_id& id) { return id.to_uuid_string(); }
};

namespace test_support {

// A config whose segments rotate every few records (rotation, compaction, mappings).
inline entidb::config small_segments(std::uint64_t bytes = 2048) {
    entidb::config cfg;
    cfg.max_segment_size = bytes;
    return cfg;
}

// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("entidb-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

private:
    std::filesystem::path path_;
};

inline void put_head(entidb::byte_buffer& out, std::uint8_t major, std::uint64_t n) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (n < 24) {
        out.push_back(static_cast<std::uint8_t>(m | n));
    } else if (n <= 0xff) {
        out.push_back(m | 24);
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xffff) {
        out.push_back(m | 25);
        for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
    } else if (n <= 0xffffffffu) {
        out.push_back(m | 26);
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
    } else {
        out.push_back(m | 27);
        for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
    }
}

// Canonical CBOR for {"n": n, "p": <pad of pad_len 'x'>} — written by hand so the engine
// tests do not depend on the codec under test.
inline entidb::byte_buffer payload(std::uint64_t n, std::size_t pad_len = 8) {
    entidb::byte_buffer out{0xa2, 0x61, 'n'};
    put_head(out, 0, n);
    out.push_back(0x61);
    out.push_back('p');
    put_head(out, 3, pad_len);
    out.insert(out.end(), pad_len, 'x');
    return out;
}

// Every file below `dir`, relative path → contents.
inline std::map<std::string, std::string> snapshot_files(const std::filesystem::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        out[std::filesystem::relative(e.path(), dir).string()] =
            std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
}

}  // namespace test_support
