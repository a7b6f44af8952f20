// entidb-bench — the same workloads on EntiDB, SQLite, LMDB, RocksDB and a "raw" row
// (write + fdatasync to one file; reads through an in-memory hash of offsets into an mmap),
// in one run, one table. docs/performance.md explains the workloads and shows a run.
//
//   entidb-bench [--entities N] [--commits N] [--reads N] [--docs N] [--queries N] [--dir PATH]
//                [--json FILE] [--only ENGINE,...] [--workloads W1,...]
//
// Keys: random 16-byte ids; values: 256-byte payloads (canonical CBOR for every engine, so
// all store the same bytes); fixed seeds. W8, full-text search, runs on EntiDB and SQLite
// FTS5 only, over a corpus of its own (text_corpus). Peers are compiled in only when their Meson
// dependency was found (ENTIDB_BENCH_HAVE_*).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include <entidb/entidb.hpp>

#include "peers.hpp"

namespace bench {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct options {
    std::size_t entities = 1'000'000;
    std::size_t commits = 2'000;
    std::size_t batch = 1'000;
    std::size_t reads = 1'000'000;
    std::size_t docs = 100'000;    // W8's corpus
    std::size_t queries = 10'000;  // W8's queries
    std::filesystem::path dir = "bench-data";
    std::string json;
    std::vector<std::string> only;       // engines; empty: all built in
    std::vector<std::string> workloads;  // W1..W8; empty: all
};

const std::vector<std::string> all_workloads = {"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"};
const std::vector<std::string> loaded_workloads = {"W2", "W3", "W4", "W5", "W6", "W7"};  // on W2's database

bool wants(const options& opt, std::string_view workload) {
    return opt.workloads.empty() || std::find(opt.workloads.begin(), opt.workloads.end(), workload) != opt.workloads.end();
}

// The data set: ids and one 256-byte canonical CBOR payload per entity.
struct dataset {
    std::vector<key16> keys;
    std::vector<std::string> values;

    dataset(std::size_t n, std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        keys.resize(n);
        values.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            for (auto& b : keys[i]) b = static_cast<std::uint8_t>(rng());
            values[i] = payload(i, rng);
        }
    }
    static std::string payload(std::size_t i, std::mt19937_64& rng) {
        std::string pad(220, 'x');
        for (auto& c : pad) c = static_cast<char>('a' + rng() % 26);
        entidb::byte_buffer out;
        entidb::cbor::encoder(out).begin_map(2).text("n").uint(i).text("pad").text(pad).end_map();
        return std::string(out.begin(), out.end());
    }
};

struct result {
    std::string engine, workload, unit;
    double value = 0;
    bool higher_is_better = true;
};

// ---- workloads, written once against the adapter interface ----

double w1_commits(adapter& db, const dataset& d, std::size_t commits) {
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < commits; ++i) db.commit({{&d.keys[i], &d.values[i]}});
    return static_cast<double>(commits) / seconds_since(t0);
}

double w1_threads(adapter& db, const dataset& d, std::size_t commits, int threads) {
    const auto t0 = clock_type::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            for (std::size_t i = static_cast<std::size_t>(t); i < commits; i += static_cast<std::size_t>(threads))
                db.commit({{&d.keys[i], &d.values[i]}});
        });
    for (auto& t : ts) t.join();
    return static_cast<double>(commits) / seconds_since(t0);
}

double w2_load(adapter& db, const dataset& d, std::size_t batch) {
    const auto t0 = clock_type::now();
    std::vector<kv> b;
    for (std::size_t i = 0; i < d.keys.size(); i += batch) {
        b.clear();
        for (std::size_t j = i; j < std::min(i + batch, d.keys.size()); ++j) b.push_back({&d.keys[j], &d.values[j]});
        db.commit(b);
    }
    return static_cast<double>(d.keys.size()) / seconds_since(t0);
}

