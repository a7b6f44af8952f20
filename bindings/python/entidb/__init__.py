"""EntiDB for Python: the standard library (ctypes) over the C ABI, libentidb_c.

    import entidb

    with entidb.open("notes.db") as db:
        note_id = entidb.new_id()
        with db.transaction() as txn:            # commits on success, aborts on an exception
            txn.put("notes", note_id, {"title": "hello", "stars": 3, "raw": b"\\x00"})
        print(db.get("notes", note_id))          # {'raw': b'\\x00', 'stars': 3, 'title': 'hello'}
        for entity_id, value in db.scan("notes"):  # an explicit full scan, in id order
            print(entity_id, value)
        db.declare_text_index("notes", "title")  # full text (docs/c-abi.md, "Full-text search")
        print(db.search("notes", "title", "hel*"))  # [(UUID(...), score), ...]: best first

Values are None, bool, int, str, bytes, list/tuple, dict and Tag; they become canonical CBOR in
the C++ library (see _convert.py for the mapping). Ids are uuid.UUID, 16 bytes, or their text
(32 hex digits or the UUID form); results give uuid.UUID. Errors are EntiDBError subclasses
(errors.py), one per code of the C ABI. The library is found through ENTIDB_C_LIBRARY, next to
this package, or on the system library path.

Threads: a Database may be shared between threads; a transaction belongs to the thread that
began it. The GIL is released during every library call.
"""

from __future__ import annotations

import ctypes
import os as _os
import threading as _threading
import uuid as _uuid
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _native, errors as _errors
from ._convert import Tag, dumps as _convert_dumps, loads as _convert_loads
from .errors import *  # noqa: F401,F403 - the exception hierarchy is part of the API
from .errors import InvalidArgumentError, ClosedError, WriterBusyError

__all__ = [
    "open", "Database", "WriteTransaction", "ReadTransaction", "Tag", "new_id", "parse_id",
    "encode", "decode", "json_to_cbor", "cbor_to_json", "abi_version", "library_version", "SyncReport",
    "EntityId", "Value", "Path",
] + _errors.__all__

#: What an entity id may be given as (results always give uuid.UUID).
EntityId = Union[_uuid.UUID, bytes, bytearray, memoryview, str]
#: A value EntiDB stores: None, bool, int, str, bytes, list/tuple, dict and Tag, nested.
Value = Any
#: A database directory's path.
Path = Union[str, bytes, "_os.PathLike[str]", "_os.PathLike[bytes]"]


class SyncReport(NamedTuple):
    """What one Database.sync did (the C ABI's entidb_sync_report)."""

    pulled: int
    pushed: int
    conflicts: int
    rejected: int
    cursor: int


_lib = _native.lib
_check = _native.check
_Buffer = _native.Buffer


def abi_version() -> Tuple[int, int]:
    """(major, minor) of the loaded C ABI."""
    v = _lib.entidb_abi_version()
    return (v >> 16, v & 0xFFFF)


def library_version() -> str:
    """The C++ library version, e.g. "1.0.0"."""
    return _lib.entidb_library_version().decode()


# ---- ids, collections, values -------------------------------------------------------------------

def new_id() -> _uuid.UUID:
    """A random UUID v4 from the library (the kernel's CSPRNG)."""
    out = ctypes.create_string_buffer(16)
    _check(_lib.entidb_id_generate(out))
    return _uuid.UUID(bytes=out.raw)


def parse_id(text: str) -> _uuid.UUID:
    """32 hex digits or the hyphenated UUID form, as the library parses it."""
    out = ctypes.create_string_buffer(16)
    _check(_lib.entidb_id_parse(text.encode("utf-8"), out))
    return _uuid.UUID(bytes=out.raw)


def _id_bytes(entity_id):
    if isinstance(entity_id, _uuid.UUID):
        return entity_id.bytes
    if isinstance(entity_id, (bytes, bytearray, memoryview)):
        raw = bytes(entity_id)
        if len(raw) != 16:
            raise InvalidArgumentError(f"invalid argument: an entity id is exactly 16 bytes, got {len(raw)}")
        return raw
    if isinstance(entity_id, str):
        return parse_id(entity_id).bytes
    raise TypeError(f"an entity id is a uuid.UUID, 16 bytes or a hex/UUID string, not {type(entity_id).__name__}")


