/* tests/parity/run_c.c — runs the parity operations through the C ABI.
 *
 *   run_c OPS DB_DIR
 *
 * The same input and output lines as run_cpp.cpp and run_python.py (format in parity_test.py).
 * A C11 program using only include/entidb/c/entidb.h. With ENTIDB_PARITY_RAW_KEY set (64 hex
 * digits) it opens the database with entidb_open_encrypted under that raw key.
 */
#include <entidb/c/entidb.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8

static entidb_db* db = NULL;
static entidb_txn* write_txn = NULL;
static entidb_txn* read_txn = NULL;
static const char* db_path = NULL;

static void print_error(int rc) { printf("error %s\n", entidb_error_name(rc)); }

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Splits `line` in place at tabs. */
static int split_tabs(char* line, char* fields[MAX_FIELDS]) {
    int n = 0;
    fields[n++] = line;
    for (char* p = line; *p != '\0'; ++p) {
        if (*p == '\t' && n < MAX_FIELDS) {
            *p = '\0';
            fields[n++] = p + 1;
        }
    }
    for (int i = n; i < MAX_FIELDS; ++i) fields[i] = "";
    return n;
}

static void print_json_string(const char* s) {
    putchar('"');
    for (const unsigned char* p = (const unsigned char*)s; *p != '\0'; ++p) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* Prints the CBOR as the JSON bridge renders it; returns the code. */
static int print_cbor_json(const entidb_buffer* cbor) {
    entidb_buffer json = {NULL, 0};
    const int rc = entidb_cbor_to_json(cbor->data, cbor->len, &json);
    if (rc == ENTIDB_OK) fwrite(json.data, 1, json.len, stdout);
    entidb_buffer_free(&json);
    return rc;
}

static int open_db(char* f[], entidb_db** out) {
    entidb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.max_entity_bytes = strtoull(f[1], NULL, 10);
    opts.max_segment_size = strtoull(f[2], NULL, 10);
    opts.max_wal_size = strtoull(f[3], NULL, 10);
    const char* key_hex = getenv("ENTIDB_PARITY_RAW_KEY");
    if (key_hex == NULL) return entidb_open(db_path, &opts, out);
    if (strlen(key_hex) != 64) return ENTIDB_INVALID_ARGUMENT;
    uint8_t key[32];
    for (size_t i = 0; i < sizeof key; ++i) {
        const char pair[3] = {key_hex[2 * i], key_hex[2 * i + 1], '\0'};
        key[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return entidb_open_encrypted(db_path, &opts, key, sizeof key, ENTIDB_KEY_RAW, out);
}

/* The open read transaction, or a fresh one (*temporary is set to end it afterwards). */
static int snapshot(entidb_txn** out, int* temporary) {
    *temporary = 0;
    if (read_txn != NULL) {
        *out = read_txn;
        return ENTIDB_OK;
    }
    *temporary = 1;
    return entidb_begin_read(db, out);
}

static void run(char* f[]) {
    const char* op = f[0];
    int rc = ENTIDB_OK;
    uint8_t id[16];
    if (strcmp(op, "open") == 0) {
        rc = open_db(f, &db);
    } else if (strcmp(op, "open_again") == 0) {
        entidb_db* other = NULL;
        rc = open_db(f, &other);
        if (rc == ENTIDB_OK) entidb_close(other);
    } else if (strcmp(op, "close") == 0) {
        rc = entidb_close(db); /* also ends open transactions */
        db = NULL;
        write_txn = read_txn = NULL;
    } else if (strcmp(op, "begin_write") == 0) {
        rc = entidb_begin_write(db, &write_txn);
    } else if (strcmp(op, "begin_read") == 0) {
        rc = entidb_begin_read(db, &read_txn);
    } else if (strcmp(op, "end_read") == 0) {
        rc = entidb_txn_abort(read_txn);
        read_txn = NULL;
    } else if (strcmp(op, "commit") == 0) {
        uint64_t seq = 0;
        rc = entidb_txn_commit(write_txn, &seq);
        write_txn = NULL;
        if (rc == ENTIDB_OK) {
            printf("sequence %" PRIu64 "\n", seq);
            return;
        }
    } else if (strcmp(op, "abort") == 0) {
        rc = entidb_txn_abort(write_txn);
        write_txn = NULL;
    } else if (strcmp(op, "checkpoint") == 0) {
        rc = entidb_checkpoint(db);
    } else if (strcmp(op, "last_sequence") == 0) {
        uint64_t seq = 0;
        rc = entidb_last_sequence(db, &seq);
        if (rc == ENTIDB_OK) {
            printf("sequence %" PRIu64 "\n", seq);
            return;
        }
    } else if (strcmp(op, "put") == 0 || strcmp(op, "put_json") == 0) {
        rc = entidb_id_parse(f[2], id);
        if (rc == ENTIDB_OK) rc = entidb_txn_put_json(write_txn, f[1], id, f[3], strlen(f[3]));
    } else if (strcmp(op, "put_cbor") == 0) {
        const size_t n = strlen(f[3]) / 2;
        uint8_t* bytes = malloc(n + 1);
        for (size_t i = 0; i < n; ++i)
            bytes[i] = (uint8_t)(hex_value(f[3][2 * i]) * 16 + hex_value(f[3][2 * i + 1]));
        rc = entidb_id_parse(f[2], id);
        if (rc == ENTIDB_OK) rc = entidb_txn_put(write_txn, f[1], id, bytes, n);
        free(bytes);
    } else if (strcmp(op, "delete") == 0) {
        int existed = 0;
        rc = entidb_id_parse(f[2], id);
        if (rc == ENTIDB_OK) rc = entidb_txn_delete(write_txn, f[1], id, &existed);
        if (rc == ENTIDB_OK) {
            printf("existed %s\n", existed ? "true" : "false");
            return;
        }
    } else if (strcmp(op, "get") == 0) {
        entidb_buffer value = {NULL, 0};
        rc = entidb_id_parse(f[2], id);
        if (rc == ENTIDB_OK) {
            if (write_txn != NULL) rc = entidb_txn_get(write_txn, f[1], id, &value);
            else if (read_txn != NULL) rc = entidb_txn_get(read_txn, f[1], id, &value);
            else rc = entidb_get(db, f[1], id, &value);
        }
        if (rc == ENTIDB_NOT_FOUND) {
            printf("absent\n");
            return;
        }
        if (rc == ENTIDB_OK) {
            fputs("value ", stdout);
            rc = print_cbor_json(&value);
            putchar('\n');
        }
        entidb_buffer_free(&value);
        if (rc == ENTIDB_OK) return;
    } else if (strcmp(op, "count") == 0) {
        entidb_txn* s = NULL;
        int temporary = 0;
        uint64_t n = 0;
        rc = snapshot(&s, &temporary);
        if (rc == ENTIDB_OK) rc = entidb_txn_count(s, f[1], &n);
        if (temporary && s != NULL) entidb_txn_abort(s);
        if (rc == ENTIDB_OK) {
            printf("count %" PRIu64 "\n", n);
            return;
        }
    } else if (strcmp(op, "collections") == 0) {
        entidb_txn* s = NULL;
        int temporary = 0;
        entidb_buffer names = {NULL, 0};
        rc = snapshot(&s, &temporary);
        if (rc == ENTIDB_OK) rc = entidb_txn_collections(s, &names);
        if (temporary && s != NULL) entidb_txn_abort(s);
        if (rc == ENTIDB_OK) {
            fputs("names [", stdout);
            for (size_t at = 0; at < names.len; at += strlen((const char*)names.data + at) + 1) {
                if (at != 0) putchar(',');
                print_json_string((const char*)names.data + at);
            }
            puts("]");
        }
        entidb_buffer_free(&names);
        if (rc == ENTIDB_OK) return;
    } else if (strcmp(op, "scan") == 0) {
        entidb_cursor* cur = NULL;
        rc = read_txn != NULL ? entidb_scan_open(read_txn, f[1], &cur) : entidb_db_scan_open(db, f[1], &cur);
        if (rc == ENTIDB_OK) {
            fputs("items [", stdout);
            entidb_buffer value = {NULL, 0};
            int first = 1;
            while ((rc = entidb_cursor_next(cur, id, &value)) == ENTIDB_OK) {
                char hex[37];
                entidb_id_format(id, 0, hex);
                printf("%s[\"%s\",", first ? "" : ",", hex);
                print_cbor_json(&value);
                putchar(']');
                entidb_buffer_free(&value);
                first = 0;
            }
            puts("]");
            entidb_cursor_close(cur);
            if (rc == ENTIDB_NOT_FOUND) return;
            print_error(rc);
            return;
        }
    } else if (strcmp(op, "declare_text") == 0) {
        const uint32_t flags = (strcmp(f[3], "english") == 0 ? ENTIDB_TEXT_STEM_ENGLISH : 0u) |
                               (strcmp(f[4], "true") == 0 ? ENTIDB_TEXT_KEEP_DIACRITICS : 0u);
        rc = entidb_declare_text_index(db, f[1], f[2], flags);
    } else if (strcmp(op, "search") == 0) {
        entidb_txn* s = NULL;
        int temporary = 0;
        const size_t limit = (size_t)strtoull(f[4], NULL, 10);
        entidb_text_hit* hits = calloc(limit + 1, sizeof *hits); /* + 1: never a zero-byte allocation */
        size_t n = 0;
        const uint32_t syntax = strcmp(f[3], "plain") == 0 ? ENTIDB_QUERY_PLAIN : ENTIDB_QUERY_FTS5;
        rc = hits == NULL ? ENTIDB_OUT_OF_MEMORY : snapshot(&s, &temporary);
        if (rc == ENTIDB_OK) rc = entidb_txn_search(s, f[1], f[2], f[5], strlen(f[5]), syntax, hits, limit, &n);
        if (temporary && s != NULL) entidb_txn_abort(s);
        if (rc == ENTIDB_OK) {
            fputs("hits [", stdout);
            for (size_t i = 0; i < n; ++i) {
                char hex[37];
                entidb_id_format(hits[i].id, 0, hex);
                printf("%s[\"%s\",%.6g]", i == 0 ? "" : ",", hex, hits[i].score);
            }
            puts("]");
        }
        free(hits);
        if (rc == ENTIDB_OK) return;
    } else {
        puts("error unknown_operation");
        return;
    }
    if (rc == ENTIDB_OK) puts("ok");
    else print_error(rc);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: run_c OPS DB_DIR\n");
        return 2;
    }
    if ((entidb_abi_version() >> 16) != ENTIDB_ABI_VERSION_MAJOR) {
        fprintf(stderr, "run_c: library ABI %u, header ABI %u\n", (unsigned)entidb_abi_version(),
                (unsigned)ENTIDB_ABI_VERSION);
        return 2;
    }
    FILE* in = fopen(argv[1], "r");
    if (in == NULL) {
        perror(argv[1]);
        return 2;
    }
    db_path = argv[2];
    static char line[1 << 16];
    while (fgets(line, sizeof line, in) != NULL) {
        const size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
        char* fields[MAX_FIELDS];
        split_tabs(line, fields);
        run(fields);
    }
    fclose(in);
    if (db != NULL) entidb_close(db);
    return 0;
}
