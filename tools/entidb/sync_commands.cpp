// The sync server command of the entidb tool (docs/sync-protocol.md, docs/tool.md "Sync"):
//
//   entidb sync-server --listen HOST:PORT --data DIR [--policy NAME] [--tokens FILE]
//                      [--store embedded|postgres --pg CONNINFO [--pg-schema NAME]] [--tls-cert F --tls-key F]
//                      [--keep-history N]
//   entidb sync-token --tokens FILE --device ID --db NAME [--collections A,B] [--ttl DURATION]
//   entidb sync DB URL [--token-file FILE] [--device ID] [--db NAME] [--collections A,B] [--ca-file FILE]
//
// serves sync protocol v2 over HTTP/1.1 (cpp-httplib) from an embedded store: the EntiDB
// database at DIR (created when missing). Its first line on stdout is `listening on HOST:PORT`
// (port 0 picks a free one and prints it); it serves until SIGTERM or SIGINT, then finishes the
// requests in flight and exits 0. With --tokens every request needs a bearer token that file's key
// signed (sync/token.hpp), for the request's database and device (and collections); without it
// the server listens on loopback only (127.0.0.1, ::1, localhost): another host is exit 2.
// sync-token prints a token, creating the tokens file (mode 0600) when it is missing. sync runs
// one sync of the database DB (created when missing: a new device) with the server at URL and
// prints `pulled N pushed M conflicts K cursor C`; a server it cannot reach, or one that refuses,
// is exit 7 with the database unchanged. Built where Debian's libcpp-httplib-dev
// is found (ENTIDB_TOOL_HAVE_HTTPLIB); elsewhere the commands say what to install (exit 2).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <fmt/core.h>

#include <entidb/database.hpp>

#include "command_line.hpp"

#if ENTIDB_TOOL_HAVE_HTTPLIB
#include <httplib.h>
#include <pthread.h>
#include <strings.h>

#include <entidb/sync/client.hpp>
#include <entidb/sync/embedded_store.hpp>
#include <entidb/sync/http_transport.hpp>
#include <entidb/sync/token.hpp>
#if ENTIDB_TOOL_HAVE_PQ
#include <entidb/sync/postgres_store.hpp>
#endif
#endif