def _c_string(text, what):
    """A str as the NUL-terminated UTF-8 the C ABI takes for names."""
    if not isinstance(text, str):
        raise TypeError(f"a {what} is a str, not {type(text).__name__}")
    raw = text.encode("utf-8")
    if b"\0" in raw:
        raise InvalidArgumentError(f"invalid argument: a {what} cannot contain NUL")
    return raw


def _collection(name):
    return _c_string(name, "collection name")


def json_to_cbor(text: str) -> bytes:
    """Canonical CBOR for bridge JSON text (the library's JSON bridge)."""
    return _native.json_to_cbor(text)


def cbor_to_json(cbor: bytes) -> str:
    """Bridge JSON text for canonical CBOR bytes."""
    return _native.cbor_to_json(cbor)


def encode(value: Value) -> bytes:
    """The canonical CBOR bytes EntiDB stores for a Python value (encoded by the library)."""
    return _native.json_to_cbor(_convert_dumps(value))


def decode(cbor: bytes) -> Value:
    """The Python value of canonical CBOR bytes (checked by the library)."""
    return _convert_loads(_native.cbor_to_json(cbor))


def _get(fn, handle, collection, entity_id):
    """CBOR bytes or None."""
    buf = _Buffer()
    rc = fn(handle, _collection(collection), _id_bytes(entity_id), ctypes.byref(buf))
    data = _native.take(buf)
    if rc == _native.NOT_FOUND:
        return None
    _check(rc)
    return data


def _scan(open_fn, handle, collection, storage_order):
    """Yields (UUID, value) from a cursor; closes it when the generator ends or is dropped."""
    cursor = ctypes.c_void_p()
    order = _native.SCAN_STORAGE_ORDER if storage_order else _native.SCAN_ID_ORDER
    _check(open_fn(handle, _collection(collection), order, ctypes.byref(cursor)))
    try:
        raw_id = ctypes.create_string_buffer(16)
        while True:
            buf = _Buffer()
            rc = _lib.entidb_cursor_next(cursor, raw_id, ctypes.byref(buf))
            data = _native.take(buf)
            if rc == _native.NOT_FOUND:
                return
            _check(rc)
            yield _uuid.UUID(bytes=raw_id.raw), decode(data)
    finally:
        _lib.entidb_cursor_close(cursor)


def _text_index_flags(stem, keep_diacritics):
    if stem not in (None, "english"):
        raise InvalidArgumentError(f"invalid argument: stem is None or 'english', not {stem!r}")
    return ((_native.TEXT_STEM_ENGLISH if stem == "english" else 0)
            | (_native.TEXT_KEEP_DIACRITICS if keep_diacritics else 0))


