/* entidb/c/entidb.h — the stable C ABI of EntiDB (SPEC.md §8), built as libentidb_c.
 *
 * Pure C (C99 or later, and C++): includes only <stddef.h> and <stdint.h>. docs/c-abi.md is
 * the long form of the rules below.
 *
 * Errors. Every function that can fail returns an `int`: ENTIDB_OK (0) or an error code. The
 * codes 0..21 are exactly `entidb::errc` (include/entidb/error.hpp, docs/errors.md) and stable;
 * the negative codes exist only at this boundary (ENTIDB_OUT_OF_MEMORY, ENTIDB_INTERNAL, and since
 * ABI 1.6 ENTIDB_SYNC_UNREACHABLE, ENTIDB_SYNC_REFUSED). Every
 * call that returns a code also sets the calling thread's last error: the code and a message
 * (the C++ error's what(): code text, detail, file and offset, errno text), or "" after
 * success. `entidb_last_error_message()` returns it; the pointer stays valid until the next
 * entidb_* call on the same thread. No C++ exception ever crosses this boundary.
 *
 * Absence. Lookups return ENTIDB_NOT_FOUND (1) when the entity does not exist, and a cursor
 * returns it when it is exhausted; nothing else is wrong in that case.
 *
 * Handles. `entidb_db`, `entidb_txn` and `entidb_cursor` are opaque tokens, not addresses: each
 * call looks its handle up in a table of live objects whose slots carry a generation count.
 * NULL gives ENTIDB_INVALID_ARGUMENT; a closed, ended, stale or made-up handle, or a handle of
 * the wrong kind, gives ENTIDB_CLOSED. So double close, use after close and use after commit
 * are reported, never a crash. Handles may be used from any thread; calls on one transaction or
 * cursor are serialised by the library.
 *   - A database handle lives from entidb_open to entidb_close. Closing it also ends every
 *     transaction and cursor opened from it (an open write transaction is aborted) and releases
 *     the directory's LOCK.
 *   - A transaction lives until entidb_txn_commit or entidb_txn_abort, which end it whatever
 *     they return, unless the handle itself is refused (NULL, ENTIDB_CLOSED, or a write
 *     transaction used from another thread). A read transaction is ended with entidb_txn_abort.
 *   - A write transaction belongs to the thread that began it (it holds the writer lock):
 *     put, put_json, delete, get, commit and abort from another thread give
 *     ENTIDB_INVALID_ARGUMENT (and change nothing). Closing the database while
 *     another thread's write transaction is open gives ENTIDB_WRITER_BUSY (nothing is closed).
 *   - A cursor lives until entidb_cursor_close (or until its database is closed). A cursor
 *     opened on a transaction stays valid after the transaction ends: it keeps its snapshot.
 *
 * Buffers. Bytes the library allocates come back in an `entidb_buffer` and are released only by
 * entidb_buffer_free. A function with a buffer out-parameter first sets it to {NULL, 0}, so the
 * buffer may be freed whatever the call returned; pass an empty (zeroed) buffer, or its old
 * contents leak. Every returned buffer has a NUL byte after its `len` bytes (not counted), so
 * JSON text can be used as a C string.
 *
 * Strings. Paths, collection names and JSON are UTF-8. Collection names are NUL-terminated;
 * JSON and CBOR inputs take a pointer and a length (NULL with length 0 is the empty input).
 * Entity ids are 16 raw bytes (`const uint8_t id[16]`); any 16 bytes are a valid id.
 *
 * Opening. entidb_open is the C++ entidb::open: the same directory open path (LOCK, MANIFEST,
 * wal.log, SEGMENTS/, recovery). A directory already open in this or another process gives
 * ENTIDB_LOCKED.
 */
#ifndef ENTIDB_C_ENTIDB_H
#define ENTIDB_C_ENTIDB_H

#include <stddef.h>
#include <stdint.h>

#if defined(ENTIDB_C_STATIC)
#define ENTIDB_C_API
#elif defined(_WIN32)
#if defined(ENTIDB_C_BUILDING)
#define ENTIDB_C_API __declspec(dllexport)
#else
#define ENTIDB_C_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define ENTIDB_C_API __attribute__((visibility("default")))
#else
#define ENTIDB_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ------------------------------------------------------------------------------ */

