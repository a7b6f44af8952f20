// Sync protocol v2's foundations (docs/sync-protocol.md): the messages' canonical CBOR (round
// trips, the documented bytes, every refusal naming its field, random damage never crashing or
// decoding to something else), the hybrid logical clock, and the conflict rules.
#include <entidb/sync/conflict.hpp>
#include <entidb/sync/hlc.hpp>
#include <entidb/sync/protocol.hpp>

#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_errors.hpp"
#include "test_support.hpp"

namespace {

namespace sync = entidb::sync;
using entidb::byte_buffer;
using entidb::errc;
using test_support::code_of;

entidb::entity_id id16(std::uint8_t fill) {
    std::array<entidb::byte, 16> b{};
    b.fill(fill);
    return entidb::entity_id(b);
}

sync::operation put_op(std::uint64_t cseq, std::uint64_t base = 0, std::uint64_t hlc = 1) {
    return {.cseq = cseq, .collection = "notes", .id = id16(7), .kind = sync::op_kind::put,
            .payload = {0xa1, 0x61, 'n', 0x01}, .base = base, .hlc = hlc};
}
sync::operation delete_op(std::uint64_t cseq, std::uint64_t base = 0, std::uint64_t hlc = 1) {
    return {.cseq = cseq, .collection = "notes", .id = id16(7), .kind = sync::op_kind::remove, .payload = {},
            .base = base, .hlc = hlc};
}

std::string hex(const byte_buffer& b) {
    std::string out;
    for (const auto x : b) out += fmt::format("{:02x}", x);
    return out;
}

// The message of the error `f` throws (it must throw an entidb::error).
template <typename F>
std::string refusal(F&& f) {
    try {
        f();
    } catch (const entidb::error& e) {
        return e.what();
    }
    FAIL("no error");
    return {};
}

// Every message kind once, with optional fields both ways.
sync::push_request a_push() {
    return {.db = "app", .device = id16(1), .ops = {put_op(5, 0, 100), delete_op(6, 3, 101)}};
}
sync::pull_response a_pull_response() {
    return {.ops = {{.sseq = 3, .device = id16(2), .op = put_op(1)}, {.sseq = 9, .device = id16(1), .op = delete_op(6, 3)}},
            .cursor = 9, .has_more = true};
}
sync::push_response a_push_response() {
    return {.results = {{.cseq = 5, .status = sync::push_status::applied, .sseq = 10, .current = {}, .reason = {}},
                        {.cseq = 6, .status = sync::push_status::conflict, .sseq = 9,
                         .current = sync::server_operation{.sseq = 9, .device = id16(2), .op = put_op(4)}, .reason = {}},
                        {.cseq = 7, .status = sync::push_status::rejected, .sseq = 0, .current = {}, .reason = "not canonical CBOR"},
                        {.cseq = 8, .status = sync::push_status::duplicate, .sseq = 0, .current = {}, .reason = {}},
                        {.cseq = 9, .status = sync::push_status::duplicate, .sseq = 12,
                         .current = sync::server_operation{.sseq = 12, .device = id16(1), .op = delete_op(9, 3)}, .reason = {}}},
            .acked = 9};
}

}  // namespace

TEST_CASE("sync messages round-trip through canonical CBOR", "[sync]") {
    const sync::handshake_request hs{.db = "app", .device = id16(1), .protocol = 2};
    CHECK(sync::decode_handshake_request(sync::encode(hs)) == hs);
    const sync::handshake_response hr{.protocol = 2, .server = id16(9), .acked = 4, .horizon = 2, .head = 70};
    CHECK(sync::decode_handshake_response(sync::encode(hr)) == hr);
    CHECK(sync::decode_push_request(sync::encode(a_push())) == a_push());
    CHECK(sync::decode_push_response(sync::encode(a_push_response())) == a_push_response());
    sync::pull_request pr{.db = "app", .device = id16(1), .cursor = 7, .limit = 100, .collections = {}, .wait_ms = 0};
    CHECK(sync::decode_pull_request(sync::encode(pr)) == pr);
    pr.collections = {"notes", "tags"};
    pr.wait_ms = 25000;
    CHECK(sync::decode_pull_request(sync::encode(pr)) == pr);
    CHECK(sync::decode_pull_response(sync::encode(a_pull_response())) == a_pull_response());
    const sync::error_response er{.error = "resync_required", .message = "history compacted", .horizon = 40};
    CHECK(sync::decode_error_response(sync::encode(er)) == er);
    const sync::error_response plain{.error = "bad_request", .message = "x", .horizon = 0};
    CHECK(sync::decode_error_response(sync::encode(plain)) == plain);
    // Every body is canonical: decoding and re-encoding gives the same bytes.
    for (const auto& body : {sync::encode(hs), sync::encode(a_push()), sync::encode(a_push_response()),
                             sync::encode(pr), sync::encode(a_pull_response()), sync::encode(er)})
        CHECK(entidb::cbor::encode(entidb::cbor::decode(body)) == body);
}

