// entidb/sync/protocol.hpp — the messages of sync protocol v2 and their canonical CBOR
// (docs/sync-protocol.md has every field, its bytes, and the rules checked here).
//
// Contract:
//   The message types (handshake_request/response, push_request/response, pull_request/
//   response, error_response) and the operations they carry (operation: what a device sends;
//   server_operation: an operation with the server sequence and the device it came from).
//   encode(message) → the canonical CBOR bytes of its body: a map with text keys, in canonical
//     order, optional fields present only when set. It checks what decode checks (a message
//     that encodes always decodes to itself) → errc::invalid_argument naming the field.
//   decode_<message>(bytes) → the message. Refuses, changing nothing, with:
//     cbor::decode_error (errc::invalid_cbor / errc::non_canonical, with the offset) for bytes
//       that are not one canonical CBOR item, errc::too_large for a body over max_message_bytes;
//     errc::invalid_argument "sync message: <path>: <what>" for a missing field, an unknown one,
//       a field of the wrong type or out of range (a 16-byte id that is not 16 bytes, a kind
//       that is neither put nor delete, a payload on a delete, a push whose client sequences do
//       not follow each other, a pull limit of 0 or above max_pull_limit, …). <path> names the
//       field, e.g. `push.ops[3].id`.
//   A put's payload is carried as a byte string holding the entity's CBOR: the decoder does not
//   look inside it, so a server can refuse one operation's payload (push_status::rejected)
//   without refusing its neighbours.
//
// Thread-safety: functions of their arguments.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../bytes.hpp"
#include "../cbor.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"

