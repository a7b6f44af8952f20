"""The ctypes layer over libentidb_c (include/entidb/c/entidb.h). Internal to the package.

The library is found, in order: the ENTIDB_C_LIBRARY environment variable (a path), a
libentidb_c.so* next to this package, then ctypes.util.find_library("entidb_c"). Its ABI major
must be ABI_MAJOR and its minor at least ABI_MINOR. Handles are kept as integers (c_void_p values); the library validates them.
"""

import ctypes
import ctypes.util
import glob
import os

from . import errors

ABI_MAJOR = 1
ABI_MINOR = 6  # 1.1: scans in storage order; 1.2: read-only opens; 1.3: full-text indexes; 1.4: encryption; 1.5: the cipher option; 1.6: sync

OK = 0
NOT_FOUND = 1


class Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_size_t)]


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("max_wal_size", ctypes.c_uint64),
        ("max_segment_size", ctypes.c_uint64),
        ("max_entity_bytes", ctypes.c_uint64),
        ("kdf_opslimit", ctypes.c_uint64),
        ("kdf_memlimit", ctypes.c_uint64),
        ("cipher", ctypes.c_uint32),
        ("reserved_", ctypes.c_uint32),
    ]


class Stats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved_", ctypes.c_uint32),
        ("last_sequence", ctypes.c_uint64),
        ("commits", ctypes.c_uint64),
        ("checkpoints", ctypes.c_uint64),
        ("full_scans", ctypes.c_uint64),
        ("wal_bytes", ctypes.c_uint64),
        ("segment_count", ctypes.c_uint64),
    ]


class SyncOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved_", ctypes.c_uint32),
        ("url", ctypes.c_char_p),
        ("token", ctypes.c_char_p),
        ("tenant", ctypes.c_char_p),
        ("device", ctypes.c_char_p),
        ("collections", ctypes.c_char_p),
        ("ca_file", ctypes.c_char_p),
    ]


class SyncReport(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved_", ctypes.c_uint32),
        ("pulled", ctypes.c_uint64),
        ("pushed", ctypes.c_uint64),
        ("conflicts", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
        ("cursor", ctypes.c_uint64),
    ]


class TextHit(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint8 * 16), ("score", ctypes.c_double)]


OPEN_NO_CREATE = 0x1
OPEN_FORBID_FULL_SCAN = 0x2
OPEN_READ_ONLY = 0x4
OPEN_RECYCLED_WAL = 0x8
KEY_PASSPHRASE = 1
KEY_RAW = 2
SCAN_ID_ORDER = 0
SCAN_STORAGE_ORDER = 1
TEXT_STEM_ENGLISH = 0x1
TEXT_KEEP_DIACRITICS = 0x2
QUERY_FTS5 = 0
QUERY_PLAIN = 1

_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_INT = ctypes.c_int
_STR = ctypes.c_char_p
_ID = ctypes.c_char_p          # 16 raw bytes (bytes objects pass as pointers)
_BYTES = ctypes.c_char_p       # data + explicit length: embedded NULs are fine
_SIZE = ctypes.c_size_t
_U64P = ctypes.POINTER(ctypes.c_uint64)
_BUFP = ctypes.POINTER(Buffer)