TEST_CASE("a sync message's bytes are the documented ones", "[sync]") {
    // docs/sync-protocol.md, "Handshake": the example request, byte for byte.
    const sync::handshake_request hs{.db = "app", .device = id16(1), .protocol = 2};
    CHECK(hex(sync::encode(hs)) == "a362646263617070666465766963655001010101010101010101010101010101"
                                   "6870726f746f636f6c02");
    // docs/sync-protocol.md, "Push": a delete, as an operation map (keys in canonical order).
    const sync::push_request p{.db = "a", .device = id16(1), .ops = {delete_op(1, 3, 5)}};
    CHECK(hex(sync::encode(p)) == "a36264626161636f707381a6626964500707070707070707070707070707070763"
                                  "686c630564626173650364636f6c6c656e6f746573646373657101646b696e64"
                                  "02666465766963655001010101010101010101010101010101");
}

TEST_CASE("a sync message that breaks a rule is refused, naming the field", "[sync]") {
    const auto push = sync::encode(a_push());
    auto v = entidb::cbor::decode(push);
    // Rebuilds the push with field `key` of operation 0 replaced (nullopt: removed).
    const auto with_op_field = [&](std::string_view key, std::optional<entidb::cbor::value> value) {
        entidb::cbor::value copy = v;
        auto& ops = const_cast<entidb::cbor::array&>(copy.find("ops")->as_array());
        entidb::cbor::map entries;
        for (const auto& e : ops[0].as_map())
            if (e.key.as_text() != key) entries.push_back(e);
        if (value) entries.push_back({entidb::cbor::value(std::string(key)), *value});
        ops[0] = entidb::cbor::value(std::move(entries));
        return entidb::cbor::encode(copy);
    };
    using entidb::cbor::value;
    const struct {
        std::string key;
        std::optional<value> replacement;
        std::string expect;
    } cases[] = {
        {"id", value::bytes(byte_buffer(15, 1)), "push.ops[0].id: expected a byte string of 16 bytes"},
        {"id", std::nullopt, "push.ops[0].id: missing"},
        {"kind", value(std::uint64_t{3}), "push.ops[0].kind: 3 is outside 1..2"},
        {"cseq", value(std::uint64_t{0}), "push.ops[0].cseq: 0 is outside 1..18446744073709551615"},
        {"cseq", value(std::uint64_t{9}), "push.ops[1].cseq: client sequences must follow each other"},
        {"coll", value(std::string()), "push.ops[0].coll: a name is 1..65535 bytes"},
        {"coll", value(std::uint64_t{1}), "push.ops[0].coll: expected text"},
        {"payload", std::nullopt, "push.ops[0].payload: missing"},
        {"payload", value(std::string("x")), "push.ops[0].payload: expected a byte string"},
        {"hlc", value::negative(0), "push.ops[0].hlc: expected an unsigned integer"},
        {"extra", value(true), "push.ops[0]: unknown field \"extra\""},
    };
    for (const auto& c : cases) {
        INFO(c.key << " → " << c.expect);
        const auto body = with_op_field(c.key, c.replacement);
        const auto message = refusal([&] { (void)sync::decode_push_request(body); });
        CHECK(message.find(c.expect) != std::string::npos);
        CHECK(code_of([&] { (void)sync::decode_push_request(body); }) == errc::invalid_argument);
    }
    // A delete with a payload (encode refuses it as decode would), an empty push, a pull limit of 0.
    auto del = a_push();
    del.ops = {delete_op(1)};
    del.ops[0].payload = {0xa0};
    CHECK(refusal([&] { (void)sync::encode(del); }).find("push.ops[0].payload: a delete carries no payload") !=
          std::string::npos);
    entidb::cbor::map no_ops;
    for (const auto& e : v.as_map())
        no_ops.push_back(e.key.as_text() == "ops" ? entidb::cbor::map_entry{e.key, value(entidb::cbor::array{})} : e);
    const auto empty_push = entidb::cbor::encode(value(std::move(no_ops)));
    CHECK(refusal([&] { (void)sync::decode_push_request(empty_push); }).find("push.ops: a push carries 1..10000 operations") !=
          std::string::npos);
    // `current`: required on a conflict, refused on an applied operation.
    auto answer = a_push_response();
    answer.results[1].current.reset();
    CHECK(refusal([&] { (void)sync::encode(answer); }).find("push_response.results[1].current: missing") != std::string::npos);
    answer = a_push_response();
    answer.results[0].current = answer.results[1].current;
    CHECK(refusal([&] { (void)sync::encode(answer); }).find("results[0].current: not allowed on an applied operation") !=
          std::string::npos);
    sync::pull_request pr{.db = "app", .device = id16(1), .cursor = 0, .limit = 0, .collections = {}, .wait_ms = 0};
    CHECK(code_of([&] { (void)sync::encode(pr); }) == errc::invalid_argument);
    pr.limit = 1;
    auto pv = sync::encode(pr);
    CHECK(sync::decode_pull_request(pv).limit == 1);
    // The CBOR layer's own refusals: not canonical, trailing bytes, truncated, too large.
    byte_buffer non_canonical = sync::encode(pr);
    non_canonical.push_back(0);
    CHECK(code_of([&] { (void)sync::decode_pull_request(non_canonical); }) == errc::invalid_cbor);
    CHECK(code_of([&] { (void)sync::decode_pull_request(entidb::bytes_view(pv).first(pv.size() - 1)); }) == errc::invalid_cbor);
    byte_buffer long_head = sync::encode(sync::handshake_request{.db = "app", .device = id16(1), .protocol = 2});
    REQUIRE(long_head.back() == 0x02);  // the protocol number, last: written again in a 2-byte head
    long_head.back() = 0x18;
    long_head.push_back(0x02);
    CHECK(code_of([&] { (void)sync::decode_handshake_request(long_head); }) == errc::non_canonical);
    CHECK(code_of([&] { (void)sync::decode_pull_request(byte_buffer(sync::max_message_bytes + 1, 0)); }) == errc::too_large);
    CHECK(code_of([&] { (void)sync::decode_handshake_request(sync::encode(a_push())); }) == errc::invalid_argument);
}

