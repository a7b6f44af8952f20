// entidb cbor HEX — strict decode, canonical re-encode.
//
// Exit codes of this command: 0 when HEX is canonical CBOR (its canonical re-encoding is printed,
// which is then the input itself), 1 when it is not (or is not hex), 2 for a missing argument.
// It answers a yes/no question about its input, so a rejection is an ordinary result (1), not the
// "bad input" usage code the other commands use.
#include <string>
#include <string_view>

#include <fmt/core.h>

#include <entidb/cbor.hpp>

#include "tool.hpp"

namespace entidb_tool {
namespace {

constexpr int exit_not_canonical = 1;  // see the file comment

[[nodiscard]] int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

[[nodiscard]] entidb::byte_buffer parse_hex(std::string_view hex) {
    using entidb::errc;
    if (hex.empty()) entidb::fail(errc::invalid_argument, "empty input: expected CBOR as hex digits");
    if (hex.size() % 2 != 0) entidb::fail(errc::invalid_argument, "odd number of hex digits ({})", hex.size());
    entidb::byte_buffer out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            entidb::fail_at(errc::invalid_argument, {.offset = hi < 0 ? 2 * i : 2 * i + 1}, "not a hex digit");
        out[i] = static_cast<entidb::byte>(hi * 16 + lo);
    }
    return out;
}

int cmd_cbor(args a) {
    if (a.size() != 1) throw usage_error{"cbor takes exactly one argument: the CBOR bytes as hex"};
    try {
        const auto canonical = entidb::cbor::encode(entidb::cbor::decode(parse_hex(a[0])));
        std::string hex;
        hex.reserve(canonical.size() * 2);
        for (const auto b : canonical) hex += fmt::format("{:02x}", b);
        fmt::print("{}\n", hex);
        return exit_ok;
    } catch (const entidb::error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return exit_not_canonical;
    }
}

}  // namespace

void add_codec_commands(std::vector<command>& out) {
    out.push_back({"cbor", "cbor HEX", cmd_cbor});
}

}  // namespace entidb_tool