namespace entidb_tool {
namespace {

#if ENTIDB_TOOL_HAVE_HTTPLIB

namespace sync = entidb::sync;

struct server_options {
    std::string host;
    int port = 0;
    std::filesystem::path data;
    std::string store = "embedded";  // or postgres
    std::string pg;                  // postgres: the libpq connection string
    std::string pg_schema = "entidb_sync";
    std::optional<std::filesystem::path> tls_cert, tls_key;  // both or neither: HTTPS
    std::uint64_t keep_history = 0;  // compact each tenant's history to its last N operations (0: keep all)
    sync::conflict_policy policy = sync::conflict_policy::last_writer_wins;
    std::optional<std::filesystem::path> tokens;
};

// Options that each take a value, each at most once, and nothing else.
std::map<std::string_view, std::string_view> option_values(args a, std::initializer_list<std::string_view> known) {
    std::map<std::string_view, std::string_view> values;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto w = a[i];
        if (std::find(known.begin(), known.end(), w) == known.end()) throw usage_error{fmt::format("unknown argument {}", w)};
        if (values.contains(w)) throw usage_error{fmt::format("option {} given twice", w)};
        if (i + 1 == a.size()) throw usage_error{fmt::format("{} needs a value", w)};
        values[w] = a[++i];
    }
    return values;
}

std::uint64_t unix_seconds() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

sync::conflict_policy policy_named(std::string_view name) {
    for (const auto p : {sync::conflict_policy::last_writer_wins, sync::conflict_policy::server_wins,
                         sync::conflict_policy::client_wins, sync::conflict_policy::manual})
        if (sync::to_string(p) == name) return p;
    throw usage_error{fmt::format("unknown policy '{}': use last_writer_wins, server_wins, client_wins or manual", name)};
}

// --listen HOST:PORT --data DIR [--policy NAME] [--tokens FILE] [--store embedded|postgres --pg CONNINFO
// [--pg-schema NAME]] [--tls-cert FILE --tls-key FILE]. --data is the embedded store's; the
// PostgreSQL store does not use it.
server_options parse_server(args a) {
    auto values = option_values(a, {"--listen", "--data", "--policy", "--tokens", "--store", "--pg", "--pg-schema",
                                    "--tls-cert", "--tls-key", "--keep-history"});
    server_options o;
    if (values.contains("--tls-cert") != values.contains("--tls-key"))
        throw usage_error{"--tls-cert and --tls-key go together"};
    if (values.contains("--tls-cert")) {
        o.tls_cert = std::string(values["--tls-cert"]);
        o.tls_key = std::string(values["--tls-key"]);
    }
    if (values.contains("--store")) o.store = std::string(values["--store"]);
    if (o.store != "embedded" && o.store != "postgres")
        throw usage_error{fmt::format("unknown store '{}': use embedded or postgres", o.store)};
    const bool postgres = o.store == "postgres";
    if (postgres != values.contains("--pg"))
        throw usage_error{postgres ? "--store postgres needs --pg CONNINFO" : "--pg goes with --store postgres"};
    if (values.contains("--pg-schema") && !postgres) throw usage_error{"--pg-schema goes with --store postgres"};
    if (postgres) o.pg = std::string(values["--pg"]);
    if (values.contains("--pg-schema")) o.pg_schema = std::string(values["--pg-schema"]);
    if (values.contains("--keep-history")) {
        o.keep_history = parse_number("--keep-history", values["--keep-history"]);
        require_positive("--keep-history", o.keep_history);
    }
    if (!values.contains("--listen") || (!values.contains("--data") && !postgres))
        throw usage_error{"sync-server needs --listen HOST:PORT and --data DIR"};
    const auto listen = values["--listen"];
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) throw usage_error{"--listen takes HOST:PORT"};
    o.host = std::string(listen.substr(0, colon));
    if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
    const auto port = parse_number("--listen", listen.substr(colon + 1));
    if (port > 65535) throw usage_error{fmt::format("port {} is above 65535", port)};
    o.port = static_cast<int>(port);
    if (values.contains("--tokens")) o.tokens = std::string(values["--tokens"]);
    if (!o.tokens && o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost")
        throw usage_error{fmt::format("without --tokens the server listens only on loopback (127.0.0.1, ::1, "
                                      "localhost), not {}", o.host)};
    if (values.contains("--data")) o.data = std::string(values["--data"]);
    if (values.contains("--policy")) o.policy = policy_named(values["--policy"]);
    return o;
}

// What a request may do under its token (none without --tokens): its database and device
// must be the token's, its collections among the token's.
class access {
public:
    explicit access(std::optional<sync::token_claims> claims) : claims_(std::move(claims)) {}

