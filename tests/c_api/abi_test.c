/* tests/c_api/abi_test.c — the C ABI from C: behaviour, ownership, and bad input.
 *
 * A C11 program (compiled by the C compiler, linked against libentidb_c shared or static).
 * Every misuse below must return an error code, never crash; the Meson suite runs this under
 * AddressSanitizer + UndefinedBehaviorSanitizer too. Exit status 0 only if every check passed.
 */
#define _XOPEN_SOURCE 700
#include <entidb/c/entidb.h>

#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++checks;                                                                    \
        if (!(cond)) {                                                               \
            ++failures;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* A call's code must be `want`; on mismatch print both names and the message. */
#define CHECK_RC(call, want)                                                                           \
    do {                                                                                               \
        const int rc_ = (call);                                                                        \
        ++checks;                                                                                      \
        if (rc_ != (want)) {                                                                           \
            ++failures;                                                                                \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s): %s\n", __FILE__, __LINE__, #call, \
                    rc_, entidb_error_name(rc_), (want), entidb_error_name(want), entidb_last_error_message()); \
        }                                                                                              \
    } while (0)

static char base_dir[256];

static int remove_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void make_path(char* out, size_t size, const char* name) { snprintf(out, size, "%s/%s", base_dir, name); }

static void set_id(uint8_t id[16], unsigned n) {
    memset(id, 0, 16);
    id[15] = (uint8_t)n;
    id[14] = (uint8_t)(n >> 8);
}

static entidb_db* open_db(const char* name) {
    char path[512];
    make_path(path, sizeof path, name);
    entidb_db* db = NULL;
    CHECK_RC(entidb_open(path, NULL, &db), ENTIDB_OK);
    CHECK(db != NULL);
    return db;
}

/* {"n": n} in canonical CBOR (n < 24). */
static size_t small_map(uint8_t out[4], unsigned n) {
    out[0] = 0xA1;
    out[1] = 0x61;
    out[2] = 'n';
    out[3] = (uint8_t)n;
    return 4;
}

static void test_versions_and_names(void) {
    CHECK(entidb_abi_version() == (uint32_t)ENTIDB_ABI_VERSION);
    CHECK((entidb_abi_version() >> 16) == ENTIDB_ABI_VERSION_MAJOR);
    CHECK(strlen(entidb_library_version()) > 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_OK), "ok") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_LOCKED), "locked") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_NON_CANONICAL), "non_canonical") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_NO_SUCH_INDEX), "no_such_index") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_OUT_OF_MEMORY), "out_of_memory") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_INTERNAL), "internal") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_BUSY), "busy") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_SCHEMA_MISMATCH), "schema_mismatch") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_BAD_KEY), "bad_key") == 0);
    CHECK(strcmp(entidb_error_name(24), "unknown") == 0);
    CHECK(strcmp(entidb_error_name(-5), "unknown") == 0);
    /* The numbers are the C++ entidb::errc values (docs/errors.md); spot-check the table. */
    CHECK(ENTIDB_NOT_FOUND == 1 && ENTIDB_LOCKED == 4 && ENTIDB_CLOSED == 17 && ENTIDB_NO_SUCH_INDEX == 20 &&
          ENTIDB_BUSY == 21 && ENTIDB_SCHEMA_MISMATCH == 22 &&
          ENTIDB_BAD_KEY == 23);
}

static void test_last_error(void) {
    uint8_t id[16];
    CHECK_RC(entidb_id_parse("not an id", id), ENTIDB_INVALID_ARGUMENT);
    CHECK(entidb_last_error_code() == ENTIDB_INVALID_ARGUMENT);
    CHECK(strstr(entidb_last_error_message(), "invalid argument") != NULL);
    CHECK_RC(entidb_id_parse("00112233445566778899aabbccddeeff", id), ENTIDB_OK);
    CHECK(entidb_last_error_code() == ENTIDB_OK);
    CHECK(strcmp(entidb_last_error_message(), "") == 0);
}

struct thread_result {
    int code;
    int message_mentions_null;
};

static void* other_thread(void* arg) {
    struct thread_result* r = arg;
    r->code = entidb_id_generate(NULL);
    r->message_mentions_null = strstr(entidb_last_error_message(), "NULL") != NULL;
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    uint8_t id[16];
    CHECK_RC(entidb_id_generate(id), ENTIDB_OK);
    struct thread_result r = {0, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &r) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(r.code == ENTIDB_INVALID_ARGUMENT);
    CHECK(r.message_mentions_null);
    CHECK(entidb_last_error_code() == ENTIDB_OK); /* this thread's last call succeeded */
    CHECK(strcmp(entidb_last_error_message(), "") == 0);
}