namespace entidb {
inline namespace v1 {
namespace sync {

inline constexpr std::uint64_t protocol_version = 2;
inline constexpr std::size_t max_message_bytes = std::size_t{64} << 20;  // a body, either way
inline constexpr std::size_t max_push_ops = 10000;                          // operations per push
inline constexpr std::uint64_t max_pull_limit = 10000;                      // operations per pull
inline constexpr std::uint64_t max_wait_ms = 30000;                         // a pull's long-poll
inline constexpr std::size_t max_name_bytes = 65535;                        // db and collection names

using device_id = entity_id;  // 16 random bytes a device draws once

// Collections whose names start with this hold a sync client's own state (sync/client.hpp) in
// the device's database: they are never synced, and a server refuses operations on them.
inline constexpr std::string_view reserved_collection_prefix = "entidb.sync/";
[[nodiscard]] constexpr bool is_reserved_collection(std::string_view name) noexcept {
    return name.starts_with(reserved_collection_prefix);
}

enum class op_kind : std::uint8_t { put = 1, remove = 2 };

// An operation as a device sends it: its `cseq`-th change (1, 2, 3, … per device).
struct operation {
    std::uint64_t cseq = 0;
    std::string collection;
    entity_id id;
    op_kind kind = op_kind::put;
    byte_buffer payload;     // the entity's canonical CBOR (put); empty for a delete
    std::uint64_t base = 0;  // the server sequence of the version it was made on; 0: none seen
    std::uint64_t hlc = 0;   // hybrid logical clock timestamp (hlc.hpp)
    friend bool operator==(const operation&, const operation&) = default;
};

// An operation as the server keeps and serves it.
struct server_operation {
    std::uint64_t sseq = 0;  // server sequence: the order every device pulls in
    device_id device;
    operation op;
    friend bool operator==(const server_operation&, const server_operation&) = default;
};

struct handshake_request {
    std::string db;
    device_id device;
    std::uint64_t protocol = protocol_version;
    friend bool operator==(const handshake_request&, const handshake_request&) = default;
};
struct handshake_response {
    std::uint64_t protocol = protocol_version;
    entity_id server;         // the server database's identity: another one means resync
    std::uint64_t acked = 0;  // the highest client sequence of this device the server applied
    std::uint64_t horizon = 0;  // history at or below it is compacted: only current versions remain
    std::uint64_t head = 0;     // the highest server sequence
    friend bool operator==(const handshake_response&, const handshake_response&) = default;
};

struct push_request {
    std::string db;
    device_id device;
    std::vector<operation> ops;  // 1..max_push_ops, client sequences consecutive
    friend bool operator==(const push_request&, const push_request&) = default;
};
enum class push_status : std::uint8_t { applied = 1, conflict = 2, duplicate = 3, rejected = 4 };
struct push_result {
    std::uint64_t cseq = 0;
    push_status status = push_status::applied;
    std::uint64_t sseq = 0;                   // applied: its server sequence; otherwise the current version's (0: none)
    // The server's current version of the entity: always on a conflict; on a duplicate or a
    // rejection when the entity has one (so a device that lost the first answer, or sent what
    // the server refused, can still converge); never on an applied operation.
    std::optional<server_operation> current;
    std::string reason;                       // rejected: why
    friend bool operator==(const push_result&, const push_result&) = default;
};
struct push_response {
    std::vector<push_result> results;  // one per operation, in order
    std::uint64_t acked = 0;
    friend bool operator==(const push_response&, const push_response&) = default;
};

struct pull_request {
    std::string db;
    device_id device;
    std::uint64_t cursor = 0;              // exclusive: operations with a server sequence above it
    std::uint64_t limit = 1000;            // 1..max_pull_limit
    std::vector<std::string> collections;  // only these (none: all)
    std::uint64_t wait_ms = 0;             // long-poll up to this long when nothing is there
    friend bool operator==(const pull_request&, const pull_request&) = default;
};
struct pull_response {
    std::vector<server_operation> ops;  // by server sequence
    std::uint64_t cursor = 0;           // the last included server sequence (the request's when none)
    bool has_more = false;
    friend bool operator==(const pull_response&, const pull_response&) = default;
};

// The body of every refusal (docs/sync-protocol.md, "Errors"): a stable code and a message.
struct error_response {
    std::string error;          // bad_request, unauthorized, forbidden, resync_required, out_of_order, ...
    std::string message;
    std::uint64_t horizon = 0;  // resync_required: the lowest cursor the server can serve
    friend bool operator==(const error_response&, const error_response&) = default;
};

namespace detail {

[[noreturn]] inline void bad_field(std::string_view path, std::string_view what) {
    fail(errc::invalid_argument, "sync message: {}: {}", path, what);
}

// A push result's `current`: required on a conflict, allowed on a duplicate or a rejection,
// refused on an applied operation (its own version is the current one).
inline void check_current(push_status status, bool present, std::string_view path) {
    if (status == push_status::conflict && !present) bad_field(path, "missing (a conflict carries the current version)");
    if (status == push_status::applied && present) bad_field(path, "not allowed on an applied operation");
}

// Reads one map of a message, field by field; finish() refuses keys nobody asked for.
class fields {
public:
    fields(const cbor::value& v, std::string path) : path_(std::move(path)) {
        if (!v.is(cbor::kind::map)) bad_field(path_, "expected a map");
        map_ = &v.as_map();
        read_.assign(map_->size(), false);
    }

    [[nodiscard]] const cbor::value* optional(std::string_view key) {
        for (std::size_t i = 0; i < map_->size(); ++i) {
            const auto& e = (*map_)[i];
            if (e.key.is(cbor::kind::text) && e.key.as_text() == key) {
                read_[i] = true;
                return &e.val;
            }
        }
        return nullptr;
    }
    [[nodiscard]] const cbor::value& required(std::string_view key) {
        const auto* v = optional(key);
        if (v == nullptr) bad_field(at(key), "missing");
        return *v;
    }
    // Every key of the map was asked for: an unknown one is refused, not ignored.
    void finish() const {
        for (std::size_t i = 0; i < map_->size(); ++i) {
            if (read_[i]) continue;
            const auto& key = (*map_)[i].key;
            bad_field(path_, key.is(cbor::kind::text) ? fmt::format("unknown field {:?}", key.as_text())
                                                      : std::string("a key that is not text"));
        }
    }

    [[nodiscard]] std::uint64_t u64(std::string_view key, std::uint64_t min = 0, std::uint64_t max = ~std::uint64_t{0}) {
        return u64_of(required(key), at(key), min, max);
    }
    [[nodiscard]] std::optional<std::uint64_t> optional_u64(std::string_view key, std::uint64_t min = 0,
                                                            std::uint64_t max = ~std::uint64_t{0}) {
        const auto* v = optional(key);
        if (v == nullptr) return std::nullopt;
        return u64_of(*v, at(key), min, max);
    }
    [[nodiscard]] entity_id id16(std::string_view key) { return id_of(required(key), at(key)); }
    [[nodiscard]] std::string name(std::string_view key) { return name_of(required(key), at(key)); }
    [[nodiscard]] std::string text(std::string_view key) {
        const auto& v = required(key);
        if (!v.is(cbor::kind::text)) bad_field(at(key), "expected text");
        return v.as_text();
    }
    [[nodiscard]] bool boolean(std::string_view key) {
        const auto& v = required(key);
        if (!v.is(cbor::kind::boolean)) bad_field(at(key), "expected true or false");
        return v.as_bool();
    }
    [[nodiscard]] const cbor::array& array(std::string_view key, std::size_t max) {
        const auto& v = required(key);
        if (!v.is(cbor::kind::array)) bad_field(at(key), "expected an array");
        if (v.as_array().size() > max) bad_field(at(key), fmt::format("more than {} items", max));
        return v.as_array();
    }
    [[nodiscard]] std::string at(std::string_view key) const { return fmt::format("{}.{}", path_, key); }

    static std::uint64_t u64_of(const cbor::value& v, const std::string& path, std::uint64_t min, std::uint64_t max) {
        if (!v.is(cbor::kind::unsigned_integer)) bad_field(path, "expected an unsigned integer");
        const std::uint64_t n = v.as_uint();
        if (n < min || n > max) bad_field(path, fmt::format("{} is outside {}..{}", n, min, max));
        return n;
    }
    static entity_id id_of(const cbor::value& v, const std::string& path) {
        if (!v.is(cbor::kind::bytes) || v.as_bytes().size() != entity_id::size)
            bad_field(path, "expected a byte string of 16 bytes");
        return entity_id::from_bytes(v.as_bytes());
    }
    static std::string name_of(const cbor::value& v, const std::string& path) {
        if (!v.is(cbor::kind::text)) bad_field(path, "expected text");
        const auto& s = v.as_text();
        if (s.empty() || s.size() > max_name_bytes) bad_field(path, fmt::format("a name is 1..{} bytes", max_name_bytes));
        return s;
    }

private:
    const cbor::map* map_ = nullptr;
    std::string path_;
    std::vector<bool> read_;  // which entries a field was read from
};

inline cbor::value decode_body(bytes_view body) {
    if (body.size() > max_message_bytes)
        fail(errc::too_large, "a sync message of {} bytes (at most {})", body.size(), max_message_bytes);
    return cbor::decode(body);
}

// Every decode_*: the body's one map, read by `read(fields&)`, then no key left unread.
template <typename Read>
[[nodiscard]] auto read_message(bytes_view body, std::string name, Read&& read) {
    const auto v = decode_body(body);
    fields f(v, std::move(name));
    auto m = read(f);
    f.finish();
    return m;
}

// Every encode: `write(encoder&)` into a new buffer.
template <typename Write>
[[nodiscard]] byte_buffer write_message(Write&& write) {
    byte_buffer out;
    cbor::encoder e(out);
    write(e);
    return out;
}

// ---- encoding ----

inline void put_id(cbor::encoder& e, std::string_view key, const entity_id& id) {
    e.text(key).bytes(id.bytes());
}

inline void check_name(std::string_view s, std::string_view path) {
    if (s.empty() || s.size() > max_name_bytes) bad_field(path, fmt::format("a name is 1..{} bytes", max_name_bytes));
}

// The checks decode makes of an operation, for encode (a message that encodes decodes).
inline void check_operation(const operation& op, std::string_view path) {
    if (op.cseq == 0) bad_field(fmt::format("{}.cseq", path), "0 is outside 1..18446744073709551615");
    check_name(op.collection, fmt::format("{}.coll", path));
    if (op.kind != op_kind::put && op.kind != op_kind::remove) bad_field(fmt::format("{}.kind", path), "not 1 or 2");
    if (op.kind == op_kind::remove && !op.payload.empty())
        bad_field(fmt::format("{}.payload", path), "a delete carries no payload");
}

// The fields of an operation, into a map begun by the caller (who counts them: operation_pairs).
inline void put_operation_fields(cbor::encoder& e, const operation& op) {
    e.text("cseq").uint(op.cseq);
    e.text("coll").text(op.collection);
    put_id(e, "id", op.id);
    e.text("kind").uint(static_cast<std::uint64_t>(op.kind));
    if (op.kind == op_kind::put) e.text("payload").bytes(op.payload);
    e.text("base").uint(op.base);
    e.text("hlc").uint(op.hlc);
}
[[nodiscard]] inline std::uint64_t operation_pairs(const operation& op) { return op.kind == op_kind::put ? 7 : 6; }

inline void put_server_operation(cbor::encoder& e, const server_operation& s, std::string_view path) {
    check_operation(s.op, path);
    e.begin_map(operation_pairs(s.op) + 2);
    e.text("sseq").uint(s.sseq);
    put_id(e, "device", s.device);
    put_operation_fields(e, s.op);
    e.end_map();
}

// ---- decoding ----

// The operation fields of `f` (the map of an operation or a server operation).
inline operation read_operation(fields& f) {
    operation op;
    op.cseq = f.u64("cseq", 1);
    op.collection = f.name("coll");
    op.id = f.id16("id");
    op.kind = static_cast<op_kind>(f.u64("kind", 1, 2));
    const auto* payload = f.optional("payload");
    if (op.kind == op_kind::put) {
        const auto& p = payload != nullptr ? *payload : f.required("payload");  // missing: named
        if (!p.is(cbor::kind::bytes)) bad_field(f.at("payload"), "expected a byte string");
        op.payload = p.as_bytes();
    } else if (payload != nullptr) {
        bad_field(f.at("payload"), "a delete carries no payload");
    }
    op.base = f.u64("base");
    op.hlc = f.u64("hlc");
    return op;
}

inline server_operation read_server_operation(const cbor::value& v, std::string path) {
    fields f(v, std::move(path));
    server_operation s;
    s.sseq = f.u64("sseq", 1);
    s.device = f.id16("device");
    s.op = read_operation(f);
    f.finish();
    return s;
}

}  // namespace detail

// ---- a server operation on its own (how a store keeps it) ----

[[nodiscard]] inline byte_buffer encode(const server_operation& m) {
    return detail::write_message([&](cbor::encoder& e) { detail::put_server_operation(e, m, "operation"); });
}
[[nodiscard]] inline server_operation decode_server_operation(bytes_view body) {
    return detail::read_server_operation(detail::decode_body(body), "operation");
}

// ---- an operation on its own (how a client keeps its outbox) ----

[[nodiscard]] inline byte_buffer encode(const operation& m) {
    return detail::write_message([&](cbor::encoder& e) {
        detail::check_operation(m, "operation");
        e.begin_map(detail::operation_pairs(m));
        detail::put_operation_fields(e, m);
        e.end_map();
    });
}
[[nodiscard]] inline operation decode_operation(bytes_view body) {
    const auto v = detail::decode_body(body);
    detail::fields f(v, "operation");
    auto op = detail::read_operation(f);
    f.finish();
    return op;
}

// The 16-byte id under which stores and clients keep the n-th of something (a server
// operation, an outbox entry): n big-endian in the last 8 bytes, so id order is n's order.
[[nodiscard]] inline entity_id sequence_id(std::uint64_t n) {
    std::array<byte, entity_id::size> b{};
    for (std::size_t i = 0; i < 8; ++i) b[15 - i] = static_cast<byte>(n >> (8 * i));
    return entity_id(b);
}

// ---- a request refused as a whole ----

// What a server answers with an error body instead of a response (docs/sync-protocol.md,
// "Errors"): `code` is the body's `error`, what() its message. An entidb::error with
// errc::invalid_argument, so code that does not know the protocol still sees a typed error.
class refusal : public error {
public:
    refusal(std::string code, std::string message, std::uint64_t horizon = 0)
        : error(errc::invalid_argument, message), body_{std::move(code), std::move(message), horizon} {}
    [[nodiscard]] const error_response& body() const noexcept { return body_; }

private:
    error_response body_;
};

// ---- handshake ----

[[nodiscard]] inline byte_buffer encode(const handshake_request& m) {
    detail::check_name(m.db, "handshake.db");
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(3);
        e.text("db").text(m.db);
        detail::put_id(e, "device", m.device);
        e.text("protocol").uint(m.protocol);
        e.end_map();
    });
}
[[nodiscard]] inline handshake_request decode_handshake_request(bytes_view body) {
    return detail::read_message(body, "handshake", [](detail::fields& f) {
        handshake_request m;
        m.db = f.name("db");
        m.device = f.id16("device");
        m.protocol = f.u64("protocol", 1);
        return m;
    });
}

[[nodiscard]] inline byte_buffer encode(const handshake_response& m) {
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(5);
        e.text("protocol").uint(m.protocol);
        detail::put_id(e, "server", m.server);
        e.text("acked").uint(m.acked);
        e.text("horizon").uint(m.horizon);
        e.text("head").uint(m.head);
        e.end_map();
    });
}
[[nodiscard]] inline handshake_response decode_handshake_response(bytes_view body) {
    return detail::read_message(body, "handshake_response", [](detail::fields& f) {
        handshake_response m;
        m.protocol = f.u64("protocol", 1);
        m.server = f.id16("server");
        m.acked = f.u64("acked");
        m.horizon = f.u64("horizon");
        m.head = f.u64("head");
        return m;
    });
}