    void check(std::string_view db, const sync::device_id& device) const {
        if (claims_ && (claims_->db != db || claims_->device != device))
            throw sync::refusal("forbidden", "the token is for another database or device");
    }
    void check_collection(std::string_view collection) const {
        if (claims_ && !sync::allows(*claims_, collection))
            throw sync::refusal("forbidden", fmt::format("the token does not cover collection '{}'", collection));
    }
    // A pull's filter: the token's collections where the request names none.
    void restrict(sync::pull_request& r) const {
        if (!claims_ || claims_->collections.empty()) return;
        if (r.collections.empty()) r.collections = claims_->collections;
        for (const auto& c : r.collections) check_collection(c);
    }

private:
    std::optional<sync::token_claims> claims_;
};

// The HTTP status of a refusal's code (docs/sync-protocol.md, "Errors").
int status_of(std::string_view code) {
    if (code == "out_of_order") return 409;
    if (code == "resync_required") return 410;
    if (code == "too_large") return 413;
    if (code == "unauthorized") return 401;
    if (code == "forbidden") return 403;
    return 400;
}

void send_error(httplib::Response& res, const sync::error_response& body) {
    res.status = status_of(body.error);
    const auto bytes = sync::encode(body);
    res.set_content(reinterpret_cast<const char*>(bytes.data()), bytes.size(), "application/cbor");
}

// Runs one request: `answer(body)` gives the response's bytes; every refusal becomes its error
// body, every other failure of the request's bytes a bad_request, the rest an internal error.
template <typename Answer>
void serve(const httplib::Request& req, httplib::Response& res, const sync::token_signer* signer, Answer&& answer) {
    const auto type = req.get_header_value("Content-Type");
    if (type != "application/cbor") {
        send_error(res, {.error = "bad_request", .message = "Content-Type must be application/cbor", .horizon = 0});
        return;
    }
    try {
        std::optional<sync::token_claims> claims;
        if (signer != nullptr) {
            const auto auth = req.get_header_value("Authorization");
            // The scheme's name is case-insensitive (RFC 9110 §11.1).
            if (auth.size() <= 7 || ::strncasecmp(auth.c_str(), "Bearer ", 7) != 0)
                throw sync::refusal("unauthorized", "no bearer token");
            claims = signer->verify(std::string_view(auth).substr(7), unix_seconds());
        }
        const entidb::bytes_view body(reinterpret_cast<const entidb::byte*>(req.body.data()), req.body.size());
        const auto bytes = answer(body, access(std::move(claims)));
        res.status = 200;
        res.set_content(reinterpret_cast<const char*>(bytes.data()), bytes.size(), "application/cbor");
    } catch (const sync::refusal& r) {
        send_error(res, r.body());
    } catch (const entidb::error& e) {
        const auto c = e.value();
        const bool bad_input = c == entidb::errc::invalid_cbor || c == entidb::errc::non_canonical ||
                               c == entidb::errc::invalid_argument || c == entidb::errc::too_large;
        send_error(res, {.error = c == entidb::errc::too_large ? "too_large" : bad_input ? "bad_request" : "internal",
                         .message = e.what(), .horizon = 0});
        if (!bad_input) res.status = 500;
    }
}

// Wakes long-polling pulls when a push applied something.
class push_signal {
public:
    void pushed() {
        {
            std::lock_guard lock(m_);
            ++generation_;
        }
        cv_.notify_all();
    }
    [[nodiscard]] std::uint64_t generation() {
        std::lock_guard lock(m_);
        return generation_;
    }
    // Waits until a push after `seen`, or `until`; false at the deadline.
    bool wait(std::uint64_t seen, std::chrono::steady_clock::time_point until) {
        std::unique_lock lock(m_);
        return cv_.wait_until(lock, until, [&] { return generation_ != seen || stopping_; });
    }
    void stop() {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
        }
        cv_.notify_all();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::uint64_t generation_ = 0;
    bool stopping_ = false;
};

// SIGTERM and SIGINT, blocked in every thread (the server's workers and a store's threads
// inherit the mask from the thread that blocks them here, before any is started) and taken by
// the one thread that stops the server.
sigset_t block_stop_signals() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    return stop_signals;
}

// The HTTP server: with --tls-cert and --tls-key, HTTPS (cpp-httplib over OpenSSL).
std::unique_ptr<httplib::Server> make_http_server(const server_options& o) {
    if (!o.tls_cert) return std::make_unique<httplib::Server>();
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    auto server = std::make_unique<httplib::SSLServer>(o.tls_cert->c_str(), o.tls_key->c_str());
    if (!server->is_valid())
        throw usage_error{fmt::format("--tls-cert {} / --tls-key {}: cannot load them (PEM files; the key must match the "
                                      "certificate)", o.tls_cert->string(), o.tls_key->string())};
    return server;
#else
    throw usage_error{"this entidb was built with a cpp-httplib without TLS support"};
#endif
}

