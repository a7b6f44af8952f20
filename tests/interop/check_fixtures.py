#!/usr/bin/env python3
"""Opens a copy of every reference fixture with the entidb tool and checks its state.

Usage: check_fixtures.py ENTIDB_TOOL FIXTURES_DIR

For each fixture: `verify` passes, `collections` lists the expected names, `scan` yields
exactly the expected ids in id order with JSON equal to the expected payloads (decoded here
independently), `get` of the first and last ids and every 50th prints the same, absent ids
exit 1, and after a `put` and a `checkpoint` everything still holds. The fixtures themselves
are never modified.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from check_format import cbor_to_python  # noqa: E402  (the independent decoder)

TOOL = FIXTURES = None
NAMES = ["ckpt", "wal", "aborted", "rotated", "wal_noseg", "wal_reopened", "aborted_walsynth"]


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def tree_bytes(path):
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, path)] = open(p, "rb").read()
    return out


class FixtureTest(unittest.TestCase):
    def check_state(self, db, expected):
        r = run("collections", db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(set(expected["collections"]) <= set(r.stdout.split()))
        for collection, entities in expected["collections"].items():
            r = run("scan", db, collection)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [line.split("\t", 1) for line in r.stdout.splitlines()]
            ids = [entity for entity, _ in lines]
            self.assertEqual(ids, sorted(entities))
            for entity, text in lines:  # every payload, as the scan prints it
                self.assertEqual(json.loads(text), cbor_to_python(bytes.fromhex(entities[entity])))
            self.assertEqual(run("count", db, collection).stdout.strip(), str(len(entities)))
            # Point reads: the first and last ids and every 200th (one process per read; the
            # scan above has already compared every payload).
            for entity in ids[:2] + ids[-2:] + ids[2:-2:200]:
                r = run("get", db, collection, entity)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), cbor_to_python(bytes.fromhex(entities[entity])))
        for collection, ids in expected["absent"].items():
            for entity in ids:
                self.assertEqual(run("get", db, collection, entity).returncode, 1)

    def test_fixtures(self):
        for name in NAMES:
            with self.subTest(fixture=name), tempfile.TemporaryDirectory() as tmp:
                source = os.path.join(FIXTURES, name)
                before = tree_bytes(source)
                expected = json.load(open(os.path.join(FIXTURES, name + ".expected.json")))
                db = os.path.join(tmp, "db")
                shutil.copytree(source, db)
                for root, dirs, files in os.walk(db):
                    for p in [root] + [os.path.join(root, f) for f in files]:
                        os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
                r = run("verify", db)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.check_state(db, expected)
                r = run("put", db, "added", "new", '{"after":"reference"}')
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(run("checkpoint", db).returncode, 0)
                self.check_state(db, expected)
                self.assertEqual(run("verify", db).returncode, 0)
                self.assertEqual(tree_bytes(source), before)


if __name__ == "__main__":
    TOOL, FIXTURES = sys.argv.pop(1), sys.argv.pop(1)
    unittest.main(verbosity=2)
