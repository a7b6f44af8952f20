// The benchmark's engines behind one small interface, and the result table.
// Every adapter stores the same bytes and makes every commit durable.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <entidb/entidb.hpp>

#if ENTIDB_BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif
#if ENTIDB_BENCH_HAVE_LMDB
#include <lmdb.h>
#endif
#if ENTIDB_BENCH_HAVE_ROCKSDB
#include <rocksdb/c.h>
#endif

namespace bench {

using key16 = std::array<std::uint8_t, 16>;
struct kv {
    const key16* key;
    const std::string* value;
};

class adapter {
public:
    virtual ~adapter() = default;
    virtual std::string name() const = 0;
    virtual void open(const std::filesystem::path& path, bool create) = 0;
    virtual void commit(const std::vector<kv>& batch) = 0;  // one durable transaction
    virtual bool get(const key16& key, std::string& out) = 0;
    virtual std::size_t scan() = 0;  // visits every value, in any order; returns the count
    virtual std::size_t scan_in_key_order() { return scan(); }  // the peers' scans are in key order
    // Safe to use from several threads at once (W1 with threads, W6); the raw row is not.
    virtual bool concurrent() const { return true; }
    // W6: readers beside one writer thread, which commits through write_beside_readers.
    virtual bool reads_beside_writer() const { return concurrent(); }
    virtual void write_beside_readers(const std::vector<kv>& batch) { commit(batch); }
    // Before W5's reopen: move what only the engine's log holds into its main files, so the
    // reopen measures opening them rather than replaying a log (nothing to do for an engine
    // without a separate log).
    virtual void checkpoint() {}
};

[[noreturn]] inline void die(const std::string& what) {
    fmt::print(stderr, "bench: {}\n", what);
    std::exit(1);
}

// ---- EntiDB ----
// "entidb" with the default configuration; "entidb-recycled" with a recycled wal.log
// (config::wal, docs/file-format.md); "entidb+enc" encrypted at rest (encrypted_file_storage,
// docs/encryption.md, XChaCha20-Poly1305) and "entidb+aes" (the same with AES-256-GCM) under a
// raw 32-byte key, so that W5's reopen measures the database and not Argon2id (a passphrase
// adds its ~0.5 s once per open).
template <typename Traits>
class basic_entidb_adapter final : public adapter {
public:
    explicit basic_entidb_adapter(entidb::wal_mode wal = entidb::wal_mode::append,
                                  entidb::cipher_id cipher = entidb::cipher_id::xchacha20poly1305)
        : cipher_(cipher) {
        cfg_.wal = wal;
    }
    std::string name() const override {
        if constexpr (entidb::encrypts_v<Traits>) return cipher_ == entidb::cipher_id::aes256gcm ? "entidb+aes" : "entidb+enc";
        return cfg_.wal == entidb::wal_mode::recycled ? "entidb-recycled" : "entidb";
    }
    void open(const std::filesystem::path& path, bool) override {
        if constexpr (entidb::encrypts_v<Traits>) {
            std::array<entidb::byte, entidb::key_bytes> key{};
            key.fill(0x5a);
            db_.emplace(entidb::open<Traits>(path, cfg_, {.key = entidb::raw_key_from(key), .kdf = {}, .cipher = cipher_}));
        } else {
            db_.emplace(entidb::open<Traits>(path, cfg_));
        }
    }
    void commit(const std::vector<kv>& batch) override {
        db_->transaction([&](auto& txn) {
            for (const auto& e : batch)
                txn.put("bench", entidb::entity_id(*e.key), entidb::as_bytes(*e.value));
        });
    }
    bool get(const key16& key, std::string& out) override {
        if (!db_->get_into("bench", entidb::entity_id(key), buffer_)) return false;
        // One memcpy, as the peers do (an assign from uint8_t iterators builds a temporary).
        out.assign(reinterpret_cast<const char*>(buffer_.data()), buffer_.size());
        return true;
    }
    std::size_t scan() override { return visit(db_->begin_read().scan("bench", entidb::in_storage_order)); }
    void checkpoint() override { db_->checkpoint(); }
    std::size_t scan_in_key_order() override { return visit(db_->begin_read().scan("bench")); }

private:
    static std::size_t visit(const auto& range) {
        std::size_t n = 0, bytes = 0;
        for (const auto& e : range) {
            bytes += e.bytes.size();
            ++n;
        }
        return bytes ? n : 0;
    }
    entidb::config cfg_;
    entidb::cipher_id cipher_;
    std::optional<entidb::basic_database<Traits>> db_;
    static inline thread_local entidb::byte_buffer buffer_;  // W6 reads from two threads
};
using entidb_adapter = basic_entidb_adapter<entidb::file_storage>;

// ---- raw: the physical limit (append + fdatasync; reads via a hash of offsets into an mmap) ----
class raw_adapter final : public adapter {
public:
    std::string name() const override { return "raw"; }
    ~raw_adapter() override { unmap(); if (fd_ >= 0) ::close(fd_); }
    void open(const std::filesystem::path& path, bool) override {
        std::filesystem::create_directories(path);
        fd_ = ::open((path / "data").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) die("raw: open");
        size_ = static_cast<std::size_t>(::lseek(fd_, 0, SEEK_END));
        index_all();
    }
    void commit(const std::vector<kv>& batch) override {
        const std::string buf = records(batch);
        std::lock_guard lock(mutex_);
        write_durably(buf, size_);
        std::size_t at = size_;
        for (const auto& e : batch) {
            offsets_[*e.key] = at + 20;
            at += 20 + e.value->size();
        }
        size_ = at;
        mapped_ok_ = false;
    }
    bool get(const key16& key, std::string& out) override {
        if (!mapped_ok_) remap();
        const auto it = offsets_.find(key);
        if (it == offsets_.end()) return false;
        std::uint32_t len;
        std::memcpy(&len, map_ + it->second - 4, 4);
        out.assign(reinterpret_cast<const char*>(map_) + it->second, len);
        return true;
    }
    std::size_t scan() override {
        if (!mapped_ok_) remap();
        std::size_t n = 0, bytes = 0;
        for (std::size_t at = 0; at + 20 <= size_;) {
            std::uint32_t len;
            std::memcpy(&len, map_ + at + 16, 4);
            bytes += map_[at + 20];
            at += 20 + len;
            ++n;
        }
        return bytes ? n : n;
    }
    bool concurrent() const override { return false; }
    // W6's limit: the writer does only the I/O (appends past the mapped bytes and syncs),
    // publishing nothing, so the readers' hash stays unshared and unlocked. What the
    // readers lose here is what a durable writer costs them on this machine.
    bool reads_beside_writer() const override { return true; }
    void write_beside_readers(const std::vector<kv>& batch) override {
        const std::string buf = records(batch);
        std::lock_guard lock(mutex_);
        if (unpublished_ < size_) unpublished_ = size_;
        write_durably(buf, unpublished_);
        unpublished_ += buf.size();
    }

private:
    static std::string records(const std::vector<kv>& batch) {
        std::string buf;
        for (const auto& e : batch) {
            const auto len = static_cast<std::uint32_t>(e.value->size());
            buf.append(reinterpret_cast<const char*>(e.key->data()), 16);
            buf.append(reinterpret_cast<const char*>(&len), 4);
            buf += *e.value;
        }
        return buf;
    }
    void write_durably(const std::string& buf, std::size_t at) const {
        if (::pwrite(fd_, buf.data(), buf.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(buf.size()))
            die("raw: write");
        if (::fdatasync(fd_) != 0) die("raw: fdatasync");
    }
    // The keys are random: their first 8 bytes are a hash already. No allocation per
    // lookup (a 16-byte std::string key would allocate).
    struct key_hash {
        std::size_t operator()(const key16& k) const noexcept {
            std::uint64_t h;
            std::memcpy(&h, k.data(), 8);
            return static_cast<std::size_t>(h);
        }
    };
    void index_all() {
        remap();
        for (std::size_t at = 0; at + 20 <= size_;) {
            std::uint32_t len;
            std::memcpy(&len, map_ + at + 16, 4);
            key16 k;
            std::memcpy(k.data(), map_ + at, 16);
            offsets_[k] = at + 20;
            at += 20 + len;
        }
    }
    void remap() {
        unmap();
        if (size_ == 0) return;
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
        if (p == MAP_FAILED) die("raw: mmap");
        map_ = static_cast<const std::uint8_t*>(p);
        mapped_ = size_;
        mapped_ok_ = true;
    }
    void unmap() {
        if (map_) ::munmap(const_cast<std::uint8_t*>(map_), mapped_);
        map_ = nullptr;
    }
    int fd_ = -1;
    std::size_t size_ = 0, mapped_ = 0;
    std::size_t unpublished_ = 0;  // end of write_beside_readers' appends
    const std::uint8_t* map_ = nullptr;
    bool mapped_ok_ = false;
    std::mutex mutex_;
    std::unordered_map<key16, std::size_t, key_hash> offsets_;
};

#if ENTIDB_BENCH_HAVE_SQLITE
inline void sqlite_exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
        die(fmt::format("sqlite: {}: {}", sql, sqlite3_errmsg(db)));
}

// Every SQLite database of the benchmark: WAL mode, synchronous=FULL (a commit is durable).
inline sqlite3* sqlite_open_durable(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    sqlite3* db = nullptr;
    if (sqlite3_open((dir / "db.sqlite").c_str(), &db) != SQLITE_OK) die("sqlite: open");
    sqlite_exec(db, "PRAGMA journal_mode=WAL");
    sqlite_exec(db, "PRAGMA synchronous=FULL");
    return db;
}

class sqlite_adapter final : public adapter {
public:
    std::string name() const override { return "sqlite"; }
    ~sqlite_adapter() override {
        sqlite3_finalize(put_);
        sqlite3_finalize(get_);
        sqlite3_close(db_);
    }
    void open(const std::filesystem::path& path, bool) override {
        db_ = sqlite_open_durable(path);
        exec("CREATE TABLE IF NOT EXISTS kv(id BLOB PRIMARY KEY, body BLOB) WITHOUT ROWID");
        sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO kv(id, body) VALUES(?, ?)", -1, &put_, nullptr);
        sqlite3_prepare_v2(db_, "SELECT body FROM kv WHERE id = ?", -1, &get_, nullptr);
    }
    void commit(const std::vector<kv>& batch) override {
        std::lock_guard lock(mutex_);
        exec("BEGIN");
        for (const auto& e : batch) {
            sqlite3_bind_blob(put_, 1, e.key->data(), 16, SQLITE_STATIC);
            sqlite3_bind_blob(put_, 2, e.value->data(), static_cast<int>(e.value->size()), SQLITE_STATIC);
            if (sqlite3_step(put_) != SQLITE_DONE) die("sqlite: insert");
            sqlite3_reset(put_);
        }
        exec("COMMIT");
    }
    bool get(const key16& key, std::string& out) override {
        std::lock_guard lock(mutex_);
        sqlite3_bind_blob(get_, 1, key.data(), 16, SQLITE_STATIC);
        const bool found = sqlite3_step(get_) == SQLITE_ROW;
        if (found)
            out.assign(static_cast<const char*>(sqlite3_column_blob(get_, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(get_, 0)));
        sqlite3_reset(get_);
        return found;
    }
    std::size_t scan() override {
        std::lock_guard lock(mutex_);
        sqlite3_stmt* s = nullptr;
        sqlite3_prepare_v2(db_, "SELECT id, body FROM kv", -1, &s, nullptr);
        std::size_t n = 0;
        while (sqlite3_step(s) == SQLITE_ROW) n += sqlite3_column_bytes(s, 1) > 0;
        sqlite3_finalize(s);
        return n;
    }
    void checkpoint() override {
        std::lock_guard lock(mutex_);
        exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }

private:
    void exec(const char* sql) { sqlite_exec(db_, sql); }
    sqlite3* db_ = nullptr;
    sqlite3_stmt* put_ = nullptr;
    sqlite3_stmt* get_ = nullptr;
    std::mutex mutex_;  // one connection, serialised (SQLite's own rule for a shared handle)
};
#endif

#if ENTIDB_BENCH_HAVE_LMDB
class lmdb_adapter final : public adapter {
public:
    std::string name() const override { return "lmdb"; }
    ~lmdb_adapter() override {
        if (env_) mdb_env_close(env_);
    }
    void open(const std::filesystem::path& path, bool) override {
        std::filesystem::create_directories(path);
        check(mdb_env_create(&env_), "env_create");
        check(mdb_env_set_mapsize(env_, std::size_t{64} << 30), "set_mapsize");
        check(mdb_env_set_maxreaders(env_, 64), "set_maxreaders");
        check(mdb_env_open(env_, path.c_str(), 0, 0644), "env_open");  // durable default: sync on commit
        MDB_txn* txn;
        check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
        check(mdb_dbi_open(txn, nullptr, 0, &dbi_), "dbi_open");
        check(mdb_txn_commit(txn), "commit");
    }
    void commit(const std::vector<kv>& batch) override {
        MDB_txn* txn;
        check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
        for (const auto& e : batch) {
            MDB_val k{16, const_cast<std::uint8_t*>(e.key->data())};
            MDB_val v{e.value->size(), const_cast<char*>(e.value->data())};
            check(mdb_put(txn, dbi_, &k, &v, 0), "put");
        }
        check(mdb_txn_commit(txn), "commit");
    }
    bool get(const key16& key, std::string& out) override {
        MDB_txn* txn;
        check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "txn_begin");
        MDB_val k{16, const_cast<std::uint8_t*>(key.data())}, v;
        const bool found = mdb_get(txn, dbi_, &k, &v) == 0;
        if (found) out.assign(static_cast<const char*>(v.mv_data), v.mv_size);
        mdb_txn_abort(txn);
        return found;
    }
    std::size_t scan() override {
        MDB_txn* txn;
        MDB_cursor* cur;
        check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "txn_begin");
        check(mdb_cursor_open(txn, dbi_, &cur), "cursor");
        MDB_val k, v;
        std::size_t n = 0;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            n += v.mv_size > 0;
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return n;
    }

private:
    static void check(int rc, const char* what) {
        if (rc != 0) die(fmt::format("lmdb: {}: {}", what, mdb_strerror(rc)));
    }
    MDB_env* env_ = nullptr;
    MDB_dbi dbi_{};
};
#endif