def _search(handle, collection, path, query, limit, plain):
    """[(UUID, score)] best first, through entidb_txn_search on a read transaction handle."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit is an int, not {type(limit).__name__}")
    if limit < 0:
        raise InvalidArgumentError(f"invalid argument: limit is {limit}; it cannot be negative")
    if isinstance(query, str):
        # surrogatepass: a lone surrogate reaches the library as invalid UTF-8, which it refuses.
        data = query.encode("utf-8", "surrogatepass")
    elif isinstance(query, (bytes, bytearray, memoryview)):
        data = bytes(query)
    else:
        raise TypeError(f"a query is a str or UTF-8 bytes, not {type(query).__name__}")
    args = (handle, _collection(collection), _c_string(path, "field path"), data, len(data),
            _native.QUERY_PLAIN if plain else _native.QUERY_FTS5)
    # The library writes into an array of ours. A large limit need not mean a large array: start
    # small and search again with more room only while the hits fill it (same snapshot, same hits).
    capacity = min(limit, 64)
    while True:
        hits = (_native.TextHit * capacity)()
        count = ctypes.c_size_t()
        _check(_lib.entidb_txn_search(*args, hits, capacity, ctypes.byref(count)))
        if count.value < capacity or capacity == limit:
            return [(_uuid.UUID(bytes=bytes(h.id)), h.score) for h in hits[:count.value]]
        capacity = min(limit, capacity * 8)


# ---- transactions -------------------------------------------------------------------------------

class _Transaction:
    def __init__(self, db, handle):
        self._db = db
        self._handle = handle
        self._thread = _threading.get_ident()

    def _end(self, fn, *args):
        """Calls commit/abort; forgets the handle unless the library refused to end it (a write
        transaction used from another thread: it stays open for its own thread)."""
        handle = self._live()
        rc = fn(handle, *args)
        if rc == _native.OK or not (isinstance(self, WriteTransaction) and _threading.get_ident() != self._thread):
            self._handle = None
        _check(rc)

    @property
    def closed(self) -> bool:
        """True once the transaction has ended (committed, aborted, or its database closed)."""
        return self._handle is None or self._db.closed

    def _live(self):
        if self._handle is None:
            raise ClosedError("closed: the transaction has already ended")
        return self._handle

    @property
    def sequence(self) -> int:
        """The commit sequence of the snapshot this transaction reads."""
        out = ctypes.c_uint64()
        _check(_lib.entidb_txn_sequence(self._live(), ctypes.byref(out)))
        return out.value

    def get_cbor(self, collection: str, entity_id: EntityId, default: Optional[bytes] = None) -> Optional[bytes]:
        """The entity's canonical CBOR bytes, or `default`."""
        data = _get(_lib.entidb_txn_get, self._live(), collection, entity_id)
        return default if data is None else data

    def get(self, collection: str, entity_id: EntityId, default: Value = None) -> Value:
        """The entity as a Python value, or `default` when it does not exist."""
        data = _get(_lib.entidb_txn_get, self._live(), collection, entity_id)
        return default if data is None else decode(data)

    def abort(self) -> None:
        """Ends the transaction; a write transaction's writes are dropped. Idempotent, and quiet
        about a transaction its database's close already ended."""
        if self._handle is not None:
            try:
                self._end(_lib.entidb_txn_abort)
            except ClosedError:
                pass

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and _lib is not None:
            try:
                _lib.entidb_txn_abort(handle)  # CLOSED if the database went first: harmless
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass


