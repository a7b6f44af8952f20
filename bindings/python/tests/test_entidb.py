"""Tests of the Python binding (standard library unittest only).

    ENTIDB_C_LIBRARY=build/c_api/libentidb_c.so PYTHONPATH=bindings/python \\
        python3 -m unittest discover -s bindings/python/tests -v
"""

import os
import shutil
import tempfile
import threading
import unittest
import uuid

import entidb
from entidb import _native


def id_of(n):
    return uuid.UUID(int=n)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="entidb-py-")
        self.path = os.path.join(self.dir, "db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Basics(TempDirTest):
    def test_put_get_commit_reopen(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                txn.put("people", id_of(1), {"name": "Ada", "born": 1815})
                self.assertEqual(txn.get("people", id_of(1)), {"name": "Ada", "born": 1815})  # own write
            self.assertEqual(txn.commit_sequence, 1)
            self.assertTrue(txn.closed)
            self.assertEqual(db.get("people", id_of(1)), {"born": 1815, "name": "Ada"})
            self.assertIsNone(db.get("people", id_of(2)))
            self.assertEqual(db.get("people", id_of(2), "missing"), "missing")
            self.assertIsNone(db.get("nobody", id_of(1)))
            self.assertEqual(db.last_sequence, 1)
        self.assertTrue(db.closed)
        with entidb.open(self.path, create=False) as db:
            self.assertEqual(db.get("people", id_of(1))["name"], "Ada")
            self.assertEqual(db.get_cbor("people", id_of(1)), entidb.encode({"name": "Ada", "born": 1815}))

    def test_exception_in_block_aborts(self):
        with entidb.open(self.path) as db:
            with self.assertRaises(RuntimeError):
                with db.transaction() as txn:
                    txn.put("c", id_of(1), 1)
                    raise RuntimeError("boom")
            self.assertTrue(txn.closed)
            self.assertIsNone(db.get("c", id_of(1)))
            self.assertEqual(db.last_sequence, 0)
            with db.transaction() as txn:  # the writer lock was released
                txn.put("c", id_of(1), 2)
            self.assertEqual(db.get("c", id_of(1)), 2)

    def test_explicit_commit_abort_and_delete(self):
        with entidb.open(self.path) as db:
            txn = db.transaction()
            txn.put("c", id_of(1), "one")
            txn.put("c", id_of(2), "two")
            self.assertEqual(txn.commit(), 1)
            with self.assertRaises(entidb.ClosedError):
                txn.put("c", id_of(3), "three")
            with self.assertRaises(entidb.ClosedError):
                txn.commit()
            txn.abort()  # idempotent once ended
            txn = db.transaction()
            self.assertTrue(txn.delete("c", id_of(1)))
            self.assertFalse(txn.delete("c", id_of(1)))
            self.assertFalse(txn.delete("c", id_of(9)))
            txn.abort()
            self.assertEqual(db.get("c", id_of(1)), "one")
            with db.transaction() as txn:
                txn.delete("c", id_of(1))
            self.assertIsNone(db.get("c", id_of(1)))

    def test_scan_count_collections_snapshot(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                for n in (5, 3, 1, 4, 2):
                    txn.put("c", id_of(n), {"n": n})
                txn.put("d", id_of(1), [])
            snapshot = db.read()
            with db.transaction() as txn:
                txn.put("c", id_of(6), {"n": 6})
                txn.delete("c", id_of(1))
            self.assertEqual([(i, v["n"]) for i, v in snapshot.scan("c")], [(id_of(n), n) for n in range(1, 6)])
            self.assertEqual(sorted((i, v["n"]) for i, v in snapshot.scan("c", storage_order=True)),
                             [(id_of(n), n) for n in range(1, 6)])
            self.assertEqual(snapshot.count("c"), 5)
            self.assertEqual(snapshot.sequence, 1)
            self.assertEqual(snapshot.get("c", id_of(1)), {"n": 1})
            snapshot.close()
            with self.assertRaises(entidb.ClosedError):
                snapshot.count("c")
            self.assertEqual([v["n"] for _, v in db.scan("c")], [2, 3, 4, 5, 6])
            self.assertEqual(list(db.scan("nobody")), [])
            # In storage order: the same entities and values, in the records' order.
            in_storage = list(db.scan("c", storage_order=True))
            self.assertEqual(sorted((i, v["n"]) for i, v in in_storage), [(id_of(n), n) for n in range(2, 7)])
            self.assertEqual(list(db.scan("nobody", storage_order=True)), [])
            for n in (3, 1, 2):  # separate commits lie in a fresh segment in commit order
                with db.transaction() as txn:
                    txn.put("s", id_of(n), n)
            self.assertEqual([v for _, v in db.scan("s", storage_order=True)], [3, 1, 2])
            self.assertEqual([v for _, v in db.scan("s")], [1, 2, 3])
            self.assertEqual(db.count("c"), 5)
            self.assertEqual(db.collections(), ["c", "d", "s"])
            with db.read() as r:
                self.assertEqual(r.collections(), ["c", "d", "s"])
            # A partly consumed scan closes its cursor when dropped.
            it = db.scan("c")
            self.assertEqual(next(it)[0], id_of(2))
            it.close()
            self.assertGreaterEqual(db.stats()["full_scans"], 4)

    def test_checkpoint_and_stats(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(1), 1)
            before = db.stats()
            db.checkpoint()
            after = db.stats()
            self.assertEqual(after["checkpoints"], before["checkpoints"] + 1)
            self.assertEqual(after["last_sequence"], 1)
            self.assertTrue(os.path.isfile(os.path.join(self.path, "MANIFEST")))

    def test_recycled_wal(self):
        with entidb.open(self.path, wal="recycled", max_wal_size=65536) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(1), 1)
        with open(os.path.join(self.path, "wal.log"), "rb") as f:
            data = f.read()
        # docs/file-format.md, "Recycled WAL": RECYCLED (type 7) first, the file kept allocated
        self.assertEqual((data[:4], data[6], len(data)), (b"EWAL", 7, 65536))
        with entidb.open(self.path) as db:  # read the same way without it
            self.assertEqual(db.get("c", id_of(1)), 1)
        with self.assertRaises(ValueError):
            entidb.open(os.path.join(self.dir, "other"), wal="circular")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "other")))