static void test_ids(void) {
    uint8_t a[16], b[16];
    CHECK_RC(entidb_id_generate(a), ENTIDB_OK);
    CHECK_RC(entidb_id_generate(b), ENTIDB_OK);
    CHECK(memcmp(a, b, 16) != 0);
    CHECK((a[6] & 0xF0) == 0x40); /* UUID v4 */
    char text[37];
    CHECK_RC(entidb_id_format(a, 1, text), ENTIDB_OK);
    CHECK(strlen(text) == 36 && text[8] == '-');
    uint8_t back[16];
    CHECK_RC(entidb_id_parse(text, back), ENTIDB_OK);
    CHECK(memcmp(a, back, 16) == 0);
    CHECK_RC(entidb_id_format(a, 0, text), ENTIDB_OK);
    CHECK(strlen(text) == 32);
    CHECK_RC(entidb_id_parse(text, back), ENTIDB_OK);
    CHECK(memcmp(a, back, 16) == 0);

    CHECK_RC(entidb_id_parse(NULL, back), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_parse(text, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_parse("", back), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_parse("0011223344556677-8899aabbccddeeff", back), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_parse("0011223344556677889900aabbccddeeffgg", back), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_parse("zz112233445566778899aabbccddeeff", back), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_format(NULL, 0, text), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_format(a, 0, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_id_generate(NULL), ENTIDB_INVALID_ARGUMENT);
}

static void test_cbor_json(void) {
    entidb_buffer buf = {NULL, 0};
    const char* json = "{\"b\":{\"$bytes\":\"00ff\"},\"a\":[1,-2,true,null,\"x\"]}";
    CHECK_RC(entidb_json_to_cbor(json, strlen(json), &buf), ENTIDB_OK);
    CHECK(buf.data != NULL && buf.len > 0);
    CHECK(buf.data[buf.len] == 0); /* the documented NUL after the bytes */
    CHECK_RC(entidb_cbor_validate(buf.data, buf.len), ENTIDB_OK);
    entidb_buffer text = {NULL, 0};
    CHECK_RC(entidb_cbor_to_json(buf.data, buf.len, &text), ENTIDB_OK);
    CHECK(strcmp((const char*)text.data, "{\"a\":[1,-2,true,null,\"x\"],\"b\":{\"$bytes\":\"00ff\"}}") == 0);
    CHECK(strlen((const char*)text.data) == text.len);
    entidb_buffer_free(&text);
    CHECK(text.data == NULL && text.len == 0);
    entidb_buffer_free(&text); /* freeing the same (now empty) struct again is a no-op */
    entidb_buffer_free(NULL);
    entidb_buffer_free(&buf);

    /* The JSON bridge refuses floats, bad syntax, out-of-range integers; NULL with a length. */
    CHECK_RC(entidb_json_to_cbor("1.5", 3, &buf), ENTIDB_INVALID_ARGUMENT);
    CHECK(buf.data == NULL);
    CHECK(strstr(entidb_last_error_message(), "floating") != NULL);
    CHECK_RC(entidb_json_to_cbor("{\"a\":", 5, &buf), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_json_to_cbor("18446744073709551616", 20, &buf), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_json_to_cbor(NULL, 3, &buf), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_json_to_cbor(NULL, 0, &buf), ENTIDB_INVALID_ARGUMENT); /* empty text is not JSON */
    CHECK_RC(entidb_json_to_cbor("1", 1, NULL), ENTIDB_INVALID_ARGUMENT);
    /* The length is honoured: "12" cut to one byte is 1. */
    CHECK_RC(entidb_json_to_cbor("12", 1, &buf), ENTIDB_OK);
    CHECK(buf.len == 1 && buf.data[0] == 0x01);
    entidb_buffer_free(&buf);

    const uint8_t non_canonical[] = {0x18, 0x05};     /* 5 in a two-byte head */
    const uint8_t unsorted[] = {0xA2, 0x61, 'b', 0x01, 0x61, 'a', 0x02};
    const uint8_t truncated[] = {0x82, 0x01};         /* an array of two with one item */
    const uint8_t trailing[] = {0x01, 0x02};
    const uint8_t indefinite[] = {0x9F, 0x01, 0xFF};
    CHECK_RC(entidb_cbor_validate(non_canonical, sizeof non_canonical), ENTIDB_NON_CANONICAL);
    CHECK_RC(entidb_cbor_validate(unsorted, sizeof unsorted), ENTIDB_NON_CANONICAL);
    CHECK_RC(entidb_cbor_validate(truncated, sizeof truncated), ENTIDB_INVALID_CBOR);
    CHECK_RC(entidb_cbor_validate(trailing, sizeof trailing), ENTIDB_INVALID_CBOR);
    CHECK_RC(entidb_cbor_validate(indefinite, sizeof indefinite), ENTIDB_NON_CANONICAL);
    CHECK_RC(entidb_cbor_validate(NULL, 0), ENTIDB_INVALID_CBOR);
    CHECK_RC(entidb_cbor_validate(NULL, 1), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_cbor_to_json(non_canonical, sizeof non_canonical, &buf), ENTIDB_NON_CANONICAL);
    CHECK(buf.data == NULL);
    CHECK_RC(entidb_cbor_to_json(truncated, sizeof truncated, &buf), ENTIDB_INVALID_CBOR);
    CHECK_RC(entidb_cbor_to_json(trailing, 2, NULL), ENTIDB_INVALID_ARGUMENT);
}

static void test_open_arguments(void) {
    char path[512];
    make_path(path, sizeof path, "args");
    entidb_db* db = (entidb_db*)0x1; /* must be reset to NULL on failure */
    CHECK_RC(entidb_open(NULL, NULL, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK(db == NULL);
    CHECK_RC(entidb_open(path, NULL, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_open("", NULL, &db), ENTIDB_INVALID_ARGUMENT);

    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_INVALID_ARGUMENT); /* struct_size 0 */
    opts.struct_size = sizeof opts;
    opts.flags = 0x80;
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_INVALID_ARGUMENT); /* unknown flag */
    opts.flags = ENTIDB_OPEN_NO_CREATE;
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_NOT_FOUND);
    CHECK(db == NULL);
    opts.flags = 0;
    opts.max_segment_size = 3; /* below a record's overhead: the C++ config refuses it */
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_INVALID_ARGUMENT);

    /* A regular file where the directory should be. */
    char file[512];
    make_path(file, sizeof file, "plain-file");
    FILE* f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    const int rc = entidb_open(file, NULL, &db);
    CHECK(rc != ENTIDB_OK);
    CHECK(db == NULL);

    /* A short struct_size (an older caller) reads only the fields it covers. */
    opts.struct_size = 8;
    opts.max_segment_size = 3; /* beyond struct_size: ignored */
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    /* ABI 1.5: ENTIDB_OPEN_RECYCLED_WAL keeps wal.log allocated at max_wal_size, a RECYCLED
     * record (type 7) at its start (docs/file-format.md, "Recycled WAL"). */
    char recycled[512];
    make_path(recycled, sizeof recycled, "recycled-wal");
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.flags = ENTIDB_OPEN_RECYCLED_WAL;
    opts.max_wal_size = 65536;
    CHECK_RC(entidb_open(recycled, &opts, &db), ENTIDB_OK);
    entidb_txn* w = NULL;
    uint8_t id[16], v[4];
    set_id(id, 1);
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 1)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    char wal[600];
    snprintf(wal, sizeof wal, "%s/wal.log", recycled);
    FILE* wf = fopen(wal, "rb");
    CHECK(wf != NULL);
    if (wf) {
        unsigned char head[8] = {0};
        CHECK(fread(head, 1, sizeof head, wf) == sizeof head);
        CHECK(memcmp(head, "EWAL", 4) == 0 && head[6] == 7);
        CHECK(fseek(wf, 0, SEEK_END) == 0 && ftell(wf) == 65536);
        fclose(wf);
    }
    CHECK_RC(entidb_open(recycled, NULL, &db), ENTIDB_OK); /* read the same way without the flag */
    entidb_buffer got = {NULL, 0};
    CHECK_RC(entidb_get(db, "c", id, &got), ENTIDB_OK);
    CHECK(got.len == 4);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

static void test_crud(void) {
    entidb_db* db = open_db("crud");
    uint8_t id1[16], id2[16], id3[16];
    set_id(id1, 1);
    set_id(id2, 2);
    set_id(id3, 3);
    uint8_t v[4];

    entidb_txn* w = NULL;
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    int is_write = -1;
    CHECK_RC(entidb_txn_is_write(w, &is_write), ENTIDB_OK);
    CHECK(is_write == 1);
    CHECK_RC(entidb_txn_put(w, "people", id2, v, small_map(v, 2)), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "people", id1, v, small_map(v, 1)), ENTIDB_OK);
    const char* j = "{\"name\":\"Ada\",\"born\":1815}";
    CHECK_RC(entidb_txn_put_json(w, "people", id3, j, strlen(j)), ENTIDB_OK);
    entidb_buffer got = {NULL, 0};
    CHECK_RC(entidb_txn_get(w, "people", id1, &got), ENTIDB_OK); /* sees its own write */
    CHECK(got.len == 4 && got.data[3] == 1);
    entidb_buffer_free(&got);
    uint64_t seq = 0;
    CHECK_RC(entidb_txn_commit(w, &seq), ENTIDB_OK);
    CHECK(seq == 1);

    CHECK_RC(entidb_get(db, "people", id1, &got), ENTIDB_OK);
    CHECK(got.len == 4 && got.data[3] == 1);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_get(db, "people", id3, &got), ENTIDB_OK);
    entidb_buffer json = {NULL, 0};
    CHECK_RC(entidb_cbor_to_json(got.data, got.len, &json), ENTIDB_OK);
    CHECK(strcmp((const char*)json.data, "{\"born\":1815,\"name\":\"Ada\"}") == 0);
    entidb_buffer_free(&json);
    entidb_buffer_free(&got);

    /* Absence is ENTIDB_NOT_FOUND with an empty buffer, in a known and an unknown collection. */
    uint8_t missing[16];
    set_id(missing, 99);
    got.data = (uint8_t*)0; /* an empty buffer */
    CHECK_RC(entidb_get(db, "people", missing, &got), ENTIDB_NOT_FOUND);
    CHECK(got.data == NULL && got.len == 0);
    CHECK_RC(entidb_get(db, "nobody", id1, &got), ENTIDB_NOT_FOUND);

    /* A read snapshot does not see later commits. */
    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    CHECK_RC(entidb_txn_is_write(r, &is_write), ENTIDB_OK);
    CHECK(is_write == 0);
    uint64_t rseq = 0;
    CHECK_RC(entidb_txn_sequence(r, &rseq), ENTIDB_OK);
    CHECK(rseq == 1);

    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    int existed = -1;
    CHECK_RC(entidb_txn_delete(w, "people", id2, &existed), ENTIDB_OK);
    CHECK(existed == 1);
    CHECK_RC(entidb_txn_delete(w, "people", id2, &existed), ENTIDB_OK);
    CHECK(existed == 0);
    CHECK_RC(entidb_txn_delete(w, "people", missing, NULL), ENTIDB_OK);
    CHECK_RC(entidb_txn_get(w, "people", id2, &got), ENTIDB_NOT_FOUND);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);

    CHECK_RC(entidb_txn_get(r, "people", id2, &got), ENTIDB_OK); /* the old snapshot */
    entidb_buffer_free(&got);
    uint64_t count = 0;
    CHECK_RC(entidb_txn_count(r, "people", &count), ENTIDB_OK);
    CHECK(count == 3);
    CHECK_RC(entidb_txn_count(r, "nobody", &count), ENTIDB_OK);
    CHECK(count == 0);
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);
    CHECK_RC(entidb_get(db, "people", id2, &got), ENTIDB_NOT_FOUND);

    /* An aborted write leaves nothing. */
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "people", missing, v, small_map(v, 9)), ENTIDB_OK);
    CHECK_RC(entidb_txn_abort(w), ENTIDB_OK);
    CHECK_RC(entidb_get(db, "people", missing, &got), ENTIDB_NOT_FOUND);

    uint64_t last = 0;
    CHECK_RC(entidb_last_sequence(db, &last), ENTIDB_OK);
    CHECK(last == 2);
    entidb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_RC(entidb_checkpoint(db), ENTIDB_OK);
    CHECK_RC(entidb_stats_get(db, &st), ENTIDB_OK);
    CHECK(st.last_sequence == 2 && st.commits >= 2 && st.checkpoints >= 1);
    st.struct_size = 4;
    CHECK_RC(entidb_stats_get(db, &st), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_stats_get(db, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_last_sequence(db, NULL), ENTIDB_INVALID_ARGUMENT);

    /* Collections, NUL-separated. */
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "animals", id1, v, small_map(v, 5)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    entidb_buffer names = {NULL, 0};
    CHECK_RC(entidb_txn_collections(r, &names), ENTIDB_OK);
    CHECK(names.len == strlen("animals") + 1 + strlen("people") + 1);
    CHECK(names.data != NULL && memcmp(names.data, "animals\0people\0", names.len) == 0);
    entidb_buffer_free(&names);
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    /* Reopen: everything committed is there (recovery through the same open path). */
    db = open_db("crud");
    CHECK_RC(entidb_get(db, "people", id3, &got), ENTIDB_OK);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_get(db, "animals", id1, &got), ENTIDB_OK);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_last_sequence(db, &last), ENTIDB_OK);
    CHECK(last == 3);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