/* The ABI this header describes. A different major is incompatible; a higher minor only adds. */
#define ENTIDB_ABI_VERSION_MAJOR 1
#define ENTIDB_ABI_VERSION_MINOR 6
#define ENTIDB_ABI_VERSION ((ENTIDB_ABI_VERSION_MAJOR << 16) | ENTIDB_ABI_VERSION_MINOR)

/* The ABI of the loaded library: (major << 16) | minor. Compare its major with
 * ENTIDB_ABI_VERSION_MAJOR before using anything else. Never fails. */
ENTIDB_C_API uint32_t entidb_abi_version(void);

/* The library version, e.g. "1.0.0" (a static string). Never fails. */
ENTIDB_C_API const char* entidb_library_version(void);

/* ---- error codes (== entidb::errc; never renumbered) ------------------------------------- */

#define ENTIDB_OK 0
#define ENTIDB_NOT_FOUND 1             /* no such entity; a cursor is exhausted; no such directory */
#define ENTIDB_INVALID_ARGUMENT 2      /* NULL or unusable argument, bad JSON; nothing changed */
#define ENTIDB_CORRUPTION 3            /* on-disk bytes fail a check (message names file, offset) */
#define ENTIDB_LOCKED 4                /* the directory is open elsewhere (this or another process) */
#define ENTIDB_IO_ERROR 5              /* the OS refused an I/O call (message has the errno text) */
#define ENTIDB_OUTCOME_UNKNOWN 6       /* a durable flush failed: the commit may or may not survive */
#define ENTIDB_NO_SPACE 7              /* ENOSPC: failed cleanly, retry when space is back */
#define ENTIDB_NEEDS_REOPEN 8          /* the database refuses writes until reopened */
#define ENTIDB_READ_ONLY 9             /* a write through a read transaction, or a read-only open */
#define ENTIDB_WRITER_BUSY 10          /* another write transaction is open */
#define ENTIDB_TOO_LARGE 11            /* payload over max_entity_bytes or a length field */
#define ENTIDB_UNSUPPORTED_VERSION 12  /* a format version this build cannot open */
#define ENTIDB_INVALID_CBOR 13         /* not well-formed CBOR under EntiDB's rules */
#define ENTIDB_NON_CANONICAL 14        /* well-formed CBOR that is not canonical */
#define ENTIDB_SCAN_FORBIDDEN 15       /* a full scan while the options forbid it */
#define ENTIDB_UNIQUE_VIOLATION 16     /* a unique index already holds the key */
#define ENTIDB_CLOSED 17               /* closed / ended / stale / wrong-kind handle */
#define ENTIDB_TYPE_MISMATCH 18        /* a value does not have the requested shape */
#define ENTIDB_ROTATION_UNSUPPORTED 19 /* the segment factory cannot make another segment */
#define ENTIDB_NO_SUCH_INDEX 20        /* an access path names an undeclared index */
#define ENTIDB_BUSY 21                 /* open scans, transactions or cursors must end first */
#define ENTIDB_SCHEMA_MISMATCH 22      /* the database is at another schema version than required */
#define ENTIDB_BAD_KEY 23              /* a wrong or missing key, or a key for a database that is not encrypted */
/* Only at this boundary (no entidb::errc counterpart): */
#define ENTIDB_OUT_OF_MEMORY (-1)      /* std::bad_alloc */
#define ENTIDB_INTERNAL (-2)           /* any other C++ exception (a bug: please report it) */
#define ENTIDB_SYNC_UNREACHABLE (-3)   /* since ABI 1.6, entidb_sync: the server could not be reached or gave no usable answer */
#define ENTIDB_SYNC_REFUSED (-4)       /* since ABI 1.6, entidb_sync: the server refused (the message has its error code) */

/* The code's name without the prefix in lower case ("locked", "non_canonical", "out_of_memory"),
 * or "unknown" for a number that is not a code. A static string. Never fails. */
ENTIDB_C_API const char* entidb_error_name(int code);

/* The calling thread's last error message ("" after a successful call). Never NULL. Valid until
 * the next entidb_* call on this thread. */
