// tests/parity/run_cpp.cpp — runs the parity operations through the C++ API.
//
//   run_cpp OPS DB_DIR
//
// With ENTIDB_PARITY_RAW_KEY set (64 hex digits), the database is an encrypted one
// (entidb::encrypted_file_storage under that raw key); the operations are the same.
//
// OPS is the operation list parity_test.py compiles from scenario.json: one operation per line,
// tab-separated fields (the format is described in parity_test.py). Prints one result line per
// operation; run_c.c and run_python.py print the same lines for the same input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <entidb/cbor/json.hpp>
#include <entidb/database.hpp>
#include <entidb/entity_id.hpp>

namespace {

// The code names of the C ABI (entidb_error_name), written out so this runner does not use it.
std::string code_name(entidb::errc e) {
    switch (e) {
        case entidb::errc::ok: return "ok";
        case entidb::errc::not_found: return "not_found";
        case entidb::errc::invalid_argument: return "invalid_argument";
        case entidb::errc::corruption: return "corruption";
        case entidb::errc::locked: return "locked";
        case entidb::errc::io_error: return "io_error";
        case entidb::errc::outcome_unknown: return "outcome_unknown";
        case entidb::errc::no_space: return "no_space";
        case entidb::errc::needs_reopen: return "needs_reopen";
        case entidb::errc::read_only: return "read_only";
        case entidb::errc::writer_busy: return "writer_busy";
        case entidb::errc::too_large: return "too_large";
        case entidb::errc::unsupported_version: return "unsupported_version";
        case entidb::errc::invalid_cbor: return "invalid_cbor";
        case entidb::errc::non_canonical: return "non_canonical";
        case entidb::errc::scan_forbidden: return "scan_forbidden";
        case entidb::errc::unique_violation: return "unique_violation";
        case entidb::errc::closed: return "closed";
        case entidb::errc::type_mismatch: return "type_mismatch";
        case entidb::errc::rotation_unsupported: return "rotation_unsupported";
        case entidb::errc::no_such_index: return "no_such_index";
        case entidb::errc::busy: return "busy";
        case entidb::errc::schema_mismatch: return "schema_mismatch";
        case entidb::errc::bad_key: return "bad_key";
    }
    return "unknown";
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> out(1);
    for (const char c : line) {
        if (c == '\t') out.emplace_back();
        else out.back() += c;
    }
    return out;
}

entidb::byte_buffer from_hex(const std::string& hex) {
    entidb::byte_buffer out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<entidb::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return out;
}

// A plain database (file_storage) or an encrypted one under `raw_key`.
template <typename Traits>
typename Traits::environment environment_of(const entidb::byte_buffer& raw_key) {
    if constexpr (std::is_same_v<Traits, entidb::encrypted_file_storage>)
        return {.key = entidb::raw_key_from(raw_key), .kdf = {}};
    else
        return {};
}

template <typename Traits>
struct runner {
    using database = entidb::basic_database<Traits>;
    std::string path;
    entidb::byte_buffer raw_key;
    std::optional<database> db;
    std::optional<database> other;  // open_again's result, if it ever succeeded
    std::unique_ptr<typename database::write_transaction> write;
    std::optional<typename database::read_transaction> read;

    static entidb::config config_of(const std::vector<std::string>& f) {
        entidb::config cfg;
        if (const auto v = std::stoull(f.at(1))) cfg.max_entity_bytes = v;
        if (const auto v = std::stoull(f.at(2))) cfg.max_segment_size = v;
        if (const auto v = std::stoull(f.at(3))) cfg.max_wal_size = v;
        return cfg;
    }

    // A snapshot for get/scan/count/collections: the open read transaction, else a fresh one.
    template <typename F>
    void with_snapshot(F&& f) {
        if (read) {
            f(*read);
        } else {
            auto snapshot = db->begin_read();
            f(snapshot);
        }
    }