_PROTOTYPES = {
    "entidb_abi_version": (ctypes.c_uint32, []),
    "entidb_library_version": (_STR, []),
    "entidb_error_name": (_STR, [_INT]),
    "entidb_last_error_message": (_STR, []),
    "entidb_last_error_code": (_INT, []),
    "entidb_buffer_free": (None, [_BUFP]),
    "entidb_open": (_INT, [_STR, ctypes.POINTER(Options), _PP]),
    "entidb_open_encrypted": (_INT, [_STR, ctypes.POINTER(Options), _BYTES, _SIZE, ctypes.c_uint32, _PP]),
    "entidb_close": (_INT, [_P]),
    "entidb_checkpoint": (_INT, [_P]),
    "entidb_last_sequence": (_INT, [_P, _U64P]),
    "entidb_stats_get": (_INT, [_P, ctypes.POINTER(Stats)]),
    "entidb_begin_read": (_INT, [_P, _PP]),
    "entidb_begin_write": (_INT, [_P, _PP]),
    "entidb_try_begin_write": (_INT, [_P, _PP]),
    "entidb_txn_is_write": (_INT, [_P, ctypes.POINTER(_INT)]),
    "entidb_txn_sequence": (_INT, [_P, _U64P]),
    "entidb_txn_put": (_INT, [_P, _STR, _ID, _BYTES, _SIZE]),
    "entidb_txn_put_json": (_INT, [_P, _STR, _ID, _BYTES, _SIZE]),
    "entidb_txn_delete": (_INT, [_P, _STR, _ID, ctypes.POINTER(_INT)]),
    "entidb_txn_get": (_INT, [_P, _STR, _ID, _BUFP]),
    "entidb_txn_count": (_INT, [_P, _STR, _U64P]),
    "entidb_txn_collections": (_INT, [_P, _BUFP]),
    "entidb_txn_commit": (_INT, [_P, _U64P]),
    "entidb_txn_abort": (_INT, [_P]),
    "entidb_get": (_INT, [_P, _STR, _ID, _BUFP]),
    "entidb_scan_open": (_INT, [_P, _STR, _PP]),
    "entidb_db_scan_open": (_INT, [_P, _STR, _PP]),
    "entidb_scan_open_ordered": (_INT, [_P, _STR, ctypes.c_uint32, _PP]),
    "entidb_db_scan_open_ordered": (_INT, [_P, _STR, ctypes.c_uint32, _PP]),
    "entidb_cursor_next": (_INT, [_P, ctypes.c_char_p, _BUFP]),
    "entidb_cursor_close": (_INT, [_P]),
    "entidb_declare_text_index": (_INT, [_P, _STR, _STR, ctypes.c_uint32]),
    "entidb_txn_search": (_INT, [_P, _STR, _STR, _BYTES, _SIZE, ctypes.c_uint32, ctypes.POINTER(TextHit), _SIZE,
                                 ctypes.POINTER(_SIZE)]),
    "entidb_id_generate": (_INT, [ctypes.c_char_p]),
    "entidb_id_parse": (_INT, [_STR, ctypes.c_char_p]),
    "entidb_id_format": (_INT, [_ID, _INT, ctypes.c_char_p]),
    "entidb_json_to_cbor": (_INT, [_BYTES, _SIZE, _BUFP]),
    "entidb_cbor_to_json": (_INT, [_BYTES, _SIZE, _BUFP]),
    "entidb_cbor_validate": (_INT, [_BYTES, _SIZE]),
    "entidb_sync": (_INT, [_P, ctypes.POINTER(SyncOptions), ctypes.POINTER(SyncReport)]),
}


def _candidates():
    env = os.environ.get("ENTIDB_C_LIBRARY")
    if env:
        yield env
        return  # an explicit choice: do not fall back to another copy
    here = os.path.dirname(os.path.abspath(__file__))
    yield from sorted(glob.glob(os.path.join(here, "libentidb_c.so*")))
    found = ctypes.util.find_library("entidb_c")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        # The version first: a library too old for this package lacks some of its functions.
        lib.entidb_abi_version.restype = ctypes.c_uint32
        lib.entidb_abi_version.argtypes = []
        version = lib.entidb_abi_version()
        major, minor = version >> 16, version & 0xFFFF
        if major != ABI_MAJOR or minor < ABI_MINOR:
            raise ImportError(f"{path} has EntiDB C ABI {major}.{minor}; this package needs "
                              f"{ABI_MAJOR}.{ABI_MINOR} or a later {ABI_MAJOR}.x")
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        return lib
    detail = "; ".join(tried) if tried else "no candidate found"
    raise ImportError("cannot load libentidb_c (set ENTIDB_C_LIBRARY to its path): " + detail)


lib = _load()


def raise_for(rc):
    """Raises the exception for a non-zero code, with the calling thread's message."""
    message = lib.entidb_last_error_message()
    raise errors.error_for_code(rc, message.decode("utf-8", "replace") if message else "")


def check(rc):
    if rc != OK:
        raise_for(rc)
    return rc


def take(buffer):
    """The bytes of a library buffer; frees the buffer."""
    try:
        if not buffer.data:
            return b""
        return ctypes.string_at(buffer.data, buffer.len)
    finally:
        lib.entidb_buffer_free(ctypes.byref(buffer))


def json_to_cbor(text):
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    buf = Buffer()
    rc = lib.entidb_json_to_cbor(data, len(data), ctypes.byref(buf))
    out = take(buf)
    check(rc)
    return out


def cbor_to_json(cbor):
    data = bytes(cbor)
    buf = Buffer()
    rc = lib.entidb_cbor_to_json(data, len(data), ctypes.byref(buf))
    out = take(buf)
    check(rc)
    return out.decode("utf-8")