ENTIDB_C_API const char* entidb_last_error_message(void);

/* The calling thread's last returned code (ENTIDB_OK after a successful call). */
ENTIDB_C_API int entidb_last_error_code(void);

/* ---- buffers -------------------------------------------------------------------------------- */

typedef struct entidb_buffer {
    uint8_t* data; /* NULL when empty; otherwise followed by one NUL byte not counted in len */
    size_t len;
} entidb_buffer;

/* Frees the bytes of a buffer the library filled and resets it to {NULL, 0}. NULL and an empty
 * buffer are no-ops, so freeing the same struct twice is safe (freeing a copy of it is not). */
ENTIDB_C_API void entidb_buffer_free(entidb_buffer* buffer);

/* ---- handles -------------------------------------------------------------------------------- */

typedef struct entidb_db entidb_db;
typedef struct entidb_txn entidb_txn;
typedef struct entidb_cursor entidb_cursor;

/* ---- opening and closing -------------------------------------------------------------------- */

#define ENTIDB_OPEN_NO_CREATE 0x1u        /* ENTIDB_NOT_FOUND, nothing created, where no database is */
#define ENTIDB_OPEN_FORBID_FULL_SCAN 0x2u /* scans fail with ENTIDB_SCAN_FORBIDDEN */
/* Since ABI 1.2: open without writing anything (never creates; a shared lock; recovery in
 * memory); every write gives ENTIDB_READ_ONLY. Works on a directory the caller may only read. */
#define ENTIDB_OPEN_READ_ONLY 0x4u
/* Since ABI 1.5: keep wal.log allocated at max_wal_size and overwrite it lap after lap
 * (entidb::wal_mode::recycled, docs/file-format.md "Recycled WAL"): a commit's fdatasync then
 * writes data only. The reference implementation cannot read such a wal.log. */
#define ENTIDB_OPEN_RECYCLED_WAL 0x8u

/* Options of entidb_open. Set struct_size = sizeof(entidb_options) and zero the rest for the
 * defaults: a zero number means "the C++ default" (entidb::config). The library reads only the
 * fields that fit in struct_size, so later versions may append fields. */
typedef struct entidb_options {
    uint32_t struct_size;
    uint32_t flags;            /* ENTIDB_OPEN_* */
    uint64_t max_wal_size;     /* checkpoint when wal.log grows past this (bytes) */
    uint64_t max_segment_size; /* seal a segment before it would pass this (bytes) */
    uint64_t max_entity_bytes; /* largest accepted payload (bytes) */
    /* Since ABI 1.4: the Argon2id cost of the passphrase of a database entidb_open_encrypted
     * creates (an existing database keeps the cost its KEY file records; entidb_open ignores
     * both). Zero: the C++ default, 3 passes over 256 MiB (about 0.5 s per open). */
    uint64_t kdf_opslimit;     /* Argon2id passes, at least 1 */
    uint64_t kdf_memlimit;     /* Argon2id memory in bytes, at least 8192 */
    /* Since ABI 1.5: the cipher of a database entidb_open_encrypted creates, ENTIDB_CIPHER_*
     * (an existing database keeps the cipher it was created with; entidb_open ignores it).
     * Zero: ENTIDB_CIPHER_XCHACHA20POLY1305. */
    uint32_t cipher;
    uint32_t reserved_; /* zero */
} entidb_options;

/* Since ABI 1.5: the ciphers of entidb_options.cipher (docs/encryption.md). */
#define ENTIDB_CIPHER_XCHACHA20POLY1305 1u /* the default: constant time on every CPU */
#define ENTIDB_CIPHER_AES256GCM 2u         /* 2-3x faster, on CPUs with AES-NI and CLMUL only */

/* Opens (or creates) the database directory `path` through the C++ open path and recovers it.
 * `options` may be NULL (defaults). On success *out is a new handle; on failure *out is NULL.
 * Errors: INVALID_ARGUMENT (NULL path or out, bad options, not a database directory), LOCKED,
 * NOT_FOUND (no database there, i.e. a missing directory or one without MANIFEST, with
 * ENTIDB_OPEN_NO_CREATE or ENTIDB_OPEN_READ_ONLY), READ_ONLY (a read-write open of a directory
 * the caller may not write), CORRUPTION, UNSUPPORTED_VERSION, IO_ERROR. */