#if ENTIDB_BENCH_HAVE_ROCKSDB
class rocksdb_adapter final : public adapter {
public:
    std::string name() const override { return "rocksdb"; }
    ~rocksdb_adapter() override {
        if (db_) rocksdb_close(db_);
        if (wopt_) rocksdb_writeoptions_destroy(wopt_);
        if (ropt_) rocksdb_readoptions_destroy(ropt_);
        if (opt_) rocksdb_options_destroy(opt_);
    }
    void open(const std::filesystem::path& path, bool) override {
        opt_ = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(opt_, 1);
        char* err = nullptr;
        db_ = rocksdb_open(opt_, path.c_str(), &err);
        check(err, "open");
        wopt_ = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(wopt_, 1);
        ropt_ = rocksdb_readoptions_create();
    }
    void commit(const std::vector<kv>& batch) override {
        rocksdb_writebatch_t* b = rocksdb_writebatch_create();
        for (const auto& e : batch)
            rocksdb_writebatch_put(b, reinterpret_cast<const char*>(e.key->data()), 16, e.value->data(), e.value->size());
        char* err = nullptr;
        rocksdb_write(db_, wopt_, b, &err);
        rocksdb_writebatch_destroy(b);
        check(err, "write");
    }
    bool get(const key16& key, std::string& out) override {
        std::size_t len = 0;
        char* err = nullptr;
        char* v = rocksdb_get(db_, ropt_, reinterpret_cast<const char*>(key.data()), 16, &len, &err);
        check(err, "get");
        if (!v) return false;
        out.assign(v, len);
        rocksdb_free(v);
        return true;
    }
    std::size_t scan() override {
        rocksdb_iterator_t* it = rocksdb_create_iterator(db_, ropt_);
        std::size_t n = 0;
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
            std::size_t len = 0;
            n += rocksdb_iter_value(it, &len) != nullptr && len > 0;
        }
        rocksdb_iter_destroy(it);
        return n;
    }
    void checkpoint() override {  // the memtable into a table file: no WAL replay at open
        rocksdb_flushoptions_t* f = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(f, 1);
        char* err = nullptr;
        rocksdb_flush(db_, f, &err);
        rocksdb_flushoptions_destroy(f);
        check(err, "flush");
    }

