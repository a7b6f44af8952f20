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
// A recycled log (its first record is RECYCLED, docs/file-format.md) holds the current
// lap and then whatever earlier laps left, which may well be valid records. The lap is
// what follows the RECYCLED record as whole transactions, BEGIN, its operations, and a
// COMMIT above both the checkpoint (`checkpoint`, the MANIFEST's) and the lap's last one;
// every earlier lap was checkpointed before the next one started, so none of its COMMITs
// is above the checkpoint. The lap ends before the first record that does not continue
// it (a bad record, a stale COMMIT, a BEGIN inside a transaction, ...), and end() is then
// the end of its last transaction. If a COMMIT above the checkpoint follows anywhere
// after that point, the lap was damaged, not ended: errc::corruption, like a bad record
// followed by a valid one in an appended log.
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
    reader(const Backend& backend, std::size_t chunk, std::string path, bool keep_operations,
           std::uint64_t checkpoint = 0)
        : backend_(backend), chunk_(chunk), path_(std::move(path)), keep_(keep_operations), checkpoint_(checkpoint),
          scanner_(backend, chunk, detail::max_wal_record), end_(backend.size()) {}

    // The next committed transaction in log order, or nullopt at the end of the log.
    std::optional<transaction> next() {
        if (lap_over_) return std::nullopt;
        while (const auto* step = scanner_.next()) {
            const auto& d = step->decoded;
            if (d.status != format::decode_status::ok) {
                if (recycled_) return end_lap(step->offset, detail::describe_problem(d));
                if (valid_record_after(step->offset + 1))
                    fail_at(errc::corruption, {.path = path_, .offset = step->offset},
                            "bad WAL record followed by valid records ({})", detail::describe_problem(d));
                end_ = step->offset;
                return std::nullopt;
            }
            if (step->offset == 0 && std::holds_alternative<format::wal_recycled>(d.record)) {
                recycled_ = true;
                lap_end_ = d.size;
                ++records_;
                continue;
            }
            if (recycled_ && !continues_lap(d.record))
                return end_lap(step->offset, fmt::format("a {} record that does not continue the lap",
                                                         format::to_string(format::type_of(d.record))));
            ++records_;
            auto done = std::visit([&](const auto& rec) { return on(rec, step->offset); }, d.record);
            if (recycled_ && open_.empty()) lap_end_ = step->offset + d.size;
            if (done) return done;
        }
        if (recycled_) end_ = lap_end_;  // an unfinished transaction goes with the rest
        return std::nullopt;
    }

    // Where the well-formed log ends: its size, or where a torn tail starts (once next()
    // returned nullopt); in a recycled log, where its lap ends.
    [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
    // Whether the log is recycled (known once next() has read its first record).
    [[nodiscard]] bool recycled() const noexcept { return recycled_; }
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

    // Whether `r` is the lap's next record: the lap's writer writes each transaction
    // whole, so a BEGIN opens the only open one and every other record belongs to it.
    bool continues_lap(const format::wal_record& r) const {
        return std::visit(
            [&](const auto& rec) {
                using T = std::decay_t<decltype(rec)>;
                if constexpr (std::is_same_v<T, format::wal_begin>) return open_.empty();
                else if constexpr (std::is_same_v<T, format::wal_commit>)
                    return open_.contains(rec.txid) && rec.sequence > std::max(checkpoint_, max_sequence_);
                else if constexpr (std::is_same_v<T, format::wal_checkpoint>)
                    return open_.empty() && rec.sequence > checkpoint_;
                else if constexpr (std::is_same_v<T, format::wal_recycled>) return false;
                else return open_.contains(rec.txid);  // PUT, DELETE, ABORT
            },
            r);
    }

    // The lap ends at `offset` (`why` says what is there) unless a COMMIT of the lap
    // follows: then it is damage.
    result end_lap(std::uint64_t offset, const std::string& why) {
        lap_over_ = true;
        end_ = lap_end_;
        if (const auto live = lap_commit_after(offset + 1))
            fail_at(errc::corruption, {.path = path_, .offset = offset},
                    "{} in a recycled WAL, followed by a COMMIT of the current lap at offset {}", why, *live);
        return std::nullopt;
    }

    // Where the first COMMIT above the checkpoint starts at or after `from`, if any. One
    // sequential pass over the rest of the file: the records of earlier laps follow one another,
    // so a scanner reads them a chunk at a time, and only where bytes do not decode does it look
    // for the next record (a search per record read a chunk per record: 64 MiB of stale laps
    // took seconds to pass at every open).
    std::optional<std::uint64_t> lap_commit_after(std::uint64_t from) const {
        while (const auto at =
                   detail::find_next_record<detail::wal_format>(backend_, chunk_, detail::max_wal_record, from)) {
            detail::wal_scanner<Backend> scan(backend_, chunk_, detail::max_wal_record, *at);
            const auto* step = scan.next();
            for (; step && step->decoded.status == format::decode_status::ok; step = scan.next())
                if (const auto* c = std::get_if<format::wal_commit>(&step->decoded.record); c && c->sequence > checkpoint_)
                    return step->offset;
            if (!step) return std::nullopt;  // the file's end
            from = step->offset + 1;         // bytes that do not decode: find the next record after them
        }
        return std::nullopt;
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
    result on(const format::wal_recycled&, std::uint64_t offset) {
        corrupt(offset, "a RECYCLED record after the start of the log");
        return std::nullopt;
    }

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
    std::uint64_t checkpoint_;  // no COMMIT of the lap is at or below it (recycled logs)
    detail::wal_scanner<Backend> scanner_;
    std::uint64_t end_;
    bool recycled_ = false;
    bool lap_over_ = false;     // a recycled log's lap ended before the end of the file
    std::uint64_t lap_end_ = 0;  // the end of the lap's last whole transaction
    std::uint64_t records_ = 0, max_txid_ = 0, max_sequence_ = 0;
    std::map<std::uint64_t, std::vector<operation>> open_;  // open transactions by txid
};

}  // namespace wal
}  // namespace v1
}  // namespace entidb