class WriteTransaction(_Transaction):
    """The single writer. As a context manager it commits when the block succeeds and aborts
    when it raises; the commit sequence is then in `commit_sequence`."""

    commit_sequence: Optional[int] = None

    def put(self, collection: str, entity_id: EntityId, value: Value) -> None:
        """Stores a Python value, converted to canonical CBOR by the library."""
        text = _convert_dumps(value).encode("utf-8")
        _check(_lib.entidb_txn_put_json(self._live(), _collection(collection), _id_bytes(entity_id), text, len(text)))

    def put_json(self, collection: str, entity_id: EntityId, text: Union[str, bytes]) -> None:
        """Stores bridge JSON text (docs/cbor.md) converted to canonical CBOR."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        _check(_lib.entidb_txn_put_json(self._live(), _collection(collection), _id_bytes(entity_id), data, len(data)))

    def put_cbor(self, collection: str, entity_id: EntityId, cbor: bytes) -> None:
        """Stores bytes that must already be canonical CBOR (checked by the library)."""
        data = bytes(cbor)
        _check(_lib.entidb_txn_put(self._live(), _collection(collection), _id_bytes(entity_id), data, len(data)))

    def delete(self, collection: str, entity_id: EntityId) -> bool:
        """Deletes the entity; True if it existed."""
        existed = ctypes.c_int()
        _check(_lib.entidb_txn_delete(self._live(), _collection(collection), _id_bytes(entity_id),
                                      ctypes.byref(existed)))
        return bool(existed.value)

    def commit(self) -> int:
        """Makes the writes durable and visible; returns the commit sequence. The transaction
        ends whatever happens (OutcomeUnknownError: it may or may not survive a reopen)."""
        seq = ctypes.c_uint64()
        self._end(_lib.entidb_txn_commit, ctypes.byref(seq))
        self.commit_sequence = seq.value
        return seq.value

    def __enter__(self) -> WriteTransaction:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if self._handle is None:
            return False
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


class ReadTransaction(_Transaction):
    """A consistent snapshot; never blocks and is never blocked by the writer."""

    def scan(self, collection: str, *, storage_order: bool = False) -> Iterator[Tuple[_uuid.UUID, Value]]:
        """Every entity of the collection at this snapshot, as (UUID, value), in id order; with
        storage_order=True in the order the records lie in the files (faster over a large
        collection, no order promised; a compaction in this process waits for the scan to end,
        for a bounded time, then fails with busy: exhaust or close scans you stop reading)."""
        return _scan(_lib.entidb_scan_open_ordered, self._live(), collection, storage_order)

    def search(self, collection: str, path: str, query: Union[str, bytes], limit: int = 10, *,
               plain: bool = False) -> List[Tuple[_uuid.UUID, float]]:
        """The best `limit` hits of a full-text query on the text index on `path`, as a list of
        (UUID, score) tuples, best first (BM25, positive, higher is better; equal scores: the
        entity indexed first). The query reads SQLite FTS5's syntax (AND, OR, NOT, "phrases", prefix*,
        parentheses; InvalidArgumentError naming the column when it does not parse); with
        plain=True it is plain words, all required, and never a syntax error. NoSuchIndexError
        when the collection has no text index on `path`."""
        return _search(self._live(), collection, path, query, limit, plain)

    def count(self, collection: str) -> int:
        """How many entities the collection holds at this snapshot."""
        out = ctypes.c_uint64()
        _check(_lib.entidb_txn_count(self._live(), _collection(collection), ctypes.byref(out)))
        return out.value

    def collections(self) -> List[str]:
        """The names of the collections that hold entities at this snapshot."""
        buf = _Buffer()
        rc = _lib.entidb_txn_collections(self._live(), ctypes.byref(buf))
        data = _native.take(buf)
        _check(rc)
        return [name.decode("utf-8") for name in data.split(b"\0")[:-1]]

    def close(self) -> None:
        """Ends the snapshot (abort; idempotent)."""
        self.abort()

    def __enter__(self) -> ReadTransaction:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.abort()
        return False


# ---- the database -------------------------------------------------------------------------------

class Database:
    """An open database directory. Close it (or use `with`) to release its LOCK."""

    def __init__(self, handle: int, path: Path) -> None:
        self._handle: Optional[int] = handle
        self.path = path

    def __repr__(self) -> str:
        return f"<entidb.Database {self.path!r}{' closed' if self._handle is None else ''}>"

    @property
    def closed(self) -> bool:
        """True once close() has released the database."""
        return self._handle is None

    def _live(self):
        if self._handle is None:
            raise ClosedError("closed: the database handle is closed")
        return self._handle

    def close(self) -> None:
        """Ends this database's transactions and cursors and releases the LOCK. Idempotent.

        Live transactions and scans do not keep the database open: they are ended (using them
        afterwards raises ClosedError; an open write transaction of this thread is aborted), and
        the LOCK is free when close returns, so the directory can be reopened at once. Raises
        WriterBusyError, closing nothing, while another thread's write transaction is open."""
        if self._handle is not None:
            rc = _lib.entidb_close(self._handle)
            if rc != WriterBusyError.code:  # busy: another thread's writer is open; nothing closed
                self._handle = None
            _check(rc)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.close()
        return False

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and _lib is not None:
            try:
                _lib.entidb_close(handle)
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    def transaction(self) -> WriteTransaction:
        """Begins the write transaction (waits while another thread has one open;
        WriterBusyError if this thread already has one)."""
        out = ctypes.c_void_p()
        _check(_lib.entidb_begin_write(self._live(), ctypes.byref(out)))
        return WriteTransaction(self, out.value)

    def try_transaction(self) -> WriteTransaction:
        """Begins the write transaction, or raises WriterBusyError at once."""
        out = ctypes.c_void_p()
        _check(_lib.entidb_try_begin_write(self._live(), ctypes.byref(out)))
        return WriteTransaction(self, out.value)

    def read(self) -> ReadTransaction:
        """A read transaction on the last commit (use `with`, or close() it)."""
        out = ctypes.c_void_p()
        _check(_lib.entidb_begin_read(self._live(), ctypes.byref(out)))
        return ReadTransaction(self, out.value)

    def get(self, collection: str, entity_id: EntityId, default: Value = None) -> Value:
        """The entity as a Python value in the latest snapshot, or `default`."""
        data = _get(_lib.entidb_get, self._live(), collection, entity_id)
        return default if data is None else decode(data)

    def get_cbor(self, collection: str, entity_id: EntityId, default: Optional[bytes] = None) -> Optional[bytes]:
        """The entity's canonical CBOR bytes in the latest snapshot, or `default`."""
        data = _get(_lib.entidb_get, self._live(), collection, entity_id)
        return default if data is None else data

    def scan(self, collection: str, *, storage_order: bool = False) -> Iterator[Tuple[_uuid.UUID, Value]]:
        """Every entity of the collection, as (UUID, value) in id order (or, with
        storage_order=True, in the order the records lie in the files), from one snapshot taken
        when iteration starts. An explicit full scan (counted; ScanForbiddenError if forbidden)."""
        return _scan(_lib.entidb_db_scan_open_ordered, self._live(), collection, storage_order)

    def declare_text_index(self, collection: str, path: str, *, stem: Optional[str] = None,
                           keep_diacritics: bool = False) -> None:
        """Declares a full-text index on the text field at `path` ("body", "address.city"):
        builds it from the collection's entities and records it in the database. stem="english"
        makes "running" find "runs"; keep_diacritics=True keeps "é" and "e" apart. Declaring the
        same index again does nothing; a different index on the same path raises
        InvalidArgumentError. Waits for another thread's writer (WriterBusyError on the thread
        that has one open)."""
        flags = _text_index_flags(stem, keep_diacritics)
        _check(_lib.entidb_declare_text_index(self._live(), _collection(collection), _c_string(path, "field path"),
                                              flags))

    def search(self, collection: str, path: str, query: Union[str, bytes], limit: int = 10, *,
               plain: bool = False) -> List[Tuple[_uuid.UUID, float]]:
        """ReadTransaction.search in a fresh snapshot."""
        with self.read() as snapshot:
            return snapshot.search(collection, path, query, limit, plain=plain)

    def count(self, collection: str) -> int:
        """ReadTransaction.count in a fresh snapshot."""
        with self.read() as snapshot:
            return snapshot.count(collection)

    def collections(self) -> List[str]:
        """ReadTransaction.collections in a fresh snapshot."""
        with self.read() as snapshot:
            return snapshot.collections()

    def checkpoint(self) -> None:
        """Writes a checkpoint and truncates the WAL."""
        _check(_lib.entidb_checkpoint(self._live()))

    def sync(self, url: str, *, token: Optional[str] = None, tenant: Optional[str] = None,
             device: Optional[EntityId] = None, collections: Optional[Sequence[str]] = None,
             ca_file: Optional[Union[str, "_os.PathLike[str]"]] = None) -> SyncReport:
        """One sync with the sync server at url ("http://HOST:PORT"; docs/sync-protocol.md,
        "Client"): pulls everything, pushes every local change, pulls again. token: a bearer
        token (str); tenant: the server-side database (default "default"); device: this
        database's device id on its first sync (str or bytes, default a random one); collections:
        only these (a list of names); ca_file: for https, the CA (PEM path) the server's certificate
        must chain to (default: the system's). Returns a SyncReport (pulled, pushed, conflicts, rejected,
        cursor). Raises SyncUnreachableError, SyncRefusedError, InvalidArgumentError."""
        if collections is not None and (isinstance(collections, (str, bytes)) or not collections):
            raise ValueError("collections is a non-empty list of names")
        opts = _native.SyncOptions()
        opts.struct_size = ctypes.sizeof(opts)
        opts.url = _c_string(url, "url")
        opts.token = _c_string(token, "token") if token is not None else None
        opts.tenant = _c_string(tenant, "tenant") if tenant is not None else None
        opts.device = _id_bytes(device) if device is not None else None
        opts.collections = _c_string(",".join(collections), "collections") if collections is not None else None
        opts.ca_file = _c_string(str(ca_file), "ca_file") if ca_file is not None else None
        report = _native.SyncReport()
        report.struct_size = ctypes.sizeof(report)
        _check(_lib.entidb_sync(self._live(), ctypes.byref(opts), ctypes.byref(report)))
        return SyncReport(report.pulled, report.pushed, report.conflicts, report.rejected, report.cursor)

    @property
    def last_sequence(self) -> int:
        """The sequence of the last commit."""
        out = ctypes.c_uint64()
        _check(_lib.entidb_last_sequence(self._live(), ctypes.byref(out)))
        return out.value

    def stats(self) -> Dict[str, int]:
        """Counters of the open database as a dict."""
        s = _native.Stats()
        s.struct_size = ctypes.sizeof(s)
        _check(_lib.entidb_stats_get(self._live(), ctypes.byref(s)))
        return {name: getattr(s, name) for name, _ in _native.Stats._fields_
                if name not in ("struct_size", "reserved_")}


