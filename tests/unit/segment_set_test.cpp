// segment_set over memory backends: where appends go, rotation and sealing, reads by
// location, the refusals of a factory that cannot rotate, and compaction's install /
// retire / reclaim of whole tables.
#include <entidb/segment/fault_injecting_factory.hpp>
#include <entidb/segment/segment_set.hpp>
#include <entidb/storage/fault_injecting_backend.hpp>
#include <entidb/storage/memory_backend.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/mman.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"

using entidb::errc;
using test_support::code_of;

namespace {

using memory_set = entidb::segment_set<entidb::memory_segment_factory>;
using single_set = entidb::segment_set<entidb::single_backend_factory<entidb::memory_backend>>;

// `n` bytes, each `fill`.
entidb::byte_buffer record(std::size_t n, std::uint8_t fill) { return entidb::byte_buffer(n, fill); }

entidb::byte_buffer read_back(const auto& set, const entidb::record_location& loc) {
    entidb::byte_buffer out;
    set.read(loc, out);
    return out;
}

std::vector<std::uint32_t> numbers_of(const auto& set) {
    std::vector<std::uint32_t> out;
    for (const auto& s : set.segments()) out.push_back(s.number);
    return out;
}

entidb::single_backend_factory<entidb::memory_backend> one_memory_backend() {
    return entidb::single_backend_factory<entidb::memory_backend>(std::make_unique<entidb::memory_backend>());
}

}  // namespace

TEST_CASE("segment_set: a set with no segments starts segment 1", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{1});
    CHECK(set.active().number == 1);
    CHECK(set.active().backend->size() == 0);
    CHECK(set.retired_count() == 0);
}

TEST_CASE("segment_set: appends fill the active segment and are read back by location", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    const auto a = set.append(record(30, 'a'), 1);
    const auto b = set.append(record(40, 'b'), 2);
    CHECK(a == entidb::record_location{1, 30, 0});
    CHECK(b == entidb::record_location{1, 40, 30});
    CHECK(read_back(set, a) == record(30, 'a'));
    CHECK(read_back(set, b) == record(40, 'b'));
    CHECK(set.segments().back().max_sequence == 2);
}

TEST_CASE("segment_set: a record that would pass max_segment_size seals the segment and starts the next",
          "[segment_set]") {
    const auto plan = std::make_shared<entidb::fault_plan>();
    entidb::segment_set<entidb::fault_injecting_factory<entidb::memory_segment_factory>> set(
        {plan, entidb::memory_segment_factory{}}, 100);
    set.open_existing();
    const auto a = set.append(record(60, 'a'), 1);
    const auto b = set.append(record(40, 'b'), 2);  // exactly 100: still fits
    const auto c = set.append(record(1, 'c'), 3);   // 101 would not
    CHECK(a.segment == 1);
    CHECK(b.segment == 1);
    CHECK(c == entidb::record_location{2, 1, 0});
    const auto table = set.table();
    REQUIRE(table.size() == 2);
    CHECK(table[0].number == 1);
    CHECK(table[0].max_sequence == 2);
    CHECK(table[1].number == 2);
    CHECK(table[1].max_sequence == 3);
    // Sealing flushed segment 1: a power cut takes only the active segment's unflushed bytes.
    plan->power_cut();
    CHECK(read_back(set, a) == record(60, 'a'));
    CHECK(read_back(set, b) == record(40, 'b'));
    CHECK(set.active().backend->size() == 0);
    CHECK(code_of([&] { (void)read_back(set, c); }) == errc::corruption);
}

TEST_CASE("segment_set: a record larger than max_segment_size goes alone into an empty segment", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 10);
    set.open_existing();
    const auto big = set.append(record(50, 'x'), 1);  // the active segment is empty: no rotation
    CHECK(big == entidb::record_location{1, 50, 0});
    const auto next = set.append(record(5, 'y'), 2);
    CHECK(next.segment == 2);
    CHECK(read_back(set, big) == record(50, 'x'));
}

TEST_CASE("segment_set: a record over 4 GiB is too_large, nothing appended", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    const std::size_t len = (std::size_t{1} << 32) + 1;
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(p != MAP_FAILED);
    const entidb::bytes_view huge(static_cast<const std::uint8_t*>(p), len);
    CHECK(code_of([&] { (void)set.append(huge, 1); }) == errc::too_large);
    ::munmap(p, len);
    CHECK(set.active().backend->size() == 0);
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{1});
}