// The keys to read are drawn before the clock starts and read in sequence, so the loop
// times the engine and not the harness's own random access into its key table (a cache
// miss per read that an engine with a short read path overlaps with its work and one
// with a longer path does not).
double w3_reads(adapter& db, const dataset& d, std::size_t reads) {
    std::mt19937_64 rng(3);
    std::string out;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < 10'000; ++i) bytes += db.get(d.keys[rng() % d.keys.size()], out) ? out.size() : 0;
    std::vector<key16> order(reads);
    for (auto& k : order) k = d.keys[rng() % d.keys.size()];
    const auto t0 = clock_type::now();
    for (const auto& k : order) bytes += db.get(k, out) ? out.size() : 0;
    const double ns = seconds_since(t0) * 1e9 / static_cast<double>(reads);
    if (bytes == 0) fmt::print(stderr, "{}: reads found nothing\n", db.name());
    return ns;
}

// W3 chained: the same reads, but which key comes next depends on the payload just read
// (its last byte), so no read can start before the one before it has finished. W3 above
// lets the CPU overlap the cache misses of consecutive independent reads, which favours
// the shortest code path; this row is each read's whole latency.
double w3_chained_reads(adapter& db, const dataset& d, std::size_t reads) {
    std::mt19937_64 rng(4);
    std::vector<key16> order(reads);
    for (auto& k : order) k = d.keys[rng() % d.keys.size()];
    std::string out;
    std::size_t bytes = 0, step = 0;
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < reads; ++i) {
        if (db.get(order[(i + step) % reads], out)) bytes += out.size();
        step = out.empty() ? 0 : static_cast<unsigned char>(out.back());
    }
    const double ns = seconds_since(t0) * 1e9 / static_cast<double>(reads);
    if (bytes == 0) fmt::print(stderr, "{}: chained reads found nothing\n", db.name());
    return ns;
}

double w4_scan(adapter& db, bool key_order) {
    const auto t0 = clock_type::now();
    const auto n = key_order ? db.scan_in_key_order() : db.scan();
    return static_cast<double>(n) / seconds_since(t0);
}

// W5 in a fresh process: this program run again with `--w5-child ENGINE PATH KEY` (a fork
// alone would inherit the benchmark's heap, which hides or inflates the growth). The child
// prints the open time (s), its peak RSS growth during the open and one point read of
// KEY (bytes), and the time of that read (s).
struct w5_figures {
    double open_s = 0, rss = 0, first_read_s = 0;
};

std::string hex_of(const key16& k) {
    std::string out;
    for (const auto b : k) out += fmt::format("{:02x}", b);
    return out;
}

w5_figures w5_reopen(const std::string& engine, const std::filesystem::path& path, const key16& key) {
    int fds[2];
    if (::pipe(fds) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        const std::string p = path.string(), k = hex_of(key);
        const char* args[] = {"entidb-bench", "--w5-child", engine.c_str(), p.c_str(), k.c_str(), nullptr};
        ::execv("/proc/self/exe", const_cast<char* const*>(args));
        ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    w5_figures f;
    if (std::sscanf(out.c_str(), "%lf %lf %lf", &f.open_s, &f.rss, &f.first_read_s) != 3)
        fmt::print(stderr, "{}: W5 child failed\n", engine);
    return f;
}

// This process's peak resident set (VmHWM, bytes). Not getrusage's ru_maxrss: that one
// survives exec and would still hold the forked benchmark's peak.
double peak_rss() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    double kb = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::sscanf(line, "VmHWM: %lf kB", &kb) == 1) break;
    std::fclose(f);
    return kb * 1024.0;
}