TEST_CASE("damaged sync messages are refused or decode to a message that encodes to the same bytes", "[sync]") {
    std::mt19937_64 rng(20261207);
    const std::vector<byte_buffer> bodies = {sync::encode(a_push()), sync::encode(a_push_response()),
                                             sync::encode(a_pull_response())};
    const auto rounds = static_cast<int>(test_support::steps(24000));
    int decoded = 0;
    for (int i = 0; i < rounds; ++i) {
        const auto kind = static_cast<std::size_t>(rng() % bodies.size());
        byte_buffer b = bodies[kind];
        for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips)
            b[rng() % b.size()] ^= static_cast<entidb::byte>(1u << (rng() % 8));
        if (rng() % 4 == 0) b.resize(rng() % b.size());
        byte_buffer again;
        try {
            if (kind == 0) again = sync::encode(sync::decode_push_request(b));
            if (kind == 1) again = sync::encode(sync::decode_push_response(b));
            if (kind == 2) again = sync::encode(sync::decode_pull_response(b));
        } catch (const entidb::error& e) {
            const auto c = e.value();
            REQUIRE((c == errc::invalid_cbor || c == errc::non_canonical || c == errc::invalid_argument));
            continue;
        }
        REQUIRE(again == b);
        ++decoded;
    }
    CHECK(decoded > 0);  // some flips land in payload or number bytes and still make a valid message
}

