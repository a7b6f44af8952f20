// The test files that use the public header alone, compiled against single_include/ (the
// generated one-header library) as one translation unit; see suite_db.cpp.
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
// clang-format on
