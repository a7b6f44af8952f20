#!/usr/bin/env python3
"""Black-box acceptance tests of the `entidb` command-line tool.

The tool is driven the way a user's program drives it: through its command line, its stdout and
stderr, its exit codes and the files it leaves in the database directory. Nothing here links to
or includes the library. The tool's path comes from the environment variable ENTIDB_TOOL; every
test works in its own fresh temporary directory.

The interface under test (the project's issues; SPEC.md for the on-disk layout):
  exit codes 0 ok, 1 not found, 2 bad usage or bad input, 3 corruption, 4 locked, 5 other I/O;
  output on stdout, errors as `error: <message>` on stderr; a failing command on bad input leaves
  the database byte-for-byte unchanged.

Standard library only. Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_tool.py
"""

import json
import os
import queue
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

from tool_support import cbor_encode

TOOL = os.environ.get("ENTIDB_TOOL", "")
TIMEOUT = 120  # seconds for one tool run; generous for slow, shared CI machines

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_CORRUPTION, EXIT_LOCKED, EXIT_IO = 0, 1, 2, 3, 4, 5

ID1 = "00000000000000000000000000000001"
ID2 = "00000000000000000000000000000002"
ID3 = "00000000000000000000000000000003"
ABSENT = "0123456789abcdef0123456789abcdef"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
BIG = 1 << 20  # an option value every command must accept and that changes nothing here


# ---- running the tool ---------------------------------------------------------------------------


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8", errors="replace")
        self.err = proc.stderr.decode("utf-8", errors="replace")

    def __repr__(self):
        return "entidb {!r} -> exit {}\n  stdout: {!r}\n  stderr: {!r}".format(
            self.argv, self.code, self.out[:2000], self.err[:2000])


def run(*args, timeout=TIMEOUT, **kwargs):
    """Runs the tool with `args` (str, bytes or Path) and returns a Result."""
    argv = [a if isinstance(a, bytes) else str(a) for a in args]
    proc = subprocess.run([TOOL] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, **kwargs)
    return Result(argv, proc)


def snapshot(path):
    """Every directory and file under `path` with the bytes of each file (None if absent)."""
    path = Path(path)
    if not path.exists():
        return None
    out = {}
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        out[rel + "/"] = None
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.join(rel, f)] = fh.read()
    return out


def describe_change(before, after):
    if before is None or after is None:
        return "existed before: {}, exists after: {}".format(before is not None, after is not None)
    changed = []
    for k in sorted(set(before) | set(after)):
        if k not in before:
            changed.append("created " + k)
        elif k not in after:
            changed.append("removed " + k)
        elif before[k] != after[k]:
            changed.append("changed {} ({} -> {} bytes)".format(k, len(before[k]), len(after[k])))
    return ", ".join(changed)