static void test_scan(void) {
    entidb_db* db = open_db("scan");
    entidb_txn* w = NULL;
    uint8_t v[4], id[16];
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    const unsigned order[] = {5, 1, 4, 2, 3};
    for (size_t i = 0; i < 5; ++i) {
        set_id(id, order[i]);
        CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, order[i])), ENTIDB_OK);
    }
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);

    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    entidb_cursor* cur = NULL;
    CHECK_RC(entidb_scan_open(r, "c", &cur), ENTIDB_OK);
    /* A commit after the scan opened is not seen by it. */
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    set_id(id, 6);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 6)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    /* The cursor keeps its snapshot after its transaction ends. */
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);

    unsigned n = 0;
    entidb_buffer val = {NULL, 0};
    uint8_t got[16];
    int rc;
    while ((rc = entidb_cursor_next(cur, got, &val)) == ENTIDB_OK) {
        ++n;
        CHECK(got[15] == n); /* id order */
        CHECK(val.len == 4 && val.data[3] == n);
        entidb_buffer_free(&val);
    }
    CHECK(rc == ENTIDB_NOT_FOUND);
    CHECK(n == 5);
    CHECK(val.data == NULL);
    CHECK_RC(entidb_cursor_next(cur, got, &val), ENTIDB_NOT_FOUND); /* stays exhausted */
    CHECK_RC(entidb_cursor_next(cur, NULL, &val), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_CLOSED);
    CHECK_RC(entidb_cursor_next(cur, got, &val), ENTIDB_CLOSED);
    CHECK_RC(entidb_cursor_close(NULL), ENTIDB_INVALID_ARGUMENT);

    /* A database-level scan sees the new commit; NULL value_out skips payloads. */
    CHECK_RC(entidb_db_scan_open(db, "c", &cur), ENTIDB_OK);
    n = 0;
    while (entidb_cursor_next(cur, got, NULL) == ENTIDB_OK) ++n;
    CHECK(n == 6);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    CHECK_RC(entidb_db_scan_open(db, "none", &cur), ENTIDB_OK);
    CHECK_RC(entidb_cursor_next(cur, got, NULL), ENTIDB_NOT_FOUND);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);

    /* In storage order: the same six entities, each once, with their payloads; the order is
     * the records' (here the commit order of the puts), not the ids'. */
    CHECK_RC(entidb_db_scan_open_ordered(db, "c", ENTIDB_SCAN_STORAGE_ORDER, &cur), ENTIDB_OK);
    unsigned seen = 0;
    n = 0;
    while ((rc = entidb_cursor_next(cur, got, &val)) == ENTIDB_OK) {
        ++n;
        CHECK(got[15] >= 1 && got[15] <= 6);
        CHECK(val.len == 4 && val.data[3] == got[15]);
        seen |= 1u << got[15];
        entidb_buffer_free(&val);
    }
    CHECK(rc == ENTIDB_NOT_FOUND && n == 6 && seen == 0x7Eu);
    CHECK_RC(entidb_cursor_next(cur, got, &val), ENTIDB_NOT_FOUND);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    /* Three commits in a fresh collection lie in the segment in commit order, not id order. */
    const unsigned commits[] = {3, 1, 2};
    for (size_t i = 0; i < 3; ++i) {
        CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
        set_id(id, commits[i]);
        CHECK_RC(entidb_txn_put(w, "s", id, v, small_map(v, commits[i])), ENTIDB_OK);
        CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    }
    CHECK_RC(entidb_db_scan_open_ordered(db, "s", ENTIDB_SCAN_STORAGE_ORDER, &cur), ENTIDB_OK);
    for (size_t i = 0; i < 3; ++i) {
        CHECK_RC(entidb_cursor_next(cur, got, NULL), ENTIDB_OK);
        CHECK(got[15] == commits[i]);
    }
    CHECK_RC(entidb_cursor_next(cur, got, NULL), ENTIDB_NOT_FOUND);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    /* On a read transaction, at its snapshot; id order through the _ordered call too. */
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    set_id(id, 7);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 7)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    CHECK_RC(entidb_scan_open_ordered(r, "c", ENTIDB_SCAN_STORAGE_ORDER, &cur), ENTIDB_OK);
    n = 0;
    while (entidb_cursor_next(cur, got, NULL) == ENTIDB_OK) ++n;
    CHECK(n == 6);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    CHECK_RC(entidb_scan_open_ordered(r, "c", ENTIDB_SCAN_ID_ORDER, &cur), ENTIDB_OK);
    n = 0;
    while (entidb_cursor_next(cur, got, NULL) == ENTIDB_OK) CHECK(got[15] == ++n);
    CHECK(n == 6);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_OK);
    /* An unknown order opens nothing. */
    cur = (entidb_cursor*)&seen;
    CHECK_RC(entidb_scan_open_ordered(r, "c", 2, &cur), ENTIDB_INVALID_ARGUMENT);
    CHECK(cur == NULL);
    CHECK_RC(entidb_db_scan_open_ordered(db, "c", 7, &cur), ENTIDB_INVALID_ARGUMENT);
    CHECK(cur == NULL);
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);

    /* A write transaction cannot scan, count or list collections (read transactions only). */
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_scan_open(w, "c", &cur), ENTIDB_INVALID_ARGUMENT);
    CHECK(cur == NULL);
    CHECK_RC(entidb_scan_open_ordered(w, "c", ENTIDB_SCAN_STORAGE_ORDER, &cur), ENTIDB_INVALID_ARGUMENT);
    CHECK(cur == NULL);
    uint64_t count;
    CHECK_RC(entidb_txn_count(w, "c", &count), ENTIDB_INVALID_ARGUMENT);
    entidb_buffer names = {NULL, 0};
    CHECK_RC(entidb_txn_collections(w, &names), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_abort(w), ENTIDB_OK);

    entidb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_RC(entidb_stats_get(db, &st), ENTIDB_OK);
    CHECK(st.full_scans == 7);
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    /* The option that forbids full scans. */
    char path[512];
    make_path(path, sizeof path, "scan");
    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.flags = ENTIDB_OPEN_FORBID_FULL_SCAN | ENTIDB_OPEN_NO_CREATE;
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_OK);
    CHECK_RC(entidb_db_scan_open(db, "c", &cur), ENTIDB_SCAN_FORBIDDEN);
    CHECK(cur == NULL);
    CHECK_RC(entidb_db_scan_open_ordered(db, "c", ENTIDB_SCAN_STORAGE_ORDER, &cur), ENTIDB_SCAN_FORBIDDEN);
    CHECK(cur == NULL);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

