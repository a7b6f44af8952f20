// Robustness of the strict decoder: ENTIDB_FUZZ_ITERATIONS inputs (the Meson option
// fuzz_iterations, 1,000,000 by default), a mix of random byte strings and mutations of valid
// encodings (bit flips, byte changes, truncations, insertions, deletions, length and count bumps,
// widened integer heads and floats, deep wrapping, splices). Every input must either decode or throw cbor::decode_error; then
//   - what decodes re-encodes to exactly the input, and validate() accepts it without allocating;
//   - what is rejected is rejected by validate() too, with the same fault and offset;
//   - no single allocation is out of proportion to the input (a declared length is never trusted).
// The seed is fixed (reproducible); ENTIDB_FUZZ_SEED=<n> in the environment picks another.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <entidb/cbor.hpp>

#ifndef ENTIDB_FUZZ_ITERATIONS
#define ENTIDB_FUZZ_ITERATIONS 1000000
#endif

// Allocation accounting for this program: the plain (non-aligned) forms of operator new and
// delete all go through malloc/free here, so that they also pair up under AddressSanitizer.
namespace {
std::size_t g_allocations = 0;
std::size_t g_largest_allocation = 0;

void* counted_malloc(std::size_t n) noexcept {
    ++g_allocations;
    if (n > g_largest_allocation) g_largest_allocation = n;
    return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

// Not inlined: GCC would otherwise pair an inlined free() with `new` and warn of a mismatch.
[[gnu::noinline]] void* operator new(std::size_t n) {
    if (void* p = counted_malloc(n)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return operator new(n); }
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace cbor = entidb::cbor;
using entidb::byte;
using entidb::byte_buffer;

namespace {

class fuzzer {
public:
    explicit fuzzer(std::uint64_t seed) : rng_(seed) {}

    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
    byte any_byte() { return static_cast<byte>(rng_()); }

    // A valid document written straight through the streaming encoder; map entries go in
    // shuffled, keys are unique by construction (the index picks both the kind and the value).
    void document(cbor::encoder& e, int depth, bool floats) {
        switch (pick(0, depth > 0 ? 12 : 8)) {
            case 0: e.uint(some_uint()); return;
            case 1: e.negative(some_uint()); return;
            case 2: {
                byte_buffer b(below(pick(0, 3) == 0 ? 40 : 5));
                for (auto& x : b) x = any_byte();
                e.bytes(b);
                return;
            }
            case 3:
            case 4: e.text(some_text()); return;
            case 5: e.boolean(pick(0, 1) == 1); return;
            case 6: e.null(); return;
            case 7:
                if (floats) e.floating(some_double());
                else e.integer(static_cast<std::int64_t>(rng_()));
                return;
            case 8:
            case 9:
                e.tag(some_uint());
                document(e, depth - 1, floats);
                return;
            case 10: {
                const int n = pick(0, 4);
                e.begin_array(static_cast<std::uint64_t>(n));
                for (int i = 0; i < n; ++i) document(e, depth - 1, floats);
                e.end_array();
                return;
            }
            default: {
                std::vector<int> keys(static_cast<std::size_t>(pick(0, 5)));
                for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = static_cast<int>(i) * 7 + pick(0, 6);
                std::shuffle(keys.begin(), keys.end(), rng_);
                e.begin_map(keys.size());
                for (const int k : keys) {
                    if (k % 3 == 0) e.uint(static_cast<std::uint64_t>(k));
                    else if (k % 3 == 1) e.negative(static_cast<std::uint64_t>(k));
                    else e.text(fmt::format("k{}", k));
                    document(e, depth - 1, floats);
                }
                e.end_map();
            }
        }
    }

    // Random bytes, biased towards interesting initial bytes.
    byte_buffer noise() {
        byte_buffer b(below(17));
        for (auto& x : b) x = pick(0, 3) == 0 ? static_cast<byte>(0x18 + pick(0, 7) + 0x20 * pick(0, 7)) : any_byte();
        return b;
    }

    // One to three mutations of `doc`; `heads` are the offsets of its items' initial bytes.
    byte_buffer mutate(byte_buffer doc, const std::vector<std::size_t>& heads, const byte_buffer& other) {
        for (int n = pick(1, 3); n > 0; --n) mutate_once(doc, heads, other);
        return doc;
    }

private:
    void mutate_once(byte_buffer& d, const std::vector<std::size_t>& heads, const byte_buffer& other) {
        const auto at = [&](std::size_t i) { return d.begin() + static_cast<std::ptrdiff_t>(i); };
        switch (pick(0, 10)) {
            case 0:
                if (!d.empty()) d[below(d.size())] ^= static_cast<byte>(1u << pick(0, 7));
                return;
            case 1:
                if (!d.empty()) d[below(d.size())] = any_byte();
                return;
            case 2: d.resize(below(d.size() + 1)); return;
            case 3: d.insert(at(below(d.size() + 1)), any_byte()); return;
            case 4:
                if (!d.empty()) d.erase(at(below(d.size())));
                return;
            case 5:
            case 6: {  // change a head's argument: a length, count, value or tag number
                const std::size_t h = heads.empty() ? 0 : heads[below(heads.size())];
                if (h >= d.size()) return;
                const unsigned info = d[h] & 0x1F;
                if (info > 27) return;  // an earlier mutation changed this head
                const std::size_t last = info < 24 ? h : h + (std::size_t{1} << (info - 24));
                if (last < d.size()) d[last] = static_cast<byte>(d[last] + (pick(0, 1) ? 1 : 0xFF));
                return;
            }
            case 7: {  // widen a short head: same value, one size too long (non-shortest)
                const std::size_t h = heads.empty() ? 0 : heads[below(heads.size())];
                if (h >= d.size() || (d[h] & 0x1F) >= 24) return;
                const byte arg = d[h] & 0x1F;
                d[h] = static_cast<byte>((d[h] & 0xE0) | 24);
                d.insert(at(h + 1), arg);
                return;
            }
            case 8: {  // re-encode a half float as a single: the same value, not in shortest form
                const std::size_t h = heads.empty() ? 0 : heads[below(heads.size())];
                if (h + 2 >= d.size() || d[h] != 0xF9) return;
                const double v = cbor::detail::half_to_double(static_cast<std::uint16_t>(d[h + 1] << 8 | d[h + 2]));
                const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
                d[h] = 0xFA;
                d[h + 1] = static_cast<byte>(bits >> 24);
                d[h + 2] = static_cast<byte>(bits >> 16);
                d.insert(at(h + 3), {static_cast<byte>(bits >> 8), static_cast<byte>(bits)});
                return;
            }
            case 9: {  // wrap in arrays of one or tags, around the nesting limit
                const byte wrapper = pick(0, 1) ? 0x81 : 0xC1;
                d.insert(d.begin(), static_cast<std::size_t>(pick(56, 70)), wrapper);
                return;
            }
            default: {  // splice in a slice of another document
                if (other.empty()) return;
                const std::size_t from = below(other.size());
                const std::size_t len = below(other.size() - from + 1);
                d.insert(at(below(d.size() + 1)), other.begin() + static_cast<std::ptrdiff_t>(from),
                         other.begin() + static_cast<std::ptrdiff_t>(from + len));
            }
        }
    }

    std::uint64_t some_uint() {
        static constexpr std::array<std::uint64_t, 9> edges = {0, 23, 24, 255, 256, 65535, 65536, 0xFFFFFFFF,
                                                                ~std::uint64_t{0}};
        switch (pick(0, 3)) {
            case 0: return edges[below(edges.size())];
            case 1: return rng_() >> pick(0, 63);
            default: return static_cast<std::uint64_t>(pick(0, 30));
        }
    }

    std::string some_text() {
        static constexpr std::array<std::string_view, 7> pieces = {"a", "k", "\u00fc", "\u6c34", "\U00010151", "\"", "\x7f"};
        std::string s;
        for (std::size_t n = below(pick(0, 3) == 0 ? 20 : 4); n > 0; --n) s += pieces[below(pieces.size())];
        return s;
    }

    double some_double() {
        for (;;) {
            const double d = pick(0, 1) ? cbor::detail::half_to_double(static_cast<std::uint16_t>(rng_()))
                                        : std::bit_cast<double>(rng_());
            if (!std::isnan(d)) return d;
        }
    }

    std::mt19937_64 rng_;
};

std::string hex(entidb::bytes_view b) {
    std::string out;
    for (const auto x : b) out += fmt::format("{:02x}", x);
    return out;
}

struct corpus_entry {
    byte_buffer bytes;
    std::vector<std::size_t> heads;
    bool floats;
};

std::vector<corpus_entry> make_corpus(fuzzer& f) {
    std::vector<corpus_entry> corpus;
    for (int i = 0; i < 512; ++i) {
        corpus_entry c;
        c.floats = i % 4 == 0;
        cbor::encoder e(c.bytes, {.allow_floats = c.floats});
        f.document(e, f.pick(0, 4), c.floats);
        cbor::reader r(c.bytes, {.allow_floats = c.floats});
        while (const auto it = r.next())
            if (!it->closes()) c.heads.push_back(it->offset);
        corpus.push_back(std::move(c));
    }
    return corpus;
}

struct stats {
    std::uint64_t decoded = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint64_t, 16> per_fault{};
    std::vector<std::string> failures;

    void failure(const byte_buffer& in, std::string_view why) {
        if (failures.size() < 10) failures.push_back(fmt::format("{}: {}", why, hex(in)));
    }
};

// Decoding may allocate per item present (each at least one byte), never per item declared;
// the constant covers the decoder's stack of at most max_depth frames.
void check_allocations(const byte_buffer& in, stats& st) {
    if (g_largest_allocation > 64 * in.size() + 16384)
        st.failure(in, fmt::format("allocation of {} bytes", g_largest_allocation));
}

void check_decoded(const byte_buffer& in, const cbor::value& v, bool floats, bool cross_check, stats& st) {
    const cbor::decode_options opts{.allow_floats = floats};
    if (cbor::encode(v, {.allow_floats = floats}) != in) st.failure(in, "re-encoding differs");
    const std::size_t before = g_allocations;
    cbor::validate(in, opts);
    if (g_allocations != before) st.failure(in, "validate allocated");
    if (!cross_check) return;
    if (!floats && cbor::from_json(cbor::to_json(in)) != in) st.failure(in, "JSON round trip differs");
    if (v.is(cbor::kind::map) && !v.as_map().empty() && v.as_map()[0].key.is(cbor::kind::text)) {
        const auto found = cbor::find_path(in, {v.as_map()[0].key.as_text()}, opts);
        const byte_buffer expected = cbor::encode(v.as_map()[0].val, {.allow_floats = floats});
        if (!found || !std::equal(found->begin(), found->end(), expected.begin(), expected.end()))
            st.failure(in, "find_path disagrees with decode");
    }
}

void check_rejected(const byte_buffer& in, const cbor::decode_error& e, bool floats, bool cross_check, stats& st) {
    ++st.per_fault[static_cast<std::size_t>(e.which())];
    if (!e.offset() || *e.offset() > in.size()) st.failure(in, "offset missing or out of range");
    if (!cross_check) return;
    try {
        cbor::validate(in, {.allow_floats = floats});
        st.failure(in, "validate accepted what decode rejected");
    } catch (const cbor::decode_error& v) {
        if (v.which() != e.which() || v.offset() != e.offset()) st.failure(in, "validate disagrees with decode");
    }
}

// The checks for one input (see the file comment). The cross-checks against the other entry
// points (validate on rejected input, JSON, find_path) run on a quarter of the inputs: they
// double the cost of a rejection (an exception, the dominant cost under sanitizers).
void check_one(const byte_buffer& in, bool floats, bool cross_check, stats& st) {
    g_largest_allocation = 0;
    try {
        const cbor::value v = cbor::decode(in, {.allow_floats = floats});
        check_allocations(in, st);
        ++st.decoded;
        check_decoded(in, v, floats, cross_check, st);
    } catch (const cbor::decode_error& e) {
        check_allocations(in, st);
        ++st.rejected;
        check_rejected(in, e, floats, cross_check, st);
    } catch (const std::exception& e) {
        st.failure(in, fmt::format("unexpected exception {}", e.what()));
    }
}

}  // namespace

TEST_CASE("cbor fuzz: every input decodes canonically or is rejected with a typed error") {
    std::uint64_t seed = 0x5EED'CB0F'0001;
    if (const char* s = std::getenv("ENTIDB_FUZZ_SEED")) seed = std::strtoull(s, nullptr, 0);
    fuzzer f(seed);
    const auto corpus = make_corpus(f);
    stats st;
    for (const auto& c : corpus) check_one(c.bytes, c.floats, true, st);
    REQUIRE(st.rejected == 0);  // the corpus itself is canonical

    const std::uint64_t iterations = ENTIDB_FUZZ_ITERATIONS;
    for (std::uint64_t i = 0; i < iterations; ++i) {
        if (i % 4 == 0) {
            check_one(f.noise(), i % 8 == 0, i % 16 == 0, st);
        } else {
            const corpus_entry& c = corpus[f.below(corpus.size())];
            const corpus_entry& other = corpus[f.below(corpus.size())];
            check_one(f.mutate(c.bytes, c.heads, other.bytes), c.floats, i % 4 == 1, st);
        }
    }

    std::string faults;
    for (std::size_t i = 0; i <= static_cast<std::size_t>(cbor::fault::too_deep); ++i)
        faults += fmt::format(" {}={}", i, st.per_fault[i]);
    std::printf("cbor_fuzz: seed %llu, %llu inputs: %llu decoded, %llu rejected; by fault:%s\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(iterations),
                static_cast<unsigned long long>(st.decoded), static_cast<unsigned long long>(st.rejected),
                faults.c_str());
    for (const auto& msg : st.failures) UNSCOPED_INFO(msg);
    CHECK(st.failures.empty());
    CHECK(st.decoded + st.rejected == iterations + corpus.size());
}