class LineReader:
    """Reads a child's stdout lines in a thread, so that a test can wait for one with a timeout."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for line in iter(stream.readline, b""):
            self.q.put(line.decode("utf-8", errors="replace"))
        self.q.put(None)

    def get(self, timeout=60):
        return self.q.get(timeout=timeout)


# ---- canonical forms computed independently of the tool --------------------------------------


def key_order(k):
    """Canonical CBOR order of text keys: by encoded bytes, i.e. shorter UTF-8 first, then bytewise."""
    b = k.encode("utf-8")
    return (len(b), b)


def canonical_json(v):
    """Compact JSON with keys in canonical CBOR order (for values without control characters)."""
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical_json(v[k])
                              for k in sorted(v, key=key_order)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical_json(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def pairs(text):
    """json.loads keeping objects as lists of (key, value) pairs, to check key order."""
    return json.loads(text, object_pairs_hook=lambda p: p)


def assert_compact(tc, text):
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    tc.assertFalse(re.search(r"\s", outside_strings), "not compact JSON: {!r}".format(text))


# ---- the on-disk formats (SPEC.md section 3), to damage a record precisely ------------------


def wal_records(data):
    """[(offset, type, total length)] of the WAL records in `data`."""
    out, off = [], 0
    while off < len(data):
        assert data[off:off + 4] == b"EWAL", "no WAL magic at {}".format(off)
        rtype = data[off + 6]
        length = struct.unpack_from("<I", data, off + 7)[0]
        total = 4 + 2 + 1 + 4 + length + 4
        out.append((off, rtype, total))
        off += total
    return out


def segment_records(data):
    """[(offset, total length)] of the segment records in `data`."""
    out, off = [], 0
    while off < len(data):
        n = struct.unpack_from("<I", data, off)[0]
        assert n >= 37 and off + n <= len(data), "bad record length {} at {}".format(n, off)
        out.append((off, n))
        off += n
    return out


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


def offsets_in(text):
    return [int(x) for x in re.findall(r"offset\D{0,3}(\d+)", text)]


# ---- base class ---------------------------------------------------------------------------------


class ToolTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            self.fail("ENTIDB_TOOL must name the entidb executable (got {!r})".format(TOOL))
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-tool-")
        self.tmp = Path(self._tmp.name)
        self.db = self.tmp / "db"

    def tearDown(self):
        self._tmp.cleanup()

    # assertions ----------------------------------------------------------------------------

    def ok(self, *args, **kwargs):
        r = run(*args, **kwargs)
        self.assertEqual(r.code, EXIT_OK, r)
        self.assertEqual(r.err, "", r)
        return r

    def assertError(self, r, code, stdout_empty=True):
        """Exit `code`, and the error reported as `error: <message>` on stderr."""
        self.assertEqual(r.code, code, r)
        self.assertTrue(r.err.startswith("error: "), "stderr does not start with 'error: ': {!r}".format(r))
        self.assertGreater(len(r.err.splitlines()[0]), len("error: "), r)
        if stdout_empty:
            self.assertEqual(r.out, "", r)

    def assertUnchanged(self, before, path, r):
        after = snapshot(path)
        self.assertTrue(before == after, "the database changed: {}\n{!r}".format(describe_change(before, after), r))

    # helpers -------------------------------------------------------------------------------

    def put(self, coll, eid, value, db=None):
        text = value if isinstance(value, (str, bytes)) else json.dumps(value)
        r = self.ok("put", db or self.db, coll, eid, text)
        return r.out.strip()

    def get(self, coll, eid, db=None):
        return self.ok("get", db or self.db, coll, eid).out

    def roundtrip(self, text):
        """put `text`, get it back; returns the printed line without its newline."""
        self.put("c", ID1, text)
        out = self.get("c", ID1)
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1, repr(out))
        return out[:-1]

    def make_db(self):
        self.put("c", ID1, {"a": 1})
        self.put("c", ID2, {"b": [1, 2]})
        self.put("other", ID1, {"x": "y"})
        return snapshot(self.db)

    def inspect_json(self, db=None):
        r = self.ok("inspect", db or self.db, "--json")
        return json.loads(r.out)

    def load(self, coll, txns, per_txn, *extra, db=None):
        r = self.ok("load", db or self.db, coll, "--txns", txns, "--per-txn", per_txn, *extra)
        return r.out.splitlines()


# ================================================================================================
# entidb version, entidb cbor HEX
# ================================================================================================


class VersionTest(ToolTest):
    def test_version_prints_the_project_version(self):
        r = self.ok("version")
        self.assertEqual(r.out.count("\n"), 1, r)
        self.assertRegex(r.out, r"\d+\.\d+\.\d+", r)
        meson = Path(__file__).resolve().parents[2] / "meson.build"
        if meson.exists():
            m = re.search(r"project\([^)]*?\bversion\s*:\s*'([^']+)'", meson.read_text(), re.S)
            if m:
                self.assertIn(m.group(1), r.out, r)

    def test_version_takes_no_arguments(self):
        self.assertError(run("version", "extra"), EXIT_USAGE)


# RFC 8949 Appendix A examples that are canonical under the default (no-float) rules.
CANONICAL_VECTORS = [
    "00", "01", "0a", "17", "1818", "1819", "1864", "1903e8", "1a000f4240", "1b000000e8d4a51000",
    "1bffffffffffffffff", "c249010000000000000000", "3bffffffffffffffff", "c349010000000000000000",
    "20", "29", "3863", "3903e7", "f4", "f5", "f6",
    "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0", "d74401020304",
    "d818456449455446", "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
    "40", "4401020304", "60", "6161", "6449455446", "62225c", "62c3bc", "63e6b0b4", "64f0908591",
    "80", "83010203", "8301820203820405",
    "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
    "a0", "a201020304", "a26161016162820203", "826161a161626163",
    "a56161614161626142616361436164614461656145",
    # shorter text keys sort first ({"b":1,"aa":2})
    "a261620162616102",
]

REJECTED_VECTORS = {
    # non-shortest integers, lengths, tags, simple values
    "1800": "24 in two bytes", "1817": "23 in two bytes", "190017": "23 in three bytes",
    "1900ff": "255 in three bytes", "1a0000ffff": "65535 in five bytes",
    "1b00000000ffffffff": "2^32-1 in nine bytes", "3800": "-1 in two bytes",
    "5801ff": "byte string with a long length", "780161": "text with a long length",
    "980101": "array with a long length", "b8010101": "map with a long length",
    "d80100": "tag 1 in two bytes", "f814": "false as a two-byte simple value",
    # floats (all rejected by default) and NaN
    "f90000": "half 0.0", "f93c00": "half 1.0", "fb3ff199999999999a": "double 1.1",
    "f97c00": "half Infinity", "f97e00": "half NaN", "fa7fc00000": "single NaN",
    "fb7ff8000000000000": "double NaN", "f9fc00": "half -Infinity",
    # indefinite lengths
    "5f42010243030405ff": "indefinite byte string", "7f657374726561646d696e67ff": "indefinite text",
    "9fff": "indefinite empty array", "9f018202039f0405ffff": "indefinite arrays",
    "83018202039f0405ff": "nested indefinite array", "bf61610161629f0203ffff": "indefinite map",
    "ff": "lone break",
    # map keys
    "a2616201616101": "unsorted keys", "a203040102": "unsorted integer keys",
    "a262616102616201": "longer key before shorter", "a2616101616102": "duplicate key",
    # UTF-8
    "62c328": "invalid UTF-8", "61ff": "invalid UTF-8 byte", "62c0af": "overlong UTF-8",
    "63eda080": "UTF-8 surrogate",
    # truncated
    "62c3": "truncated text", "18": "truncated integer", "1a0000": "truncated integer",
    "8301": "truncated array", "a16161": "map without its value", "5820": "truncated byte string",
    # malformed
    "1c": "reserved additional information", "5c": "reserved additional information",
    # trailing bytes
    "0001": "trailing byte", "0000": "trailing byte", "8000": "trailing byte",
    # not hex
    "": "empty input", "1": "odd-length hex", "abc": "odd-length hex", "zz": "not hex",
    "0g": "not hex", "0x00": "not hex", " 00": "not hex",
}


class CborCommandTest(ToolTest):
    def test_canonical_vectors_round_trip(self):
        for hexstr in CANONICAL_VECTORS:
            with self.subTest(hex=hexstr):
                r = run("cbor", hexstr)
                self.assertEqual((r.code, r.out, r.err), (0, hexstr + "\n", ""), r)

    def test_uppercase_input_prints_lowercase(self):
        r = self.ok("cbor", "1A000F4240")
        self.assertEqual(r.out, "1a000f4240\n")
        r = self.ok("cbor", "A26161016162820203")
        self.assertEqual(r.out, "a26161016162820203\n")

    def test_rejections_exit_1(self):
        for hexstr, why in REJECTED_VECTORS.items():
            with self.subTest(hex=hexstr, why=why):
                self.assertError(run("cbor", hexstr), 1)

    def test_missing_or_extra_argument_is_usage_error(self):
        self.assertError(run("cbor"), EXIT_USAGE)
        self.assertError(run("cbor", "00", "00"), EXIT_USAGE)

    def test_deep_nesting_does_not_crash(self):
        # 50,000 nested one-element arrays: canonical bytes, but far deeper than any sane limit.
        r = run("cbor", "81" * 50000 + "00")
        self.assertIn(r.code, (0, 1), r)
        if r.code == 1:
            self.assertError(r, 1)


# ================================================================================================
# put / get / delete and the JSON mapping
# ================================================================================================


class PutGetTest(ToolTest):
    def test_put_prints_the_id_and_get_prints_compact_canonical_json(self):
        r = self.ok("put", self.db, "c", ID1, '{"bb":1,"a":2,"c":3}')
        self.assertEqual(r.out, ID1 + "\n")
        r = self.ok("get", self.db, "c", ID1)
        self.assertEqual(r.out, '{"a":2,"c":3,"bb":1}\n')

    def test_put_new_generates_a_fresh_uuid_v4(self):
        ids = set()
        for n in range(3):
            r = self.ok("put", self.db, "c", "new", str(n))
            self.assertRegex(r.out, r"^[0-9a-f]{32}\n$")
            eid = r.out.strip()
            self.assertEqual(eid[12], "4", "not a UUID v4: " + eid)
            self.assertIn(eid[16], "89ab", "not an RFC 4122 variant: " + eid)
            self.assertEqual(self.get("c", eid), str(n) + "\n")
            ids.add(eid)
        self.assertEqual(len(ids), 3)
        self.assertEqual(self.ok("count", self.db, "c").out, "3\n")

    def test_put_overwrites(self):
        self.put("c", ID1, {"v": 1})
        self.put("c", ID1, {"v": 2})
        self.assertEqual(self.get("c", ID1), '{"v":2}\n')
        self.assertEqual(self.ok("count", self.db, "c").out, "1\n")

    def test_same_id_in_two_collections_is_two_entities(self):
        self.put("a", ID1, '"in a"')
        self.put("b", ID1, '"in b"')
        self.assertEqual(self.get("a", ID1), '"in a"\n')
        self.assertEqual(self.get("b", ID1), '"in b"\n')
        self.ok("delete", self.db, "a", ID1)
        self.assertError(run("get", self.db, "a", ID1), EXIT_NOT_FOUND)
        self.assertEqual(self.get("b", ID1), '"in b"\n')

    def test_scalars(self):
        for text in ["true", "false", "null", "0", "-1", '""', '"x"', "[]", "{}"]:
            with self.subTest(json=text):
                self.assertEqual(self.roundtrip(text), text)

    def test_json_whitespace_is_not_kept(self):
        self.assertEqual(self.roundtrip(' {\n\t"b" : [ 1 , 2 ] ,\r\n "a" : { } } '), '{"a":{},"b":[1,2]}')

    def test_key_order_is_canonical(self):
        self.assertEqual(self.roundtrip('{"bb":1,"a":2,"c":3}'), '{"a":2,"c":3,"bb":1}')
        self.assertEqual(self.roundtrip('{"b":1,"aaa":2,"":3,"aa":4,"a":5}'),
                         '{"":3,"a":5,"b":1,"aa":4,"aaa":2}')
        # bytewise on UTF-8 among equal lengths: "ab" (61 62) < "é" (c3 a9); "z" is shorter
        out = self.roundtrip('{"\u00e9":1,"ab":2,"z":3}')
        self.assertEqual([k for k, _ in pairs(out)], ["z", "ab", "\u00e9"])
        # long keys: the encoded length (1, 2 or 3 head bytes) decides before the bytes do
        keys = ["b" * 300, "a" * 24, "c" * 23, "a" * 256, "b" * 24, "z", "a" * 255, "y" * 30]
        out = self.roundtrip(json.dumps({k: n for n, k in enumerate(keys)}))
        self.assertEqual([k for k, _ in pairs(out)], sorted(keys, key=key_order))
        # "$bytes" is an ordinary key among others
        self.assertEqual(self.roundtrip('{"$bytes":"00","x":1}'), '{"x":1,"$bytes":"00"}')

    def test_nested_objects_and_arrays(self):
        value = {"zeta": {"bb": [1, {"yy": None, "x": [True, False]}], "a": {}},
                 "aaa": [[], [[0]], {"k": "v"}], "m": -7}
        self.assertEqual(self.roundtrip(json.dumps(value)), canonical_json(value))
        deep = 0
        for _ in range(20):
            deep = {"d": [deep]}
        self.assertEqual(self.roundtrip(json.dumps(deep)), canonical_json(deep))

    def test_full_integer_range(self):
        values = [-18446744073709551616, -18446744073709551615, -9223372036854775809,
                  -9223372036854775808, -4294967297, -4294967296, -65537, -65536, -257, -256,
                  -25, -24, -1, 0, 1, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296,
                  9223372036854775807, 9223372036854775808, 18446744073709551614,
                  18446744073709551615]
        for v in values:
            with self.subTest(value=v):
                self.assertEqual(self.roundtrip(str(v)), str(v))
        self.assertEqual(self.roundtrip(json.dumps(values)), json.dumps(values, separators=(",", ":")))

    def test_integers_out_of_range_are_rejected(self):
        for text in ["18446744073709551616", "-18446744073709551617", "[99999999999999999999999]"]:
            with self.subTest(json=text):
                self.assertError(run("put", self.db, "c", ID1, text), EXIT_USAGE)

    def test_unicode_and_escapes(self):
        cases = {
            '"\\u00fc"': "\u00fc",
            '"\\ud83d\\ude00"': "\U0001F600",
            '"\\uD834\\uDD1E clef"': "\U0001D11E clef",
            '"a\\"b\\\\c\\/d"': 'a"b\\c/d',
            '"\\b\\f\\n\\r\\t"': "\b\f\n\r\t",
            '"\\u0000\\u001f\\u007f"': "\x00\x1f\x7f",
            '"\u00fc\u20ac\U0001F600"': "\u00fc\u20ac\U0001F600",  # raw UTF-8 in the argument
            '"\u65e5\u672c\u8a9e"': "\u65e5\u672c\u8a9e",
        }
        for text, expected in cases.items():
            with self.subTest(json=text):
                out = self.roundtrip(text)
                self.assertEqual(json.loads(out), expected, out)
                self.assertNotIn("\n", out)
                for ch in out:
                    self.assertGreaterEqual(ord(ch), 0x20, "unescaped control character in " + repr(out))
                # the printed form reads back to the same entity
                self.put("c", ID2, out)
                self.assertEqual(self.get("c", ID2), out + "\n")

    def test_unicode_keys(self):
        out = self.roundtrip('{"\\u00fc":{"\\ud83d\\ude00":1}}')
        self.assertEqual(json.loads(out), {"\u00fc": {"\U0001F600": 1}})

    def test_bytes(self):
        self.assertEqual(self.roundtrip('{"$bytes":"00ff10"}'), '{"$bytes":"00ff10"}')
        self.assertEqual(self.roundtrip('{"$bytes":""}'), '{"$bytes":""}')
        self.assertEqual(self.roundtrip('[{"$bytes":"01"},{"k":{"$bytes":"abcdef"}}]'),
                         '[{"$bytes":"01"},{"k":{"$bytes":"abcdef"}}]')

    def test_output_is_compact(self):
        out = self.roundtrip('{ "a" : [ 1 , { "b" : "x y" } ] , "c" : " " }')
        assert_compact(self, out)
        self.assertEqual(out, '{"a":[1,{"b":"x y"}],"c":" "}')

    def test_delete(self):
        self.put("c", ID1, 1)
        self.put("c", ID2, 2)
        r = self.ok("delete", self.db, "c", ID1)
        self.assertError(run("get", self.db, "c", ID1), EXIT_NOT_FOUND)
        self.assertEqual(self.get("c", ID2), "2\n")
        self.assertEqual(self.ok("count", self.db, "c").out, "1\n")
        # a deleted entity can be put again
        self.put("c", ID1, 3)
        self.assertEqual(self.get("c", ID1), "3\n")
        del r

    def test_commits_are_visible_to_the_next_process(self):
        for n in range(5):
            self.put("c", "{:032x}".format(n + 1), n)
        for n in range(5):
            self.assertEqual(self.get("c", "{:032x}".format(n + 1)), "{}\n".format(n))


# ================================================================================================
# scan, count, collections
# ================================================================================================


class ScanCountCollectionsTest(ToolTest):
    IDS = ["ffffffffffffffffffffffffffffffff", "00000000000000000000000000000001",
           "80000000000000000000000000000000", "7fffffffffffffffffffffffffffffff",
           "0a000000000000000000000000000000", "00000000000000000000000000000100",
           "00000000000000000000000000000000"]

    def fill(self):
        ids = list(self.IDS)
        random.Random(7).shuffle(ids)
        for n, eid in enumerate(ids):
            self.put("c", eid, {"n": n, "id": eid})
        for _ in range(3):
            ids.append(self.put("c", "new", {"new": True}))
        return ids

    def test_scan_is_in_id_order_with_id_tab_json_lines(self):
        ids = self.fill()
        r = self.ok("scan", self.db, "c")
        self.assertTrue(r.out.endswith("\n"), r)
        lines = r.out.splitlines()
        self.assertEqual([l.split("\t", 1)[0] for l in lines], sorted(ids))
        for line in lines:
            eid, text = line.split("\t")
            self.assertRegex(eid, HEX_ID)
            self.assertEqual(text + "\n", self.get("c", eid))
            assert_compact(self, text)

    def test_scan_limit(self):
        ids = sorted(self.fill())
        full = self.ok("scan", self.db, "c").out.splitlines()
        for limit in [0, 1, 3, len(ids), len(ids) + 5]:
            with self.subTest(limit=limit):
                r = self.ok("scan", self.db, "c", "--limit", limit)
                self.assertEqual(r.out.splitlines(), full[:limit])

    def test_scan_does_not_mix_collections(self):
        self.put("a", ID1, 1)
        self.put("b", ID2, 2)
        self.assertEqual(self.ok("scan", self.db, "a").out, ID1 + "\t1\n")
        self.assertEqual(self.ok("scan", self.db, "b").out, ID2 + "\t2\n")

    def test_scan_hides_deleted(self):
        self.put("c", ID1, 1)
        self.put("c", ID2, 2)
        self.put("c", ID3, 3)
        self.ok("delete", self.db, "c", ID2)
        self.assertEqual(self.ok("scan", self.db, "c").out, "{}\t1\n{}\t3\n".format(ID1, ID3))

    def test_count(self):
        for n in range(4):
            self.put("c", "new", n)
        self.put("d", ID1, 0)
        self.assertEqual(self.ok("count", self.db, "c").out, "4\n")
        self.assertEqual(self.ok("count", self.db, "d").out, "1\n")

    def test_collections(self):
        for name in ["gamma", "alpha", "beta", "with space", "\u00fcber"]:
            self.put(name, ID1, 1)
        r = self.ok("collections", self.db)
        self.assertTrue(r.out.endswith("\n"), r)
        self.assertEqual(sorted(r.out.splitlines()), sorted(["gamma", "alpha", "beta", "with space", "\u00fcber"]))


# ================================================================================================
# load
# ================================================================================================


class LoadTest(ToolTest):
    def test_load_output_count_and_payloads(self):
        n, k, size = 4, 3, 300
        lines = self.load("c", n, k, "--size", size)
        self.assertEqual(len(lines), n, lines)
        seqs = []
        for t, line in enumerate(lines, start=1):
            m = re.fullmatch(r"committed (\d+) (\d+)", line)
            self.assertIsNotNone(m, line)
            self.assertEqual(int(m.group(1)), t, lines)
            seqs.append(int(m.group(2)))
        self.assertEqual(seqs, sorted(set(seqs)), "sequences not strictly increasing: {}".format(seqs))
        self.assertEqual(self.ok("count", self.db, "c").out, "{}\n".format(n * k))

        scan = self.ok("scan", self.db, "c").out.splitlines()
        self.assertEqual(len(scan), n * k)
        seen, ids = set(), set()
        for line in scan:
            eid, text = line.split("\t")
            self.assertRegex(eid, HEX_ID)
            ids.add(eid)
            obj = json.loads(text)
            self.assertEqual(set(obj), {"t", "i", "pad"}, text)
            self.assertEqual([k2 for k2, _ in pairs(text)], ["i", "t", "pad"], "keys not in canonical order")
            self.assertIsInstance(obj["t"], int)
            self.assertIsInstance(obj["i"], int)
            self.assertIsInstance(obj["pad"], str)
            seen.add((obj["t"], obj["i"]))
            encoded = len(cbor_encode(obj))
            self.assertLess(abs(encoded - size), max(40, size // 5),
                            "payload of {} bytes for --size {}".format(encoded, size))
        self.assertEqual(len(ids), n * k, "ids are not fresh")
        self.assertEqual(len(seen), n * k, "(t, i) pairs are not distinct")
        self.assertEqual({t for t, _ in seen}, set(range(1, n + 1)), "t is not the transaction number")
        i_values = sorted({i for _, i in seen})
        self.assertEqual(len(i_values), k)
        self.assertEqual(i_values, list(range(i_values[0], i_values[0] + k)))
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_load_sizes(self):
        for size in [10, 1000, 5000]:
            with self.subTest(size=size):
                self.load("s{}".format(size), 1, 2, "--size", size)
                text = self.ok("scan", self.db, "s{}".format(size)).out.splitlines()[0].split("\t")[1]
                encoded = len(cbor_encode(json.loads(text)))
                self.assertLess(abs(encoded - size), max(40, size // 5), (size, encoded))

    def test_load_appends_to_an_existing_collection(self):
        self.put("c", ID1, 1)
        self.load("c", 2, 5)
        self.assertEqual(self.ok("count", self.db, "c").out, "11\n")
        self.assertEqual(self.get("c", ID1), "1\n")

    def test_load_flushes_each_line_and_acknowledged_commits_survive_a_kill(self):
        k = 2
        proc = subprocess.Popen([TOOL, "load", str(self.db), "c", "--txns", "1000000", "--per-txn", str(k),
                                 "--size", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        acked = 0
        try:
            reader = LineReader(proc.stdout)
            for t in range(1, 4):
                # A line only arrives before exit if the tool flushes after each commit.
                line = reader.get(timeout=60)
                if line is None:
                    self.fail("load exited early: {!r}".format(proc.stderr.read()))
                self.assertRegex(line, r"^committed {} \d+\n$".format(t))
                acked = t
        except queue.Empty:
            self.fail("no 'committed' line within 60 s while load runs: stdout is not flushed per commit")
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        count = int(self.ok("count", self.db, "c").out)
        self.assertGreaterEqual(count, acked * k)
        self.assertEqual(count % k, 0, "a partial transaction is visible")
        r = self.ok("verify", self.db)
        self.assertEqual(r.out.splitlines()[0], "ok", r)


# ================================================================================================
# segment rotation, WAL bound, checkpoint, inspect, verify
# ================================================================================================


class StorageTest(ToolTest):
    def segment_files(self):
        return sorted(os.listdir(self.db / "SEGMENTS"))

    def test_small_max_segment_size_makes_several_segments(self):
        limit = 2000
        self.load("c", 10, 5, "--size", 200, "--max-segment-size", limit)
        files = self.segment_files()
        self.assertGreaterEqual(len(files), 3, files)
        for f in files:
            self.assertRegex(f, r"^seg-\d{6}\.dat$")
            self.assertLessEqual(os.path.getsize(self.db / "SEGMENTS" / f), limit, f)
        self.assertEqual(files[0], "seg-000001.dat")
        info = self.inspect_json()
        listed = {s["file"]: s["bytes"] for s in info["segments"]}
        self.assertEqual(set(listed), set(files))
        for f in files:
            self.assertEqual(listed[f], os.path.getsize(self.db / "SEGMENTS" / f), f)
        text = self.ok("inspect", self.db).out
        for f in files:
            self.assertIn(f, text)
        self.assertEqual(self.ok("count", self.db, "c").out, "50\n")
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_small_max_wal_size_bounds_wal_log_after_each_commit(self):
        limit = 3000
        wal = self.db / "wal.log"
        for t in range(12):
            lines = self.load("c", 1, 3, "--size", 300, "--max-wal-size", limit)
            self.assertEqual(len(lines), 1, lines)
            self.assertLessEqual(os.path.getsize(wal), limit, "wal.log after commit {}".format(t + 1))
        self.assertIsNotNone(self.inspect_json()["last_checkpoint"], "no checkpoint ran")
        # one process, many commits
        self.load("c", 20, 3, "--size", 300, "--max-wal-size", limit)
        self.assertLessEqual(os.path.getsize(wal), limit)
        self.assertEqual(self.ok("count", self.db, "c").out, "{}\n".format(12 * 3 + 20 * 3))
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_wal_recycled_keeps_wal_log_allocated_and_append_converts_it_back(self):
        limit = 65536
        wal = self.db / "wal.log"
        self.load("c", 3, 2, "--wal", "recycled", "--max-wal-size", limit)
        data = wal.read_bytes()
        # file-format.md, "Recycled WAL": RECYCLED (type 7) at offset 0, the file allocated at the limit
        self.assertEqual((data[:4], data[6], len(data)), (b"EWAL", 7, limit))
        self.ok("checkpoint", self.db, "--wal", "recycled", "--max-wal-size", limit)
        self.assertEqual(os.path.getsize(wal), limit)
        self.load("c", 2, 2, "--wal", "recycled", "--max-wal-size", limit)
        self.assertEqual(self.ok("count", self.db, "c").out, "10\n")  # read the same way without --wal
        self.ok("checkpoint", self.db, "--wal", "append")
        self.assertEqual(os.path.getsize(wal), 0)
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_checkpoint(self):
        lines = self.load("c", 3, 2)
        last_seq = int(lines[-1].split()[2])
        info = self.inspect_json()
        self.assertIsNone(info["last_checkpoint"])
        self.assertGreater(info["wal_bytes"], 0)
        self.ok("checkpoint", self.db)
        self.assertEqual(os.path.getsize(self.db / "wal.log"), 0)
        info = self.inspect_json()
        self.assertEqual(info["last_checkpoint"], last_seq)
        self.assertEqual(info["wal_bytes"], 0)
        text = self.ok("inspect", self.db).out
        cp_lines = [l for l in text.splitlines() if "checkpoint" in l.lower()]
        self.assertTrue(cp_lines and str(last_seq) in cp_lines[0], text)
        wal_lines = [l for l in text.splitlines() if "wal.log" in l]
        self.assertTrue(wal_lines and re.search(r"\b0\b", wal_lines[0]), text)
        self.assertEqual(self.ok("count", self.db, "c").out, "6\n")
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")
        # and the database keeps working after it
        self.put("c", ID1, 1)
        self.assertEqual(self.ok("count", self.db, "c").out, "7\n")

    def test_inspect_json(self):
        self.put("alpha", ID1, 1)
        self.put("alpha", ID2, 2)
        self.put("beta", ID1, 3)
        self.ok("delete", self.db, "alpha", ID2)
        info = self.inspect_json()
        self.assertIsInstance(info, dict)
        self.assertEqual(str(info["format"]), "1.0")
        self.assertIn("last_checkpoint", info)
        self.assertIsNone(info["last_checkpoint"])
        self.assertEqual(info["wal_bytes"], os.path.getsize(self.db / "wal.log"))
        colls = {c["name"]: c["entities"] for c in info["collections"]}
        self.assertEqual(colls, {"alpha": 1, "beta": 1})
        segs = {s["file"]: s["bytes"] for s in info["segments"]}
        self.assertEqual(set(segs), set(self.segment_files()))
        for f, n in segs.items():
            self.assertEqual(n, os.path.getsize(self.db / "SEGMENTS" / f), f)

    def test_inspect_text(self):
        self.put("alpha", ID1, 1)
        self.put("alpha", ID2, 2)
        self.put("beta", ID1, 3)
        r = self.ok("inspect", self.db)
        lines = r.out.splitlines()
        self.assertTrue(any("1.0" in l and "format" in l.lower() for l in lines), r.out)
        for name, n in (("alpha", 2), ("beta", 1)):
            self.assertTrue(any(name in l and re.search(r"\b{}\b".format(n), l) for l in lines), (name, r.out))
        for f in self.segment_files():
            size = os.path.getsize(self.db / "SEGMENTS" / f)
            self.assertTrue(any(f in l and re.search(r"\b{}\b".format(size), l) for l in lines), (f, r.out))
        wal = os.path.getsize(self.db / "wal.log")
        self.assertTrue(any("wal.log" in l and re.search(r"\b{}\b".format(wal), l) for l in lines), r.out)
        self.assertTrue(any("checkpoint" in l.lower() for l in lines), r.out)

    def test_verify_ok(self):
        self.put("c", ID1, {"a": [1, 2, 3]})
        self.load("c", 2, 2)
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")
        self.ok("checkpoint", self.db)
        self.put("c", ID2, 2)
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_verify_and_read_commands_change_nothing(self):
        before = self.make_db()
        for args in (["verify", self.db], ["inspect", self.db], ["inspect", self.db, "--json"],
                     ["get", self.db, "c", ID1], ["scan", self.db, "c"], ["count", self.db, "c"],
                     ["collections", self.db]):
            with self.subTest(args=args[0]):
                r = self.ok(*args)
                self.assertUnchanged(before, self.db, r)


# ================================================================================================
# layout and determinism
# ================================================================================================


class LayoutTest(ToolTest):
    def test_first_write_creates_the_layout(self):
        self.assertFalse(self.db.exists())
        self.put("c", ID1, 1)
        for name in ["MANIFEST", "LOCK", "wal.log", "SEGMENTS/seg-000001.dat"]:
            self.assertTrue((self.db / name).is_file(), name)
        self.assertEqual((self.db / "MANIFEST").read_bytes()[:4], b"EMFN")
        self.assertEqual((self.db / "wal.log").read_bytes()[:4], b"EWAL")

    def test_load_creates_the_database(self):
        self.load("c", 1, 1)
        self.assertTrue((self.db / "MANIFEST").is_file())
        self.assertEqual(self.ok("count", self.db, "c").out, "1\n")

    def test_same_operations_give_identical_files(self):
        dbs = [self.tmp / "one", self.tmp / "two"]
        for db in dbs:
            self.put("c", ID1, {"a": 1}, db=db)
            self.put("e", ID2, [1, "x"], db=db)
            self.ok("delete", db, "c", ID1)
            self.ok("checkpoint", db)
            self.put("c", ID3, {"z": {"$bytes": "00"}}, db=db)
        self.assertEqual(snapshot(dbs[0]), snapshot(dbs[1]))


# ================================================================================================
# exit codes 1 and 2, options, and "bad input changes nothing"
# ================================================================================================


class ExitCodeTest(ToolTest):
    def test_get_and_delete_of_an_absent_id_exit_1(self):
        before = self.make_db()
        for args in (["get", self.db, "c", ABSENT], ["delete", self.db, "c", ABSENT],
                     ["get", self.db, "no-such-collection", ID1], ["delete", self.db, "no-such-collection", ID1]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertError(r, EXIT_NOT_FOUND)
                self.assertUnchanged(before, self.db, r)

    def test_delete_twice(self):
        self.put("c", ID1, 1)
        self.ok("delete", self.db, "c", ID1)
        self.assertError(run("delete", self.db, "c", ID1), EXIT_NOT_FOUND)

    def test_read_commands_on_a_missing_database_exit_1(self):
        missing = self.tmp / "missing"
        for args in (["get", missing, "c", ID1], ["scan", missing, "c"], ["count", missing, "c"],
                     ["collections", missing], ["inspect", missing], ["inspect", missing, "--json"],
                     ["verify", missing], ["delete", missing, "c", ID1]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertError(r, EXIT_NOT_FOUND)
                self.assertFalse(missing.exists(), "{} created the database".format(args[0]))

    def bad_commands(self, db):
        """(description, argv) for commands that must exit 2 on an existing database."""
        c = [
            ("float", ["put", db, "c", ID1, "1.5"]),
            ("float exponent", ["put", db, "c", ID1, "1e3"]),
            ("nested float", ["put", db, "c", ID1, '{"a":[1,2.0]}']),
            ("negative float", ["put", db, "c", ID1, "-0.5"]),
            ("NaN", ["put", db, "c", ID1, "NaN"]),
            ("Infinity", ["put", db, "c", ID1, "Infinity"]),
            ("unclosed object", ["put", db, "c", ID1, '{"a":1']),
            ("trailing comma", ["put", db, "c", ID1, "[1,]"]),
            ("missing value", ["put", db, "c", ID1, '{"a":}']),
            ("single quotes", ["put", db, "c", ID1, "'a'"]),
            ("bare word", ["put", db, "c", ID1, "hello"]),
            ("trailing garbage", ["put", db, "c", ID1, '{"a":1}x']),
            ("two values", ["put", db, "c", ID1, "1 2"]),
            ("empty JSON", ["put", db, "c", ID1, ""]),
            ("leading zero", ["put", db, "c", ID1, "01"]),
            ("lone high surrogate", ["put", db, "c", ID1, '"\\ud800"']),
            ("lone low surrogate", ["put", db, "c", ID1, '"\\udc00"']),
            ("bad escape", ["put", db, "c", ID1, '"\\x41"']),
            ("raw control character", ["put", db, "c", ID1, '"a\nb"']),
            ("invalid UTF-8", ["put", db, "c", ID1, b'"\xff"']),
            ("integer too large", ["put", db, "c", ID1, "18446744073709551616"]),
            ("integer too small", ["put", db, "c", ID1, "-18446744073709551617"]),
            ("duplicate keys", ["put", db, "c", ID1, '{"a":1,"a":2}']),
            ("bad $bytes", ["put", db, "c", ID1, '{"$bytes":"0g"}']),
            ("odd $bytes", ["put", db, "c", ID1, '{"$bytes":"abc"}']),
            ("id 31 chars", ["put", db, "c", ID1[:31], "1"]),
            ("id 33 chars", ["put", db, "c", ID1 + "0", "1"]),
            ("id non-hex", ["put", db, "c", "g" + ID1[1:], "1"]),
            ("id empty", ["put", db, "c", "", "1"]),
            ("id with spaces", ["put", db, "c", " " + ID1[1:], "1"]),
            ("get id 31 chars", ["get", db, "c", ID1[:31]]),
            ("get id non-hex", ["get", db, "c", "z" * 32]),
            ("get id new", ["get", db, "c", "new"]),
            ("delete id 31 chars", ["delete", db, "c", ID1[:31]]),
            ("delete id non-hex", ["delete", db, "c", "x" * 32]),
            ("empty collection name", ["put", db, "", ID1, "1"]),
            ("invalid UTF-8 collection name", ["put", db, b"bad\xff", ID1, "1"]),
            ("put missing JSON", ["put", db, "c", ID1]),
            ("put missing id", ["put", db, "c"]),
            ("put extra argument", ["put", db, "c", ID1, "1", "2"]),
            ("get missing id", ["get", db, "c"]),
            ("get extra argument", ["get", db, "c", ID1, ID2]),
            ("delete missing id", ["delete", db, "c"]),
            ("scan missing collection", ["scan", db]),
            ("count missing collection", ["count", db]),
            ("collections extra argument", ["collections", db, "c"]),
            ("checkpoint extra argument", ["checkpoint", db, "c"]),
            ("verify extra argument", ["verify", db, "c"]),
            ("inspect extra argument", ["inspect", db, "c"]),
            ("load missing --per-txn", ["load", db, "c", "--txns", "1"]),
            ("load missing --txns", ["load", db, "c", "--per-txn", "1"]),
            ("load bad --txns", ["load", db, "c", "--txns", "x", "--per-txn", "1"]),
            ("load negative --per-txn", ["load", db, "c", "--txns", "1", "--per-txn", "-1"]),
            ("load bad --size", ["load", db, "c", "--txns", "1", "--per-txn", "1", "--size", "big"]),
            ("load --size over the entity limit", ["load", db, "c", "--txns", "1", "--per-txn", "1",
                                                   "--size", "20000000"]),
            ("scan bad --limit", ["scan", db, "c", "--limit", "x"]),
            ("scan negative --limit", ["scan", db, "c", "--limit", "-1"]),
            ("scan fractional --limit", ["scan", db, "c", "--limit", "1.5"]),
            ("scan empty --limit", ["scan", db, "c", "--limit", ""]),
            ("scan --limit without value", ["scan", db, "c", "--limit"]),
            ("bad --max-wal-size", ["put", db, "c", ID1, "1", "--max-wal-size", "abc"]),
            ("zero --max-wal-size", ["put", db, "c", ID1, "1", "--max-wal-size", "0"]),
            ("--max-wal-size without value", ["put", db, "c", ID1, "1", "--max-wal-size"]),
            ("unknown --wal", ["put", db, "c", ID1, "1", "--wal", "circular"]),
            ("--wal without value", ["put", db, "c", ID1, "1", "--wal"]),
            ("bad --max-segment-size", ["put", db, "c", ID1, "1", "--max-segment-size", "-5"]),
            ("zero --max-segment-size", ["put", db, "c", ID1, "1", "--max-segment-size", "0"]),
            ("--max-segment-size without value", ["get", db, "c", ID1, "--max-segment-size"]),
            ("--json on count", ["count", db, "c", "--json"]),
            ("--limit on get", ["get", db, "c", ID1, "--limit", "1"]),
            ("unknown command", ["frobnicate", db]),
        ]
        for cmd, args in (("put", ["c", ID1, "1"]), ("get", ["c", ID1]), ("delete", ["c", ID1]),
                          ("scan", ["c"]), ("count", ["c"]), ("collections", []),
                          ("load", ["c", "--txns", "1", "--per-txn", "1"]), ("checkpoint", []),
                          ("verify", []), ("inspect", [])):
            c.append(("unknown option on " + cmd, [cmd, db] + args + ["--bogus"]))
            c.append(("unknown option first on " + cmd, [cmd, "--no-such-option", db] + args))
        return c

    def test_bad_input_exits_2_and_changes_nothing(self):
        before = self.make_db()
        for why, args in self.bad_commands(self.db):
            with self.subTest(why=why):
                r = run(*args)
                self.assertError(r, EXIT_USAGE)
                self.assertUnchanged(before, self.db, r)
        # still intact
        self.assertEqual(self.get("c", ID1), '{"a":1}\n')
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_bad_input_on_a_new_path_creates_nothing(self):
        new = self.tmp / "new"
        cases = [
            ("bad JSON", ["put", new, "c", ID1, "{"]),
            ("float", ["put", new, "c", ID1, "2.5"]),
            ("bad id", ["put", new, "c", ID1[:31], "1"]),
            ("empty collection name", ["put", new, "", ID1, "1"]),
            ("unknown option", ["put", new, "c", ID1, "1", "--bogus"]),
            ("zero --max-wal-size", ["put", new, "c", ID1, "1", "--max-wal-size", "0"]),
            ("zero --max-segment-size", ["load", new, "c", "--txns", "1", "--per-txn", "1",
                                         "--max-segment-size", "0"]),
            ("load bad --txns", ["load", new, "c", "--txns", "x", "--per-txn", "1"]),
            ("load --size over the entity limit", ["load", new, "c", "--txns", "1", "--per-txn", "1",
                                                   "--size", "20000000"]),
        ]
        for why, args in cases:
            with self.subTest(why=why):
                r = run(*args)
                created = sorted(os.listdir(new)) if new.is_dir() else None
                if new.is_dir():
                    shutil.rmtree(new)
                self.assertError(r, EXIT_USAGE)
                self.assertIsNone(created, "exit 2 but {} was created, holding {}".format(new, created))

    def test_unknown_command_and_no_command(self):
        self.assertError(run("frobnicate"), EXIT_USAGE)
        self.assertError(run("--max-wal-size", "100"), EXIT_USAGE)
        self.assertError(run(), EXIT_USAGE)

    def test_options_anywhere_after_the_command_name(self):
        self.put("c", ID1, 1)
        w, s = "--max-wal-size", "--max-segment-size"
        cases = [
            ["put", w, BIG, self.db, s, BIG, "c", ID2, "2"],
            ["put", self.db, "c", ID3, "3", w, BIG, s, BIG],
            ["get", w, BIG, self.db, "c", ID1],
            ["get", self.db, s, BIG, "c", ID1, w, BIG],
            ["scan", self.db, "c", w, BIG, "--limit", "1", s, BIG],
            ["scan", s, BIG, "--limit", "2", self.db, "c"],
            ["count", self.db, w, BIG, "c", s, BIG],
            ["collections", s, BIG, self.db, w, BIG],
            ["load", w, BIG, self.db, "c", "--txns", "1", s, BIG, "--per-txn", "1"],
            ["inspect", self.db, w, BIG, "--json", s, BIG],
            ["verify", w, BIG, self.db, s, BIG],
            ["checkpoint", self.db, w, BIG, s, BIG],
            ["delete", self.db, w, BIG, "c", s, BIG, ID3],
        ]
        for args in cases:
            with self.subTest(args=[str(a) for a in args]):
                self.ok(*args)
        self.assertEqual(self.get("c", ID2), "2\n")
        self.assertError(run("get", self.db, "c", ID3), EXIT_NOT_FOUND)
        self.assertEqual(self.ok("count", self.db, "c").out, "3\n")

    def test_errors_go_to_stderr_only(self):
        r = run("get", self.tmp / "missing", "c", ID1)
        self.assertError(r, EXIT_NOT_FOUND)
        r = run("put", self.db, "c", ID1, "1.0")
        self.assertError(r, EXIT_USAGE)


# ================================================================================================
# the command line's contract: numbers, paths, repeated options, the shape of an error
# ================================================================================================


U64_OVERFLOW = str(1 << 64)


class CommandLineContractTest(ToolTest):
    def assertOneErrorLine(self, r, code):
        """Exit `code` and exactly one line `error: <message>` on stderr, nothing on stdout."""
        self.assertError(r, code)
        self.assertRegex(r.err, r"\Aerror: [^\n]+\n\Z", r)

    def assertRefused(self, args, code=EXIT_USAGE, db=None, text=None):
        """`args` exits `code` with one error line (containing `text`), leaving `db` unchanged."""
        db = db or self.db
        before = snapshot(db)
        r = run(*args)
        self.assertOneErrorLine(r, code)
        if text is not None:
            self.assertIn(text, r.err, r)
        self.assertUnchanged(before, db, r)
        return r

    def backup_file(self):
        self.make_db()
        bk = self.tmp / "bk"
        self.ok("backup", self.db, bk)
        return bk

    # load: sizes and counts -----------------------------------------------------------------

    def test_load_size_over_max_entity_bytes_is_refused_before_allocating(self):
        self.make_db()
        for size in ("99999999999", "18446744073709551615", str((16 << 20) + 1)):
            for db in (self.db, self.tmp / "new"):
                with self.subTest(size=size, db=db.name):
                    self.assertRefused(["load", db, "c", "--txns", "1", "--per-txn", "1", "--size", size],
                                       db=db, text="too large")
                    self.assertFalse((self.tmp / "new").exists())

    def test_load_zero_counts_are_usage_errors(self):
        self.make_db()
        for args in (["--txns", "0", "--per-txn", "1"], ["--txns", "1", "--per-txn", "0"],
                     ["--txns", "0", "--per-txn", "0"]):
            for db in (self.db, self.tmp / "new"):
                with self.subTest(args=args, db=db.name):
                    self.assertRefused(["load", db, "c"] + args, db=db)
                    self.assertFalse((self.tmp / "new").exists())

    def test_load_transaction_that_cannot_fit_one_commit_is_refused_before_building_it(self):
        self.make_db()
        self.assertRefused(["load", self.db, "c", "--txns", "1", "--per-txn", "18446744073709551615"],
                           text="too large")

    def test_every_numeric_option_refuses_malformed_numbers(self):
        self.make_db()
        db = self.db
        options = [
            ("--limit", ["scan", db, "c"]),
            ("--since", ["changes", db]),
            ("--tombstone-retention", ["compact", db]),
            ("--txns", ["load", db, "c", "--per-txn", "1"]),
            ("--per-txn", ["load", db, "c", "--txns", "1"]),
            ("--size", ["load", db, "c", "--txns", "1", "--per-txn", "1"]),
            ("--max-wal-size", ["count", db, "c"]),
            ("--max-segment-size", ["get", db, "c", ID1]),
        ]
        for option, args in options:
            for value in ("-1", "-0", U64_OVERFLOW, "99999999999999999999999", "5x", "5 ", " 5", "+5", "0x10",
                          "1e3", "1.0", ""):
                with self.subTest(option=option, value=value):
                    self.assertRefused(args + [option, value])

    # a database path below or at a regular file -------------------------------------------------

    def test_a_database_path_that_is_or_lies_below_a_file_is_not_a_directory(self):
        bk = self.backup_file()
        f = self.tmp / "f"
        f.write_bytes(b"not a database\n")
        for path in (f, f / "sub", f / "sub" / "deeper"):
            commands = [
                ["put", path, "c", ID1, "1"], ["put", path, "c", "new", "1"], ["get", path, "c", ID1],
                ["delete", path, "c", ID1], ["scan", path, "c"], ["count", path, "c"], ["collections", path],
                ["load", path, "c", "--txns", "1", "--per-txn", "1"], ["checkpoint", path], ["verify", path],
                ["inspect", path], ["inspect", path, "--json"], ["index", path, "c", "--hash", "a"],
                ["find", path, "c", "a", "1"], ["range", path, "c", "a", "1", "2"], ["changes", path],
                ["compact", path], ["backup", path, self.tmp / "bk2"], ["restore", bk, path],
            ]
            for args in commands:
                with self.subTest(command=args[0], path=str(path.relative_to(self.tmp))):
                    self.assertRefused(args, db=self.tmp, text="not a directory")
                    self.assertEqual(f.read_bytes(), b"not a database\n")

    # restore from a directory ---------------------------------------------------------------------

    def test_restore_from_a_directory_is_bad_input(self):
        self.make_db()
        for source in (self.db, self.tmp):
            with self.subTest(source=source.name):
                r = self.assertRefused(["restore", source, self.tmp / "restored"], db=self.tmp,
                                       text="not a backup file")
                self.assertIn(str(source), r.err)
                self.assertFalse((self.tmp / "restored").exists())

    # an option given twice --------------------------------------------------------------------------

    def test_an_option_given_twice_is_refused(self):
        bk = self.backup_file()
        db, w, s = self.db, "--max-wal-size", "--max-segment-size"
        load = ["load", db, "c", "--txns", "1", "--per-txn", "1"]
        cases = [
            (["scan", db, "c"], ["--limit", "0", "--limit", "5"]),
            (["scan", db, "c"], ["--limit", "1", "--limit", "1"]),
            (["changes", db], ["--since", "0", "--since", "1"]),
            (["compact", db], ["--tombstone-retention", "0", "--tombstone-retention", "0"]),
            (["compact", db], ["--json", "--json"]),
            (["inspect", db], ["--json", "--json"]),
            (["load", db, "c", "--per-txn", "1"], ["--txns", "1", "--txns", "2"]),
            (["load", db, "c", "--txns", "1"], ["--per-txn", "1", "--per-txn", "2"]),
            (load, ["--size", "10", "--size", "20"]),
            (["index", db, "c", "a"], ["--hash", "--hash"]),
            (["index", db, "c", "--ordered", "a"], ["--unique", "--unique"]),
        ]
        every_command = [["put", db, "c", ID3, "1"], ["get", db, "c", ID1], ["delete", db, "c", ID1],
                         ["scan", db, "c"], ["count", db, "c"], ["collections", db], load, ["checkpoint", db],
                         ["verify", db], ["inspect", db], ["index", db, "c", "--hash", "a"],
                         ["find", db, "c", "a", "1"], ["range", db, "c", "a", "1", "2"], ["changes", db],
                         ["compact", db], ["backup", db, self.tmp / "bk2"], ["restore", bk, self.tmp / "r"]]
        for args in every_command:
            cases.append((args, [w, BIG, w, BIG]))
            cases.append((args, [s, BIG, s, BIG + 1]))
        for args, twice in cases:
            option = twice[0]
            with self.subTest(command=args[0], option=option):
                self.assertRefused(args + twice, db=self.tmp, text="option {} given twice".format(option))
                self.assertFalse((self.tmp / "bk2").exists() or (self.tmp / "r").exists())
        # once is fine
        self.assertEqual(len(self.ok("scan", db, "c", "--limit", "1").out.splitlines()), 1)

    # the shape of an error --------------------------------------------------------------------------

    def test_every_error_is_one_line_and_a_usage_error_names_the_synopsis(self):
        self.make_db()
        cases = [
            (["get", self.db, "c"], "entidb get DB COLLECTION ID"),
            (["scan", self.db, "c", "--limit", "x"], "entidb scan DB COLLECTION [--limit N]"),
            (["scan", self.db, "c", "--limit", "0", "--limit", "5"], "entidb scan DB COLLECTION [--limit N]"),
            (["load", self.db, "c", "--txns", "0", "--per-txn", "1"],
             "entidb load DB COLLECTION --txns N --per-txn K [--size BYTES]"),
            (["inspect", self.db, "--bogus"], "entidb inspect DB [--json]"),
            (["restore", self.tmp / "bk"], "entidb restore FILE DB"),
        ]
        for args, synopsis in cases:
            with self.subTest(args=[str(a) for a in args]):
                r = run(*args)
                self.assertOneErrorLine(r, EXIT_USAGE)
                self.assertTrue(r.err.endswith(" (usage: {})\n".format(synopsis)), r)
        for args in (["frobnicate", self.db], []):
            with self.subTest(args=[str(a) for a in args]):
                r = run(*args)
                self.assertOneErrorLine(r, EXIT_USAGE)
                self.assertIn("commands: version, cbor, put, get", r.err)
        # errors the library reports keep the same one-line shape
        self.assertOneErrorLine(run("get", self.db, "c", ABSENT), EXIT_NOT_FOUND)
        self.assertOneErrorLine(run("put", self.db, "c", ID1, "1.5"), EXIT_USAGE)
        self.assertOneErrorLine(run("cbor", "zz"), 1)
        self.assertOneErrorLine(run("cbor"), EXIT_USAGE)

    # cbor: 1 for input it rejects, 2 for a bad command line ---------------------------------------

    def test_cbor_exit_codes_are_the_documented_ones(self):
        for hexstr in ("1800", "f93c00", "zz", "abc", ""):
            with self.subTest(hex=hexstr):
                self.assertOneErrorLine(run("cbor", hexstr), 1)
        self.assertOneErrorLine(run("cbor", "00", "00"), EXIT_USAGE)
        docs = Path(__file__).resolve().parents[2]
        if (docs / "docs" / "tool.md").exists():
            for doc in ("README.md", "docs/tool.md"):
                with self.subTest(doc=doc):
                    text = (docs / doc).read_text()
                    self.assertFalse("non-canonical CBOR)" in text, "{} gives CBOR rejections exit 2".format(doc))
                    self.assertTrue("`cbor` exits 1" in text, "{} does not say `cbor` exits 1".format(doc))

    # collections are implicit: an absent collection reads as empty ---------------------------------

    def test_a_collection_never_written_reads_as_empty(self):
        self.put("c", ID1, {"a": 1})
        self.ok("index", self.db, "c", "--ordered", "a")
        before = snapshot(self.db)
        for args, out in ((["scan", self.db, "never"], ""), (["scan", self.db, "never", "--limit", "3"], ""),
                          (["count", self.db, "never"], "0\n"), (["find", self.db, "never", "a", "1"], ""),
                          (["range", self.db, "never", "a", "0", "9"], "")):
            with self.subTest(command=args[0]):
                r = self.ok(*args)
                self.assertEqual(r.out, out, r)
                self.assertUnchanged(before, self.db, r)
        for args in (["get", self.db, "never", ID1], ["delete", self.db, "never", ID1]):
            with self.subTest(command=args[0]):
                self.assertRefused(args, code=EXIT_NOT_FOUND)
        self.assertEqual(self.ok("collections", self.db).out, "c\n")


# ================================================================================================
# exit 3: corruption
# ================================================================================================


class CorruptionTest(ToolTest):
    PAYLOAD = '{"n":%d,"text":"the quick brown fox jumps over the lazy dog"}'

    def fill(self, n=5):
        for i in range(1, n + 1):
            self.put("c", "{:032x}".format(i), self.PAYLOAD % i)

    def other_commands(self):
        db = self.db
        return [["get", db, "c", ID1], ["scan", db, "c"], ["count", db, "c"], ["collections", db],
                ["inspect", db], ["inspect", db, "--json"], ["checkpoint", db], ["put", db, "c", "new", "1"],
                ["delete", db, "c", ID1], ["load", db, "c", "--txns", "1", "--per-txn", "1"]]

    def check_corruption(self, file_name, first, last):
        before = snapshot(self.db)
        r = run("verify", self.db)
        self.assertEqual(r.code, EXIT_CORRUPTION, r)
        both = r.out + r.err
        self.assertIn(file_name, both, "verify does not print the problem's file: {!r}".format(r))
        found = offsets_in(both)
        self.assertTrue(any(first <= o < last for o in found),
                        "verify names no offset within the damaged record [{}, {}): {!r}".format(first, last, r))
        self.assertTrue(r.err.startswith("error: "), r)
        self.assertNotIn("ok\n", both.splitlines(keepends=True), r)
        self.assertUnchanged(before, self.db, r)
        for args in self.other_commands():
            with self.subTest(command=args[0], args=[str(a) for a in args[1:]]):
                r = run(*args)
                self.assertError(r, EXIT_CORRUPTION)
                self.assertUnchanged(before, self.db, r)

    def test_damaged_sealed_segment(self):
        self.fill()
        self.ok("checkpoint", self.db)  # seals seg-000001.dat: its records are durable now
        seg = self.db / "SEGMENTS" / "seg-000001.dat"
        records = segment_records(seg.read_bytes())
        self.assertEqual(len(records), 5)
        off, n = records[2]
        flip_byte(seg, off + n // 2 + 4)  # inside the payload of the middle record
        self.check_corruption("seg-000001.dat", off, off + n)

    def test_damaged_wal_log(self):
        self.fill()
        wal = self.db / "wal.log"
        records = wal_records(wal.read_bytes())
        puts = [r for r in records if r[1] == 2]
        self.assertEqual(len(puts), 5)
        off, _, n = puts[2]
        flip_byte(wal, off + n - 10)  # inside the payload of the middle PUT, valid records after it
        self.check_corruption("wal.log", off, off + n)

    def test_damaged_active_segment(self):
        # No checkpoint: seg-000001.dat is the active segment. A flipped byte in the middle with
        # valid records after it is damage, not a torn tail.
        self.fill()
        seg = self.db / "SEGMENTS" / "seg-000001.dat"
        records = segment_records(seg.read_bytes())
        self.assertEqual(len(records), 5)
        off, n = records[2]
        flip_byte(seg, off + n // 2 + 4)
        self.check_corruption("seg-000001.dat", off, off + n)


# ================================================================================================
# exit 4: locked
# ================================================================================================

LOCK_HOLDER = r"""
import fcntl, sys
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