// Serves the protocol from `store` until SIGTERM or SIGINT.
template <typename Store>
int run_server(const server_options& o, httplib::Server& server, Store& store, push_signal& pushes,
               const sigset_t& stop_signals) {
    std::optional<sync::token_signer> signer;
    if (o.tokens) signer.emplace(sync::token_signer::open(*o.tokens));
    const sync::token_signer* tokens = signer ? &*signer : nullptr;

    server.set_payload_max_length(sync::max_message_bytes);
    server.Post("/sync/v2/handshake", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, tokens, [&](entidb::bytes_view body, const access& may) {
            const auto request = sync::decode_handshake_request(body);
            may.check(request.db, request.device);
            return sync::encode(store.handshake(request));
        });
    });
    server.Post("/sync/v2/push", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, tokens, [&](entidb::bytes_view body, const access& may) {
            const auto request = sync::decode_push_request(body);
            may.check(request.db, request.device);
            for (const auto& op : request.ops) may.check_collection(op.collection);
            auto answer = store.push(request);
            pushes.pushed();
            // History beyond --keep-history goes (store_rules.hpp, compact: a no-op until enough has gathered).
            if (o.keep_history != 0) (void)store.compact(request.db, o.keep_history);
            return sync::encode(answer);
        });
    });
    server.Post("/sync/v2/pull", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, tokens, [&](entidb::bytes_view body, const access& may) {
            auto request = sync::decode_pull_request(body);
            may.check(request.db, request.device);
            may.restrict(request);
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(request.wait_ms);
            for (;;) {
                const auto seen = pushes.generation();
                auto answer = store.pull(request);
                if (!answer.ops.empty() || answer.has_more || !pushes.wait(seen, until)) return sync::encode(answer);
            }
        });
    });

    const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
    if (port < 0) entidb::fail(entidb::errc::io_error, "cannot listen on {}:{}", o.host, o.port);
    fmt::print("listening on {}:{}\n", o.host, port);
    std::fflush(stdout);

    std::atomic<bool> signalled{false};
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        signalled = true;
        pushes.stop();
        server.stop();
    });
    const bool ok = server.listen_after_bind();
    if (!signalled) pthread_kill(stopper.native_handle(), SIGTERM);  // the server stopped on its own: release it
    stopper.join();
    if (!ok && !signalled) entidb::fail(entidb::errc::io_error, "the server on {}:{} stopped", o.host, port);
    return exit_ok;
}

int cmd_sync_server(args a) {
    const auto o = parse_server(a);
    const auto stop_signals = block_stop_signals();
    const auto http = make_http_server(o);  // before the store: a bad certificate creates nothing
    push_signal pushes;
    if (o.store == "postgres") {
#if ENTIDB_TOOL_HAVE_PQ
        sync::postgres_store store(o.pg, {.policy = o.policy, .schema = o.pg_schema,
                                          .max_examined = 10 * sync::max_pull_limit, .max_connections = 16});
        store.listen([&] { pushes.pushed(); });  // another server's pushes wake this one's long-polls
        return run_server(o, *http, store, pushes, stop_signals);
#else
        throw usage_error{"this entidb was built without the PostgreSQL store: install Debian's libpq-dev "
                          "(scripts/setup.sh does) and rebuild"};
#endif
    }
    entidb::config cfg;
    cfg.create_if_missing = true;
    auto db = entidb::open(o.data, cfg);
    sync::embedded_store store(db, {.policy = o.policy, .max_examined = 10 * sync::max_pull_limit});
    return run_server(o, *http, store, pushes, stop_signals);
}