int w5_child(const std::string& engine, const std::filesystem::path& path, std::string_view key_hex) {
    key16 key{};
    for (std::size_t i = 0; i < key.size() && 2 * i + 1 < key_hex.size(); ++i)
        key[i] = static_cast<std::uint8_t>(std::stoul(std::string(key_hex.substr(2 * i, 2)), nullptr, 16));
    for (const auto& [name, make] : all_adapters()) {
        if (name != engine) continue;
        const double before = peak_rss();
        auto db = make();
        const auto t0 = clock_type::now();
        db->open(path, false);
        const double open_s = seconds_since(t0);
        std::string value;
        const auto t1 = clock_type::now();
        const bool found = db->get(key, value);
        const double read_s = seconds_since(t1);
        fmt::print("{} {} {}\n", open_s, peak_rss() - before, found ? read_s : -1.0);
        return 0;
    }
    return 1;
}

// Two readers for a fixed time, alone and then with one writer committing as fast as it
// can. The raw row's writer only writes and syncs (raw_adapter::write_beside_readers):
// the readers' loss there is the machine's, the limit for every engine.
std::pair<double, double> w6_concurrent(adapter& db, const dataset& d, double secs) {
    auto run = [&](bool with_writer) {
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> reads{0}, commits{0};
        std::vector<std::thread> ts;
        for (int r = 0; r < 2; ++r)
            ts.emplace_back([&, r] {
                std::mt19937_64 rng(static_cast<std::uint64_t>(r) + 10);
                std::string out;
                std::uint64_t n = 0;
                while (!stop) {
                    (void)db.get(d.keys[rng() % d.keys.size()], out);
                    ++n;
                }
                reads += n;
            });
        if (with_writer)
            ts.emplace_back([&] {
                std::size_t i = 0;
                while (!stop) {
                    db.write_beside_readers({{&d.keys[i % d.keys.size()], &d.values[(i + 1) % d.keys.size()]}});
                    ++i;
                    ++commits;
                }
            });
        std::this_thread::sleep_for(std::chrono::duration<double>(secs));
        stop = true;
        for (auto& t : ts) t.join();
        return std::pair{static_cast<double>(reads) / secs, static_cast<double>(commits) / secs};
    };
    const auto alone = run(false);
    const auto mixed = run(true);
    return {mixed.first / alone.first, mixed.second};
}

// Latencies in nanoseconds, counted in log-linear buckets: exact below 64 ns, then 64
// buckets per power of two (each under 1.6 % wide). Fixed size, so recording allocates
// nothing and touches one counter: the reader it times pays no more than a clock read.
class latency_histogram {
public:
    void record(std::uint64_t ns) {
        ++counts_[bucket(ns)];
        ++count_;
        max_ = std::max(max_, ns);
    }
    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }
    // The smallest latency that at least fraction p of the samples do not exceed, to the
    // bucket's upper edge (never above the largest sample); 0 with no samples.
    std::uint64_t percentile(double p) const {
        const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(count_));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen > rank || (seen == count_ && count_ > 0)) return std::min(upper_edge(i), max_);
        }
        return 0;
    }

private:
    static constexpr int sub_bits = 6;  // 64 buckets per power of two
    static constexpr std::uint64_t sub = std::uint64_t{1} << sub_bits;
    static std::size_t bucket(std::uint64_t ns) {
        if (ns < sub) return static_cast<std::size_t>(ns);
        const int shift = std::bit_width(ns) - 1 - sub_bits;
        return static_cast<std::size_t>((static_cast<std::uint64_t>(shift) + 1) * sub + ((ns >> shift) - sub));
    }
    static std::uint64_t upper_edge(std::size_t i) {
        if (i < sub) return i;
        const auto shift = i / sub - 1;
        return (((i % sub) + sub + 1) << shift) - 1;
    }
    std::array<std::uint64_t, (64 - sub_bits + 1) * sub> counts_{};
    std::uint64_t count_ = 0, max_ = 0;
};

std::uint64_t nanoseconds_since(clock_type::time_point t0) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count());
}

struct w7_figures {
    latency_histogram reads, commits;
    double load_rate = 0;  // entities/s the loader reached beside the reader
};

