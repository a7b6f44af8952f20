/* The C consumer (tests/consumers/run_consumers.py): links entidb::c, opens the database
 * directory given as its argument, commits one entity and reads it back. */
#include <entidb/c/entidb.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    entidb_db* db = NULL;
    entidb_txn* txn = NULL;
    const uint8_t id[16] = {1};
    const char* json = "{\"title\":\"hello\"}";
    if (entidb_open(argv[1], NULL, &db) != ENTIDB_OK) return 3;
    if (entidb_begin_write(db, &txn) != ENTIDB_OK) return 4;
    if (entidb_txn_put_json(txn, "notes", id, json, strlen(json)) != ENTIDB_OK) return 5;
    if (entidb_txn_commit(txn, NULL) != ENTIDB_OK) return 6;
    entidb_buffer cbor = {NULL, 0}, back = {NULL, 0};
    if (entidb_get(db, "notes", id, &cbor) != ENTIDB_OK) return 7;
    if (entidb_cbor_to_json(cbor.data, cbor.len, &back) != ENTIDB_OK) return 8;
    const int same = back.len == strlen(json) && memcmp(back.data, json, back.len) == 0;
    printf("entidb %s (C ABI %u): %s\n", entidb_library_version(), (unsigned)entidb_abi_version(),
           same ? "round trip ok" : "round trip differs");
    entidb_buffer_free(&cbor);
    entidb_buffer_free(&back);
    entidb_close(db);
    return same ? 0 : 9;
}
