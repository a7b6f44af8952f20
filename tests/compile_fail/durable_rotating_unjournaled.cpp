// Must not compile: a factory of durable segments that rotates but does not declare the
// compaction journal's protocol. Compaction would write its new segments without the
// COMPACTION journal, and a crash in the middle of it could lose or duplicate records.
// expect: makes durable segments and rotates (rotates == true) but is not journaled
#include <entidb/database.hpp>

class unjournaled_file_factory {
public:
    using backend_type = entidb::file_backend;
    static constexpr bool rotates = true;

    std::unique_ptr<entidb::file_backend> create(std::uint32_t n) { return inner_.create(n); }
    std::unique_ptr<entidb::file_backend> open(std::uint32_t n) { return inner_.open(n); }
    std::vector<std::uint32_t> existing() const { return inner_.existing(); }

private:
    entidb::file_segment_factory inner_{"SEGMENTS"};
};

struct bad_traits {
    using wal_backend = entidb::file_backend;
    using segment_factory = unjournaled_file_factory;
};

int main() {
    entidb::basic_database<bad_traits>* db = nullptr;
    (void)db->last_sequence();
}