TEST_CASE("segment_set: append_many writes a commit's records together, or one by one across a rotation",
          "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 80);
    set.open_existing();
    entidb::byte_buffer records = record(20, 'a');
    const auto more = record(30, 'b');
    records.insert(records.end(), more.begin(), more.end());
    const std::vector<std::uint32_t> lengths{20, 30};

    const auto first = set.append_many(records, lengths, 1);
    REQUIRE(first.size() == 2);
    CHECK(first[0] == entidb::record_location{1, 20, 0});
    CHECK(first[1] == entidb::record_location{1, 30, 20});

    const auto second = set.append_many(records, lengths, 2);  // 50 + 50 > 80: record by record
    REQUIRE(second.size() == 2);
    CHECK(second[0] == entidb::record_location{1, 20, 50});
    CHECK(second[1] == entidb::record_location{2, 30, 0});
    CHECK(read_back(set, second[0]) == record(20, 'a'));
    CHECK(read_back(set, second[1]) == record(30, 'b'));
    CHECK(set.table()[0].max_sequence == 2);
    CHECK(set.table()[1].max_sequence == 2);
}

TEST_CASE("segment_set: seal_before_next_append starts a new segment, unless the active one is empty",
          "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 1000);
    set.open_existing();
    set.seal_before_next_append();
    CHECK(set.append(record(5, 'a'), 1).segment == 1);  // nothing to seal yet
    set.seal_before_next_append();
    CHECK(set.append(record(5, 'b'), 2).segment == 2);
    CHECK(set.append(record(5, 'c'), 3).segment == 2);  // asked once, done once
    set.seal_before_next_append();
    const std::vector<std::uint32_t> lengths{5};
    CHECK(set.append_many(record(5, 'd'), lengths, 4).at(0).segment == 3);
}

TEST_CASE("segment_set: a factory that cannot rotate keeps every record in its one segment", "[segment_set]") {
    single_set set(one_memory_backend(), 10);
    set.open_existing();
    const auto a = set.append(record(8, 'a'), 1);
    const auto b = set.append(record(8, 'b'), 2);  // past max_segment_size: the engine's limit, not the set's
    CHECK(a.segment == 1);
    CHECK(b == entidb::record_location{1, 8, 8});
    const std::vector<std::uint32_t> lengths{8};
    CHECK(set.append_many(record(8, 'c'), lengths, 3).at(0) == entidb::record_location{1, 8, 16});
    set.seal_before_next_append();  // nothing to rotate into: ignored
    CHECK(set.append(record(8, 'd'), 4).segment == 1);
    CHECK(code_of([&] { set.rotate(); }) == errc::rotation_unsupported);
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{1});
    CHECK(read_back(set, b) == record(8, 'b'));
}

TEST_CASE("segment_set: single_backend_factory hands out its backend once, as segment 1 only", "[segment_set]") {
    entidb::single_backend_factory<entidb::memory_backend> f(std::make_unique<entidb::memory_backend>());
    CHECK(f.existing().empty());  // an empty backend is no segment yet
    CHECK(code_of([&] { (void)f.create(2); }) == errc::rotation_unsupported);
    auto b = f.create(1);
    CHECK(b != nullptr);
    CHECK(code_of([&] { (void)f.create(1); }) == errc::rotation_unsupported);
    CHECK(code_of([&] { (void)f.open(1); }) == errc::rotation_unsupported);

    auto filled = std::make_unique<entidb::memory_backend>();
    (void)filled->append(record(3, 'z'));
    const entidb::single_backend_factory<entidb::memory_backend> existing(std::move(filled));
    CHECK(existing.existing() == std::vector<std::uint32_t>{1});
}

TEST_CASE("segment_set: memory_segment_factory has no existing segments to open", "[segment_set]") {
    entidb::memory_segment_factory f;
    CHECK(f.existing().empty());
    CHECK(code_of([&] { (void)f.open(1); }) == errc::not_found);
    CHECK(f.create(7)->size() == 0);
}

TEST_CASE("segment_set: a location in no segment, or past its end, is corruption", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    const auto a = set.append(record(10, 'a'), 1);
    CHECK(code_of([&] { (void)read_back(set, {9, 10, 0}); }) == errc::corruption);
    CHECK(code_of([&] { (void)set.find(9); }) == errc::corruption);
    CHECK(code_of([&] { (void)read_back(set, {a.segment, 11, 0}); }) == errc::corruption);
    CHECK(code_of([&] { (void)read_back(set, {a.segment, 1, 10}); }) == errc::corruption);
    CHECK(set.find(1) == set.active().backend.get());
}

TEST_CASE("segment_set: open_from and install refuse an empty table, changing nothing", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    const auto a = set.append(record(10, 'a'), 1);
    CHECK(code_of([&] { set.open_from({}); }) == errc::invalid_argument);
    CHECK(code_of([&] { set.install({}); }) == errc::invalid_argument);
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{1});
    CHECK(set.retired_count() == 0);
    CHECK(read_back(set, a) == record(10, 'a'));
}

