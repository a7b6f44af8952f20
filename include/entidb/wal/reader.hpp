// entidb/wal/reader.hpp — the streaming read of the write-ahead log (SPEC.md §5, recovery).
//
// `wal::reader<Backend>` walks the log record by record (format/record_scanner.hpp, one
// record in memory at a time) and yields its committed transactions in log order, each
// at its COMMIT record. Aborted transactions are dropped at their ABORT, unfinished ones
// (no COMMIT before the end) are never yielded; CHECKPOINT records carry nothing to yield.
// A record that does not decode ends the log if nothing valid follows it: a torn tail,
// the normal result of a crash; end() then says where it starts (the owner truncates
// there). If a valid record follows, it is damage: errc::corruption naming the file and
// offset, like a BEGIN of an open transaction, or an operation, COMMIT or ABORT without
// its BEGIN. The reader never changes the log.
//
// Thread-safety: one reader per thread; the log must not change while it reads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../bytes.hpp"
#include "../entity_id.hpp"
#include "../error.hpp"
#include "../format/record_scanner.hpp"
#include "../format/wal_record.hpp"
#include "../storage/backend.hpp"

namespace entidb {
inline namespace v1 {
namespace detail {
// The longest WAL record a reader accepts: a longer declared length is damage.
inline constexpr std::uint64_t max_wal_record =
    format::wal_header_size + std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + format::wal_crc_size;
}  // namespace detail

namespace wal {

// One PUT (payload) or DELETE (tombstone) of a committed transaction.
struct operation {
    std::uint32_t collection;
    entity_id id;
    bool tombstone;
    byte_buffer payload;
};

struct transaction {
    std::uint64_t txid;
    std::uint64_t sequence;  // its COMMIT's
    std::vector<operation> ops;  // in log order; empty unless the reader keeps operations
};

template <storage_backend Backend>
class reader {
public:
    // `path` names the log in errors. Without `keep_operations` the reader only checks the
    // log (no payload is copied) and yields transactions without their operations.
    reader(const Backend& backend, std::size_t chunk, std::string path, bool keep_operations)
        : backend_(backend), chunk_(chunk), path_(std::move(path)), keep_(keep_operations),
          scanner_(backend, chunk, detail::max_wal_record), end_(backend.size()) {}

    // The next committed transaction in log order, or nullopt at the end of the log.
    std::optional<transaction> next() {
        while (const auto* step = scanner_.next()) {
            if (step->decoded.status != format::decode_status::ok) {
                if (valid_record_after(step->offset + 1))
                    fail_at(errc::corruption, {.path = path_, .offset = step->offset},
                            "bad WAL record followed by valid records ({})", detail::describe_problem(step->decoded));
                end_ = step->offset;
                return std::nullopt;
            }
            ++records_;
            auto done = std::visit([&](const auto& rec) { return on(rec, step->offset); }, step->decoded.record);
            if (done) return done;
        }
        return std::nullopt;
    }

    // Where the well-formed log ends: its size, or where a torn tail starts (once next()
    // returned nullopt).
    [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
    // Well-formed records read, and the highest txid (of a BEGIN) and COMMIT sequence seen.
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] std::uint64_t max_txid() const noexcept { return max_txid_; }
    [[nodiscard]] std::uint64_t max_sequence() const noexcept { return max_sequence_; }

private:
    using result = std::optional<transaction>;

    // True if a well-formed record starts anywhere at or after `from`.
    bool valid_record_after(std::uint64_t from) const {
        return detail::find_next_record<detail::wal_format>(backend_, chunk_, detail::max_wal_record, from).has_value();
    }

    result on(const format::wal_begin& r, std::uint64_t offset) {
        max_txid_ = std::max(max_txid_, r.txid);
        if (!open_.try_emplace(r.txid).second) corrupt(offset, "BEGIN of transaction {} which is already open", r.txid);
        return std::nullopt;
    }
    result on(const format::wal_put& r, std::uint64_t offset) {
        auto& ops = ops_of(r.txid, offset);
        if (keep_) ops.push_back({r.collection_id, r.id, false, byte_buffer(r.after.begin(), r.after.end())});
        return std::nullopt;
    }
    result on(const format::wal_delete& r, std::uint64_t offset) {
        auto& ops = ops_of(r.txid, offset);
        if (keep_) ops.push_back({r.collection_id, r.id, true, {}});
        return std::nullopt;
    }
    result on(const format::wal_commit& r, std::uint64_t offset) {
        const auto it = open_.find(r.txid);
        if (it == open_.end()) corrupt(offset, "COMMIT of transaction {} without BEGIN", r.txid);
        max_sequence_ = std::max(max_sequence_, r.sequence);
        transaction t{r.txid, r.sequence, std::move(it->second)};
        open_.erase(it);
        return t;
    }
    result on(const format::wal_abort& r, std::uint64_t offset) {
        if (open_.erase(r.txid) == 0) corrupt(offset, "ABORT of transaction {} without BEGIN", r.txid);
        return std::nullopt;
    }
    result on(const format::wal_checkpoint&, std::uint64_t) { return std::nullopt; }

    std::vector<operation>& ops_of(std::uint64_t txid, std::uint64_t offset) {
        const auto it = open_.find(txid);
        if (it == open_.end()) corrupt(offset, "operation of transaction {} without BEGIN", txid);
        return it->second;
    }

    template <typename... Args>
    [[noreturn]] void corrupt(std::uint64_t offset, fmt::format_string<Args...> f, Args&&... args) const {
        fail_at(errc::corruption, {.path = path_, .offset = offset}, f, std::forward<Args>(args)...);
    }

    const Backend& backend_;
    std::size_t chunk_;
    std::string path_;
    bool keep_;
    detail::wal_scanner<Backend> scanner_;
    std::uint64_t end_;
    std::uint64_t records_ = 0, max_txid_ = 0, max_sequence_ = 0;
    std::map<std::uint64_t, std::vector<operation>> open_;  // open transactions by txid
};

}  // namespace wal
}  // namespace v1
}  // namespace entidb
