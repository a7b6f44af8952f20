// The entidb tool's database command lines: options, opening, ids — shared by the
// command groups so every command parses and opens the same way.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/core.h>

#include <entidb/crypto/secret.hpp>
#include <entidb/database.hpp>
#include <entidb/directory/key_file.hpp>

#include "tool.hpp"

namespace entidb_tool {

namespace fs = std::filesystem;

[[nodiscard]] inline std::uint64_t parse_number(std::string_view option, std::string_view text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size())
        throw usage_error{fmt::format("{} {} is too large (at most {})", option, text, UINT64_MAX)};
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
        throw usage_error{fmt::format("{} needs a non-negative integer, got '{}'", option, text)};
    return v;
}

// A count that must be at least 1: 0 would ask for nothing (bad input, not a no-op).
inline void require_positive(std::string_view option, std::uint64_t v) {
    if (v == 0) throw usage_error{fmt::format("{} needs a positive integer, got 0", option)};
}

// The words of a database command: positionals, and options anywhere after the name.
struct command_line {
    std::vector<std::string_view> positional;
    std::map<std::string_view, std::string_view> values;  // --option VALUE
    std::map<std::string_view, bool> flags;               // --flag
    entidb::config cfg;
    std::optional<entidb::key_source> key;  // --key-file or --raw-key-file: the database is encrypted
    entidb::kdf_params kdf;                 // --kdf-ops, --kdf-memory-mib: the cost of a new KEY file
    entidb::cipher_id cipher = entidb::cipher_id::xchacha20poly1305;  // --cipher: a new database's cipher

    [[nodiscard]] std::optional<std::uint64_t> number(std::string_view name) const {
        const auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return parse_number(name, it->second);
    }
    [[nodiscard]] bool flag(std::string_view name) const { return flags.contains(name); }
};

// A database path that is, or lies below, something other than a directory (a regular file)
// is bad input: checked before anything is opened so that every command refuses it the same way.
inline void check_database_path(std::string_view text) {
    for (fs::path p(std::string{text}); !p.empty(); p = p.parent_path()) {
        std::error_code ec;
        const auto st = fs::status(p, ec);
        if (fs::exists(st)) {
            if (!fs::is_directory(st))
                entidb::fail_at(entidb::errc::invalid_argument, {.path = p.string()}, "not a directory");
            return;  // the nearest existing ancestor is a directory: the rest can be created
        }
        if (p == p.parent_path()) return;  // the root
    }
}