    std::string run(const std::vector<std::string>& f) {
        const std::string& op = f.at(0);
        if (op == "open") {
            db.emplace(entidb::open<Traits>(path, config_of(f), environment_of<Traits>(raw_key)));
            return "ok";
        }
        if (op == "open_again") {
            other.emplace(entidb::open<Traits>(path, config_of(f), environment_of<Traits>(raw_key)));
            return "ok";
        }
        if (op == "close") {
            write.reset();
            read.reset();
            db.reset();
            return "ok";
        }
        if (op == "begin_write") {
            write.reset(new typename database::write_transaction(db->begin_write()));
            return "ok";
        }
        if (op == "begin_read") {
            read.emplace(db->begin_read());
            return "ok";
        }
        if (op == "end_read") {
            read.reset();
            return "ok";
        }
        if (op == "commit") {
            auto txn = std::move(write);
            return "sequence " + std::to_string(txn->commit());
        }
        if (op == "abort") {
            write->abort();
            write.reset();
            return "ok";
        }
        if (op == "checkpoint") {
            db->checkpoint();
            return "ok";
        }
        if (op == "last_sequence") return "sequence " + std::to_string(db->last_sequence());
        if (op == "put") {
            write->put(f.at(1), entidb::entity_id::parse(f.at(2)), entidb::cbor::from_json(f.at(3)));
            return "ok";
        }
        if (op == "put_json") {
            write->put(f.at(1), entidb::entity_id::parse(f.at(2)), entidb::cbor::from_json(f.at(3)));
            return "ok";
        }
        if (op == "put_cbor") {
            write->put(f.at(1), entidb::entity_id::parse(f.at(2)), from_hex(f.at(3)));
            return "ok";
        }
        if (op == "delete") {
            const bool existed = write->remove(f.at(1), entidb::entity_id::parse(f.at(2)));
            return existed ? "existed true" : "existed false";
        }
        if (op == "get") {
            const auto id = entidb::entity_id::parse(f.at(2));
            std::optional<entidb::byte_buffer> bytes;
            if (write) bytes = write->get(f.at(1), id);
            else with_snapshot([&](auto& s) { bytes = s.get(f.at(1), id); });
            return bytes ? "value " + entidb::cbor::to_json(*bytes) : "absent";
        }
        if (op == "count") {
            std::uint64_t n = 0;
            with_snapshot([&](auto& s) { n = s.count(f.at(1)); });
            return "count " + std::to_string(n);
        }
        if (op == "collections") {
            std::string out = "names [";
            with_snapshot([&](auto& s) {
                bool first = true;
                for (const auto& name : s.collections()) {
                    out += first ? "" : ",";
                    out += entidb::cbor::to_json(entidb::cbor::value(name));
                    first = false;
                }
            });
            return out + "]";
        }
        if (op == "scan") {
            std::string out = "items [";
            with_snapshot([&](auto& s) {
                bool first = true;
                for (const auto& e : s.scan(f.at(1))) {
                    out += first ? "[\"" : ",[\"";
                    out += e.id.to_hex() + "\"," + entidb::cbor::to_json(e.bytes) + "]";
                    first = false;
                }
            });
            return out + "]";
        }
        if (op == "declare_text") {
            const entidb::text_index_options options{
                .keep_diacritics = f.at(4) == "true",
                .stem = f.at(3) == "english" ? entidb::text::stemmer::english : entidb::text::stemmer::none};
            db->declare_index(f.at(1), f.at(2), options);
            return "ok";
        }
        if (op == "search") {
            const auto syntax = f.at(3) == "plain" ? entidb::query_syntax::plain : entidb::query_syntax::fts5;
            std::string out = "hits [";
            with_snapshot([&](auto& s) {
                bool first = true;
                for (const auto& hit : s.search(f.at(1), f.at(2), f.at(5), std::stoull(f.at(4)), syntax)) {
                    out += fmt::format("{}[\"{}\",{:.6g}]", first ? "" : ",", hit.doc.to_hex(), hit.score);
                    first = false;
                }
            });
            return out + "]";
        }
        return "error unknown_operation";
    }
};

template <typename Runner>
int run_all(Runner r, std::istream& in) {
    std::string line;
    while (std::getline(in, line)) {
        std::string result;
        try {
            result = r.run(split_tabs(line));
        } catch (const entidb::error& e) {
            result = "error " + code_name(e.value());
        }
        std::cout << result << '\n';
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: run_cpp OPS DB_DIR\n";
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::cerr << "run_cpp: cannot read " << argv[1] << "\n";
        return 2;
    }
    const char* key_hex = std::getenv("ENTIDB_PARITY_RAW_KEY");
    if (key_hex != nullptr) return run_all(runner<entidb::encrypted_file_storage>{argv[2], from_hex(key_hex), {}, {}, {}, {}}, in);
    return run_all(runner<entidb::file_storage>{argv[2], {}, {}, {}, {}, {}}, in);
}