// W7, latency under load: one thread loads `added` new entities in transactions of `batch`
// (as W2 does, through write_beside_readers: the raw row's loader only writes and syncs, as
// in W6) while another reads random entities of the data set, loaded before, as fast as it
// can. Each read and each commit is timed on its own; the reader's key is picked before its
// clock starts. The loader starts once the reader has read once, and the reader stops when
// the loader is done. New keys come from their own seed; their payloads are the data set's.
w7_figures w7_latency_under_load(adapter& db, const dataset& d, std::size_t added, std::size_t batch) {
    std::vector<key16> fresh(added);
    std::mt19937_64 key_rng(77);
    for (auto& k : fresh)
        for (auto& b : k) b = static_cast<std::uint8_t>(key_rng());
    w7_figures f;
    std::atomic<bool> reading{false}, loading{true};
    std::size_t missing = 0;
    std::thread reader([&] {
        std::mt19937_64 rng(5);
        std::string out;
        do {
            const key16& key = d.keys[rng() % d.keys.size()];
            const auto t0 = clock_type::now();
            const bool found = db.get(key, out);
            f.reads.record(nanoseconds_since(t0));
            missing += !found;
            reading.store(true, std::memory_order_release);
        } while (loading.load(std::memory_order_acquire));
    });
    while (!reading.load(std::memory_order_acquire)) std::this_thread::yield();
    const auto load_start = clock_type::now();
    std::vector<kv> b;
    for (std::size_t i = 0; i < added; i += batch) {
        b.clear();
        for (std::size_t j = i; j < std::min(i + batch, added); ++j) b.push_back({&fresh[j], &d.values[j % d.values.size()]});
        const auto t0 = clock_type::now();
        db.write_beside_readers(b);
        f.commits.record(nanoseconds_since(t0));
    }
    f.load_rate = static_cast<double>(added) / seconds_since(load_start);
    loading.store(false, std::memory_order_release);
    reader.join();
    if (missing > 0) fmt::print(stderr, "{}: W7 reads missed {} loaded entities\n", db.name(), missing);
    fmt::print(stderr, "  {:<8} W7 samples: {} reads, {} commits\n", db.name(), f.reads.count(), f.commits.count());
    return f;
}

// ---- W8: full-text search ----

// W8's corpus: `docs` documents of 100 words drawn from a Zipf distribution (exponent 1.0)
// over 50,000 made-up ASCII words, and `queries` queries in FTS5's syntax over the same
// words, an even mix of four kinds: 1-3 words ANDed, 2-3 words ORed, a 2-3-word phrase cut
// from a document (so that it occurs), and a 2-4-letter prefix* alone or ANDed with a word.
// Fixed seeds: every engine indexes the same text and runs the same queries.
struct text_corpus {
    static constexpr std::size_t vocabulary_size = 50'000, words_per_doc = 100;
    std::vector<std::string> vocabulary;  // by rank: the most frequent first
    std::vector<std::string> docs, queries;
    std::uint64_t pairs = 0;  // distinct (document, word) pairs: what an inverted index stores