// Durations: N followed by s, m, h or d.
std::uint64_t parse_duration(std::string_view text) {
    if (text.size() < 2) throw usage_error{fmt::format("--ttl takes a duration such as 30m, 24h or 7d, not '{}'", text)};
    const std::uint64_t unit = text.back() == 's' ? 1 : text.back() == 'm' ? 60 : text.back() == 'h' ? 3600
                             : text.back() == 'd' ? 86400 : 0;
    if (unit == 0) throw usage_error{fmt::format("--ttl takes a duration such as 30m, 24h or 7d, not '{}'", text)};
    const std::uint64_t n = parse_number("--ttl", text.substr(0, text.size() - 1));
    if (n == 0 || n > (std::uint64_t{1} << 40) / unit) throw usage_error{fmt::format("--ttl {} is out of range", text)};
    return n * unit;
}

// A device: its id (32 hex digits or the UUID form), or any other name, which stands for the
// 16 bytes of its XXH3-128 hash — the same in sync-token and sync, so `--device laptop` works in both.
entidb::entity_id device_named(std::string_view text) {
    if (text.empty() || text.size() > sync::max_name_bytes)
        throw usage_error{fmt::format("--device takes an id or a name of 1..{} bytes", sync::max_name_bytes)};
    try {
        return entidb::entity_id::parse(text);
    } catch (const entidb::error&) {
        return entidb::entity_id(entidb::hash128(entidb::bytes_view(reinterpret_cast<const entidb::byte*>(text.data()),
                                                                     text.size())));
    }
}

// --collections A,B: names separated by commas, none empty.
std::vector<std::string> collection_names(std::string_view text) {
    try {
        return sync::collection_list(text);
    } catch (const entidb::error& e) {
        throw usage_error{fmt::format("--collections: {}", e.detail())};
    }
}

int cmd_sync_token(args a) {
    auto values = option_values(a, {"--tokens", "--device", "--db", "--collections", "--ttl"});
    for (const auto required : {"--tokens", "--device", "--db"})
        if (!values.contains(required)) throw usage_error{fmt::format("sync-token needs {}", required)};
    sync::token_claims claims;
    claims.device = device_named(values["--device"]);
    claims.db = std::string(values["--db"]);
    if (values.contains("--collections")) claims.collections = collection_names(values["--collections"]);
    claims.expires = unix_seconds() + (values.contains("--ttl") ? parse_duration(values["--ttl"]) : 24 * 3600);
    const std::filesystem::path file{std::string(values["--tokens"])};
    const auto signer = entidb::path_exists(file) ? sync::token_signer::open(file) : sync::token_signer::create(file);
    fmt::print("{}\n", signer.issue(claims));
    return exit_ok;
}

// The token in FILE (its first line, without surrounding blanks), and what it says.
std::pair<std::string, sync::token_claims> token_from_file(std::string_view file) {
    const auto bytes = read_secret_file("--token-file", file);
    std::string token(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    token = token.substr(0, token.find('\n'));
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
    try {
        auto claims = sync::read_claims(token);
        return {std::move(token), std::move(claims)};
    } catch (const entidb::error& e) {
        throw usage_error{fmt::format("--token-file {}: {}", file, e.detail())};
    }
}

// The client's options: --db, --device and --collections, or else what the token names (they
// must agree with it); the tenant "default" without either.
sync::client_options client_options_of(const command_line& cl, const std::optional<sync::token_claims>& claims) {
    sync::client_options o;
    const auto agree = [&](std::string_view option, bool same) {
        if (!same) throw usage_error{fmt::format("{} differs from what the token in --token-file names", option)};
    };
    if (const auto it = cl.values.find("--db"); it != cl.values.end()) {
        o.db = std::string(it->second);
        if (claims) agree("--db", claims->db == o.db);
    } else if (claims) {
        o.db = claims->db;
    }
    if (const auto it = cl.values.find("--device"); it != cl.values.end()) {
        o.device = device_named(it->second);
        if (claims) agree("--device", claims->device == *o.device);
    } else if (claims) {
        o.device = claims->device;
    }
    if (const auto it = cl.values.find("--collections"); it != cl.values.end())
        o.collections = collection_names(it->second);
    else if (claims)
        o.collections = claims->collections;
    return o;
}

[[nodiscard]] bool holds_database(const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir, ec) && !fs::is_empty(dir, ec);
}

