// Shared helpers of the encryption tests (encryption_test.cpp, encryption_ops_test.cpp): the
// cipher under test, opening an encrypted database, payloads holding a marker, and reading and
// rearranging the bytes of files. Included by the suites' prelude, outside the test files'
// namespaces; empty where libsodium is not there.
//
// The cipher under test is the environment's ENTIDB_TEST_CIPHER ("xchacha20poly1305", the
// default, or "aes256gcm"): tests/meson.build runs the encryption tests once with each, so
// every behaviour they check holds for both.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <entidb/entidb.hpp>

#include "test_ids.hpp"

#if ENTIDB_HAVE_SODIUM
namespace test_encryption {

namespace fs = std::filesystem;
using enc_db = entidb::basic_database<entidb::encrypted_file_storage>;

// The cipher the encryption tests create their databases with.
inline entidb::cipher_id test_cipher() {
    const char* name = std::getenv("ENTIDB_TEST_CIPHER");
    if (name == nullptr || *name == '\0') return entidb::cipher_id::xchacha20poly1305;
    const auto id = entidb::cipher_from_name(name);
    if (!id) FAIL("ENTIDB_TEST_CIPHER names no cipher: " << name);
    return *id;
}

inline entidb::encrypted_file_storage::environment with_passphrase(std::string_view pw) {
    return {.key = entidb::passphrase_from(pw), .kdf = entidb::kdf_params::fast(), .cipher = test_cipher()};
}

inline enc_db open_enc(const fs::path& dir, std::string_view pw, const entidb::config& cfg = {}) {
    return entidb::open<entidb::encrypted_file_storage>(dir, cfg, with_passphrase(pw));
}

// {"t": "<marker> <n>"}: canonical CBOR holding the marker; as long for every n of equal digits.
inline entidb::byte_buffer marked(std::string_view marker, std::uint64_t n) {
    const std::string text = std::string(marker) + " " + std::to_string(n);
    entidb::byte_buffer out{0xa1, 0x61, 't'};
    test_support::put_head(out, 3, text.size());
    out.insert(out.end(), text.begin(), text.end());
    return out;
}

inline std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_all(const fs::path& p, const std::string& b) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(b.data(), static_cast<std::streamsize>(b.size()));
}
inline entidb::bytes_view view_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Whether any file under `p` (or the file `p`) holds `needle`.
inline bool any_file_holds(const fs::path& p, std::string_view needle) {
    if (fs::is_regular_file(p)) return read_all(p).find(needle) != std::string::npos;
    for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && read_all(e.path()).find(needle) != std::string::npos) return true;
    return false;
}

inline void put_le(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

// A segment record: where it is, whose it is, where its (sealed) payload is.
struct record_at {
    std::size_t offset, size, payload_at, payload_len;
    entidb::entity_id id;
};

inline std::vector<record_at> segment_records(const std::string& seg) {
    std::vector<record_at> out;
    for (std::size_t at = 0; at < seg.size();) {
        const auto d = entidb::format::decode_segment(view_of(seg).subspan(at));
        if (d.status != entidb::format::decode_status::ok) break;
        out.push_back({at, d.size, static_cast<std::size_t>(d.record.payload.data() - view_of(seg).data()),
                       d.record.payload.size(), d.record.id});
        at += d.size;
    }
    return out;
}
inline const record_at& record_of(const std::vector<record_at>& recs, std::uint64_t n) {
    const auto it = std::find_if(recs.begin(), recs.end(), [&](const auto& r) { return r.id == test_support::id_of(n); });
    REQUIRE(it != recs.end());
    return *it;
}

// Gives the record `r` of the segment bytes `s` a valid CRC again.
inline void fix_crc(std::string& s, const record_at& r) {
    put_le(s, r.offset + r.size - 4, entidb::crc32(view_of(s).subspan(r.offset, r.size - 4)), 4);
}

// Swaps the sealed payloads of the records of entities a and b (equally long) and gives both a
// valid CRC again: the framing is intact, only authentication can tell.
inline void swap_ciphertexts(const fs::path& seg, std::uint64_t a, std::uint64_t b) {
    auto s = read_all(seg);
    const auto recs = segment_records(s);
    const auto ra = record_of(recs, a), rb = record_of(recs, b);
    REQUIRE(ra.payload_len == rb.payload_len);
    for (std::size_t i = 0; i < ra.payload_len; ++i) std::swap(s[ra.payload_at + i], s[rb.payload_at + i]);
    fix_crc(s, ra);
    fix_crc(s, rb);
    write_all(seg, s);
}

}  // namespace test_encryption
#endif