    text_corpus(std::size_t doc_count, std::size_t query_count) {
        std::mt19937_64 rng(8);
        make_vocabulary(rng);
        std::vector<double> cdf(vocabulary_size);
        double sum = 0;
        for (std::size_t r = 0; r < vocabulary_size; ++r) cdf[r] = sum += 1.0 / static_cast<double>(r + 1);
        const auto word = [&] {  // a rank by inversion of the CDF; 53 random bits as in [0, 1)
            const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * sum;
            return static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end() - 1, u) - cdf.begin());
        };
        std::vector<std::uint32_t> r;  // one document's words, by rank
        for (std::size_t d = 0; d < doc_count; ++d) {
            r.clear();
            for (std::size_t w = 0; w < words_per_doc; ++w) r.push_back(static_cast<std::uint32_t>(word()));
            docs.push_back(join(r, " "));
            std::sort(r.begin(), r.end());
            pairs += static_cast<std::uint64_t>(std::unique(r.begin(), r.end()) - r.begin());
        }
        for (std::size_t q = 0; q < query_count; ++q) {
            const std::size_t terms = 1 + rng() % 3;
            std::vector<std::uint32_t> some;
            switch (rng() % 4) {
                case 0:  // AND (implicit)
                    for (std::size_t t = 0; t < terms; ++t) some.push_back(static_cast<std::uint32_t>(word()));
                    queries.push_back(join(some, " "));
                    break;
                case 1:  // OR
                    for (std::size_t t = 0; t < std::max<std::size_t>(terms, 2); ++t) some.push_back(static_cast<std::uint32_t>(word()));
                    queries.push_back(join(some, " OR "));
                    break;
                case 2: {  // a phrase as it occurs in a document
                    const std::string& d = docs[rng() % docs.size()];
                    std::vector<std::string_view> words;
                    for (std::size_t p = 0; p < d.size();) {
                        const auto e = std::min(d.find(' ', p), d.size());
                        words.push_back(std::string_view(d).substr(p, e - p));
                        p = e + 1;
                    }
                    const std::size_t n = std::max<std::size_t>(terms, 2), at = rng() % (words.size() - n + 1);
                    queries.push_back(fmt::format("\"{}\"", fmt::join(words.begin() + at, words.begin() + at + n, " ")));
                    break;
                }
                default: {  // a prefix, alone or with a word
                    const std::string& w = vocabulary[word()];
                    std::string q = w.substr(0, std::min<std::size_t>(w.size(), 2 + rng() % 3)) + "*";
                    if (terms > 1) q += " " + vocabulary[word()];
                    queries.push_back(std::move(q));
                }
            }
        }
    }

private:
    // Distinct words of 3-9 lower-case letters (never an FTS5 operator, which is upper case).
    void make_vocabulary(std::mt19937_64& rng) {
        std::unordered_map<std::string, bool> seen;
        while (vocabulary.size() < vocabulary_size) {
            std::string w(3 + rng() % 7, 'a');
            for (auto& c : w) c = static_cast<char>('a' + rng() % 26);
            if (seen.emplace(w, true).second) vocabulary.push_back(std::move(w));
        }
    }
    std::string join(const std::vector<std::uint32_t>& ranks, std::string_view sep) const {
        std::string out;
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            if (i > 0) out += sep;
            out += vocabulary[ranks[i]];
        }
        return out;
    }
};

// What one engine returned for W8's queries, to compare the engines with.
struct w8_answers {
    std::vector<std::size_t> returned;          // per query: hits returned (at most 10)
    std::vector<std::size_t> matched;           // per sampled query: every match
};

// Every query is compared on the hits it returned; every `sample_every`-th also on the
// number of documents it matches (counting every match costs a full evaluation).
std::size_t w8_sample_every(std::size_t queries) { return std::max<std::size_t>(1, queries / 200); }

// W8 on one engine: the build (documents/s, in durable transactions of opt.batch), each
// query's latency (its best 10 by BM25; EntiDB's includes begin_read), the index's bytes.
template <typename Add>
w8_answers w8_run(text_adapter& db, const text_corpus& corpus, const options& opt, Add& add) {
    const std::string name = db.name();
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < corpus.docs.size(); i += opt.batch)
        db.add(corpus.docs, i, std::min(i + opt.batch, corpus.docs.size()));
    add(name, "W8 text build", "docs/s", static_cast<double>(corpus.docs.size()) / seconds_since(t0), true);
    w8_answers out;
    latency_histogram latency;
    for (const auto& q : corpus.queries) {
        const auto t1 = clock_type::now();
        out.returned.push_back(db.search(q, 10));
        latency.record(nanoseconds_since(t1));
    }
    add(name, "W8 text query p50", "us", static_cast<double>(latency.percentile(0.5)) / 1e3, false);
    add(name, "W8 text query p99", "us", static_cast<double>(latency.percentile(0.99)) / 1e3, false);
    const double bytes = db.index_bytes();
    add(name, "W8 text index bytes", "bytes", bytes, false);
    add(name, "W8 text bytes per pair", "bytes", bytes / static_cast<double>(corpus.pairs), false);
    for (std::size_t i = 0; i < corpus.queries.size(); i += w8_sample_every(corpus.queries.size()))
        out.matched.push_back(db.count(corpus.queries[i]));
    return out;
}