// ---- push ----

[[nodiscard]] inline byte_buffer encode(const push_request& m) {
    detail::check_name(m.db, "push.db");
    if (m.ops.empty() || m.ops.size() > max_push_ops)
        detail::bad_field("push.ops", fmt::format("a push carries 1..{} operations", max_push_ops));
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(3);
        e.text("db").text(m.db);
        detail::put_id(e, "device", m.device);
        e.text("ops").begin_array(m.ops.size());
        for (std::size_t i = 0; i < m.ops.size(); ++i) {
            const auto& op = m.ops[i];
            const std::string path = fmt::format("push.ops[{}]", i);
            detail::check_operation(op, path);
            if (i > 0 && op.cseq != m.ops[i - 1].cseq + 1)
                detail::bad_field(path + ".cseq", "client sequences must follow each other");
            e.begin_map(detail::operation_pairs(op));
            detail::put_operation_fields(e, op);
            e.end_map();
        }
        e.end_array();
        e.end_map();
    });
}
[[nodiscard]] inline push_request decode_push_request(bytes_view body) {
    return detail::read_message(body, "push", [](detail::fields& f) {
        push_request m;
        m.db = f.name("db");
        m.device = f.id16("device");
        const auto& ops = f.array("ops", max_push_ops);
        if (ops.empty()) detail::bad_field("push.ops", fmt::format("a push carries 1..{} operations", max_push_ops));
        m.ops.reserve(ops.size());
        for (std::size_t i = 0; i < ops.size(); ++i) {
            detail::fields of(ops[i], fmt::format("push.ops[{}]", i));
            m.ops.push_back(detail::read_operation(of));
            of.finish();
            if (i > 0 && m.ops[i].cseq != m.ops[i - 1].cseq + 1)
                detail::bad_field(of.at("cseq"), "client sequences must follow each other");
        }
        return m;
    });
}