ENTIDB_C_API int entidb_open(const char* path, const entidb_options* options, entidb_db** out);

/* Since ABI 1.4: the kind of key given to entidb_open_encrypted. */
#define ENTIDB_KEY_PASSPHRASE 1u /* any non-empty bytes; the key-encryption key comes from Argon2id */
#define ENTIDB_KEY_RAW 2u        /* exactly 32 bytes, used as the key-encryption key */

/* Since ABI 1.4: entidb_open for an encrypted database (docs/encryption.md): the C++
 * entidb::open<entidb::encrypted_file_storage>. `key` (`key_len` bytes, copied; the copy is
 * wiped when the database no longer needs it) is a passphrase or a raw key, as `key_kind` says.
 * A database this call creates is encrypted from its first byte (a passphrase at the cost
 * options->kdf_opslimit / kdf_memlimit). The handle works with every other entry point.
 * Errors: those of entidb_open, and BAD_KEY (a wrong key or a key of the other kind for an
 * encrypted database, or any key for one that is not encrypted: nothing read, nothing changed;
 * an encrypted database opened with entidb_open is BAD_KEY too), INVALID_ARGUMENT (NULL key with
 * a length, an empty passphrase, a raw key that is not 32 bytes, an unknown kind, a cost outside
 * Argon2id's limits). No message contains key bytes. */
ENTIDB_C_API int entidb_open_encrypted(const char* path, const entidb_options* options, const uint8_t* key,
                                       size_t key_len, uint32_t key_kind, entidb_db** out);

/* Ends every transaction and cursor of the database (aborting this thread's open write
 * transaction), releases the handle and the LOCK. Errors: INVALID_ARGUMENT (NULL), CLOSED
 * (already closed), WRITER_BUSY (another thread has a write transaction open: nothing closed). */
ENTIDB_C_API int entidb_close(entidb_db* db);

/* Writes a checkpoint and truncates the WAL; waits for an open writer on another thread.
 * Errors: WRITER_BUSY (this thread has a write transaction open on it), CLOSED, IO_ERROR, ... */
ENTIDB_C_API int entidb_checkpoint(entidb_db* db);

/* The sequence number of the last commit (0 for an empty database). */
ENTIDB_C_API int entidb_last_sequence(entidb_db* db, uint64_t* out);

typedef struct entidb_stats {
    uint32_t struct_size; /* set by the caller: sizeof(entidb_stats); only that much is written */
    uint32_t reserved_;
    uint64_t last_sequence;
    uint64_t commits;
    uint64_t checkpoints;
    uint64_t full_scans;
    uint64_t wal_bytes;
    uint64_t segment_count;
} entidb_stats;

/* Fills the counters of the open database. Errors: INVALID_ARGUMENT (NULL, struct_size too
 * small for the first counter), CLOSED. */
ENTIDB_C_API int entidb_stats_get(entidb_db* db, entidb_stats* out);

/* ---- transactions --------------------------------------------------------------------------- */

/* A snapshot of the last commit; never waits. End it with entidb_txn_abort. */
ENTIDB_C_API int entidb_begin_read(entidb_db* db, entidb_txn** out);

/* Starts the write transaction, waiting while another thread has one open. A second write
 * transaction on the thread that already has one gives ENTIDB_WRITER_BUSY (waiting would never
 * end). Errors: WRITER_BUSY, NEEDS_REOPEN, CLOSED. */
ENTIDB_C_API int entidb_begin_write(entidb_db* db, entidb_txn** out);

/* Like entidb_begin_write but never waits: ENTIDB_WRITER_BUSY if any write transaction is open. */
ENTIDB_C_API int entidb_try_begin_write(entidb_db* db, entidb_txn** out);

/* 1 for a write transaction, 0 for a read transaction. */
ENTIDB_C_API int entidb_txn_is_write(entidb_txn* txn, int* out);

/* The commit sequence the transaction's snapshot shows. */
ENTIDB_C_API int entidb_txn_sequence(entidb_txn* txn, uint64_t* out);