TEST_CASE("the hybrid logical clock only grows, follows the physical clock and bounds a remote's drift", "[sync]") {
    std::uint64_t now = 1'000'000;
    sync::hybrid_clock clock([&] { return now; }, 5000);
    const auto t1 = clock.tick();
    CHECK(sync::hlc::physical(t1) == 1'000'000);
    CHECK(sync::hlc::logical(t1) == 0);
    const auto t2 = clock.tick();  // the same millisecond: the counter moves
    CHECK(t2 == t1 + 1);
    now -= 10;  // the physical clock went back: the timestamps do not
    CHECK(clock.tick() > t2);
    now = 1'000'100;
    CHECK(clock.tick() == sync::hlc::pack(1'000'100, 0));
    // A remote timestamp ahead (within the drift) pulls the clock forward.
    const auto remote = sync::hlc::pack(1'003'000, 7);
    clock.observe(remote);
    CHECK(clock.tick() == remote + 1);
    // Too far ahead: refused, the clock unchanged.
    const auto before = clock.last();
    CHECK(code_of([&] { clock.observe(sync::hlc::pack(1'000'100 + 5001, 0)); }) == errc::invalid_argument);
    CHECK(clock.last() == before);
    // 65,536 events in one millisecond: the physical part moves on instead of wrapping.
    sync::hybrid_clock busy([&] { return std::uint64_t{5}; });
    std::uint64_t last = 0;
    for (int i = 0; i < 70000; ++i) {
        const auto t = busy.tick();
        REQUIRE(t > last);
        last = t;
    }
    CHECK(sync::hlc::physical(last) == 6);
}

TEST_CASE("conflict rules: fresh writes apply, concurrent ones follow the policy, stale edits never resurrect",
          "[sync]") {
    using sync::conflict_policy;
    using sync::verdict;
    const auto me = id16(0x10), other = id16(0x20);
    const sync::current_version put_by_other{.sseq = 10, .device = other, .cseq = 3, .hlc = 500, .deleted = false};
    const sync::current_version delete_by_other{.sseq = 10, .device = other, .cseq = 3, .hlc = 500, .deleted = true};
    const sync::current_version mine{.sseq = 10, .device = me, .cseq = 4, .hlc = 500, .deleted = false};
    for (const auto policy : {conflict_policy::last_writer_wins, conflict_policy::server_wins, conflict_policy::client_wins,
                              conflict_policy::manual}) {
        INFO(sync::to_string(policy));
        CHECK(sync::decide(policy, me, put_op(1), std::nullopt) == verdict::apply);         // 1: new entity
        CHECK(sync::decide(policy, me, put_op(5, 11), put_by_other) == verdict::reject);    // 2: base from the future
        CHECK(sync::decide(policy, me, put_op(5, 10), put_by_other) == verdict::apply);     // 3: saw the current
        CHECK(sync::decide(policy, me, put_op(5, 10), delete_by_other) == verdict::apply);  // 3: a put after a pulled delete
        CHECK(sync::decide(policy, me, put_op(5, 2), mine) == verdict::apply);              // 4: its own earlier edit
    }
    // 5: concurrent edits under the fixed policies.
    CHECK(sync::decide(conflict_policy::client_wins, me, put_op(5, 2, 1), put_by_other) == verdict::apply);
    CHECK(sync::decide(conflict_policy::client_wins, me, put_op(5, 2, 1), delete_by_other) == verdict::apply);
    CHECK(sync::decide(conflict_policy::server_wins, me, put_op(5, 2, 900), put_by_other) == verdict::conflict);
    CHECK(sync::decide(conflict_policy::manual, me, put_op(5, 2, 900), put_by_other) == verdict::conflict);
    // 6: last writer wins by (hlc, device); a stale put never beats a delete, a later delete wins.
    const auto lww = conflict_policy::last_writer_wins;
    CHECK(sync::decide(lww, me, put_op(5, 2, 501), put_by_other) == verdict::apply);
    CHECK(sync::decide(lww, me, put_op(5, 2, 499), put_by_other) == verdict::conflict);
    CHECK(sync::decide(lww, me, put_op(5, 2, 500), put_by_other) == verdict::conflict);     // tie: 0x20 > 0x10
    CHECK(sync::decide(lww, other, put_op(5, 2, 500), mine) == verdict::apply);              // tie: 0x20 wins
    CHECK(sync::decide(lww, me, put_op(5, 2, 9999), delete_by_other) == verdict::conflict);  // stale edit
    CHECK(sync::decide(lww, me, delete_op(5, 2, 501), put_by_other) == verdict::apply);
    CHECK(sync::decide(lww, me, delete_op(5, 2, 499), put_by_other) == verdict::conflict);
}