[[nodiscard]] inline byte_buffer encode(const push_response& m) {
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(2);
        e.text("results").begin_array(m.results.size());
        for (std::size_t i = 0; i < m.results.size(); ++i) {
            const auto& r = m.results[i];
            const std::string path = fmt::format("push_response.results[{}]", i);
            const bool rejected = r.status == push_status::rejected;
            detail::check_current(r.status, r.current.has_value(), path + ".current");
            if (rejected == r.reason.empty()) detail::bad_field(path + ".reason", "present exactly on a rejection");
            e.begin_map(3 + (r.current ? 1 : 0) + (rejected ? 1 : 0));
            e.text("cseq").uint(r.cseq);
            e.text("status").uint(static_cast<std::uint64_t>(r.status));
            e.text("sseq").uint(r.sseq);
            if (r.current) {
                e.text("current");
                detail::put_server_operation(e, *r.current, path + ".current");
            }
            if (rejected) e.text("reason").text(r.reason);
            e.end_map();
        }
        e.end_array();
        e.text("acked").uint(m.acked);
        e.end_map();
    });
}
[[nodiscard]] inline push_response decode_push_response(bytes_view body) {
    return detail::read_message(body, "push_response", [](detail::fields& f) {
        push_response m;
        const auto& results = f.array("results", max_push_ops);
        m.results.reserve(results.size());
        for (std::size_t i = 0; i < results.size(); ++i) {
            detail::fields rf(results[i], fmt::format("push_response.results[{}]", i));
            push_result r;
            r.cseq = rf.u64("cseq", 1);
            r.status = static_cast<push_status>(rf.u64("status", 1, 4));
            r.sseq = rf.u64("sseq");
            const auto* current = rf.optional("current");
            detail::check_current(r.status, current != nullptr, rf.at("current"));
            if (current != nullptr) r.current = detail::read_server_operation(*current, rf.at("current"));
            const auto* reason = rf.optional("reason");
            if ((r.status == push_status::rejected) != (reason != nullptr))
                detail::bad_field(rf.at("reason"), "present exactly on a rejection");
            if (reason != nullptr) {
                if (!reason->is(cbor::kind::text) || reason->as_text().empty())
                    detail::bad_field(rf.at("reason"), "expected non-empty text");
                r.reason = reason->as_text();
            }
            rf.finish();
            m.results.push_back(std::move(r));
        }
        m.acked = f.u64("acked");
        return m;
    });
}