class Values(TempDirTest):
    def roundtrip(self, value):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                txn.put("v", id_of(1), value)
            return db.get("v", id_of(1))

    def test_python_values_roundtrip(self):
        cases = [
            None, True, False, 0, -1, 23, 24, 2**64 - 1, -(2**64), "", "text", "é😀", b"", b"\x00\xff",
            [], [1, [2, [3]]], {}, {"b": 1, "a": 2, "aa": 3, "é": 4},
            {1: "int key", -1: "negative", b"\x00": "bytes key", (1, 2): "array key", True: "bool key"},
            {"$bytes": "looks reserved"}, {"$map": 1}, {"$tag": 1, "$value": 2}, {"$float": 1},
            entidb.Tag(1, 1700000000), {"when": entidb.Tag(32, "https://example.com")},
            {"nested": {"deep": [{"x": None}]}},
        ]
        for value in cases:
            with self.subTest(value=value):
                got = self.roundtrip(value)
                self.assertEqual(got, value)
                self.assertEqual(type(got), type(value))
                shutil.rmtree(self.path)

    def test_conversions_happen_to_canonical_cbor(self):
        self.assertEqual(entidb.encode({"b": 1, "a": 2}), bytes.fromhex("a2616102616201"))
        self.assertEqual(entidb.encode({"aa": 1, "z": 2}), bytes.fromhex("a2617a0262616101"))  # length first
        self.assertEqual(entidb.encode(bytearray(b"\x01")), bytes.fromhex("4101"))
        self.assertEqual(entidb.encode((1, 2)), bytes.fromhex("820102"))
        self.assertEqual(entidb.encode(2**64 - 1), bytes.fromhex("1bffffffffffffffff"))
        self.assertEqual(entidb.encode(-(2**64)), bytes.fromhex("3bffffffffffffffff"))
        self.assertEqual(entidb.decode(bytes.fromhex("c11a6553f100")), entidb.Tag(1, 1700000000))
        self.assertEqual(entidb.cbor_to_json(bytes.fromhex("a1616101")), '{"a":1}')
        self.assertEqual(entidb.json_to_cbor('{"a":1}'), bytes.fromhex("a1616101"))

    def test_values_the_library_refuses(self):
        for bad in (1.5, {"x": float("nan")}, 2**64, -(2**64) - 1, "\ud800"):
            with self.subTest(value=bad):
                with self.assertRaises(entidb.InvalidArgumentError):
                    entidb.encode(bad)
        with self.assertRaises(TypeError):
            entidb.encode(object())
        with self.assertRaises(TypeError):
            entidb.encode({1.5j: 1})
        with self.assertRaises(entidb.NonCanonicalError):
            entidb.decode(bytes.fromhex("1805"))
        with self.assertRaises(entidb.InvalidCborError):
            entidb.decode(b"\xff")
        with self.assertRaises(entidb.InvalidCborError):
            entidb.decode(b"")

    def test_refused_puts_change_nothing(self):
        with entidb.open(self.path, max_entity_bytes=32) as db:
            with db.transaction() as txn:
                with self.assertRaises(entidb.InvalidArgumentError):
                    txn.put("c", id_of(1), {"f": 0.5})
                with self.assertRaises(entidb.TooLargeError):
                    txn.put("c", id_of(1), "x" * 100)
                with self.assertRaises(entidb.NonCanonicalError):
                    txn.put_cbor("c", id_of(1), bytes.fromhex("a2616201616101"))
                with self.assertRaises(entidb.InvalidCborError):
                    txn.put_cbor("c", id_of(1), b"\xff")
                with self.assertRaises(entidb.InvalidArgumentError):
                    txn.put_json("c", id_of(1), "{")
                with self.assertRaises(entidb.InvalidArgumentError):
                    txn.put("", id_of(1), 1)
                with self.assertRaises(entidb.InvalidArgumentError):
                    txn.put("a\0b", id_of(1), 1)
                with self.assertRaises(TypeError):
                    txn.put(b"c", id_of(1), 1)
                txn.put_cbor("c", id_of(1), bytes.fromhex("a1616101"))
            self.assertEqual(db.get("c", id_of(1)), {"a": 1})
            self.assertEqual(db.last_sequence, 1)