static void test_bad_writes(void) {
    char path[512];
    make_path(path, sizeof path, "bad");
    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.max_entity_bytes = 16;
    entidb_db* db = NULL;
    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_OK);
    uint8_t id[16], v[4];
    set_id(id, 1);
    entidb_txn* w = NULL;
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);

    const uint8_t non_canonical[] = {0xA2, 0x61, 'b', 0x01, 0x61, 'a', 0x02};
    const uint8_t invalid[] = {0xFF};
    const uint8_t big[20] = {0x53}; /* a 19-byte string: 20 bytes > max_entity_bytes */
    CHECK_RC(entidb_txn_put(w, "c", id, non_canonical, sizeof non_canonical), ENTIDB_NON_CANONICAL);
    CHECK_RC(entidb_txn_put(w, "c", id, invalid, sizeof invalid), ENTIDB_INVALID_CBOR);
    CHECK_RC(entidb_txn_put(w, "c", id, NULL, 0), ENTIDB_INVALID_CBOR); /* empty: no item */
    CHECK_RC(entidb_txn_put(w, "c", id, big, sizeof big), ENTIDB_TOO_LARGE);
    CHECK_RC(entidb_txn_put(w, "c", id, NULL, 4), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put(w, NULL, id, v, small_map(v, 1)), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put(w, "c", NULL, v, small_map(v, 1)), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put(w, "", id, v, small_map(v, 1)), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put_json(w, "c", id, "1.0", 3), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put_json(w, "c", id, "{\"a\":1,\"a\":2}", 13), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_put_json(w, "c", id, "\"aaaaaaaaaaaaaaaaaaaaaaaa\"", 26), ENTIDB_TOO_LARGE);
    CHECK_RC(entidb_txn_put_json(w, "c", id, NULL, 2), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_delete(w, NULL, id, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_delete(w, "c", NULL, NULL), ENTIDB_INVALID_ARGUMENT);
    entidb_buffer got = {NULL, 0};
    CHECK_RC(entidb_txn_get(w, "c", id, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_get(w, NULL, id, &got), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_get(w, "c", NULL, &got), ENTIDB_INVALID_ARGUMENT);
    /* None of the refused writes changed anything: the transaction is still usable. */
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 1)), ENTIDB_OK);
    uint64_t seq = 0;
    CHECK_RC(entidb_txn_commit(w, &seq), ENTIDB_OK);
    CHECK(seq == 1);

    /* A read transaction cannot write; committing one ends it with ENTIDB_READ_ONLY. */
    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(r, "c", id, v, small_map(v, 2)), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_txn_put_json(r, "c", id, "1", 1), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_txn_delete(r, "c", id, NULL), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_txn_commit(r, &seq), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_txn_abort(r), ENTIDB_CLOSED);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

