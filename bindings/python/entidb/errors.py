"""EntiDB exceptions: one class per error code of the C ABI (docs/errors.md, docs/c-abi.md).

Every exception is an :class:`EntiDBError` carrying ``code`` (the stable number), ``name``
(``"locked"``, ``"non_canonical"``...) and the library's message. Absence is not an error:
``get`` returns a default instead of raising :class:`NotFoundError`.
"""

__all__ = [
    "EntiDBError", "NotFoundError", "InvalidArgumentError", "CorruptionError", "LockedError",
    "IoError", "OutcomeUnknownError", "NoSpaceError", "NeedsReopenError", "ReadOnlyError",
    "WriterBusyError", "TooLargeError", "UnsupportedVersionError", "InvalidCborError",
    "NonCanonicalError", "ScanForbiddenError", "UniqueViolationError", "ClosedError",
    "TypeMismatchError", "RotationUnsupportedError", "NoSuchIndexError", "BusyError", "SchemaMismatchError",
    "BadKeyError", "OutOfMemoryError", "SyncUnreachableError", "SyncRefusedError",
    "InternalError", "error_for_code",
]


class EntiDBError(Exception):
    """Base class of every EntiDB error. ``code`` is the C ABI / entidb::errc number."""

    code = None
    name = "unknown"

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


def _define(class_name, code, name, doc, bases=(EntiDBError,)):
    cls = type(class_name, bases, {"code": code, "name": name, "__doc__": doc})
    cls.__module__ = __name__
    return cls


NotFoundError = _define("NotFoundError", 1, "not_found", "The named thing does not exist.")
InvalidArgumentError = _define("InvalidArgumentError", 2, "invalid_argument",
                               "Unusable input (bad JSON, a float, an empty collection name...); nothing changed.",
                               (EntiDBError, ValueError))
CorruptionError = _define("CorruptionError", 3, "corruption", "On-disk bytes fail a check (the message names the file and offset).")
LockedError = _define("LockedError", 4, "locked", "The database directory is open elsewhere (this or another process).")
IoError = _define("IoError", 5, "io_error", "The operating system refused an I/O call.")
OutcomeUnknownError = _define("OutcomeUnknownError", 6, "outcome_unknown",
                              "A durable flush failed: the commit may or may not survive a reopen.")
NoSpaceError = _define("NoSpaceError", 7, "no_space", "The disk is full; the operation failed cleanly.")
NeedsReopenError = _define("NeedsReopenError", 8, "needs_reopen", "The database refuses writes until it is reopened.")
ReadOnlyError = _define("ReadOnlyError", 9, "read_only", "A write through a read transaction or a read-only open.")
WriterBusyError = _define("WriterBusyError", 10, "writer_busy", "Another write transaction is open.")
TooLargeError = _define("TooLargeError", 11, "too_large", "The encoded value exceeds max_entity_bytes.")
UnsupportedVersionError = _define("UnsupportedVersionError", 12, "unsupported_version",
                                  "A format version this build cannot open.")
InvalidCborError = _define("InvalidCborError", 13, "invalid_cbor", "Bytes that are not well-formed CBOR.",
                           (EntiDBError, ValueError))
NonCanonicalError = _define("NonCanonicalError", 14, "non_canonical", "Well-formed CBOR that is not canonical.",
                            (EntiDBError, ValueError))
ScanForbiddenError = _define("ScanForbiddenError", 15, "scan_forbidden", "A full scan while the options forbid it.")
UniqueViolationError = _define("UniqueViolationError", 16, "unique_violation", "A unique index already holds the key.")
ClosedError = _define("ClosedError", 17, "closed", "The database, transaction or cursor is closed or ended.")
TypeMismatchError = _define("TypeMismatchError", 18, "type_mismatch", "A value does not have the requested shape.")
RotationUnsupportedError = _define("RotationUnsupportedError", 19, "rotation_unsupported",
                                   "The segment factory cannot make another segment.")
NoSuchIndexError = _define("NoSuchIndexError", 20, "no_such_index", "An access path names an undeclared index.")
BusyError = _define("BusyError", 21, "busy",
                    "Open scans, transactions or cursors must end first; nothing changed.")
SchemaMismatchError = _define("SchemaMismatchError", 22, "schema_mismatch",
                              "The database is at another schema version than the caller requires.")
BadKeyError = _define("BadKeyError", 23, "bad_key",
                      "A wrong or missing key, or a key given for a database that is not encrypted.")
OutOfMemoryError = _define("OutOfMemoryError", -1, "out_of_memory", "The library ran out of memory.",
                           (EntiDBError, MemoryError))
InternalError = _define("InternalError", -2, "internal", "An unexpected C++ exception inside the library (a bug).")
SyncUnreachableError = _define("SyncUnreachableError", -3, "sync_unreachable",
                               "Database.sync: the server could not be reached or gave no usable answer.",
                               (EntiDBError, ConnectionError))
SyncRefusedError = _define("SyncRefusedError", -4, "sync_refused",
                           "Database.sync: the server refused (the message has its error code, e.g. unauthorized).")

_BY_CODE = {cls.code: cls for cls in (
    NotFoundError, InvalidArgumentError, CorruptionError, LockedError, IoError, OutcomeUnknownError,
    NoSpaceError, NeedsReopenError, ReadOnlyError, WriterBusyError, TooLargeError,
    UnsupportedVersionError, InvalidCborError, NonCanonicalError, ScanForbiddenError,
    UniqueViolationError, ClosedError, TypeMismatchError, RotationUnsupportedError, NoSuchIndexError,
    BusyError, SchemaMismatchError, BadKeyError, OutOfMemoryError, InternalError, SyncUnreachableError,
    SyncRefusedError)}


def error_for_code(code: int, message: str = "") -> "EntiDBError":
    """The exception for a C ABI code (an :class:`EntiDBError` for a code this version does not know)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return EntiDBError(message, code)
    return cls(message)