// ---- pull ----

[[nodiscard]] inline byte_buffer encode(const pull_request& m) {
    detail::check_name(m.db, "pull.db");
    if (m.limit == 0 || m.limit > max_pull_limit)
        detail::bad_field("pull.limit", fmt::format("{} is outside 1..{}", m.limit, max_pull_limit));
    if (m.wait_ms > max_wait_ms) detail::bad_field("pull.wait_ms", fmt::format("{} is outside 0..{}", m.wait_ms, max_wait_ms));
    const bool filtered = !m.collections.empty();
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(5 + (filtered ? 1 : 0));
        e.text("db").text(m.db);
        detail::put_id(e, "device", m.device);
        e.text("cursor").uint(m.cursor);
        e.text("limit").uint(m.limit);
        if (filtered) {
            e.text("colls").begin_array(m.collections.size());
            for (const auto& c : m.collections) {
                detail::check_name(c, "pull.colls");
                e.text(c);
            }
            e.end_array();
        }
        e.text("wait_ms").uint(m.wait_ms);
        e.end_map();
    });
}
[[nodiscard]] inline pull_request decode_pull_request(bytes_view body) {
    return detail::read_message(body, "pull", [](detail::fields& f) {
        pull_request m;
        m.db = f.name("db");
        m.device = f.id16("device");
        m.cursor = f.u64("cursor");
        m.limit = f.u64("limit", 1, max_pull_limit);
        if (f.optional("colls") != nullptr) {
            const auto& colls = f.array("colls", max_push_ops);
            if (colls.empty()) detail::bad_field("pull.colls", "an empty filter would match nothing: leave it out");
            for (std::size_t i = 0; i < colls.size(); ++i)
                m.collections.push_back(detail::fields::name_of(colls[i], fmt::format("pull.colls[{}]", i)));
        }
        m.wait_ms = f.u64("wait_ms", 0, max_wait_ms);
        return m;
    });
}