TEST_CASE("segment_set: open_from takes the caller's segments; rotation continues after the highest",
          "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 10);
    std::vector<memory_set::segment> opened;
    opened.push_back({3, std::make_unique<entidb::memory_backend>(), 0});
    opened.push_back({7, std::make_unique<entidb::memory_backend>(), 0});
    set.open_from(std::move(opened));
    set.note_sequence(3, 4);
    set.note_sequence(3, 2);  // the newest is kept
    set.note_sequence(99, 9);  // no such segment: ignored
    CHECK(set.table()[0].max_sequence == 4);
    CHECK(set.append(record(8, 'a'), 5).segment == 7);
    CHECK(set.append(record(8, 'b'), 6).segment == 8);
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{3, 7, 8});
}

TEST_CASE("segment_set: install retires the old table, still readable until reclaimed past its mark",
          "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 20);
    set.open_existing();
    const auto a = set.append(record(15, 'a'), 1);
    const auto b = set.append(record(15, 'b'), 2);
    REQUIRE(b.segment == 2);

    std::vector<memory_set::segment> next;
    next.push_back({3, std::make_unique<entidb::memory_backend>(), 2});
    const auto moved = next.back().backend->append(record(15, 'b'));
    set.install(std::move(next));
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{3});
    CHECK(set.retired_count() == 2);
    CHECK(read_back(set, a) == record(15, 'a'));  // a reader holding an old location still reads it
    CHECK(read_back(set, {3, 15, moved}) == record(15, 'b'));

    std::vector<std::uint64_t> asked;
    const auto reclaim_if = [&](bool done) {
        set.reclaim([&](std::uint64_t mark) {
            asked.push_back(mark);
            return done;
        });
    };
    reclaim_if(true);  // no mark yet: never reclaimed, not even asked
    CHECK(asked.empty());
    CHECK(set.retired_count() == 2);
    set.set_retired_mark(41);
    reclaim_if(false);
    CHECK(set.retired_count() == 2);
    CHECK(asked == std::vector<std::uint64_t>{41, 41});
    reclaim_if(true);
    CHECK(set.retired_count() == 0);
    CHECK(code_of([&] { (void)read_back(set, a); }) == errc::corruption);
    // Numbers are never reused: the next rotation follows the installed table.
    CHECK(set.append(record(15, 'c'), 3).segment == 4);
}

TEST_CASE("segment_set: each install's retired segments get their own mark", "[segment_set]") {
    memory_set set(entidb::memory_segment_factory{}, 100);
    set.open_existing();
    (void)set.append(record(5, 'a'), 1);
    std::vector<memory_set::segment> second;
    second.push_back({2, std::make_unique<entidb::memory_backend>(), 1});
    set.install(std::move(second));
    set.set_retired_mark(10);
    std::vector<memory_set::segment> third;
    third.push_back({3, std::make_unique<entidb::memory_backend>(), 1});
    set.install(std::move(third));
    set.set_retired_mark(20);  // stamps segment 2 only; segment 1 keeps 10
    set.reclaim([](std::uint64_t mark) { return mark <= 10; });
    CHECK(set.retired_count() == 1);
    CHECK(code_of([&] { (void)set.find(1); }) == errc::corruption);
    CHECK(set.find(2) != nullptr);
    set.reclaim([](std::uint64_t mark) { return mark <= 20; });
    CHECK(set.retired_count() == 0);
}

TEST_CASE("segment_set: a seal whose flush fails adds no segment", "[segment_set]") {
    const auto plan = std::make_shared<entidb::fault_plan>();
    entidb::segment_set<entidb::fault_injecting_factory<entidb::memory_segment_factory>> set(
        {plan, entidb::memory_segment_factory{}}, 10);
    set.open_existing();
    (void)set.append(record(8, 'a'), 1);
    plan->arm(plan->operations(), entidb::fault_kind::flush_failure);  // the next operation: the seal's flush
    CHECK(code_of([&] { (void)set.append(record(8, 'b'), 2); }) == errc::outcome_unknown);
    CHECK(numbers_of(set) == std::vector<std::uint32_t>{1});
    CHECK(set.active().backend->size() == 8);
}

TEST_CASE("file_segment_factory: has() of a segment the OS cannot examine is io_error", "[segment_set]") {
    const test_support::temp_dir dir;
    entidb::file_segment_factory f(dir.path());
    CHECK_FALSE(f.has(1));
    CHECK_FALSE(f.has_temporary(1));
    (void)f.create(1);
    CHECK(f.has(1));
    // Links to themselves: following them fails (ELOOP), which is not "absent".
    std::filesystem::create_symlink(entidb::segment_file_name(2), f.path_of(2));
    std::filesystem::create_symlink(entidb::temporary_segment_file_name(2), f.temporary_path_of(2));
    CHECK(code_of([&] { (void)f.has(2); }) == errc::io_error);
    CHECK(code_of([&] { (void)f.has_temporary(2); }) == errc::io_error);
}