class Ids(unittest.TestCase):
    def test_generate_and_parse(self):
        a, b = entidb.new_id(), entidb.new_id()
        self.assertNotEqual(a, b)
        self.assertEqual(a.version, 4)
        self.assertEqual(entidb.parse_id(str(a)), a)
        self.assertEqual(entidb.parse_id(a.hex.upper()), a)
        for bad in ("", "xyz", str(a)[:-1], str(a).replace("-", "")[:-1] + "g"):
            with self.subTest(text=bad):
                with self.assertRaises(entidb.InvalidArgumentError):
                    entidb.parse_id(bad)

    def test_id_forms(self):
        tmp = tempfile.mkdtemp(prefix="entidb-py-")
        try:
            with entidb.open(os.path.join(tmp, "db")) as db:
                u = id_of(0xABC)
                with db.transaction() as txn:
                    txn.put("c", u, 1)
                self.assertEqual(db.get("c", u.bytes), 1)
                self.assertEqual(db.get("c", bytearray(u.bytes)), 1)
                self.assertEqual(db.get("c", str(u)), 1)
                self.assertEqual(db.get("c", u.hex), 1)
                with self.assertRaises(entidb.InvalidArgumentError):
                    db.get("c", b"\x00" * 15)
                with self.assertRaises(entidb.InvalidArgumentError):
                    db.get("c", "not an id")
                with self.assertRaises(TypeError):
                    db.get("c", 12)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TextSearch(TempDirTest):
    DOCS = {
        1: {"body": "the quick brown fox jumps over the dog", "title": "runs"},
        2: {"body": "quick quick fox", "title": "running"},
        3: {"body": "a lazy dog sleeps", "title": "Caf\u00e9 cr\u00e8me"},
    }

    def fill(self, db):
        with db.transaction() as txn:
            for n, doc in self.DOCS.items():
                txn.put("docs", id_of(n), doc)

    def test_declare_and_search(self):
        with entidb.open(self.path) as db:
            self.fill(db)
            db.declare_text_index("docs", "body")
            db.declare_text_index("docs", "body")  # the same again: nothing happens
            db.declare_text_index("docs", "title", stem="english", keep_diacritics=True)
            hits = db.search("docs", "body", "quick fox")
            self.assertEqual([i for i, _ in hits], [id_of(2), id_of(1)])
            self.assertTrue(all(isinstance(score, float) and score > 0 for _, score in hits))
            self.assertGreater(hits[0][1], hits[1][1])
            self.assertEqual(db.search("docs", "body", "quick fox", limit=1), hits[:1])
            self.assertEqual(db.search("docs", "body", "quick fox", limit=0), [])
            self.assertEqual({i for i, _ in db.search("docs", "body", '"brown fox" OR sleep*')}, {id_of(1), id_of(3)})
            self.assertEqual([i for i, _ in db.search("docs", "body", "fox NOT brown")], [id_of(2)])
            self.assertEqual(len(db.search("docs", "title", "run")), 2)  # stemmed
            self.assertEqual(db.search("docs", "title", "cafe"), [])  # diacritics kept
            self.assertEqual(len(db.search("docs", "title", "caf\u00e9")), 1)
            with db.read() as snapshot:
                self.assertEqual(snapshot.search("docs", "body", "quick fox"), hits)
                with db.transaction() as txn:
                    txn.delete("docs", id_of(2))
                self.assertEqual(snapshot.search("docs", "body", "quick fox"), hits)  # its snapshot
            self.assertEqual([i for i, _ in db.search("docs", "body", "quick fox")], [id_of(1)])
        with entidb.open(self.path) as db:  # the index is part of the database
            self.assertEqual([i for i, _ in db.search("docs", "body", "fox")], [id_of(1)])

    def test_large_limits_return_every_hit(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                for n in range(200):
                    txn.put("docs", id_of(n), {"body": "word " * (1 + n % 7)})
            db.declare_text_index("docs", "body")
            self.assertEqual(len(db.search("docs", "body", "word", limit=10**12)), 200)
            self.assertEqual(len(db.search("docs", "body", "word", limit=64)), 64)
            self.assertEqual(len(db.search("docs", "body", "word", limit=65)), 65)
            hits = db.search("docs", "body", "word", limit=1000)
            self.assertEqual([s for _, s in hits], sorted((s for _, s in hits), reverse=True))
            self.assertEqual(len({i for i, _ in hits}), 200)

    def test_syntax_errors_and_plain_words(self):
        with entidb.open(self.path) as db:
            self.fill(db)
            db.declare_text_index("docs", "body")
            with self.assertRaises(entidb.InvalidArgumentError) as caught:
                db.search("docs", "body", "quick AND (fox")
            self.assertEqual(caught.exception.code, 2)
            self.assertIn("column", caught.exception.message)
            self.assertEqual(db.search("docs", "body", "quick AND (fox", plain=True), [])  # "and" is no word here
            self.assertEqual([i for i, _ in db.search("docs", "body", '"quick" (fox)!*', plain=True)],
                             [id_of(2), id_of(1)])
            self.assertEqual(db.search("docs", "body", "", plain=True), [])
            with self.assertRaises(entidb.InvalidArgumentError):
                db.search("docs", "body", "")  # no term
            with self.assertRaises(entidb.InvalidArgumentError):
                db.search("docs", "body", b"qu\xff", plain=True)  # not UTF-8
            with self.assertRaises(entidb.InvalidArgumentError):
                db.search("docs", "body", "\ud800", plain=True)  # a lone surrogate
            self.assertEqual(len(db.search("docs", "body", "fox".encode())), 2)

    def test_bad_declarations_and_arguments(self):
        with entidb.open(self.path) as db:
            self.fill(db)
            db.declare_text_index("docs", "body")
            with self.assertRaises(entidb.InvalidArgumentError):
                db.declare_text_index("docs", "body", stem="english")  # conflicts with the first
            with self.assertRaises(entidb.InvalidArgumentError):
                db.declare_text_index("docs", "title", stem="french")
            with self.assertRaises(entidb.InvalidArgumentError):
                db.declare_text_index("docs", "ti\0tle")
            with self.assertRaises(TypeError):
                db.declare_text_index("docs", 3)
            with self.assertRaises(entidb.InvalidArgumentError):
                db.declare_text_index("", "body")  # a name put refuses: no collection is made
            self.assertEqual(db.collections(), ["docs"])
            with self.assertRaises(entidb.NoSuchIndexError) as caught:
                db.search("docs", "title", "fox")
            self.assertEqual(caught.exception.code, 20)
            self.assertEqual(db.search("nobody", "body", "fox"), [])
            with self.assertRaises(entidb.InvalidArgumentError):
                db.search("docs", "body", "fox", limit=-1)
            with self.assertRaises(TypeError):
                db.search("docs", "body", 5)
            txn = db.transaction()
            with self.assertRaises(entidb.WriterBusyError):
                db.declare_text_index("docs", "title")  # would wait for this thread's own writer
            txn.abort()
            snapshot = db.read()
            snapshot.close()
            with self.assertRaises(entidb.ClosedError):
                snapshot.search("docs", "body", "fox")
        with self.assertRaises(entidb.ClosedError):
            db.declare_text_index("docs", "body")


class Errors(TempDirTest):
    def test_hierarchy_matches_the_library(self):
        for code in [c for c in range(-2, 24) if c != 0]:
            err = entidb.error_for_code(code, "m")
            self.assertIsInstance(err, entidb.EntiDBError)
            self.assertEqual(err.code, code)
            self.assertEqual(err.name, _native.lib.entidb_error_name(code).decode())
        self.assertTrue(issubclass(entidb.LockedError, entidb.EntiDBError))
        self.assertIs(type(entidb.error_for_code(21)), entidb.BusyError)
        self.assertIs(type(entidb.error_for_code(22)), entidb.SchemaMismatchError)
        self.assertIs(type(entidb.error_for_code(23)), entidb.BadKeyError)
        self.assertTrue(issubclass(entidb.InvalidArgumentError, ValueError))
        self.assertEqual(entidb.abi_version()[0], 1)
        self.assertTrue(entidb.library_version())

    def test_locked(self):
        with entidb.open(self.path) as db:
            with self.assertRaises(entidb.LockedError) as caught:
                entidb.open(self.path)
            self.assertIn("already open", str(caught.exception))
            self.assertEqual(caught.exception.code, 4)
            self.assertFalse(db.closed)
        entidb.open(self.path).close()  # the LOCK went with the close

    def test_not_found_and_not_a_directory(self):
        with self.assertRaises(entidb.NotFoundError):
            entidb.open(self.path, create=False)
        self.assertFalse(os.path.exists(self.path))
        with open(os.path.join(self.dir, "file"), "w"):
            pass
        with self.assertRaises(entidb.EntiDBError):
            entidb.open(os.path.join(self.dir, "file"))

    def test_no_database_here_creates_nothing(self):
        empty = os.path.join(self.dir, "empty")
        os.mkdir(empty)
        for kwargs in ({"create": False}, {"readonly": True}):
            for path in (empty, self.path):
                with self.subTest(path=path, **kwargs):
                    with self.assertRaises(entidb.NotFoundError) as caught:
                        entidb.open(path, **kwargs)
                    self.assertIn("no EntiDB database here", str(caught.exception))
        self.assertEqual(os.listdir(empty), [])
        self.assertFalse(os.path.exists(self.path))

    def test_readonly(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(1), {"a": 1})
            with self.assertRaises(entidb.LockedError):
                entidb.open(self.path, readonly=True)  # a writer holds the LOCK
        before = {name: open(os.path.join(root, name), "rb").read()
                  for root, _, files in os.walk(self.path) for name in files}
        with entidb.open(self.path, readonly=True) as db, entidb.open(self.path, readonly=True) as second:
            self.assertEqual(db.get("c", id_of(1)), {"a": 1})
            self.assertEqual(second.last_sequence, 1)
            for write in (db.transaction, db.checkpoint, lambda: db.declare_text_index("c", "a")):
                with self.subTest(write=write):
                    with self.assertRaises(entidb.ReadOnlyError):
                        write()
            with self.assertRaises(entidb.LockedError):
                entidb.open(self.path)  # readers hold the LOCK shared
        after = {name: open(os.path.join(root, name), "rb").read()
                 for root, _, files in os.walk(self.path) for name in files}
        self.assertEqual(after, before)

    def test_corruption(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(1), "x" * 50)
        wal = os.path.join(self.path, "wal.log")
        with open(wal, "r+b") as f:
            data = bytearray(f.read())
            self.assertGreater(len(data), 60)
            data[20] ^= 0xFF  # inside the first record, with valid records after it
            f.seek(0)
            f.write(data)
        with self.assertRaises(entidb.CorruptionError) as caught:
            entidb.open(self.path)
        self.assertIn("wal.log", str(caught.exception))

    def test_closed_handles(self):
        db = entidb.open(self.path)
        txn = db.transaction()
        snapshot = db.read()
        scan = db.scan("c")
        db.close()
        db.close()  # idempotent
        for call in (lambda: db.get("c", id_of(1)), db.checkpoint, db.transaction, db.read,
                     lambda: db.last_sequence, lambda: txn.put("c", id_of(1), 1), lambda: snapshot.count("c"),
                     lambda: list(scan)):
            with self.subTest(call=call):
                with self.assertRaises(entidb.ClosedError):
                    call()
        txn.abort()  # already ended by the close: abort only makes sure, it does not raise
        self.assertTrue(txn.closed)
        snapshot.close()

    def test_close_with_live_transactions_frees_the_lock(self):
        db = entidb.open(self.path)
        with db.transaction() as txn:
            txn.put("c", id_of(1), 1)
        snapshot = db.read()
        scan = iter(snapshot.scan("c", storage_order=True))
        self.assertEqual(next(scan)[1], 1)  # a scan in storage order open and unfinished
        writer = db.transaction()
        db.close()  # ends them all: nothing keeps the LOCK
        self.assertTrue(snapshot.closed)
        self.assertTrue(writer.closed)
        with self.assertRaises(entidb.ClosedError):
            snapshot.get("c", id_of(1))
        with entidb.open(self.path) as again:  # not LockedError
            self.assertEqual(again.get("c", id_of(1)), 1)

    def test_writer_busy_and_scan_forbidden(self):
        with entidb.open(self.path) as db:
            txn = db.transaction()
            with self.assertRaises(entidb.WriterBusyError):
                db.try_transaction()
            with self.assertRaises(entidb.WriterBusyError):
                db.transaction()  # this thread already has one: refused, not a deadlock
            with self.assertRaises(entidb.WriterBusyError):
                db.checkpoint()
            txn.abort()
            db.try_transaction().abort()
        with entidb.open(self.path, forbid_full_scan=True) as db:
            with self.assertRaises(entidb.ScanForbiddenError):
                list(db.scan("c"))
            with self.assertRaises(entidb.ScanForbiddenError):
                list(db.scan("c", storage_order=True))
            self.assertEqual(db.count("c"), 0)  # counting walks the index: allowed


class Encryption(TempDirTest):
    FAST = {"kdf_opslimit": 1, "kdf_memlimit": 8192}  # the cheapest Argon2id cost: tests only

    def files(self):
        out = {}
        for root, _, names in os.walk(self.path):
            for n in names:
                with open(os.path.join(root, n), "rb") as f:
                    out[os.path.relpath(os.path.join(root, n), self.path)] = f.read()
        return out

    def test_passphrase_and_raw_key(self):
        with entidb.open(self.path, passphrase="py passphrase", **self.FAST) as db:
            with db.transaction() as txn:
                txn.put("notes", id_of(1), {"body": "plaintext-marker-py"})
            db.declare_text_index("notes", "body")
            self.assertEqual(db.search("notes", "body", "marker", plain=True)[0][0], id_of(1))
            db.checkpoint()
        files = self.files()
        self.assertIn("KEY", files)
        self.assertFalse(any(b"plaintext-marker-py" in data for data in files.values()))
        with entidb.open(self.path, passphrase=b"py passphrase", readonly=True) as db:
            self.assertEqual(db.get("notes", id_of(1)), {"body": "plaintext-marker-py"})
            self.assertEqual([i for i, _ in db.scan("notes", storage_order=True)], [id_of(1)])
        for kwargs in ({}, {"passphrase": "wrong"}, {"raw_key": bytes(32)}):
            with self.assertRaises(entidb.BadKeyError) as cm:
                entidb.open(self.path, **kwargs)
            self.assertEqual(cm.exception.code, 23)
            self.assertNotIn("py passphrase", str(cm.exception))
        self.assertEqual(self.files(), files)
        with self.assertRaises(entidb.InvalidArgumentError):
            entidb.open(self.path, raw_key=bytes(31))
        with self.assertRaises(ValueError):
            entidb.open(self.path, passphrase="a", raw_key=bytes(32))
        raw_path = os.path.join(self.dir, "raw")
        with entidb.open(raw_path, raw_key=bytes(range(32))) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(2), 7)
        with entidb.open(raw_path, raw_key=bytearray(range(32))) as db:
            self.assertEqual(db.get("c", id_of(2)), 7)
        with entidb.open(os.path.join(self.dir, "plain")):
            pass
        with self.assertRaises(entidb.BadKeyError):
            entidb.open(os.path.join(self.dir, "plain"), passphrase="p")

    def test_cipher_of_a_new_database(self):
        with entidb.open(self.path, raw_key=bytes(range(32)), cipher="aes256gcm") as db:
            with db.transaction() as txn:
                txn.put("notes", id_of(1), {"body": "plaintext-marker-aes"})
        files = self.files()
        self.assertEqual(files["KEY"][6], 2)  # docs/file-format.md, "KEY": the cipher byte
        self.assertFalse(any(b"plaintext-marker-aes" in data for data in files.values()))
        with entidb.open(self.path, raw_key=bytes(range(32))) as db:  # the database keeps its cipher
            self.assertEqual(db.get("notes", id_of(1)), {"body": "plaintext-marker-aes"})
        other = os.path.join(self.dir, "other")
        with self.assertRaises(ValueError):
            entidb.open(other, raw_key=bytes(32), cipher="aes")
        with self.assertRaises(ValueError):
            entidb.open(other, cipher="aes256gcm")  # a cipher without a key
        self.assertFalse(os.path.exists(other))