class LockTest(ToolTest):
    def all_commands(self):
        db = self.db
        return [["get", db, "c", ID1], ["get", db, "c", ABSENT], ["scan", db, "c"], ["count", db, "c"],
                ["collections", db], ["inspect", db], ["inspect", db, "--json"], ["verify", db],
                ["checkpoint", db], ["put", db, "c", ID2, "2"], ["put", db, "c", "new", "2"],
                ["delete", db, "c", ID1], ["load", db, "c", "--txns", "1", "--per-txn", "1"]]

    def test_every_command_exits_4_while_another_process_holds_the_lock(self):
        before = self.make_db()
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(self.db / "LOCK")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline(), b"locked\n")
            for args in self.all_commands():
                with self.subTest(command=args[0], args=[str(a) for a in args[1:]]):
                    r = run(*args)
                    self.assertError(r, EXIT_LOCKED)
                    self.assertUnchanged(before, self.db, r)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()
        # released: everything works again
        self.assertEqual(self.get("c", ID1), '{"a":1}\n')
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_a_running_entidb_holds_the_database(self):
        self.put("c", ID1, 1)
        proc = subprocess.Popen([TOOL, "load", str(self.db), "c", "--txns", "1000000", "--per-txn", "1",
                                 "--size", "20"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            reader = LineReader(proc.stdout)
            line = reader.get(timeout=60)
            self.assertIsNotNone(line, "load exited early")
            for args in (["get", self.db, "c", ID1], ["count", self.db, "c"], ["put", self.db, "c", ID2, "2"],
                         ["verify", self.db]):
                with self.subTest(command=args[0]):
                    self.assertError(run(*args), EXIT_LOCKED)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        self.assertEqual(self.get("c", ID1), "1\n")


# ================================================================================================
# exit 5: other I/O errors
# ================================================================================================


class IOErrorTest(ToolTest):
    def test_database_under_an_unwritable_parent_exits_5(self):
        parent = self.tmp / "readonly"
        parent.mkdir()
        db = parent / "db"
        kwargs = unprivileged()
        if kwargs:
            os.chmod(self.tmp, 0o755)
        os.chmod(parent, 0o555)
        try:
            if os.geteuid() != 0 and os.access(parent, os.W_OK):
                self.skipTest("a directory with mode 0555 is still writable here")
            r = run_unprivileged(self, "put", db, "c", ID1, "1", **kwargs)
            self.assertError(r, EXIT_IO)
            self.assertFalse(db.exists())
        finally:
            os.chmod(parent, 0o755)


def unprivileged():
    """subprocess arguments that run the tool as an unprivileged user when this runs as root
    (root ignores permission bits); nothing otherwise."""
    if os.geteuid() != 0:
        return {}

    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    return {"preexec_fn": drop}


def run_unprivileged(tc, *args, **kwargs):
    """run(*args) with unprivileged() arguments; skips the test where that cannot run."""
    try:
        r = run(*args, **kwargs)
    except (PermissionError, subprocess.SubprocessError, OSError) as e:
        tc.skipTest("cannot run the tool unprivileged here: {}".format(e))
    if r.code == 126 or (r.code not in (EXIT_OK, EXIT_IO) and "ermission" in r.err and TOOL in r.err):
        tc.skipTest("cannot run the tool unprivileged here: {!r}".format(r))
    return r


# ================================================================================================
# no database here; read-only databases
# ================================================================================================


def every_command_but_create(db, elsewhere):
    """Every command that takes a database and may not create one (all but put, load, restore);
    `elsewhere` is a directory for files a command writes beside the database (backup)."""
    return [["get", db, "c", ID1], ["inspect", db], ["inspect", db, "--json"], ["scan", db, "c"],
            ["count", db, "c"], ["find", db, "c", "a", "1"], ["range", db, "c", "a", "0", "9"],
            ["changes", db], ["compact", db], ["backup", db, Path(elsewhere) / "backup.entidb"],
            ["index", db, "c", "--hash", "a"], ["verify", db], ["checkpoint", db], ["delete", db, "c", ID1],
            ["collections", db]]


class NoDatabaseTest(ToolTest):
    def test_every_command_but_put_and_load_leaves_an_empty_or_missing_directory_alone(self):
        empty, missing = self.tmp / "empty", self.tmp / "missing"
        empty.mkdir()
        for db in (empty, missing):
            for args in every_command_but_create(db, self.tmp):
                with self.subTest(command=args[0], db=db.name, args=[str(a) for a in args[2:]]):
                    before = snapshot(db)
                    r = run(*args)
                    self.assertError(r, EXIT_NOT_FOUND)
                    self.assertIn("no EntiDB database here", r.err, r)
                    self.assertUnchanged(before, db, r)
                    self.assertFalse((self.tmp / "backup.entidb").exists(), r)


LOCK_SHARER = LOCK_HOLDER.replace("LOCK_EX", "LOCK_SH")


class ReadOnlyTest(ToolTest):
    """A database the user may only read: the commands that read work and write nothing; the
    commands that write exit 5 and change nothing."""

    def setUp(self):
        super().setUp()
        self.put("c", ID1, {"a": 1})
        self.put("c", ID2, {"a": 2})
        self.ok("index", self.db, "c", "--ordered", "a")
        self.ok("delete", self.db, "c", ID2)
        # Outside the private test directory, so that the unprivileged user can reach it.
        self.shared = Path(tempfile.mkdtemp(prefix="entidb-ro-"))
        os.chmod(self.shared, 0o755)
        self.ro = self.shared / "db"
        shutil.copytree(self.db, self.ro)
        self.out = self.shared / "out"  # where the user may write (a backup)
        self.out.mkdir()
        os.chmod(self.out, 0o777)
        for root, dirs, files in os.walk(self.ro):
            for name in dirs + files:
                p = os.path.join(root, name)
                os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(self.ro, 0o555)

    def tearDown(self):
        for root, dirs, _ in os.walk(self.shared):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        os.chmod(self.shared, 0o755)
        shutil.rmtree(self.shared, ignore_errors=True)
        super().tearDown()

    def test_reads_work_and_writes_exit_5_on_a_read_only_copy(self):
        kwargs = unprivileged()
        if not kwargs and os.access(self.ro, os.W_OK):
            self.skipTest("a directory with mode 0555 is still writable here")
        before = snapshot(self.ro)
        reads = [(["get", self.ro, "c", ID1], '{"a":1}\n'), (["count", self.ro, "c"], "1\n"),
                 (["scan", self.ro, "c"], ID1 + '\t{"a":1}\n'), (["collections", self.ro], "c\n"),
                 (["find", self.ro, "c", "a", "1"], ID1 + '\t{"a":1}\n'),
                 (["range", self.ro, "c", "a", "0", "9"], ID1 + '\t{"a":1}\n'),
                 (["verify", self.ro], "ok\n"), (["inspect", self.ro], None), (["inspect", self.ro, "--json"], None),
                 (["changes", self.ro], None), (["backup", self.ro, self.out / "b.entidb"], None)]
        for args, want in reads:
            with self.subTest(command=args[0], args=[str(a) for a in args[2:]]):
                r = run_unprivileged(self, *args, **kwargs)
                self.assertEqual(r.code, EXIT_OK, r)
                self.assertEqual(r.err, "", r)
                if want is not None:
                    self.assertEqual(r.out, want, r)
                self.assertUnchanged(before, self.ro, r)
        self.assertEqual(self.inspect_json(self.ro)["last_sequence"], 3)  # put, put, delete
        writes = [["put", self.ro, "c", ID3, "3"], ["put", self.ro, "c", "new", "3"], ["delete", self.ro, "c", ID1],
                  ["checkpoint", self.ro], ["compact", self.ro], ["index", self.ro, "c", "--hash", "b"],
                  ["load", self.ro, "c", "--txns", "1", "--per-txn", "1"]]
        for args in writes:
            with self.subTest(command=args[0], args=[str(a) for a in args[2:]]):
                r = run_unprivileged(self, *args, **kwargs)
                self.assertError(r, EXIT_IO)
                self.assertIn("read-only", r.err, r)
                self.assertUnchanged(before, self.ro, r)

    def test_readers_share_the_lock_and_writers_wait_for_none_of_them(self):
        before = snapshot(self.db)
        holder = subprocess.Popen([sys.executable, "-c", LOCK_SHARER, str(self.db / "LOCK")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline(), b"locked\n")
            self.assertEqual(self.get("c", ID1), '{"a":1}\n')
            self.assertEqual(self.ok("verify", self.db).out, "ok\n")
            for args in (["put", self.db, "c", ID3, "3"], ["checkpoint", self.db], ["delete", self.db, "c", ID1]):
                with self.subTest(command=args[0]):
                    r = run(*args)
                    self.assertError(r, EXIT_LOCKED)
                    self.assertUnchanged(before, self.db, r)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()
        self.put("c", ID3, 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