[[nodiscard]] inline byte_buffer encode(const pull_response& m) {
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(3);
        e.text("ops").begin_array(m.ops.size());
        for (std::size_t i = 0; i < m.ops.size(); ++i) {
            const std::string path = fmt::format("pull_response.ops[{}]", i);
            if (i > 0 && m.ops[i].sseq <= m.ops[i - 1].sseq)
                detail::bad_field(path + ".sseq", "server sequences must grow");
            detail::put_server_operation(e, m.ops[i], path);
        }
        e.end_array();
        e.text("cursor").uint(m.cursor);
        e.text("has_more").boolean(m.has_more);
        e.end_map();
    });
}
[[nodiscard]] inline pull_response decode_pull_response(bytes_view body) {
    return detail::read_message(body, "pull_response", [](detail::fields& f) {
        pull_response m;
        const auto& ops = f.array("ops", max_pull_limit);
        m.ops.reserve(ops.size());
        for (std::size_t i = 0; i < ops.size(); ++i) {
            m.ops.push_back(detail::read_server_operation(ops[i], fmt::format("pull_response.ops[{}]", i)));
            if (i > 0 && m.ops[i].sseq <= m.ops[i - 1].sseq)
                detail::bad_field(fmt::format("pull_response.ops[{}].sseq", i), "server sequences must grow");
        }
        m.cursor = f.u64("cursor");
        m.has_more = f.boolean("has_more");
        return m;
    });
}