// Warns on stderr about every query on which two engines' hit counts differ (the first
// few by name), and always says how many were compared and how many differ.
void w8_compare(const text_corpus& corpus, const std::string& a, const w8_answers& x, const std::string& b,
                const w8_answers& y) {
    std::size_t differ = 0;
    const auto report = [&](std::size_t q, const char* what, std::size_t nx, std::size_t ny) {
        if (++differ <= 10) fmt::print(stderr, "W8: query {} '{}': hits {}: {} {}, {} {}\n", q, corpus.queries[q], what, a, nx, b, ny);
    };
    for (std::size_t q = 0; q < x.returned.size(); ++q)
        if (x.returned[q] != y.returned[q]) report(q, "returned", x.returned[q], y.returned[q]);
    const std::size_t every = w8_sample_every(corpus.queries.size());
    for (std::size_t i = 0; i < x.matched.size(); ++i)
        if (x.matched[i] != y.matched[i]) report(i * every, "matched", x.matched[i], y.matched[i]);
    fmt::print(stderr, "W8: hit counts of {} and {} compared on {} queries ({} counted in full): {} differ\n", a, b,
               x.returned.size(), x.matched.size(), differ);
}

template <typename Selected, typename Add>
void w8_full_text(const options& opt, const Selected& selected, Add& add) {
    const text_corpus corpus(opt.docs, opt.queries);
    fmt::print(stderr, "W8: {} documents, {} (document, word) pairs, {} queries\n", corpus.docs.size(), corpus.pairs,
               corpus.queries.size());
    std::vector<std::pair<std::string, w8_answers>> answers;
    for (const auto& [name, make] : text_adapters()) {
        if (!selected(name)) continue;
        const auto dir = opt.dir / name / "w8";
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir.parent_path());
        fmt::print(stderr, "{} (W8):\n", name);
        {
            auto db = make();
            db->open(dir);
            answers.emplace_back(name, w8_run(*db, corpus, opt, add));
        }
        std::filesystem::remove_all(opt.dir / name);
    }
    if (answers.size() == 2) w8_compare(corpus, answers[0].first, answers[0].second, answers[1].first, answers[1].second);
    else fmt::print(stderr, "W8: one engine, no hit counts compared\n");
}

constexpr const char* usage =
    "usage: entidb-bench [--entities N] [--commits N] [--reads N] [--docs N] [--queries N]\n"
    "                    [--dir PATH] [--json FILE] [--only ENGINE,...] [--workloads W1,...]\n"
    "  --entities N      entities loaded by W2 and read by W3-W7 (default 1000000)\n"
    "  --commits N       single-entity commits of W1 (default 2000)\n"
    "  --reads N         point reads of W3 (default 1000000)\n"
    "  --docs N          documents W8 indexes (default 100000; EntiDB and SQLite only)\n"
    "  --queries N       full-text queries W8 runs (default 10000)\n"
    "  --dir PATH        where the engines' databases go (default ./bench-data; emptied)\n"
    "  --json FILE       also write every figure as JSON\n"
    "  --only LIST       comma-separated engines to run (default: all built in)\n"
    "  --workloads LIST  comma-separated workloads to run, W1-W8 (default: all; W3-W7 load\n"
    "                    the data set as W2 does, and report W2 only when it is listed)\n";

// A positive count, or nothing (the caller reports the option).
std::optional<std::size_t> parse_count(std::string_view v) {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n == 0) return std::nullopt;
    return n;
}

