// entidb/sync/http_transport.hpp — a sync client's connection to a server over HTTP/1.1
// (docs/sync-protocol.md, "Transport"), through cpp-httplib (Debian's libcpp-httplib-dev, whose
// library the program links through pkg-config; optional: only code that includes this header needs it).
//
// Contract: `http_transport(url, options)` models sync_store (protocol.hpp) by posting each
// request's canonical CBOR to <url>/sync/v2/<request> as application/cbor.
//   url       http://HOST[:PORT] or https://HOST[:PORT] (a trailing slash allowed); anything else
//             → errc::invalid_argument. https needs a cpp-httplib built with OpenSSL (Debian's is);
//             the server's certificate is verified against options.ca_file, or the system's CAs.
//   options   a bearer token for every request, a CA file, the connection and read timeouts (a
//             pull's read timeout is extended by its wait_ms).
// Errors: a server that cannot be reached, a connection that breaks, a timeout, or an answer
// that is neither 200 nor an error body → sync::unreachable (errc::io_error) naming the URL and
// what happened; an error body → sync::refusal with its code (unauthorized, forbidden,
// resync_required, …); a 200 answer that is not the response expected → its decoding error.
//
// Thread-safety: one request at a time (the client serialises its calls).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#if !__has_include(<httplib.h>)
#error "entidb/sync/http_transport.hpp needs cpp-httplib: install Debian's libcpp-httplib-dev (scripts/setup.sh does)"
#endif
#include <httplib.h>

#include "../error.hpp"
#include "protocol.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

// The server could not be reached or gave no usable answer.
class unreachable : public error {
public:
    explicit unreachable(const std::string& message) : error(errc::io_error, message) {}
};

struct http_options {
    std::string token;                                      // sent as `Authorization: Bearer <token>` (empty: none)
    std::string ca_file;                                    // https: the CA (PEM) the server's certificate must chain to
                                                            // (empty: the system's)
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds read_timeout{30000};          // plus a pull's wait_ms
};

class http_transport {
public:
    explicit http_transport(std::string url, http_options options = {})
        : url_(checked_url(std::move(url))), options_(std::move(options)), http_(url_) {
        http_.set_connection_timeout(options_.connect_timeout);
        http_.set_keep_alive(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
        if (url_.starts_with("https://")) {
            http_.enable_server_certificate_verification(true);
            if (!options_.ca_file.empty()) http_.set_ca_cert_path(options_.ca_file);
        }
#endif
    }

    [[nodiscard]] handshake_response handshake(const handshake_request& r) {
        return decode_handshake_response(post("handshake", encode(r), 0));
    }
    [[nodiscard]] push_response push(const push_request& r) { return decode_push_response(post("push", encode(r), 0)); }
    [[nodiscard]] pull_response pull(const pull_request& r) {
        return decode_pull_response(post("pull", encode(r), r.wait_ms));
    }
    [[nodiscard]] const std::string& url() const noexcept { return url_; }

private:
    // http(s)://HOST[:PORT], without a trailing slash.
    [[nodiscard]] static std::string checked_url(std::string url) {
        const bool tls = url.starts_with("https://");
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
        if (tls)
            fail(errc::invalid_argument, "sync server URL '{}': this build's cpp-httplib has no TLS support", url);
#endif
        const std::string_view scheme = tls ? "https://" : "http://";
        if (!url.starts_with(scheme) || url.size() == scheme.size())
            fail(errc::invalid_argument, "sync server URL '{}': expected http(s)://HOST[:PORT]", url);
        if (url.back() == '/') url.pop_back();
        const auto rest = std::string_view(url).substr(scheme.size());
        if (rest.empty() || rest.find_first_of("/?# ") != std::string_view::npos)
            fail(errc::invalid_argument, "sync server URL '{}': expected http(s)://HOST[:PORT] with no path", url);
        return url;
    }

    [[nodiscard]] byte_buffer post(std::string_view request, const byte_buffer& body, std::uint64_t wait_ms) {
        http_.set_read_timeout(options_.read_timeout + std::chrono::milliseconds(wait_ms));
        httplib::Headers headers;
        if (!options_.token.empty()) headers.emplace("Authorization", "Bearer " + options_.token);
        const std::string path = fmt::format("/sync/v2/{}", request);
        const auto res = http_.Post(path, headers, reinterpret_cast<const char*>(body.data()), body.size(),
                                    "application/cbor");
        if (!res) throw unreachable(fmt::format("the sync server at {} ({}): {}", url_, request, what_failed(res.error())));
        const bytes_view answer(reinterpret_cast<const byte*>(res->body.data()), res->body.size());
        if (res->status == 200) return byte_buffer(answer.begin(), answer.end());
        if (res->get_header_value("Content-Type") == "application/cbor") {
            error_response e;
            try {
                e = decode_error_response(answer);
            } catch (const error&) {
                throw unreachable(fmt::format("the sync server at {} answered HTTP {} with an undecodable body", url_,
                                              res->status));
            }
            throw refusal(e.error, fmt::format("the sync server refused the {}: {} ({})", request, e.message, e.error),
                          e.horizon);
        }
        throw unreachable(fmt::format("the sync server at {} answered HTTP {} to {}", url_, res->status, request));
    }

    [[nodiscard]] static std::string what_failed(httplib::Error e) {
        switch (e) {
            case httplib::Error::Connection: return "cannot connect (nothing listens there, or the host is unreachable)";
            case httplib::Error::ConnectionTimeout: return "the connection timed out";
            case httplib::Error::Read: return "the answer did not arrive (the connection broke or the read timed out)";
            case httplib::Error::Write: return "the request could not be sent (the connection broke)";
            case httplib::Error::SSLConnection: return "the TLS handshake failed (is it an https server?)";
            case httplib::Error::SSLLoadingCerts: return "the CA certificates could not be loaded (--ca-file)";
            case httplib::Error::SSLServerVerification: return "the server's certificate did not verify";
            default: return "the request failed: " + httplib::to_string(e);
        }
    }

    std::string url_;
    http_options options_;
    httplib::Client http_;
};

static_assert(sync_store<http_transport>);

}  // namespace sync
}  // namespace v1
}  // namespace entidb
