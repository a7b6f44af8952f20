// The test files of the layers below the engine (CBOR, formats, checksums, ids, storage
// backends, the primary index, the secondary indexes' postings, the reader gate, segment sets,
// the WAL writer and reader) and sync protocol v2's messages, clock, conflict rules, embedded
// store and client, as one translation unit; see suite_db.cpp. The full-text layer's
// tests are suite_text.cpp. Where the build has the C ABI, its test of C++ and the C ABI
// holding one directory is here too (tests/c_api/locked_test.cpp). The library's
// compile-time checks (every concept against its models and non-models:
// tests/static/concepts.cpp) compile here too: they only have to compile.
#include <entidb/detail/chunked_map.hpp>
#include <entidb/segment/fault_injecting_factory.hpp>
#include <entidb/segment/segment_set.hpp>
#include <entidb/storage/fault_injecting_backend.hpp>
#include <entidb/sync/client.hpp>
#include <entidb/sync/conflict.hpp>
#include <entidb/sync/embedded_store.hpp>
#include <entidb/sync/hlc.hpp>
#include <entidb/sync/protocol.hpp>
#include <entidb/sync/token.hpp>
#include <entidb/text/tokenizer.hpp>
#include <entidb/wal/reader.hpp>
#include <entidb/wal/writer.hpp>

#include "suite_prelude.hpp"

#if ENTIDB_TEST_HAVE_C_ABI  // where the build has the C ABI: C++ and the C ABI holding one directory
#include <entidb/c/entidb.h>
#endif

// The sync cases shared by the embedded and the PostgreSQL runs (the test files include them too).
#include "sync_client_cases.hpp"
#include "sync_kinds.hpp"
#include "sync_store_cases.hpp"

#include "../text/memory_posting_source.hpp"  // the full-text tests' model, shared by two files

// clang-format off
namespace suite_error {
#include "error_test.cpp"
}
namespace suite_cbor {
#include "cbor_test.cpp"
}
namespace suite_cbor_json {
#include "cbor_json_test.cpp"
}
namespace suite_format {
#include "format_test.cpp"
}
namespace suite_crc32 {
#include "crc32_test.cpp"
}
namespace suite_entity_id {
#include "entity_id_test.cpp"
}
namespace suite_hash {
#include "hash_test.cpp"
}
namespace suite_backend {
#include "backend_test.cpp"
}
namespace suite_primary_index {
#include "primary_index_test.cpp"
}
namespace suite_primary_index_threads {
#include "primary_index_threads_test.cpp"
}
namespace suite_postings {
#include "postings_test.cpp"
}
namespace suite_shared_gate {
#include "shared_gate_test.cpp"
}
namespace suite_chunked_map {
#include "chunked_map_test.cpp"
}
namespace suite_segment_set {
#include "segment_set_test.cpp"
}
namespace suite_wal {
#include "wal_test.cpp"
}
namespace suite_sync_protocol {
#include "sync_protocol_test.cpp"
}
namespace suite_sync_store {
#include "sync_store_test.cpp"
}
namespace suite_sync_client {
#include "sync_client_test.cpp"
}
#if ENTIDB_TEST_HAVE_C_ABI
namespace suite_c_abi_locked {
#include "../c_api/locked_test.cpp"
}
#endif
#if ENTIDB_TEST_HAVE_PQ
namespace suite_sync_postgres {
#include "sync_postgres_test.cpp"
}
#endif
namespace suite_static_concepts {
#include "../static/concepts.cpp"
}
// clang-format on
