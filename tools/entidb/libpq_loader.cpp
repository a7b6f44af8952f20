// The tool loads libpq when the sync server's PostgreSQL store first calls it, not at every
// start: every other command (and `sync-server --store embedded`) runs without it, and starts
// without loading libpq's chain of about twenty libraries (Kerberos, LDAP, GnuTLS, ...: a
// third of a sanitized start's time). The functions below are the libpq functions the store
// calls (include/entidb/sync/postgres_store.hpp), each forwarding to libpq.so.5 through dlsym;
// the tool links no libpq of its own (tools/entidb/meson.build). A system without libpq gets a
// typed error naming the package at the store's first call.
#include <dlfcn.h>

#include <libpq-fe.h>

#include <entidb/error.hpp>

namespace entidb_tool::pq_loader {

void* library() {
    static void* const handle = [] {
        void* h = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
        if (h == nullptr)
            entidb::fail(entidb::errc::io_error, "the PostgreSQL store needs libpq (Debian: libpq5): {}", ::dlerror());
        return h;
    }();
    return handle;
}

template <typename F>
F* function(const char* name) {
    void* f = ::dlsym(library(), name);
    if (f == nullptr) entidb::fail(entidb::errc::io_error, "libpq.so.5 has no function {}", name);
    return reinterpret_cast<F*>(f);
}

}  // namespace entidb_tool::pq_loader

// Each forwarder looks its function up once (a static initialised on the first call).
#define ENTIDB_TOOL_PQ_FORWARD(result, name, parameters, arguments)                                  \
    extern "C" result name parameters {                                                               \
        static auto* const f = entidb_tool::pq_loader::function<result parameters>(#name);            \
        return f arguments;                                                                           \
    }

ENTIDB_TOOL_PQ_FORWARD(PGconn*, PQconnectdb, (const char* conninfo), (conninfo))
ENTIDB_TOOL_PQ_FORWARD(void, PQfinish, (PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(ConnStatusType, PQstatus, (const PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(PGTransactionStatusType, PQtransactionStatus, (const PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(char*, PQerrorMessage, (const PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(int, PQsocket, (const PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn* conn, PQnoticeProcessor proc, void* arg),
                       (conn, proc, arg))
ENTIDB_TOOL_PQ_FORWARD(PGresult*, PQexecParams,
                       (PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                        const char* const* paramValues, const int* paramLengths, const int* paramFormats,
                        int resultFormat),
                       (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
ENTIDB_TOOL_PQ_FORWARD(int, PQconsumeInput, (PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(PGnotify*, PQnotifies, (PGconn* conn), (conn))
ENTIDB_TOOL_PQ_FORWARD(ExecStatusType, PQresultStatus, (const PGresult* res), (res))
ENTIDB_TOOL_PQ_FORWARD(int, PQntuples, (const PGresult* res), (res))
ENTIDB_TOOL_PQ_FORWARD(char*, PQgetvalue, (const PGresult* res, int tup_num, int field_num), (res, tup_num, field_num))
ENTIDB_TOOL_PQ_FORWARD(int, PQgetlength, (const PGresult* res, int tup_num, int field_num), (res, tup_num, field_num))
ENTIDB_TOOL_PQ_FORWARD(void, PQclear, (PGresult* res), (res))
ENTIDB_TOOL_PQ_FORWARD(void, PQfreemem, (void* ptr), (ptr))

#undef ENTIDB_TOOL_PQ_FORWARD