int sync_once(const command_line& cl) {
    const std::string url(cl.positional[1]);
    std::optional<sync::token_claims> claims;
    sync::http_options http;
    if (const auto it = cl.values.find("--token-file"); it != cl.values.end()) {
        auto [token, c] = token_from_file(it->second);
        http.token = std::move(token);
        claims = std::move(c);
    }
    if (const auto it = cl.values.find("--ca-file"); it != cl.values.end()) http.ca_file = std::string(it->second);
    auto options = client_options_of(cl, claims);
    sync::http_transport server(url, http);
    const fs::path dir{std::string(cl.positional[0])};
    const bool exists = holds_database(dir);
    // The server must answer before the database is created or opened for writing, so that a
    // server that cannot be reached (or refuses) leaves it as it was.
    if (exists) {
        const auto stored = with_db(cl, open_mode::read_only, [](const auto& db) { return sync::synced_device(db); });
        if (stored && options.device && *stored != *options.device)
            throw usage_error{fmt::format("{} syncs as device {}; {} names device {}", dir.string(), stored->to_hex(),
                                          cl.values.contains("--device") ? "--device" : "the token",
                                          options.device->to_hex())};
        if (stored) options.device = stored;
    }
    if (!options.device) options.device = entidb::entity_id::generate();
    (void)server.handshake({.db = options.db, .device = *options.device, .protocol = sync::protocol_version});
    return with_db(cl, exists ? open_mode::read_write : open_mode::create, [&](auto& db) {
        using traits = typename std::remove_cvref_t<decltype(db)>::traits_type;
        sync::sync_client<traits, sync::http_transport> client(db, server, options);
        const auto r = client.sync();
        fmt::print("pulled {} pushed {} conflicts {} cursor {}\n", r.pulled, r.pushed, r.conflicts, r.cursor);
        return int{exit_ok};
    });
}

int cmd_sync(args a) {
    const auto cl = parse(a, 2, {"--token-file", "--device", "--db", "--collections", "--ca-file"});
    try {
        return sync_once(cl);
    } catch (const sync::unreachable& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return exit_sync_failed;
    } catch (const sync::refusal& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return exit_sync_failed;
    }
}

#else

int cmd_sync(args) {
    throw usage_error{"this entidb was built without sync: install Debian's libcpp-httplib-dev "
                      "(scripts/setup.sh does) and rebuild"};
}

int cmd_sync_token(args) {
    throw usage_error{"this entidb was built without the sync server: install Debian's libcpp-httplib-dev "
                      "(scripts/setup.sh does) and rebuild"};
}

int cmd_sync_server(args) {
    throw usage_error{"this entidb was built without the sync server: install Debian's libcpp-httplib-dev "
                      "(scripts/setup.sh does) and rebuild"};
}

#endif

}  // namespace

void add_sync_commands(std::vector<command>& out) {
    out.push_back({"sync-server",
                   "sync-server --listen HOST:PORT --data DIR [--policy NAME] [--tokens FILE] "
                   "[--store embedded|postgres --pg CONNINFO [--pg-schema NAME]] [--tls-cert FILE --tls-key FILE] "
                   "[--keep-history N]",
                   cmd_sync_server});
    out.push_back({"sync", "sync DB URL [--token-file FILE] [--device ID] [--db NAME] [--collections A,B] [--ca-file FILE]",
                   cmd_sync});
    out.push_back({"sync-token", "sync-token --tokens FILE --device ID --db NAME [--collections A,B] [--ttl DURATION]",
                   cmd_sync_token});
}

}  // namespace entidb_tool