def _key_argument(passphrase, raw_key):
    """(bytes, kind) for entidb_open_encrypted, or None without a key."""
    if passphrase is not None and raw_key is not None:
        raise ValueError("give passphrase or raw_key, not both")
    if passphrase is not None:
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        if not isinstance(passphrase, (bytes, bytearray)):
            raise TypeError("passphrase must be str or bytes")
        return bytes(passphrase), _native.KEY_PASSPHRASE
    if raw_key is not None:
        if not isinstance(raw_key, (bytes, bytearray)):
            raise TypeError("raw_key must be bytes (exactly 32)")
        return bytes(raw_key), _native.KEY_RAW
    return None


_CIPHERS = {"xchacha20poly1305": 1, "aes256gcm": 2}


def _cipher_argument(cipher):
    """The C ABI's ENTIDB_CIPHER_* for a cipher name (None: the default)."""
    if cipher is None:
        return 0
    if cipher not in _CIPHERS:
        raise ValueError(f"unknown cipher {cipher!r}: use one of {sorted(_CIPHERS)}")
    return _CIPHERS[cipher]


def open(path: Path, *, create: bool = True, forbid_full_scan: bool = False, max_wal_size: int = 0,  # noqa: A001
         max_segment_size: int = 0, max_entity_bytes: int = 0, readonly: bool = False,
         passphrase: Optional[Union[str, bytes]] = None, raw_key: Optional[bytes] = None, kdf_opslimit: int = 0,
         kdf_memlimit: int = 0, cipher: Optional[str] = None, wal: str = "append") -> Database:
    """Opens (or creates) the database directory through the one C++ open path.

    Numbers left at 0 keep the library defaults. passphrase (str, as UTF-8, or bytes) or
    raw_key (exactly 32 bytes) opens an encrypted database (docs/encryption.md), and makes the
    database it creates encrypted; kdf_opslimit and kdf_memlimit (bytes) set the Argon2id cost
    of a new database's passphrase (0: the default, about 0.5 s per open), and cipher
    ("xchacha20poly1305", the default, or "aes256gcm": faster, on CPUs with AES-NI) its cipher
    (an existing database keeps its own). wal="recycled" keeps wal.log allocated and overwrites
    it lap after lap (faster durable commits; docs/file-format.md, "Recycled WAL"), "append" (the
    default) is the layout the reference implementation reads. A wrong key, a key
    for a database that is not encrypted, or no key for an encrypted one raises BadKeyError
    (nothing changed). readonly=True opens without writing
    anything (never creates; a shared lock beside other read-only opens; writes raise
    ReadOnlyError), also where the directory may only be read. Raises LockedError if the
    directory is open elsewhere (for writing, or at all for a read-write open), NotFoundError
    if it holds no database (missing, or no MANIFEST) and create is False or readonly is
    True (nothing is created then), CorruptionError, ...
    """
    opts = _native.Options()
    opts.struct_size = ctypes.sizeof(opts)
    if wal not in ("append", "recycled"):
        raise ValueError(f"unknown WAL mode {wal!r}: use 'append' or 'recycled'")
    opts.flags = ((0 if create else _native.OPEN_NO_CREATE)
                  | (_native.OPEN_FORBID_FULL_SCAN if forbid_full_scan else 0)
                  | (_native.OPEN_READ_ONLY if readonly else 0)
                  | (_native.OPEN_RECYCLED_WAL if wal == "recycled" else 0))
    opts.max_wal_size = max_wal_size
    opts.max_segment_size = max_segment_size
    opts.max_entity_bytes = max_entity_bytes
    opts.kdf_opslimit = kdf_opslimit
    opts.kdf_memlimit = kdf_memlimit
    opts.cipher = _cipher_argument(cipher)
    key = _key_argument(passphrase, raw_key)
    if cipher is not None and key is None:
        raise ValueError("cipher chooses the cipher of an encrypted database: give passphrase or raw_key")
    fspath = _os.fsencode(path)
    out = ctypes.c_void_p()
    if key is None:
        _check(_lib.entidb_open(fspath, ctypes.byref(opts), ctypes.byref(out)))
    else:
        _check(_lib.entidb_open_encrypted(fspath, ctypes.byref(opts), key[0], len(key[0]), key[1], ctypes.byref(out)))
    return Database(out.value, path)