/* Stores `cbor` (canonical CBOR, at most max_entity_bytes) as the entity. Validated now:
 * TOO_LARGE, INVALID_CBOR, NON_CANONICAL; INVALID_ARGUMENT (NULL collection or id, NULL cbor
 * with len > 0, empty collection name); READ_ONLY (a read transaction); CLOSED. */
ENTIDB_C_API int entidb_txn_put(entidb_txn* txn, const char* collection, const uint8_t id[16],
                                const uint8_t* cbor, size_t len);

/* Stores the JSON text converted to canonical CBOR by the library's JSON bridge (docs/cbor.md:
 * integers only, {"$bytes":"hex"}, {"$tag":N,"$value":V}, {"$map":[[K,V],...]}). Errors as
 * entidb_txn_put, and INVALID_ARGUMENT for JSON the bridge refuses (message has the offset). */
ENTIDB_C_API int entidb_txn_put_json(entidb_txn* txn, const char* collection, const uint8_t id[16],
                                     const char* json, size_t len);

/* Deletes the entity. *existed (may be NULL) is 1 if it existed, else 0 (and nothing is written).
 * Errors: READ_ONLY, INVALID_ARGUMENT, CLOSED. */
ENTIDB_C_API int entidb_txn_delete(entidb_txn* txn, const char* collection, const uint8_t id[16], int* existed);

/* The entity's canonical CBOR as the transaction sees it (a write transaction sees its own
 * writes). ENTIDB_NOT_FOUND if it does not exist. */
ENTIDB_C_API int entidb_txn_get(entidb_txn* txn, const char* collection, const uint8_t id[16], entidb_buffer* out);

/* Live entities in the collection (0 for an unknown collection). Read transactions only: a write
 * transaction gives ENTIDB_INVALID_ARGUMENT. */
ENTIDB_C_API int entidb_txn_count(entidb_txn* txn, const char* collection, uint64_t* out);

/* The collection names of the snapshot, sorted, each followed by a NUL byte (len counts them
 * all; an empty buffer when there are none). Read transactions only. */
ENTIDB_C_API int entidb_txn_collections(entidb_txn* txn, entidb_buffer* out);

/* Makes the writes durable and visible; *sequence (may be NULL) receives the commit sequence.
 * Ends the transaction whatever the outcome (see "Handles"). ENTIDB_OUTCOME_UNKNOWN: the flush failed, the commit may or may
 * not survive a reopen. Read transactions give ENTIDB_READ_ONLY (and are ended too). */
ENTIDB_C_API int entidb_txn_commit(entidb_txn* txn, uint64_t* sequence);

/* Drops every write (write transaction) or the snapshot (read transaction); ends it.
 * Errors: INVALID_ARGUMENT (NULL), CLOSED (already ended). */
ENTIDB_C_API int entidb_txn_abort(entidb_txn* txn);

/* Convenience: entidb_txn_get in a fresh read snapshot. */
ENTIDB_C_API int entidb_get(entidb_db* db, const char* collection, const uint8_t id[16], entidb_buffer* out);

/* ---- scans ---------------------------------------------------------------------------------- */

/* An explicit full scan of the collection at the read transaction's snapshot, in id order (an
 * unknown collection is empty). Counted in the statistics. Errors: SCAN_FORBIDDEN,
 * INVALID_ARGUMENT (a write transaction cannot scan), CLOSED. */
ENTIDB_C_API int entidb_scan_open(entidb_txn* txn, const char* collection, entidb_cursor** out);

/* The same over a fresh snapshot of the database (the cursor holds it). */
ENTIDB_C_API int entidb_db_scan_open(entidb_db* db, const char* collection, entidb_cursor** out);

/* Scan orders for the _ordered variants (since ABI 1.1). ENTIDB_SCAN_ID_ORDER is what
 * entidb_scan_open gives. ENTIDB_SCAN_STORAGE_ORDER visits each live entity once in the order its
 * record lies in the segment files (roughly commit order; no order is promised), reading them
 * front to back: much faster than id order over a large collection. Until such a cursor is
 * exhausted or closed, a compaction of the database waits for it (at most its scan_wait, then
 * the compaction fails with ENTIDB_BUSY / errc::busy). */