static void test_handles(void) {
    entidb_db* db = open_db("handles");
    entidb_txn* w = NULL;
    entidb_txn* w2 = NULL;
    uint8_t id[16], v[4];
    set_id(id, 1);

    /* One writer: a second begin on this thread is refused instead of deadlocking. */
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_begin_write(db, &w2), ENTIDB_WRITER_BUSY);
    CHECK(w2 == NULL);
    CHECK_RC(entidb_try_begin_write(db, &w2), ENTIDB_WRITER_BUSY);
    CHECK_RC(entidb_checkpoint(db), ENTIDB_WRITER_BUSY);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 1)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    /* Ended transactions: every call is ENTIDB_CLOSED. */
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_CLOSED);
    CHECK_RC(entidb_txn_abort(w), ENTIDB_CLOSED);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 1)), ENTIDB_CLOSED);
    entidb_buffer got = {NULL, 0};
    CHECK_RC(entidb_txn_get(w, "c", id, &got), ENTIDB_CLOSED);
    CHECK(strstr(entidb_last_error_message(), "closed") != NULL);
    CHECK_RC(entidb_try_begin_write(db, &w2), ENTIDB_OK);
    CHECK_RC(entidb_txn_abort(w2), ENTIDB_OK);
    CHECK_RC(entidb_txn_abort(w2), ENTIDB_CLOSED);

    /* NULL handles. */
    CHECK_RC(entidb_close(NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_abort(NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_commit(NULL, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_begin_read(NULL, &w), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_begin_read(db, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_begin_write(db, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_get(NULL, "c", id, &got), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_checkpoint(NULL), ENTIDB_INVALID_ARGUMENT);

    /* Made-up handles and handles of the wrong kind are never dereferenced. */
    int local = 0;
    CHECK_RC(entidb_close((entidb_db*)&local), ENTIDB_CLOSED);
    CHECK_RC(entidb_close((entidb_db*)(uintptr_t)0x12345), ENTIDB_CLOSED);
    CHECK_RC(entidb_close((entidb_db*)(uintptr_t)UINTPTR_MAX), ENTIDB_CLOSED);
    CHECK_RC(entidb_txn_abort((entidb_txn*)(uintptr_t)1), ENTIDB_CLOSED);
    CHECK_RC(entidb_txn_abort((entidb_txn*)db), ENTIDB_CLOSED);
    CHECK(strstr(entidb_last_error_message(), "database handle") != NULL);
    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    CHECK_RC(entidb_close((entidb_db*)r), ENTIDB_CLOSED);
    CHECK_RC(entidb_cursor_close((entidb_cursor*)r), ENTIDB_CLOSED);

    /* Closing the database ends its transactions and cursors, then refuses further use. */
    entidb_cursor* cur = NULL;
    CHECK_RC(entidb_scan_open(r, "c", &cur), ENTIDB_OK);
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 7)), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_CLOSED);  /* aborted by close */
    CHECK_RC(entidb_txn_abort(r), ENTIDB_CLOSED);
    CHECK_RC(entidb_cursor_next(cur, id, NULL), ENTIDB_CLOSED);
    CHECK_RC(entidb_cursor_close(cur), ENTIDB_CLOSED);
    CHECK_RC(entidb_close(db), ENTIDB_CLOSED); /* double close */
    CHECK_RC(entidb_get(db, "c", id, &got), ENTIDB_CLOSED);
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_CLOSED);
    CHECK(w == NULL);
    CHECK_RC(entidb_checkpoint(db), ENTIDB_CLOSED);

    /* The LOCK went with the close: reopening works, and the aborted write is absent. */
    entidb_db* again = open_db("handles");
    CHECK(again != db); /* the slot's generation changed */
    CHECK_RC(entidb_close(db), ENTIDB_CLOSED); /* the stale handle does not close the new one */
    set_id(id, 1);
    CHECK_RC(entidb_get(again, "c", id, &got), ENTIDB_OK);
    CHECK(got.len == 4 && got.data[3] == 1);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_close(again), ENTIDB_OK);
}

static void test_locked(void) {
    char path[512];
    make_path(path, sizeof path, "locked");
    entidb_db* a = NULL;
    entidb_db* b = NULL;
    CHECK_RC(entidb_open(path, NULL, &a), ENTIDB_OK);
    CHECK_RC(entidb_open(path, NULL, &b), ENTIDB_LOCKED);
    CHECK(b == NULL);
    CHECK(strstr(entidb_last_error_message(), "already open") != NULL);
    CHECK_RC(entidb_close(a), ENTIDB_OK);
    CHECK_RC(entidb_open(path, NULL, &b), ENTIDB_OK);
    CHECK_RC(entidb_close(b), ENTIDB_OK);

    /* The directory layout of the one open path (SPEC.md §3). */
    char file[600];
    struct stat sb;
    snprintf(file, sizeof file, "%s/LOCK", path);
    CHECK(stat(file, &sb) == 0);
    snprintf(file, sizeof file, "%s/MANIFEST", path);
    CHECK(stat(file, &sb) == 0);
    snprintf(file, sizeof file, "%s/wal.log", path);
    CHECK(stat(file, &sb) == 0);
    snprintf(file, sizeof file, "%s/SEGMENTS", path);
    CHECK(stat(file, &sb) == 0 && S_ISDIR(sb.st_mode));
}

/* ENTIDB_OPEN_READ_ONLY: reads work, every write is READ_ONLY, readers share the LOCK and a
 * writer excludes them; on a directory without a database nothing is created. */