// A comma-separated list whose every name is one of `known`, or the first name that is not.
std::variant<std::vector<std::string>, std::string> parse_list(std::string_view v, const std::vector<std::string>& known) {
    std::vector<std::string> names;
    for (std::size_t p = 0; p != std::string_view::npos;) {
        const auto q = v.find(',', p);
        std::string name(v.substr(p, q == std::string_view::npos ? q : q - p));
        if (std::find(known.begin(), known.end(), name) == known.end()) return name;
        names.push_back(std::move(name));
        p = q == std::string_view::npos ? q : q + 1;
    }
    return names;
}

// The command line, or the exit code to leave with (0 after --help, 2 for bad usage).
std::variant<options, int> parse_options(int argc, char** argv) {
    options opt;
    std::vector<std::string> built_in;
    for (const auto& [name, make] : all_adapters()) built_in.push_back(name);
    auto bad = [](const std::string& why) {
        fmt::print(stderr, "entidb-bench: {}\n(entidb-bench --help lists the options)\n", why);
        return 2;
    };
    for (int i = 1; i < argc; i += 2) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            fmt::print("{}", usage);
            return 0;
        }
        if (i + 1 == argc) return bad(fmt::format("{} needs a value", a));
        const std::string_view v = argv[i + 1];
        if (std::size_t* count = a == "--entities" ? &opt.entities : a == "--commits" ? &opt.commits
                                 : a == "--reads"  ? &opt.reads    : a == "--docs"    ? &opt.docs
                                 : a == "--queries" ? &opt.queries : nullptr) {
            const auto n = parse_count(v);
            if (!n) return bad(fmt::format("{} takes a positive whole number, not '{}'", a, v));
            *count = *n;
        } else if (a == "--dir") {
            opt.dir = std::string(v);
        } else if (a == "--json") {
            opt.json = std::string(v);
        } else if (a == "--only" || a == "--workloads") {
            const bool engines = a == "--only";
            const auto& known = engines ? built_in : all_workloads;
            auto list = parse_list(v, known);
            if (const auto* unknown = std::get_if<std::string>(&list))
                return bad(fmt::format("{}: no {} '{}' in this build (known: {})", a, engines ? "engine" : "workload",
                                       *unknown, fmt::join(known, ", ")));
            (engines ? opt.only : opt.workloads) = std::get<std::vector<std::string>>(std::move(list));
        } else {
            return bad(fmt::format("unknown option {}", a));
        }
    }
    return opt;
}

// W2-W7 on one database: W2 loads the data set (timed, reported only when asked for),
// then each workload asked for runs on it; W5 reopens it last, after a checkpoint.
template <typename Make, typename Add>
void run_on_loaded(const options& opt, const std::string& name, const Make& make, const std::filesystem::path& path,
                   const dataset& data, Add& add) {
    auto db = make();
    db->open(path, true);
    const double load_rate = w2_load(*db, data, opt.batch);
    if (wants(opt, "W2")) add(name, "W2 bulk load", "entities/s", load_rate, true);
    if (wants(opt, "W3")) {
        add(name, "W3 point read", "ns/read", w3_reads(*db, data, opt.reads), false);
        add(name, "W3 chained point read", "ns/read", w3_chained_reads(*db, data, opt.reads), false);
    }
    if (wants(opt, "W4")) {
        add(name, "W4 scan", "entities/s", w4_scan(*db, false), true);
        add(name, "W4 scan in key order", "entities/s", w4_scan(*db, true), true);
    }
    if (wants(opt, "W6") && db->reads_beside_writer()) {
        const auto [ratio, commits] = w6_concurrent(*db, data, 2.0);
        add(name, "W6 reads with writer", "x alone", ratio, true);
        add(name, "W6 writer commits/s", "commits/s", commits, true);
    }
    std::size_t stored = opt.entities;
    if (wants(opt, "W7") && db->reads_beside_writer()) {
        // A tenth of the data set: past at least one of the index merges a load brings
        // (EntiDB merges every sixteenth of its index), and the merge is what W7 is after.
        const std::size_t added = std::max<std::size_t>(opt.entities / 10, 1);
        const auto f = w7_latency_under_load(*db, data, added, opt.batch);
        stored += added;
        add(name, "W7 read p50", "us", static_cast<double>(f.reads.percentile(0.5)) / 1e3, false);
        add(name, "W7 read p99", "us", static_cast<double>(f.reads.percentile(0.99)) / 1e3, false);
        add(name, "W7 read p99.9", "us", static_cast<double>(f.reads.percentile(0.999)) / 1e3, false);
        add(name, "W7 read max", "us", static_cast<double>(f.reads.max()) / 1e3, false);
        add(name, "W7 commit p99", "ms", static_cast<double>(f.commits.percentile(0.99)) / 1e6, false);
        add(name, "W7 commit max", "ms", static_cast<double>(f.commits.max()) / 1e6, false);
        add(name, "W7 load", "entities/s", f.load_rate, true);
    }
    if (!wants(opt, "W5")) return;
    db->checkpoint();
    db.reset();
    const auto w5 = w5_reopen(name, path, data.keys[data.keys.size() / 2]);
    add(name, "W5 reopen", "s", w5.open_s, false);
    add(name, "W5 RSS per entity", "bytes", w5.rss / static_cast<double>(stored), false);
    add(name, "W5 first point read", "us", w5.first_read_s * 1e6, false);
}