private:
    static void check(char* err, const char* what) {
        if (err) {
            std::string msg = err;
            rocksdb_free(err);
            die(fmt::format("rocksdb: {}: {}", what, msg));
        }
    }
    rocksdb_t* db_ = nullptr;
    rocksdb_options_t* opt_ = nullptr;
    rocksdb_writeoptions_t* wopt_ = nullptr;
    rocksdb_readoptions_t* ropt_ = nullptr;
};
#endif

inline std::vector<std::pair<std::string, std::function<std::unique_ptr<adapter>()>>> all_adapters() {
    std::vector<std::pair<std::string, std::function<std::unique_ptr<adapter>()>>> out;
    out.emplace_back("entidb", [] { return std::make_unique<entidb_adapter>(); });
    out.emplace_back("entidb-recycled", [] { return std::make_unique<entidb_adapter>(entidb::wal_mode::recycled); });
#if ENTIDB_HAVE_SODIUM
    out.emplace_back("entidb+enc",
                     [] { return std::make_unique<basic_entidb_adapter<entidb::encrypted_file_storage>>(); });
    if (entidb::aes256gcm::available())
        out.emplace_back("entidb+aes", [] {
            return std::make_unique<basic_entidb_adapter<entidb::encrypted_file_storage>>(entidb::wal_mode::append,
                                                                                         entidb::cipher_id::aes256gcm);
        });
#endif
    out.emplace_back("raw", [] { return std::make_unique<raw_adapter>(); });
#if ENTIDB_BENCH_HAVE_SQLITE
    out.emplace_back("sqlite", [] { return std::make_unique<sqlite_adapter>(); });
#endif
#if ENTIDB_BENCH_HAVE_LMDB
    out.emplace_back("lmdb", [] { return std::make_unique<lmdb_adapter>(); });
#endif
#if ENTIDB_BENCH_HAVE_ROCKSDB
    out.emplace_back("rocksdb", [] { return std::make_unique<rocksdb_adapter>(); });
#endif
    return out;
}

