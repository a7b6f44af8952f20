// Must not compile: the factory declares the compaction journal's protocol but lacks one of
// its members (sync(), the directory fsync every rename and removal needs). The declaration
// decides which path compaction takes, so the gap must be a compile error, never a quiet
// fallback to compacting without the journal.
// expect: declares `journaled = true` but lacks members of the compaction journal's protocol
#include <entidb/database.hpp>

class no_sync_factory {
public:
    using backend_type = entidb::file_backend;
    using backend_ptr = std::unique_ptr<entidb::file_backend>;
    static constexpr bool rotates = true;
    static constexpr bool journaled = true;

    backend_ptr create(std::uint32_t n) { return inner_.create(n); }
    backend_ptr open(std::uint32_t n) { return inner_.open(n); }
    std::vector<std::uint32_t> existing() const { return inner_.existing(); }
    backend_ptr create_temporary(std::uint32_t n) { return inner_.create_temporary(n); }
    backend_ptr open_temporary(std::uint32_t n) { return inner_.open_temporary(n); }
    void publish_temporary(std::uint32_t n) { inner_.publish_temporary(n); }
    void remove(std::uint32_t n) { inner_.remove(n); }
    void remove_temporary(std::uint32_t n) { inner_.remove_temporary(n); }
    std::vector<std::uint32_t> temporaries() const { return inner_.temporaries(); }
    bool has(std::uint32_t n) const { return inner_.has(n); }
    bool has_temporary(std::uint32_t n) const { return inner_.has_temporary(n); }

private:
    entidb::file_segment_factory inner_{"SEGMENTS"};
};

struct bad_traits {
    using wal_backend = entidb::file_backend;
    using segment_factory = no_sync_factory;
};

int main() {
    entidb::basic_database<bad_traits>* db = nullptr;
    (void)db->last_sequence();
}