// The key options (docs/tool.md, "Encrypted databases"). A key file is read with read(2)
// straight into a secret (wiped when it goes away), so no stream buffer keeps a copy; its bytes
// never reach a message, only its path and length.
inline entidb::secret_bytes read_secret_file(std::string_view option, std::string_view path) {
    const std::string name(path);
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) ::close(fd);
        throw usage_error{fmt::format("{}: cannot read {} (not a readable file)", option, path)};
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > entidb::secret_bytes::max_size) {
        ::close(fd);
        throw usage_error{fmt::format("{}: {} holds {} bytes, more than a key", option, path, size)};
    }
    entidb::secret_bytes out(static_cast<std::size_t>(size));
    std::size_t done = 0;
    while (done < out.size()) {
        const auto n = ::read(fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (done != out.size()) throw usage_error{fmt::format("{}: cannot read {}", option, path)};
    return out;
}

// A passphrase file's bytes are the passphrase, less one trailing newline (what `echo` and
// editors add); a raw key file is exactly the 32 bytes of the key.
inline entidb::key_source read_key_file_option(std::string_view option, std::string_view path, bool raw) {
    auto bytes = read_secret_file(option, path);
    if (raw) {
        if (bytes.size() != entidb::key_bytes)
            throw usage_error{fmt::format("{}: a raw key file holds exactly {} bytes, {} holds {}", option,
                                          entidb::key_bytes, path, bytes.size())};
        return entidb::raw_key{std::move(bytes)};
    }
    const auto v = bytes.view();
    const bool newline = !v.empty() && v.back() == entidb::byte{'\n'};
    if (v.size() == (newline ? 1U : 0U))
        throw usage_error{fmt::format("{}: {} is empty (an empty passphrase protects nothing)", option, path)};
    if (newline) return entidb::passphrase{entidb::secret_bytes::copy_of(v.first(v.size() - 1))};
    return entidb::passphrase{std::move(bytes)};
}

// The key given by `passphrase_option` or `raw_option` (at most one of them), if any.
inline std::optional<entidb::key_source> key_option(const command_line& cl, std::string_view passphrase_option,
                                                    std::string_view raw_option) {
    const auto pass = cl.values.find(passphrase_option), raw = cl.values.find(raw_option);
    if (pass != cl.values.end() && raw != cl.values.end())
        throw usage_error{fmt::format("give {} or {}, not both", passphrase_option, raw_option)};
    if (pass != cl.values.end()) return read_key_file_option(passphrase_option, pass->second, false);
    if (raw != cl.values.end()) return read_key_file_option(raw_option, raw->second, true);
    return std::nullopt;
}

// A copy of a key for one open (the environment owns its key; the command line keeps its own).
inline entidb::key_source copy_key(const entidb::key_source& k) {
    return std::visit(
        [](const auto& s) -> entidb::key_source {
            return std::decay_t<decltype(s)>{entidb::secret_bytes::copy_of(s.bytes.view())};
        },
        k);
}

// The options that set the Argon2id cost of a new passphrase: --kdf-ops (passes) and
// --kdf-memory-mib (MiB), each defaulting to entidb::kdf_params{}. Every database command
// accepts them; they count where a KEY file is written from a passphrase: the command that
// creates an encrypted database (put, load) and rekey (for the new passphrase).
inline entidb::kdf_params kdf_option(const command_line& cl) {
    entidb::kdf_params k;
    if (!cl.values.contains("--kdf-ops") && !cl.values.contains("--kdf-memory-mib")) return k;
    if (auto v = cl.number("--kdf-ops")) k.opslimit = *v;
    if (auto v = cl.number("--kdf-memory-mib")) {
        if (*v > (entidb::detail::argon2id_memlimit_max >> 20))
            throw usage_error{fmt::format("--kdf-memory-mib {} is too large (at most {})", *v,
                                          entidb::detail::argon2id_memlimit_max >> 20)};
        k.memlimit = *v << 20;
    }
    if (!entidb::detail::kdf_in_range(k))
        throw usage_error{fmt::format("--kdf-ops needs 1..{} and --kdf-memory-mib at least 1",
                                      entidb::detail::argon2id_opslimit_max)};
    return k;
}

// --cipher NAME: the cipher of a database the command creates with a key (xchacha20poly1305,
// the default, or aes256gcm); an existing database keeps its own. Without a key it would
// silently do nothing, so it needs one.
inline entidb::cipher_id cipher_option(const command_line& cl) {
    const auto it = cl.values.find("--cipher");
    if (it == cl.values.end()) return entidb::cipher_id::xchacha20poly1305;
    if (!cl.key) throw usage_error{"--cipher chooses the cipher of an encrypted database: give --key-file or --raw-key-file"};
    const auto id = entidb::cipher_from_name(it->second);
    if (!id) throw usage_error{fmt::format("unknown cipher '{}': use xchacha20poly1305 or aes256gcm", it->second)};
    return *id;
}

// The Argon2id cost options go with the passphrase they are for (`option`): with a raw key or
// none they would silently do nothing.
inline void check_kdf_goes_with(const command_line& cl, const std::optional<entidb::key_source>& key,
                                std::string_view option) {
    if (!cl.values.contains("--kdf-ops") && !cl.values.contains("--kdf-memory-mib")) return;
    if (!key || !std::holds_alternative<entidb::passphrase>(*key))
        throw usage_error{fmt::format("--kdf-ops and --kdf-memory-mib set the cost of a passphrase: give {}", option)};
}

// --wal append|recycled: how wal.log is kept (entidb::config::wal; docs/file-format.md,
// "Recycled WAL"). Absent: append, the default.
inline entidb::wal_mode wal_option(const command_line& cl) {
    const auto it = cl.values.find("--wal");
    if (it == cl.values.end() || it->second == "append") return entidb::wal_mode::append;
    if (it->second == "recycled") return entidb::wal_mode::recycled;
    throw usage_error{fmt::format("unknown WAL mode '{}': use append or recycled", it->second)};
}

// Parses `a`: `value_options` take a value, `flag_options` do not; --max-wal-size, --wal,
// --max-segment-size, --key-file, --raw-key-file, --kdf-ops, --kdf-memory-mib and --cipher are accepted
// by every command. Exactly `positionals` words remain; the one at `database_at` is the
// database path. An option given twice is refused, not silently
// overridden, and the configuration is validated here, before any command opens anything.
inline command_line parse(args a, std::size_t positionals, std::initializer_list<std::string_view> value_options = {},
                   const std::vector<std::string_view>& flag_options = {}, std::size_t database_at = 0) {
    command_line out;
    std::vector<std::string_view> takes_value(value_options);
    takes_value.insert(takes_value.end(), {"--max-wal-size", "--wal", "--max-segment-size", "--key-file", "--raw-key-file",
                                            "--kdf-ops", "--kdf-memory-mib", "--cipher"});
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto w = a[i];
        if (!w.starts_with("--")) {
            out.positional.push_back(w);
            continue;
        }
        if (out.values.contains(w) || out.flags.contains(w)) throw usage_error{fmt::format("option {} given twice", w)};
        if (std::find(takes_value.begin(), takes_value.end(), w) != takes_value.end()) {
            if (i + 1 == a.size()) throw usage_error{fmt::format("{} needs a value", w)};
            out.values[w] = a[++i];
        } else if (std::find(flag_options.begin(), flag_options.end(), w) != flag_options.end()) {
            out.flags[w] = true;
        } else {
            throw usage_error{fmt::format("unknown option {}", w)};
        }
    }
    if (out.positional.size() != positionals)
        throw usage_error{fmt::format("expected {} arguments, got {}", positionals, out.positional.size())};
    if (auto v = out.number("--max-wal-size")) out.cfg.max_wal_size = *v;
    if (auto v = out.number("--max-segment-size")) out.cfg.max_segment_size = *v;
    out.cfg.wal = wal_option(out);
    out.cfg.validate();
    check_database_path(out.positional[database_at]);
    out.key = key_option(out, "--key-file", "--raw-key-file");
    out.kdf = kdf_option(out);
    out.cipher = cipher_option(out);
    if (!out.values.contains("--new-key-file") && !out.values.contains("--new-raw-key-file"))
        check_kdf_goes_with(out, out.key, "--key-file");  // rekey checks its new key itself
    return out;
}

