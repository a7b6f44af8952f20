// The sync server command of the entidb tool (docs/sync-protocol.md, docs/tool.md "Sync"):
//
//   entidb sync-server --listen HOST:PORT --data DIR [--policy NAME]
//
// serves sync protocol v2 over HTTP/1.1 (cpp-httplib) from an embedded store: the EntiDB
// database at DIR (created when missing). Its first line on stdout is `listening on HOST:PORT`
// (port 0 picks a free one and prints it); it serves until SIGTERM or SIGINT, then finishes the
// requests in flight and exits 0. Tokens are not built yet, so it listens on loopback only
// (127.0.0.1, ::1, localhost): another host is exit 2. Built where Debian's libcpp-httplib-dev
// is found (ENTIDB_TOOL_HAVE_HTTPLIB); elsewhere the command says what to install (exit 2).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/core.h>

#include <entidb/database.hpp>

#include "command_line.hpp"

#if ENTIDB_TOOL_HAVE_HTTPLIB
#include <httplib.h>
#include <pthread.h>

#include <entidb/sync/embedded_store.hpp>
#endif

namespace entidb_tool {
namespace {

#if ENTIDB_TOOL_HAVE_HTTPLIB

namespace sync = entidb::sync;

struct server_options {
    std::string host;
    int port = 0;
    std::filesystem::path data;
    sync::conflict_policy policy = sync::conflict_policy::last_writer_wins;
};

sync::conflict_policy policy_named(std::string_view name) {
    for (const auto p : {sync::conflict_policy::last_writer_wins, sync::conflict_policy::server_wins,
                         sync::conflict_policy::client_wins, sync::conflict_policy::manual})
        if (sync::to_string(p) == name) return p;
    throw usage_error{fmt::format("unknown policy '{}': use last_writer_wins, server_wins, client_wins or manual", name)};
}

// --listen HOST:PORT --data DIR [--policy NAME], each once, nothing else.
server_options parse_server(args a) {
    std::map<std::string_view, std::string_view> values;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto w = a[i];
        if (w != "--listen" && w != "--data" && w != "--policy") throw usage_error{fmt::format("unknown argument {}", w)};
        if (values.contains(w)) throw usage_error{fmt::format("option {} given twice", w)};
        if (i + 1 == a.size()) throw usage_error{fmt::format("{} needs a value", w)};
        values[w] = a[++i];
    }
    if (!values.contains("--listen") || !values.contains("--data"))
        throw usage_error{"sync-server needs --listen HOST:PORT and --data DIR"};
    server_options o;
    const auto listen = values["--listen"];
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) throw usage_error{"--listen takes HOST:PORT"};
    o.host = std::string(listen.substr(0, colon));
    if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
    const auto port = parse_number("--listen", listen.substr(colon + 1));
    if (port > 65535) throw usage_error{fmt::format("port {} is above 65535", port)};
    o.port = static_cast<int>(port);
    if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost")
        throw usage_error{fmt::format("without --tokens (not built yet) the server listens only on loopback "
                                      "(127.0.0.1, ::1, localhost), not {}", o.host)};
    o.data = std::string(values["--data"]);
    if (values.contains("--policy")) o.policy = policy_named(values["--policy"]);
    return o;
}

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
void serve(const httplib::Request& req, httplib::Response& res, Answer&& answer) {
    const auto type = req.get_header_value("Content-Type");
    if (type != "application/cbor") {
        send_error(res, {.error = "bad_request", .message = "Content-Type must be application/cbor", .horizon = 0});
        return;
    }
    try {
        const entidb::bytes_view body(reinterpret_cast<const entidb::byte*>(req.body.data()), req.body.size());
        const auto bytes = answer(body);
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

int cmd_sync_server(args a) {
    const auto o = parse_server(a);
    entidb::config cfg;
    cfg.create_if_missing = true;
    auto db = entidb::open(o.data, cfg);
    sync::embedded_store store(db, {.policy = o.policy});
    push_signal pushes;

    // SIGTERM and SIGINT go to one thread that stops the server; every other thread (the
    // server's workers included, which inherit the mask) has them blocked.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    httplib::Server server;
    server.set_payload_max_length(sync::max_message_bytes);
    server.Post("/sync/v2/handshake", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, [&](entidb::bytes_view body) { return sync::encode(store.handshake(sync::decode_handshake_request(body))); });
    });
    server.Post("/sync/v2/push", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, [&](entidb::bytes_view body) {
            auto answer = store.push(sync::decode_push_request(body));
            pushes.pushed();
            return sync::encode(answer);
        });
    });
    server.Post("/sync/v2/pull", [&](const httplib::Request& req, httplib::Response& res) {
        serve(req, res, [&](entidb::bytes_view body) {
            const auto request = sync::decode_pull_request(body);
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

#else

int cmd_sync_server(args) {
    throw usage_error{"this entidb was built without the sync server: install Debian's libcpp-httplib-dev "
                      "(scripts/setup.sh does) and rebuild"};
}

#endif

}  // namespace

void add_sync_commands(std::vector<command>& out) {
    out.push_back({"sync-server", "sync-server --listen HOST:PORT --data DIR [--policy NAME]", cmd_sync_server});
}

}  // namespace entidb_tool