int run(const options& opt);

}  // namespace bench

int main(int argc, char** argv) {
    if (argc == 5 && std::string_view(argv[1]) == "--w5-child") return bench::w5_child(argv[2], argv[3], argv[4]);
    auto parsed = bench::parse_options(argc, argv);
    if (const int* code = std::get_if<int>(&parsed)) return *code;
    try {
        return bench::run(std::get<bench::options>(parsed));
    } catch (const std::exception& e) {
        fmt::print(stderr, "entidb-bench: {}\n", e.what());
        return 1;
    }
}

namespace bench {

int run(const options& opt) {
    // A run takes minutes: find an unwritable JSON path before it, not after.
    if (!opt.json.empty() && !std::ofstream(opt.json))
        throw std::runtime_error(fmt::format("cannot write {}", opt.json));
    // W2-W7 read or extend the data set W2 loads; none is made unless used (10M payloads
    // take about 3 GB).
    const bool loads = std::any_of(loaded_workloads.begin(), loaded_workloads.end(), [&](const auto& w) { return wants(opt, w); });
    const dataset data(loads ? opt.entities : 0, 42);
    const dataset commits_data(wants(opt, "W1") ? opt.commits : 0, 7);
    std::vector<result> results;
    auto add = [&](const std::string& e, const std::string& w, const std::string& unit, double v, bool higher) {
        results.push_back({e, w, unit, v, higher});
        fmt::print(stderr, "  {:<8} {:<24} {:>14.{}f} {}\n", e, w, v, v < 10 ? 2 : 1, unit);
    };
    const auto selected = [&](const std::string& name) {
        return opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), name) != opt.only.end();
    };
    for (const auto& [name, make] : all_adapters()) {
        if (!selected(name) || !(loads || wants(opt, "W1"))) continue;
        const auto dir = opt.dir / name;
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        fmt::print(stderr, "{}:\n", name);
        if (wants(opt, "W1")) {
            auto db = make();
            db->open(dir / "w1", true);
            add(name, "W1 commits/s", "commits/s", w1_commits(*db, commits_data, opt.commits), true);
            if (db->concurrent())
                add(name, "W1 4 threads commits/s", "commits/s", w1_threads(*db, commits_data, opt.commits, 4), true);
        }
        if (loads) run_on_loaded(opt, name, make, dir / "w2", data, add);
        std::filesystem::remove_all(dir);
    }
    if (wants(opt, "W8")) w8_full_text(opt, selected, add);
    print_table(results, opt.json);
    fmt::print(stderr, "entidb-bench: peak RSS {:.2f} GiB\n", peak_rss() / double(1 << 30));
    return 0;
}

}  // namespace bench