// ---- W8: the engines with full-text search (EntiDB's text index, SQLite FTS5) ----
// LMDB, RocksDB and the raw row have none. Both tokenizers agree on ASCII (SQLite's
// unicode61, EntiDB's default: case folded, no stemming) and both rank by BM25 with FTS5's
// parameters, so the same query finds the same documents.
class text_adapter {
public:
    virtual ~text_adapter() = default;
    virtual std::string name() const = 0;
    virtual void open(const std::filesystem::path& path) = 0;
    // One durable transaction adding docs[first, last), document i as number i.
    virtual void add(const std::vector<std::string>& docs, std::size_t first, std::size_t last) = 0;
    // The best `limit` documents of an FTS5-syntax query by BM25: how many were returned.
    virtual std::size_t search(const std::string& query, std::size_t limit) = 0;
    // Every document the query matches.
    virtual std::size_t count(const std::string& query) = 0;
    // The index's size in bytes, the documents themselves not counted.
    virtual double index_bytes() = 0;
};

class entidb_text_adapter final : public text_adapter {
public:
    std::string name() const override { return "entidb"; }
    void open(const std::filesystem::path& path) override {
        db_.emplace(entidb::open(path));
        db_->declare_index("docs", "body", entidb::index_kind::text);
    }
    void add(const std::vector<std::string>& docs, std::size_t first, std::size_t last) override {
        db_->transaction([&](auto& txn) {
            for (std::size_t i = first; i < last; ++i) {
                payload_.clear();
                entidb::cbor::encoder(payload_).begin_map(1).text("body").text(docs[i]).end_map();
                txn.put("docs", id_of(i), payload_);
            }
        });
    }
    std::size_t search(const std::string& query, std::size_t limit) override {
        return db_->begin_read().search("docs", "body", query, limit).size();
    }
    std::size_t count(const std::string& query) override {
        return search(query, std::numeric_limits<std::size_t>::max());
    }
    // The text index's memory as built by the commits (no shrink_to_fit: open would do that).
    double index_bytes() override { return static_cast<double>(db_->begin_read().index_memory_bytes("docs", "body")); }

private:
    static entidb::entity_id id_of(std::size_t i) {  // ids in the order of the documents
        std::array<entidb::byte, 16> raw{};
        for (int b = 0; b < 8; ++b) raw[15 - b] = static_cast<entidb::byte>(i >> (8 * b));
        return entidb::entity_id(raw);
    }
    std::optional<entidb::database> db_;
    entidb::byte_buffer payload_;
};