static void test_read_only(void) {
    char path[512], empty[512], lock[600];
    make_path(path, sizeof path, "read-only");
    make_path(empty, sizeof empty, "read-only-empty");
    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.flags = ENTIDB_OPEN_READ_ONLY;
    entidb_db* db = NULL;
    entidb_db* other = NULL;

    CHECK(mkdir(empty, 0755) == 0);
    CHECK_RC(entidb_open(empty, &opts, &db), ENTIDB_NOT_FOUND);
    CHECK(strstr(entidb_last_error_message(), "no EntiDB database here") != NULL);
    snprintf(lock, sizeof lock, "%s/LOCK", empty);
    struct stat sb;
    CHECK(stat(lock, &sb) != 0); /* not even the LOCK */

    uint8_t id[16], v[4];
    set_id(id, 1);
    entidb_txn* txn = NULL;
    CHECK_RC(entidb_open(path, NULL, &db), ENTIDB_OK);
    CHECK_RC(entidb_begin_write(db, &txn), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(txn, "people", id, v, small_map(v, 1)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(txn, NULL), ENTIDB_OK);
    CHECK_RC(entidb_open(path, &opts, &other), ENTIDB_LOCKED); /* a writer holds it */
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    CHECK_RC(entidb_open(path, &opts, &db), ENTIDB_OK);
    CHECK_RC(entidb_open(path, &opts, &other), ENTIDB_OK); /* readers share it */
    CHECK_RC(entidb_close(other), ENTIDB_OK);
    CHECK_RC(entidb_open(path, NULL, &other), ENTIDB_LOCKED);
    entidb_buffer got = {0};
    CHECK_RC(entidb_get(db, "people", id, &got), ENTIDB_OK);
    CHECK(got.len == 4 && got.data[3] == 1);
    entidb_buffer_free(&got);
    CHECK_RC(entidb_begin_write(db, &txn), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_checkpoint(db), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_declare_text_index(db, "people", "name", 0), ENTIDB_READ_ONLY);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

/* Full-text indexes: declare (flags, idempotence, conflicts), search (scores best first, the
 * caller's capacity as the limit, both syntaxes), and bad input that changes nothing. */
static void put_text(entidb_txn* txn, unsigned n, const char* json) {
    uint8_t id[16];
    set_id(id, n);
    CHECK_RC(entidb_txn_put_json(txn, "docs", id, json, strlen(json)), ENTIDB_OK);
}

static size_t search(entidb_txn* txn, const char* path, const char* query, uint32_t syntax, entidb_text_hit* hits,
                     size_t capacity, int want) {
    size_t count = 99;
    CHECK_RC(entidb_txn_search(txn, "docs", path, query, strlen(query), syntax, hits, capacity, &count), want);
    if (want != ENTIDB_OK) CHECK(count == 0);
    return count;
}

static void test_text_search(void) {
    entidb_db* db = open_db("text");
    entidb_txn* txn = NULL;
    CHECK_RC(entidb_begin_write(db, &txn), ENTIDB_OK);
    put_text(txn, 1, "{\"body\": \"the quick brown fox jumps over the dog\", \"title\": \"runs\"}");
    put_text(txn, 2, "{\"body\": \"quick quick fox\", \"title\": \"running\"}");
    put_text(txn, 3, "{\"body\": \"a lazy dog sleeps\", \"title\": \"Caf\xc3\xa9 cr\xc3\xa8me\"}");
    CHECK_RC(entidb_declare_text_index(db, "docs", "body", 0), ENTIDB_WRITER_BUSY); /* would wait forever */
    CHECK_RC(entidb_txn_commit(txn, NULL), ENTIDB_OK);

    CHECK_RC(entidb_declare_text_index(db, "docs", "body", 0), ENTIDB_OK);
    CHECK_RC(entidb_declare_text_index(db, "docs", "body", 0), ENTIDB_OK); /* the same again */
    CHECK_RC(entidb_declare_text_index(db, "docs", "body", ENTIDB_TEXT_STEM_ENGLISH), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, "docs", "title", 0x80u), ENTIDB_INVALID_ARGUMENT);
    CHECK(strstr(entidb_last_error_message(), "flags") != NULL);
    CHECK_RC(entidb_declare_text_index(db, "docs", NULL, 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, NULL, "body", 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(NULL, "docs", "body", 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, "docs", "", 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, "docs", "a..b", 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, "", "body", 0), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_declare_text_index(db, "docs", "title", ENTIDB_TEXT_STEM_ENGLISH | ENTIDB_TEXT_KEEP_DIACRITICS),
             ENTIDB_OK);

    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    entidb_text_hit hits[4];
    size_t n = search(r, "body", "quick fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK);
    CHECK(n == 2 && hits[0].id[15] == 2 && hits[1].id[15] == 1); /* more of the words, shorter: first */
    CHECK(n == 2 && hits[0].score > hits[1].score && hits[1].score > 0);
    const double best = hits[0].score;
    CHECK(search(r, "body", "quick fox", ENTIDB_QUERY_FTS5, hits, 1, ENTIDB_OK) == 1); /* capacity is the limit */
    CHECK(hits[0].id[15] == 2 && hits[0].score == best);
    CHECK(search(r, "body", "quick fox", ENTIDB_QUERY_FTS5, NULL, 0, ENTIDB_OK) == 0);
    CHECK(search(r, "body", "\"brown fox\" OR sleep*", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 2);
    CHECK(search(r, "body", "fox NOT brown", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 1 && hits[0].id[15] == 2);
    CHECK(search(r, "title", "run", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 2);    /* stemmed */
    CHECK(search(r, "title", "cafe", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 0);   /* diacritics kept */
    CHECK(search(r, "title", "caf\xc3\xa9", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 1);

    /* A syntax error: invalid_argument naming the column; the array is not written. */
    memset(hits, 0xAB, sizeof hits);
    search(r, "body", "quick AND (fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_INVALID_ARGUMENT);
    CHECK(strstr(entidb_last_error_message(), "column") != NULL);
    CHECK(hits[0].id[0] == 0xAB && hits[0].id[15] == 0xAB);
    search(r, "body", "quick AND (fox", ENTIDB_QUERY_FTS5, NULL, 0, ENTIDB_INVALID_ARGUMENT); /* read with no room */
    /* The same text as plain words never fails: the AND of its words. */
    n = search(r, "body", "quick AND (fox", ENTIDB_QUERY_PLAIN, hits, 4, ENTIDB_OK);
    CHECK(n == 0); /* "and" is a word of neither */
    n = search(r, "body", "\"quick\" (fox)!*", ENTIDB_QUERY_PLAIN, hits, 4, ENTIDB_OK);
    CHECK(n == 2 && hits[0].id[15] == 2);
    search(r, "body", "", ENTIDB_QUERY_PLAIN, hits, 4, ENTIDB_OK);

    /* Bad input. */
    search(r, "body", "qu\xff", ENTIDB_QUERY_PLAIN, hits, 4, ENTIDB_INVALID_ARGUMENT); /* not UTF-8 */
    search(r, "body", "fox", 7u, hits, 4, ENTIDB_INVALID_ARGUMENT);                  /* no such syntax */
    search(r, "body", "fox", ENTIDB_QUERY_FTS5, NULL, 4, ENTIDB_INVALID_ARGUMENT);
    search(r, "nowhere", "fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_NO_SUCH_INDEX);
    search(r, NULL, "fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_search(r, "docs", "body", "fox", 3, ENTIDB_QUERY_FTS5, hits, 4, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_search(r, "docs", "body", NULL, 3, ENTIDB_QUERY_FTS5, hits, 4, &n), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_search(r, "docs", "body", NULL, 0, ENTIDB_QUERY_FTS5, hits, 4, &n), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_txn_search(r, "docs", "body", NULL, 0, ENTIDB_QUERY_PLAIN, hits, 4, &n), ENTIDB_OK);
    CHECK(n == 0);
    CHECK_RC(entidb_txn_search(r, "nobody", "body", "fox", 3, ENTIDB_QUERY_FTS5, hits, 4, &n), ENTIDB_OK);
    CHECK(n == 0); /* an unknown collection has no hits */
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);
    search(r, "body", "fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_CLOSED);
    CHECK_RC(entidb_begin_write(db, &txn), ENTIDB_OK);
    search(txn, "body", "fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_INVALID_ARGUMENT); /* read transactions only */
    CHECK_RC(entidb_txn_abort(txn), ENTIDB_OK);

    /* The declaration is in the MANIFEST: a reopened database searches at once. */
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    db = open_db("text");
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    CHECK(search(r, "body", "quick fox", ENTIDB_QUERY_FTS5, hits, 4, ENTIDB_OK) == 2 && hits[0].score == best);
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    CHECK_RC(entidb_declare_text_index(db, "docs", "body", 0), ENTIDB_CLOSED);
}

/* A writer on one thread; another thread's begin_write waits for it, try_begin_write does not;
 * closing from the other thread is refused while the writer is open. */
struct writer_state {
    entidb_db* db;
    int try_rc;
    int close_rc;
    int wrong_thread_commit_rc;
    entidb_txn* foreign;
    int begin_rc;
    int commit_rc;
};

static void* second_writer(void* arg) {
    struct writer_state* s = arg;
    entidb_txn* t = NULL;
    s->try_rc = entidb_try_begin_write(s->db, &t);
    s->close_rc = entidb_close(s->db);
    s->wrong_thread_commit_rc = entidb_txn_commit(s->foreign, NULL);
    return NULL;
}

static void* waiting_writer(void* arg) {
    struct writer_state* s = arg;
    entidb_txn* t = NULL;
    s->begin_rc = entidb_begin_write(s->db, &t); /* waits for the main thread's commit */
    uint8_t id[16], v[4];
    set_id(id, 2);
    if (s->begin_rc == ENTIDB_OK) {
        entidb_txn_put(t, "c", id, v, small_map(v, 2));
        s->commit_rc = entidb_txn_commit(t, NULL);
    }
    return NULL;
}

static void test_threads(void) {
    entidb_db* db = open_db("threads");
    entidb_txn* w = NULL;
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    struct writer_state s;
    memset(&s, 0, sizeof s);
    s.db = db;
    s.foreign = w;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, second_writer, &s) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(s.try_rc == ENTIDB_WRITER_BUSY);
    CHECK(s.close_rc == ENTIDB_WRITER_BUSY);
    CHECK(s.wrong_thread_commit_rc == ENTIDB_INVALID_ARGUMENT);

    CHECK(pthread_create(&t, NULL, waiting_writer, &s) == 0);
    const struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL); /* let it block in begin_write (not required for correctness) */
    uint8_t id[16], v[4];
    set_id(id, 1);
    CHECK_RC(entidb_txn_put(w, "c", id, v, small_map(v, 1)), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(s.begin_rc == ENTIDB_OK);
    CHECK(s.commit_rc == ENTIDB_OK);
    uint64_t last = 0;
    CHECK_RC(entidb_last_sequence(db, &last), ENTIDB_OK);
    CHECK(last == 2);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
}

/* The bytes of file `name` in database directory `dir` (malloc'd; *len set), or NULL. */
static uint8_t* read_db_file(const char* dir, const char* name, size_t* len) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* out = malloc(1 << 20);
    *len = fread(out, 1, 1 << 20, f);
    fclose(f);
    return out;
}

static int contains(const uint8_t* hay, size_t n, const char* needle) {
    const size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; ++i)
        if (memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

/* Whether the database files a refused open must not touch are as `before` holds them. */
static int db_files_equal(const char* dir, uint8_t* before[3], const size_t before_len[3]) {
    static const char* const names[3] = {"KEY", "MANIFEST", "wal.log"};
    int same = 1;
    for (int i = 0; i < 3; ++i) {
        size_t n = 0;
        uint8_t* now = read_db_file(dir, names[i], &n);
        same = same && now && n == before_len[i] && memcmp(now, before[i], n) == 0;
        free(now);
    }
    return same;
}

/* An encrypted database through entidb_open_encrypted: every entry point works on its handle, a
 * wrong or missing key is BAD_KEY with nothing changed, and bad key arguments are refused. */
static void test_encrypted(void) {
    static const char pass[] = "c-abi passphrase";
    static const char marker[] = "plaintext-marker-c";
    char path[512], plain[512];
    make_path(path, sizeof path, "encrypted");
    make_path(plain, sizeof plain, "plain-for-key");
    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.kdf_opslimit = 1; /* the cheapest Argon2id cost: tests only */
    opts.kdf_memlimit = 8192;
    const uint8_t* pw = (const uint8_t*)pass;
    entidb_db* db = NULL;
    CHECK_RC(entidb_open_encrypted(path, &opts, pw, strlen(pass), ENTIDB_KEY_PASSPHRASE, &db), ENTIDB_OK);

    uint8_t id[16], got_id[16];
    set_id(id, 1);
    entidb_txn* w = NULL;
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    char json[64];
    snprintf(json, sizeof json, "{\"body\":\"%s\"}", marker);
    CHECK_RC(entidb_txn_put_json(w, "docs", id, json, strlen(json)), ENTIDB_OK);
    uint8_t cbor[4];
    set_id(id, 2);
    CHECK_RC(entidb_txn_put(w, "docs", id, cbor, small_map(cbor, 7)), ENTIDB_OK);
    uint64_t seq = 0;
    CHECK_RC(entidb_txn_commit(w, &seq), ENTIDB_OK);
    CHECK(seq == 1);
    CHECK_RC(entidb_declare_text_index(db, "docs", "body", 0), ENTIDB_OK);
    entidb_buffer buf = {NULL, 0};
    set_id(id, 2);
    CHECK_RC(entidb_get(db, "docs", id, &buf), ENTIDB_OK);
    CHECK(buf.len == 4 && memcmp(buf.data, cbor, 4) == 0);
    entidb_buffer_free(&buf);
    entidb_txn* r = NULL;
    CHECK_RC(entidb_begin_read(db, &r), ENTIDB_OK);
    uint64_t count = 0;
    CHECK_RC(entidb_txn_count(r, "docs", &count), ENTIDB_OK);
    CHECK(count == 2);
    entidb_text_hit hits[2];
    size_t found = 0;
    CHECK_RC(entidb_txn_search(r, "docs", "body", marker, strlen(marker), ENTIDB_QUERY_PLAIN, hits, 2, &found), ENTIDB_OK);
    CHECK(found == 1);
    for (uint32_t order = ENTIDB_SCAN_ID_ORDER; order <= ENTIDB_SCAN_STORAGE_ORDER; ++order) {
        entidb_cursor* c = NULL;
        CHECK_RC(entidb_scan_open_ordered(r, "docs", order, &c), ENTIDB_OK);
        int n = 0;
        while (entidb_cursor_next(c, got_id, &buf) == ENTIDB_OK) {
            ++n;
            entidb_buffer_free(&buf);
        }
        CHECK(n == 2);
        CHECK_RC(entidb_cursor_close(c), ENTIDB_OK);
    }
    CHECK_RC(entidb_txn_abort(r), ENTIDB_OK);
    CHECK_RC(entidb_checkpoint(db), ENTIDB_OK);
    entidb_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_RC(entidb_stats_get(db, &st), ENTIDB_OK);
    CHECK(st.last_sequence == 1 && st.checkpoints >= 1);
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    /* Nothing of the payload in the files; a wrong or missing key changes none of them. */
    uint8_t* before[3];
    size_t before_len[3];
    before[0] = read_db_file(path, "KEY", &before_len[0]);
    before[1] = read_db_file(path, "MANIFEST", &before_len[1]);
    before[2] = read_db_file(path, "wal.log", &before_len[2]);
    CHECK(before[0] && before[1] && before[2]);
    for (int i = 0; i < 3; ++i) CHECK(before[i] && !contains(before[i], before_len[i], marker));
    uint8_t raw[32];
    memset(raw, 0x5a, sizeof raw);
    db = (entidb_db*)0x1;
    CHECK_RC(entidb_open(path, NULL, &db), ENTIDB_BAD_KEY);
    CHECK(db == NULL);
    CHECK_RC(entidb_open_encrypted(path, NULL, (const uint8_t*)"wrong", 5, ENTIDB_KEY_PASSPHRASE, &db), ENTIDB_BAD_KEY);
    CHECK(strstr(entidb_last_error_message(), "wrong") == NULL && strstr(entidb_last_error_message(), pass) == NULL);
    CHECK_RC(entidb_open_encrypted(path, NULL, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_BAD_KEY);
    CHECK(strcmp(entidb_error_name(entidb_last_error_code()), "bad_key") == 0);
    CHECK(db_files_equal(path, before, before_len));
    for (int i = 0; i < 3; ++i) free(before[i]);

    /* Bad key arguments: nothing opened. */
    CHECK_RC(entidb_open_encrypted(path, NULL, raw, 31, ENTIDB_KEY_RAW, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_open_encrypted(path, NULL, pw, 0, ENTIDB_KEY_PASSPHRASE, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_open_encrypted(path, NULL, NULL, 5, ENTIDB_KEY_PASSPHRASE, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_open_encrypted(path, NULL, pw, strlen(pass), 7, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK(db == NULL);

    /* The right key again, read-only; a key for a plain database is a bad key. */
    opts.flags = ENTIDB_OPEN_READ_ONLY;
    CHECK_RC(entidb_open_encrypted(path, &opts, pw, strlen(pass), ENTIDB_KEY_PASSPHRASE, &db), ENTIDB_OK);
    set_id(id, 1);
    CHECK_RC(entidb_db_scan_open(db, "docs", (entidb_cursor**)&r), ENTIDB_OK);
    CHECK_RC(entidb_cursor_next((entidb_cursor*)r, got_id, &buf), ENTIDB_OK);
    CHECK(memcmp(got_id, id, 16) == 0 && contains(buf.data, buf.len, marker));
    entidb_buffer_free(&buf);
    CHECK_RC(entidb_close(db), ENTIDB_OK); /* closes the cursor too */
    entidb_db* p = open_db("plain-for-key");
    CHECK_RC(entidb_close(p), ENTIDB_OK);
    CHECK_RC(entidb_open_encrypted(plain, NULL, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_BAD_KEY);

    /* A raw key makes a raw-key database. */
    make_path(path, sizeof path, "encrypted-raw");
    CHECK_RC(entidb_open_encrypted(path, NULL, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    CHECK_RC(entidb_open_encrypted(path, NULL, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);

    /* Since ABI 1.5, options->cipher: AES-256-GCM for a new database (the KEY file's cipher
     * byte, offset 6, says 2); a later open keeps it whatever the options say; an unknown
     * cipher is an invalid argument that creates nothing. */
    make_path(path, sizeof path, "encrypted-aes");
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.cipher = ENTIDB_CIPHER_AES256GCM;
    CHECK_RC(entidb_open_encrypted(path, &opts, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_OK);
    w = NULL;
    set_id(id, 9);
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_txn_put(w, "docs", id, (const uint8_t*)"\xa0", 1), ENTIDB_OK);
    CHECK_RC(entidb_txn_commit(w, NULL), ENTIDB_OK);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    size_t key_len = 0;
    uint8_t* key_file = read_db_file(path, "KEY", &key_len);
    CHECK(key_file && key_len > 6 && key_file[6] == ENTIDB_CIPHER_AES256GCM);
    free(key_file);
    opts.cipher = ENTIDB_CIPHER_XCHACHA20POLY1305;
    CHECK_RC(entidb_open_encrypted(path, &opts, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_OK);
    CHECK_RC(entidb_get(db, "docs", id, &buf), ENTIDB_OK);
    CHECK(buf.len == 1 && buf.data[0] == 0xa0);
    entidb_buffer_free(&buf);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    make_path(path, sizeof path, "encrypted-unknown-cipher");
    opts.cipher = 3;
    db = (entidb_db*)0x1;
    CHECK_RC(entidb_open_encrypted(path, &opts, raw, sizeof raw, ENTIDB_KEY_RAW, &db), ENTIDB_INVALID_ARGUMENT);
    CHECK(db == NULL && strstr(entidb_last_error_message(), "cipher") != NULL);
    key_file = read_db_file(path, "KEY", &key_len);
    CHECK(key_file == NULL);
}

/* ABI 1.6: entidb_sync's arguments and failures (the Python binding's tests sync with a real
 * server). A server that is not there is SYNC_UNREACHABLE and leaves the database unchanged. */
static void test_sync(void) {
    entidb_db* db = open_db("sync");
    entidb_sync_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    entidb_sync_report r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    CHECK_RC(entidb_sync(db, NULL, &r), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_INVALID_ARGUMENT); /* no url */
    o.url = "ftp://127.0.0.1:1";
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_INVALID_ARGUMENT);
    o.url = "http://127.0.0.1:1";
    o.collections = "a,,b";
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_INVALID_ARGUMENT);
    o.collections = NULL;
    o.struct_size = 8;
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_INVALID_ARGUMENT);
    o.struct_size = sizeof o;
    r.struct_size = 8;
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_INVALID_ARGUMENT);
    r.struct_size = sizeof r;
    uint64_t before = 0, after = 0;
    CHECK_RC(entidb_last_sequence(db, &before), ENTIDB_OK);
    CHECK_RC(entidb_sync(db, &o, &r), ENTIDB_SYNC_UNREACHABLE);
    CHECK(strstr(entidb_last_error_message(), "127.0.0.1:1") != NULL);
    CHECK(strcmp(entidb_error_name(ENTIDB_SYNC_UNREACHABLE), "sync_unreachable") == 0);
    CHECK(strcmp(entidb_error_name(ENTIDB_SYNC_REFUSED), "sync_refused") == 0);
    CHECK_RC(entidb_last_sequence(db, &after), ENTIDB_OK);
    CHECK(after == before);
    /* A write transaction open on this thread: the sync would wait for itself. */
    entidb_txn* w = NULL;
    CHECK_RC(entidb_begin_write(db, &w), ENTIDB_OK);
    CHECK_RC(entidb_sync(db, &o, NULL), ENTIDB_WRITER_BUSY);
    CHECK_RC(entidb_txn_abort(w), ENTIDB_OK);
    CHECK_RC(entidb_sync(NULL, &o, NULL), ENTIDB_INVALID_ARGUMENT);
    CHECK_RC(entidb_close(db), ENTIDB_OK);
    CHECK_RC(entidb_sync(db, &o, NULL), ENTIDB_CLOSED);
}

int main(void) {
    const char* tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof base_dir, "%s/entidb-abi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_versions_and_names();
    test_last_error();
    test_last_error_is_per_thread();
    test_ids();
    test_cbor_json();
    test_open_arguments();
    test_crud();
    test_scan();
    test_bad_writes();
    test_handles();
    test_locked();
    test_read_only();
    test_text_search();
    test_threads();
    test_encrypted();
    test_sync();
    nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