class Threads(TempDirTest):
    def test_writers_on_two_threads(self):
        with entidb.open(self.path) as db:
            results = {}
            first = db.transaction()
            first.put("c", id_of(1), "first")

            def other():
                try:
                    db.try_transaction()
                except entidb.WriterBusyError:
                    results["try"] = "busy"
                try:
                    first.commit()  # not this thread's transaction
                except entidb.InvalidArgumentError:
                    results["foreign_commit"] = "refused"
                with db.transaction() as txn:  # waits for the main thread's commit
                    results["saw"] = txn.get("c", id_of(1))
                    txn.put("c", id_of(2), "second")

            t = threading.Thread(target=other)
            t.start()
            t.join(0.2)
            self.assertTrue(t.is_alive(), "the second writer should be waiting")
            self.assertFalse(first.closed)
            self.assertEqual(first.commit(), 1)
            t.join(10)
            self.assertFalse(t.is_alive())
            self.assertEqual(results, {"try": "busy", "foreign_commit": "refused", "saw": "first"})
            self.assertEqual(db.get("c", id_of(2)), "second")
            self.assertEqual(db.last_sequence, 2)

    def test_readers_while_writing(self):
        with entidb.open(self.path) as db:
            with db.transaction() as txn:
                for n in range(50):
                    txn.put("c", id_of(n), n)
            errors = []

            def reader():
                try:
                    for _ in range(20):
                        values = [v for _, v in db.scan("c")]
                        if values != sorted(values) or len(values) < 50:
                            errors.append(values)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            threads = [threading.Thread(target=reader) for _ in range(3)]
            for t in threads:
                t.start()
            for n in range(50, 60):
                with db.transaction() as txn:
                    txn.put("c", id_of(n), n)
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(db.count("c"), 60)