#if ENTIDB_BENCH_HAVE_SQLITE
class sqlite_text_adapter final : public text_adapter {
public:
    std::string name() const override { return "sqlite"; }
    ~sqlite_text_adapter() override {
        for (auto* s : {put_, top_, count_}) sqlite3_finalize(s);
        sqlite3_close(db_);
    }
    void open(const std::filesystem::path& path) override {
        db_ = sqlite_open_durable(path);
        sqlite_exec(db_, "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='unicode61')");
        put_ = prepare("INSERT INTO t(rowid, body) VALUES(?, ?)");
        top_ = prepare("SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?");
        count_ = prepare("SELECT count(*) FROM t WHERE t MATCH ?");
    }
    void add(const std::vector<std::string>& docs, std::size_t first, std::size_t last) override {
        sqlite_exec(db_, "BEGIN");
        for (std::size_t i = first; i < last; ++i) {
            sqlite3_bind_int64(put_, 1, static_cast<sqlite3_int64>(i) + 1);
            sqlite3_bind_text(put_, 2, docs[i].data(), static_cast<int>(docs[i].size()), SQLITE_STATIC);
            if (sqlite3_step(put_) != SQLITE_DONE) die(fmt::format("sqlite: insert: {}", sqlite3_errmsg(db_)));
            sqlite3_reset(put_);
        }
        sqlite_exec(db_, "COMMIT");
    }
    std::size_t search(const std::string& query, std::size_t limit) override {
        sqlite3_bind_int64(top_, 2, static_cast<sqlite3_int64>(limit));
        return rows(top_, query, [](sqlite3_stmt*, std::size_t& n) { ++n; });
    }
    std::size_t count(const std::string& query) override {
        return rows(count_, query, [](sqlite3_stmt* s, std::size_t& n) { n = static_cast<std::size_t>(sqlite3_column_int64(s, 0)); });
    }
    // The pages of FTS5's shadow tables but the content table (the documents): t_data (the
    // index), t_idx, t_docsize (each document's length, for BM25) and t_config, from the
    // dbstat virtual table. Without dbstat in the library: the whole file, content included.
    double index_bytes() override {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('t_data', 't_idx', 't_docsize', 't_config')",
                               -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
            const double bytes = sqlite3_column_double(s, 0);
            sqlite3_finalize(s);
            return bytes;
        }
        sqlite3_finalize(s);
        fmt::print(stderr, "sqlite: no dbstat: W8's index bytes are the whole file (page_count * page_size)\n");
        return pragma("page_count") * pragma("page_size");
    }