#define ENTIDB_SCAN_ID_ORDER 0u
#define ENTIDB_SCAN_STORAGE_ORDER 1u

/* entidb_scan_open and entidb_db_scan_open in the given order. Errors: as theirs, and
 * INVALID_ARGUMENT for an unknown order (nothing is opened). */
ENTIDB_C_API int entidb_scan_open_ordered(entidb_txn* txn, const char* collection, uint32_t order,
                                          entidb_cursor** out);
ENTIDB_C_API int entidb_db_scan_open_ordered(entidb_db* db, const char* collection, uint32_t order,
                                             entidb_cursor** out);

/* The next entity: its id into id_out and its canonical CBOR into value_out (which may be NULL
 * to skip the payload copy). ENTIDB_NOT_FOUND once the scan is exhausted (and on every later
 * call). */
ENTIDB_C_API int entidb_cursor_next(entidb_cursor* cursor, uint8_t id_out[16], entidb_buffer* value_out);

/* Releases the cursor and its snapshot. Errors: INVALID_ARGUMENT (NULL), CLOSED. */
ENTIDB_C_API int entidb_cursor_close(entidb_cursor* cursor);

/* ---- full-text indexes (since ABI 1.3) ----------------------------------------------------- */

/* How a text index cuts and folds words (docs/indexes.md, "Full-text indexes"); fixed when it is
 * declared. 0 is the default: no stemming, diacritics removed ("é" finds "e"). */
#define ENTIDB_TEXT_STEM_ENGLISH 0x1u    /* English stemming: "running" finds "runs" */
#define ENTIDB_TEXT_KEEP_DIACRITICS 0x2u /* "é" and "e" stay different words */

/* Declares a full-text index on the text field at `path` (dotted, "address.city") of the
 * collection with the ENTIDB_TEXT_* flags, builds it from the collection's entities and records it
 * in the MANIFEST: C++ database::declare_index with text_index_options. Idempotent for the same
 * declaration; creates the collection when it is missing. Waits for an open writer on another
 * thread. Errors: INVALID_ARGUMENT (NULL collection or path, a collection name put refuses, a
 * path that is not a field path, unknown flags, another index already declared on the path;
 * nothing changed), WRITER_BUSY (this thread has a write transaction open on the database),
 * READ_ONLY, CLOSED, IO_ERROR. */
ENTIDB_C_API int entidb_declare_text_index(entidb_db* db, const char* collection, const char* path, uint32_t flags);

/* How entidb_txn_search reads its query. */
#define ENTIDB_QUERY_FTS5 0u  /* AND, OR, NOT, "phrases", prefix*, parentheses (SQLite FTS5's syntax) */
#define ENTIDB_QUERY_PLAIN 1u /* the words of the text, all required: never a syntax error */

/* One search hit: the entity and its BM25 score (positive; higher is better). */
typedef struct entidb_text_hit {
    uint8_t id[16];
    double score;
} entidb_text_hit;

/* The best hits of a full-text query on the text index on `path`, at the read transaction's
 * snapshot: at most `capacity` of them, best first, written to hits[0 .. *count). The caller
 * owns the array; nothing is allocated for it. `hits` may be NULL when capacity is 0 (the query
 * is still read and checked). The query is UTF-8 text of `query_len` bytes (NULL with length 0
 * is the empty query: a syntax error in ENTIDB_QUERY_FTS5, no hits in ENTIDB_QUERY_PLAIN). Errors (*count is 0, nothing written to hits):
 * INVALID_ARGUMENT (NULL collection, path or count, NULL hits with capacity > 0, an unknown
 * syntax, a query that is not valid UTF-8, an ENTIDB_QUERY_FTS5 query that does not parse: the
 * message names the column; a write transaction cannot search), NO_SUCH_INDEX (no text index on
 * the path of an existing collection), CLOSED. An unknown collection has no hits. */
ENTIDB_C_API int entidb_txn_search(entidb_txn* txn, const char* collection, const char* path, const char* query,
                                   size_t query_len, uint32_t syntax, entidb_text_hit* hits, size_t capacity,
                                   size_t* count);

