// The read hot paths allocate nothing once warm: point reads into a reused buffer, scans
// (one buffer per range, reused per entity) and zero-copy views; neither does the full-text
// tokenizer. Counted by replacing the global allocation functions of this test program only.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include <entidb/entidb.hpp>

#include "test_support.hpp"

using test_support::id_of;
using test_support::payload;
using test_support::temp_dir;

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// The replacements pair malloc with free themselves; GCC, seeing std::free inlined into
// callers of operator delete, wrongly calls that a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Every form whose memory our operator delete may free is replaced (Catch2 allocates with
// new(std::nothrow)); the array forms forward here by default. Aligned forms keep their
// own matching pair.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n) {
    if (void* p = operator new(n, std::nothrow)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {
template <typename F>
std::uint64_t allocations_in(F&& f) {
    const auto before = allocations.load();
    f();
    return allocations.load() - before;
}
}  // namespace

TEST_CASE("point reads, views and scans allocate nothing once warm", "[alloc]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([&](auto& txn) {
        for (int i = 0; i < 200; ++i) txn.put("c", id_of(i), payload(i, 200));
    });
    entidb::byte_buffer buf;
    REQUIRE(db.get_into("c", id_of(0), buf));  // warm: the buffer reaches its size
    buf.reserve(1024);
    int found = 0;
    CHECK(allocations_in([&] {
              for (int i = 0; i < 200; ++i) found += db.get_into("c", id_of(i), buf) ? 1 : 0;
              found += db.get_into("c", id_of(999), buf) ? 1 : 0;
          }) == 0);
    CHECK(found == 200);

    auto r = db.begin_read();
    found = 0;
    CHECK(allocations_in([&] {
              for (int i = 0; i < 200; ++i) found += r.get_view("c", id_of(i)) ? 1 : 0;
          }) == 0);
    CHECK(found == 200);

    // A scan allocates its range state (the id batch, the payload buffer as it grows to
    // the largest payload), never per entity: a handful for 200 entities.
    std::size_t n = 0;
    CHECK(allocations_in([&] {
              for (const auto& e : r.scan("c")) n += e.bytes.empty() ? 0 : 1;
          }) <= 4);
    CHECK(n == 200);
}

// A write transaction keeps its operations in one table and their payloads in one buffer
// (core/write_set.hpp), each grown geometrically: puts allocate a few dozen times per
// transaction, not once or twice per entity.
TEST_CASE("a write transaction's puts allocate O(log n) times, not per entity", "[alloc]") {
    temp_dir dir;
    auto db = entidb::open(dir / "db");
    db.transaction([&](auto& txn) { txn.put("c", id_of(0), payload(0, 200)); });  // the collection exists
    std::vector<entidb::byte_buffer> payloads;
    for (int i = 0; i < 10'000; ++i) payloads.push_back(payload(static_cast<std::uint64_t>(i), 200));
    auto txn = db.begin_write();
    const auto n = allocations_in([&] {
        for (int i = 0; i < 10'000; ++i) txn.put("c", id_of(static_cast<std::uint64_t>(i) + 1), payloads[static_cast<std::size_t>(i)]);
    });
    CHECK(n <= 100);
    txn.commit();
    CHECK(db.get("c", id_of(10'000)) == payloads.back());
}

TEST_CASE("the tokenizer allocates nothing in any script and with stemming", "[alloc]") {
    std::string text;
    for (int i = 0; i < 50; ++i)
        text += "Running ÉCOLE naïve Straße İstanbul ΟΔΟΣ русский 東京都庁 カタカナ ｶﾞ 한국어 ＡＢＣ ﬁne co\u00ADop 👍 ";
    text += std::string(300, 'x');  // a dropped token too
    std::size_t tokens = 0;
    for (const auto stem : {entidb::text::stemmer::none, entidb::text::stemmer::english}) {
        const entidb::text::tokenizer_options options{.remove_diacritics = true, .stem = stem};
        CHECK(allocations_in([&] {
                  entidb::text::tokenize(text, options, [&](std::string_view, std::uint32_t) { ++tokens; });
              }) == 0);
    }
    CHECK(tokens > 1000);
}
