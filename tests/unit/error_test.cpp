#include <catch2/catch.hpp>

#include <entidb/error.hpp>

using entidb::errc;

TEST_CASE("error carries code, detail and context") {
    const entidb::error e(errc::corruption, "bad checksum",
                          {.path = "/db/wal.log", .offset = 42, .sys_errno = 0});
    CHECK(e.value() == errc::corruption);
    CHECK(e.code() == errc::corruption);
    CHECK(e.code().category().name() == std::string("entidb"));
    CHECK(e.detail() == "bad checksum");
    CHECK(e.path() == "/db/wal.log");
    CHECK(e.offset() == 42u);
    CHECK(std::string(e.what()) == "corruption: bad checksum [/db/wal.log at offset 42]");
}

TEST_CASE("error mentions errno text") {
    const entidb::error e(errc::io_error, "open failed", {.path = "x", .sys_errno = ENOENT});
    CHECK(std::string(e.what()).find("No such file") != std::string::npos);
    CHECK(e.sys_errno() == ENOENT);
}

TEST_CASE("error codes are stable numbers shared with the tool and the C ABI") {
    CHECK(static_cast<int>(errc::not_found) == 1);
    CHECK(static_cast<int>(errc::invalid_argument) == 2);
    CHECK(static_cast<int>(errc::corruption) == 3);
    CHECK(static_cast<int>(errc::locked) == 4);
    CHECK(static_cast<int>(errc::io_error) == 5);
    CHECK(static_cast<int>(errc::busy) == 21);
    CHECK(static_cast<int>(errc::schema_mismatch) == 22);
    CHECK(static_cast<int>(errc::bad_key) == 23);
    for (int i = 0; i <= static_cast<int>(errc::bad_key); ++i)
        CHECK(entidb::to_string(static_cast<errc>(i)) != "unknown error");
}

TEST_CASE("fail formats its message") {
    CHECK_THROWS_MATCHES(entidb::fail(errc::too_large, "payload of {} bytes", 7), entidb::error,
                         Catch::Matchers::Message("too large: payload of 7 bytes"));
}
