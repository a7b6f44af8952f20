"""Python values <-> the JSON bridge text of the C++ library (docs/cbor.md). Internal.

Canonical CBOR is made and checked in C++ only: a value goes to bridge JSON here, and the
library's JSON bridge turns it into canonical CBOR (sorting map keys, choosing shortest forms,
refusing floats, out-of-range integers, lone surrogates, duplicate keys). Reading goes the other
way: the library renders the stored CBOR as bridge JSON, and this module builds Python values.

    None, bool, int, str          <-> null, true/false, integers, text
    bytes, bytearray, memoryview   -> byte string  -> bytes
    list, tuple                    -> array        -> list (tuple when used as a map key)
    dict                          <-> map (any hashable keys; non-text keys and key sets that look
                                      like a bridge form use {"$map": [[k, v], ...]})
    Tag(number, value)            <-> tag
    float                          -> refused by the library (InvalidArgumentError)

A map used as a map key (legal CBOR, rare) comes back as a tuple of (key, value) pairs, which is
hashable but would be stored as an array of arrays if written back.
"""

import json

from . import errors


class Tag:
    """A CBOR tag: ``Tag(1, 1700000000)`` is an epoch timestamp, for example."""

    __slots__ = ("number", "value")

    def __init__(self, number, value):
        self.number = number
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and self.number == other.number and self.value == other.value

    def __hash__(self):
        return hash((Tag, self.number, _hashable(self.value)))

    def __repr__(self):
        return f"Tag({self.number!r}, {self.value!r})"


_RESERVED_SINGLE = {"$bytes", "$map", "$float"}


def _looks_reserved(keys):
    if len(keys) == 1:
        return next(iter(keys)) in _RESERVED_SINGLE
    return len(keys) == 2 and set(keys) == {"$tag", "$value"}


def to_bridge(value, depth=0):
    """A JSON-serialisable structure in the bridge form; TypeError for an unsupported type."""
    if depth > 200:  # the library allows 64 levels; this only keeps Python's recursion bounded
        raise errors.InvalidArgumentError("invalid argument: value nested too deeply")
    if value is None or isinstance(value, (bool, int, str, float)):
        return value  # floats are passed on for the library to refuse with its typed error
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [to_bridge(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and not _looks_reserved(value.keys()):
            return {k: to_bridge(v, depth + 1) for k, v in value.items()}
        return {"$map": [[to_bridge(k, depth + 1), to_bridge(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, Tag):
        if not isinstance(value.number, int) or isinstance(value.number, bool) or value.number < 0:
            raise TypeError(f"a CBOR tag number is a non-negative int, not {value.number!r}")
        return {"$tag": value.number, "$value": to_bridge(value.value, depth + 1)}
    raise TypeError(f"cannot store a value of type {type(value).__name__} in EntiDB")


def dumps(value):
    """Bridge JSON text for a Python value (ASCII: the library decodes every escape itself)."""
    return json.dumps(to_bridge(value), ensure_ascii=True, allow_nan=True, separators=(",", ":"))


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((_hashable(k), _hashable(x)) for k, x in v.items())
    return v


def _object_hook(obj):
    if len(obj) == 1:
        if "$bytes" in obj:
            return bytes.fromhex(obj["$bytes"])
        if "$map" in obj:
            return {_hashable(k): v for k, v in obj["$map"]}
        if "$float" in obj:  # only for databases written with floats allowed
            return float(obj["$float"])
    if len(obj) == 2 and "$tag" in obj and "$value" in obj:
        return Tag(obj["$tag"], obj["$value"])
    return obj


def loads(text):
    """Python value from bridge JSON text (as entidb_cbor_to_json renders it)."""
    return json.loads(text, object_hook=_object_hook)
