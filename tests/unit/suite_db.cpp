// The test files that open databases, as one translation unit. Most of a test program's
// compile time is the library's templates (engine, recovery, compaction, transactions),
// compiled again in every translation unit that opens a database; here they are compiled
// once. Each file keeps its own Meson test: Catch2 tags every test with its file name
// (`-#`), and tests/meson.build runs each file's tests as a test of their own.
#include <entidb/segment/fault_injecting_factory.hpp>
#include <entidb/storage/fault_injecting_backend.hpp>

#include "suite_prelude.hpp"

// clang-format off
namespace suite_engine {
#include "engine_test.cpp"
}
namespace suite_write_set {
#include "write_set_test.cpp"
}
namespace suite_read_only {
#include "read_only_test.cpp"
}
namespace suite_fixtures {
#include "fixtures_test.cpp"
}
namespace suite_collection {
#include "collection_test.cpp"
}
namespace suite_secondary_index {
#include "secondary_index_test.cpp"
}
namespace suite_compaction {
#include "compaction_test.cpp"
}
namespace suite_backup {
#include "backup_test.cpp"
}
namespace suite_catalog {
#include "catalog_test.cpp"
}
namespace suite_change_feed {
#include "change_feed_test.cpp"
}
namespace suite_open {
#include "open_test.cpp"
}
namespace suite_transaction {
#include "transaction_test.cpp"
}
namespace suite_fault_injection {
#include "../crash/fault_injection_test.cpp"
}
namespace suite_kill {
#include "../crash/kill_test.cpp"
}
// clang-format on