/* ---- entity ids ----------------------------------------------------------------------------- */

/* A random UUID v4. Errors: INVALID_ARGUMENT (NULL), IO_ERROR (getrandom failed). */
ENTIDB_C_API int entidb_id_generate(uint8_t out[16]);

/* 32 hex digits or the 36-character UUID form. Errors: INVALID_ARGUMENT. */
ENTIDB_C_API int entidb_id_parse(const char* text, uint8_t out[16]);

/* Writes 32 lowercase hex digits (hyphenated = 0) or the UUID form (1) and a NUL into `out`,
 * which must hold 37 chars. */
ENTIDB_C_API int entidb_id_format(const uint8_t id[16], int hyphenated, char out[37]);

/* ---- CBOR and JSON -------------------------------------------------------------------------- */

/* JSON text to canonical CBOR through the JSON bridge. Errors: INVALID_ARGUMENT. */
ENTIDB_C_API int entidb_json_to_cbor(const char* json, size_t len, entidb_buffer* out);

/* Canonical CBOR to compact JSON (the same bridge; reads back to the same CBOR).
 * Errors: INVALID_CBOR, NON_CANONICAL, INVALID_ARGUMENT. */
ENTIDB_C_API int entidb_cbor_to_json(const uint8_t* cbor, size_t len, entidb_buffer* out);

/* ENTIDB_OK if the bytes are exactly one canonical CBOR item (what put accepts), else
 * INVALID_CBOR or NON_CANONICAL with the offset in the message. */
ENTIDB_C_API int entidb_cbor_validate(const uint8_t* cbor, size_t len);

/* ---- sync (since ABI 1.6) ------------------------------------------------------------------- */

/* Options of entidb_sync. Set struct_size = sizeof(entidb_sync_options); NULL strings take the
 * defaults. */
typedef struct entidb_sync_options {
    uint32_t struct_size;
    uint32_t reserved_;       /* zero */
    const char* url;          /* the server, http://HOST[:PORT] or https://HOST[:PORT]; required */
    const char* token;        /* a bearer token (entidb sync-token); NULL: none */
    const char* tenant;       /* the server-side database; NULL: "default" */
    const uint8_t* device;    /* 16 bytes: this database's device id on its first sync; NULL: the stored
                               * one, or a new random one. A database that has synced keeps its own. */
    const char* collections;  /* names separated by commas: only these are synced; NULL: all */
    const char* ca_file;      /* https: the CA (PEM) the server's certificate must chain to; NULL: the system's */
} entidb_sync_options;

/* What one entidb_sync did. Set struct_size = sizeof(entidb_sync_report). */
typedef struct entidb_sync_report {
    uint32_t struct_size;
    uint32_t reserved_;
    uint64_t pulled;    /* pulled operations applied to the database */
    uint64_t pushed;    /* operations pushed and answered */
    uint64_t conflicts; /* of those, conflicts (the server kept its version; the database now holds it) */
    uint64_t rejected;  /* of those, rejections */
    uint64_t cursor;    /* the last server sequence the database holds */
} entidb_sync_report;

/* One sync of the database with a sync server (docs/sync-protocol.md, "Client"): handshake, pull
 * everything, push every local change, pull again — the C++ entidb::sync_client over HTTP. Each
 * step is one local transaction: a process killed during the call loses nothing and applies
 * nothing twice. `report` may be NULL. Errors: INVALID_ARGUMENT (NULL db or options, a bad URL,
 * device, name or list, a device other than the one the database syncs as, or a library built
 * without sync), SYNC_UNREACHABLE (nothing listening, a broken connection, a timeout), SYNC_REFUSED
 * (401/403 and other refusals: the message names the server's code), WRITER_BUSY (this thread has a
 * write transaction open on the database), CLOSED, and the database's own errors. After an error the
 * database holds what the completed steps wrote; the next call goes on. */
ENTIDB_C_API int entidb_sync(entidb_db* db, const entidb_sync_options* options, entidb_sync_report* report);

#ifdef __cplusplus
}
#endif

#endif /* ENTIDB_C_ENTIDB_H */