class Typing(unittest.TestCase):
    """The package is typed (PEP 561): a py.typed marker beside it, and every public function
    and method annotated, parameters and return value."""

    def test_py_typed_marker(self):
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(entidb.__file__), "py.typed")))

    def test_public_api_is_annotated(self):
        import inspect
        missing = []
        for name in entidb.__all__:
            obj = getattr(entidb, name)
            if inspect.isfunction(obj):
                members = [(name, obj)]
            elif inspect.isclass(obj) and obj.__module__ == "entidb":
                members = [(f"{name}.{m}", f) for m, f in vars(obj).items()
                           if (inspect.isfunction(f) or isinstance(f, property)) and (not m.startswith("_") or m in ("__enter__", "__exit__"))]
            else:
                continue
            for label, f in members:
                f = f.fget if isinstance(f, property) else f
                sig = inspect.signature(f)
                if sig.return_annotation is inspect.Signature.empty:
                    missing.append(f"{label} -> ?")
                missing += [f"{label}({p})" for p in sig.parameters if p != "self"
                            and sig.parameters[p].annotation is inspect.Parameter.empty]
        self.assertEqual(missing, [])

    def test_scans_are_iterators_and_everything_closes_with_with(self):
        with tempfile.TemporaryDirectory() as tmp, entidb.open(os.path.join(tmp, "db")) as db:
            with db.transaction() as txn:
                txn.put("c", id_of(1), 1)
            scan = db.scan("c")
            self.assertIs(iter(scan), scan)
            self.assertEqual(list(scan), [(id_of(1), 1)])
            with db.read() as snapshot:
                self.assertEqual(next(snapshot.scan("c")), (id_of(1), 1))
            self.assertTrue(snapshot.closed)
        self.assertTrue(db.closed)


if __name__ == "__main__":
    unittest.main()