// How a command opens the database: only put and load create one; commands that only
// read open it read-only (shared lock, nothing written: they work on a directory the
// user may only read, beside other readers); the other writers open it read-write.
enum class open_mode { read_only, read_write, create };

// Calls `f(std::type_identity<Traits>{}, environment)` with the storage the command line asks
// for: entidb::encrypted_file_storage and its key when a key was given, entidb::file_storage
// otherwise. The one place the tool chooses between the two database types: every command is
// written once, generic over them.
template <typename F>
decltype(auto) with_storage(const command_line& cl, F&& f) {
    if (cl.key)
        return f(std::type_identity<entidb::encrypted_file_storage>{},
                 entidb::encrypted_file_storage::environment{.key = copy_key(*cl.key), .kdf = cl.kdf, .cipher = cl.cipher});
    return f(std::type_identity<entidb::file_storage>{}, entidb::file_storage::environment{});
}

// Opens the database of the command line and returns `body(db)`; `db` is an entidb::database
// or, with a key, an entidb::basic_database<entidb::encrypted_file_storage>.
template <typename F>
decltype(auto) with_db(const command_line& cl, open_mode mode, F&& body) {
    auto cfg = cl.cfg;
    cfg.create_if_missing = mode == open_mode::create;
    cfg.read_only = mode == open_mode::read_only;
    return with_storage(cl, [&]<typename Traits>(std::type_identity<Traits>, auto env) {
        auto db = entidb::open<Traits>(fs::path(std::string(cl.positional[0])), cfg, std::move(env));
        return body(db);
    });
}

// Calls `f(key)` with the command line's key, or `f()` without one: for the library functions
// that take the key as an argument (verify, restore, salvage).
template <typename F>
decltype(auto) with_key(const command_line& cl, F&& f) {
    if (cl.key) return f(*cl.key);
    return f();
}

inline entidb::entity_id parse_id(std::string_view text) {
    try {
        return entidb::entity_id::parse(text);
    } catch (const entidb::error& e) {
        throw usage_error{e.detail()};
    }
}

inline int not_found(std::string_view what) {
    fmt::print(stderr, "error: not found: {}\n", what);
    return exit_not_found;
}

}  // namespace entidb_tool