private:
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) die(fmt::format("sqlite: {}: {}", sql, sqlite3_errmsg(db_)));
        return s;
    }
    double pragma(const char* name) {
        sqlite3_stmt* s = prepare(fmt::format("PRAGMA {}", name).c_str());
        const double v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_double(s, 0) : 0;
        sqlite3_finalize(s);
        return v;
    }
    // Runs `s` with the query bound first and folds its rows with `f`.
    template <typename F>
    std::size_t rows(sqlite3_stmt* s, const std::string& query, F f) {
        sqlite3_bind_text(s, 1, query.data(), static_cast<int>(query.size()), SQLITE_STATIC);
        std::size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) f(s, n);
        if (rc != SQLITE_DONE) die(fmt::format("sqlite: query '{}': {}", query, sqlite3_errmsg(db_)));
        sqlite3_reset(s);
        return n;
    }
    sqlite3* db_ = nullptr;
    sqlite3_stmt* put_ = nullptr;
    sqlite3_stmt* top_ = nullptr;
    sqlite3_stmt* count_ = nullptr;
};
#endif

inline std::vector<std::pair<std::string, std::function<std::unique_ptr<text_adapter>()>>> text_adapters() {
    std::vector<std::pair<std::string, std::function<std::unique_ptr<text_adapter>()>>> out;
    out.emplace_back("entidb", [] { return std::make_unique<entidb_text_adapter>(); });
#if ENTIDB_BENCH_HAVE_SQLITE
    out.emplace_back("sqlite", [] { return std::make_unique<sqlite_text_adapter>(); });
#endif
    return out;
}