// ---- errors ----

[[nodiscard]] inline byte_buffer encode(const error_response& m) {
    if (m.error.empty()) detail::bad_field("error.error", "expected a non-empty code");
    const bool resync = m.error == "resync_required";
    return detail::write_message([&](cbor::encoder& e) {
        e.begin_map(2 + (resync ? 1 : 0));
        e.text("error").text(m.error);
        e.text("message").text(m.message);
        if (resync) e.text("horizon").uint(m.horizon);
        e.end_map();
    });
}
[[nodiscard]] inline error_response decode_error_response(bytes_view body) {
    return detail::read_message(body, "error", [](detail::fields& f) {
        error_response m;
        m.error = f.text("error");
        if (m.error.empty()) detail::bad_field("error.error", "expected a non-empty code");
        m.message = f.text("message");
        if (m.error == "resync_required") m.horizon = f.u64("horizon");
        return m;
    });
}

// What answers the three requests: a store in the server's process (embedded_store.hpp), or a
// client's connection to a server (http_transport.hpp) — the client takes either.
template <typename S>
concept sync_store = requires(S& s, const handshake_request& h, const push_request& p, const pull_request& q) {
    { s.handshake(h) } -> std::same_as<handshake_response>;
    { s.push(p) } -> std::same_as<push_response>;
    { s.pull(q) } -> std::same_as<pull_response>;
};

}  // namespace sync
}  // namespace v1
}  // namespace entidb