// One row per workload, one column per engine, and EntiDB ÷ the best peer in the row's
// own unit (for ns/read and seconds, below 1 is better; for rates, above 1 is better). EntiDB's
// own variants (entidb-recycled, entidb+enc, entidb+aes) are not peers; where an encrypted row
// ran, a last column gives it ÷ entidb (its overhead, in the row's unit): enc/entidb, aes/entidb.
template <typename Result>
void print_table(const std::vector<Result>& results, const std::string& json_path) {
    std::vector<std::string> engines, workloads;
    std::map<std::pair<std::string, std::string>, const Result*> at;
    for (const auto& r : results) {
        if (std::find(engines.begin(), engines.end(), r.engine) == engines.end()) engines.push_back(r.engine);
        if (std::find(workloads.begin(), workloads.end(), r.workload) == workloads.end()) workloads.push_back(r.workload);
        at[{r.engine, r.workload}] = &r;
    }
    fmt::print("{:<26}", "workload");
    for (const auto& e : engines) fmt::print("{:>14}", e);
    std::vector<std::string> encrypted;  // the encrypted variants that ran: a ratio column each
    for (const auto& e : engines)
        if (e == "entidb+enc" || e == "entidb+aes") encrypted.push_back(e);
    fmt::print("{:>18}", "entidb/best peer");
    for (const auto& e : encrypted) fmt::print("{:>14}", e.substr(7) + "/entidb");
    fmt::print("\n");
    std::string json = "[";
    for (const auto& w : workloads) {
        fmt::print("{:<26}", w);
        const Result* ours = nullptr;
        const Result* best = nullptr;
        for (const auto& e : engines) {
            const auto it = at.find({e, w});
            if (it == at.end()) {
                fmt::print("{:>14}", "-");
                continue;
            }
            const Result* r = it->second;
            fmt::print("{:>14.{}f}", r->value, r->value < 10 ? 2 : 1);  // ratios and seconds need two
            json += fmt::format(
                "{}{{\"engine\":\"{}\",\"workload\":\"{}\",\"unit\":\"{}\",\"value\":{},\"higher_is_better\":{}}}",
                json.size() > 1 ? "," : "", e, w, r->unit, r->value, r->higher_is_better);
            if (e == "entidb") ours = r;
            else if (e != "raw" && !e.starts_with("entidb") && r->value > 0 &&
                     (!best || (r->higher_is_better ? r->value > best->value : r->value < best->value)))
                best = r;
        }
        if (ours && best && best->value > 0 && ours->value > 0)
            fmt::print("{:>18.2f}", ours->value / best->value);  // in the row's unit: see its direction
        else
            fmt::print("{:>18}", "-");
        for (const auto& e : encrypted) {
            const auto it = at.find({e, w});
            if (ours && it != at.end() && ours->value > 0)
                fmt::print("{:>14.2f}", it->second->value / ours->value);
            else
                fmt::print("{:>14}", "-");
        }
        fmt::print("\n");
    }
    json += "]\n";
    if (json_path.empty()) return;
    std::ofstream out(json_path);
    out << json;
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", json_path));
}

}  // namespace bench
