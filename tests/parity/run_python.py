#!/usr/bin/env python3
"""Runs the parity operations through the Python binding (bindings/python/entidb).

    run_python.py OPS DB_DIR

Same input and output lines as run_cpp.cpp and run_c.c (format in parity_test.py). Values go
through the binding's own conversions: the operation's bridge JSON is read into Python values
(dict, bytes, Tag...) and stored with txn.put; results are the Python values get/scan return,
printed as the library renders their canonical CBOR, so a value the binding mangles either way
shows up as a different line.
"""

import os
import sys

import entidb
from entidb import _convert


def to_text(value):
    return entidb.cbor_to_json(entidb.encode(value))


class Runner:
    def __init__(self, path):
        self.path = path
        self.db = None
        self.write = None
        self.read = None

    def open(self, f):
        key = os.environ.get("ENTIDB_PARITY_RAW_KEY")  # an encrypted database under this raw key
        return entidb.open(self.path, max_entity_bytes=int(f[1]), max_segment_size=int(f[2]),
                           max_wal_size=int(f[3]), raw_key=bytes.fromhex(key) if key else None)

    def snapshot(self):
        """The open read transaction, or a fresh one the caller must close (second item True)."""
        if self.read is not None:
            return self.read, False
        return self.db.read(), True

    def run(self, f):
        op = f[0]
        if op == "open":
            self.db = self.open(f)
            return "ok"
        if op == "open_again":
            self.open(f).close()
            return "ok"
        if op == "close":
            self.db.close()
            self.db = self.write = self.read = None
            return "ok"
        if op == "begin_write":
            self.write = self.db.transaction()
            return "ok"
        if op == "begin_read":
            self.read = self.db.read()
            return "ok"
        if op == "end_read":
            read, self.read = self.read, None
            read.close()
            return "ok"
        if op == "commit":
            write, self.write = self.write, None
            return f"sequence {write.commit()}"
        if op == "abort":
            write, self.write = self.write, None
            write.abort()
            return "ok"
        if op == "checkpoint":
            self.db.checkpoint()
            return "ok"
        if op == "last_sequence":
            return f"sequence {self.db.last_sequence}"
        if op == "put":
            self.write.put(f[1], f[2], _convert.loads(f[3]))
            return "ok"
        if op == "put_json":
            self.write.put_json(f[1], f[2], f[3])
            return "ok"
        if op == "put_cbor":
            self.write.put_cbor(f[1], f[2], bytes.fromhex(f[3]))
            return "ok"
        if op == "delete":
            return "existed true" if self.write.delete(f[1], f[2]) else "existed false"
        if op == "get":
            missing = object()
            if self.write is not None:
                value = self.write.get(f[1], f[2], missing)
            elif self.read is not None:
                value = self.read.get(f[1], f[2], missing)
            else:
                value = self.db.get(f[1], f[2], missing)
            return "absent" if value is missing else "value " + to_text(value)
        if op in ("count", "collections", "scan"):
            if op == "scan" and self.read is None:
                items = list(self.db.scan(f[1]))
            else:
                snapshot, temporary = self.snapshot()
                try:
                    if op == "count":
                        return f"count {snapshot.count(f[1])}"
                    if op == "collections":
                        return "names [" + ",".join(to_text(n) for n in snapshot.collections()) + "]"
                    items = list(snapshot.scan(f[1]))
                finally:
                    if temporary:
                        snapshot.close()
            return "items [" + ",".join(f'["{i.hex}",{to_text(v)}]' for i, v in items) + "]"
        if op == "declare_text":
            self.db.declare_text_index(f[1], f[2], stem=None if f[3] == "none" else f[3], keep_diacritics=f[4] == "true")
            return "ok"
        if op == "search":
            snapshot, temporary = self.snapshot()
            try:
                hits = snapshot.search(f[1], f[2], f[5], int(f[4]), plain=f[3] == "plain")
            finally:
                if temporary:
                    snapshot.close()
            return "hits [" + ",".join(f'["{i.hex}",{score:.6g}]' for i, score in hits) + "]"
        return "error unknown_operation"


def main():
    if len(sys.argv) != 3:
        print("usage: run_python.py OPS DB_DIR", file=sys.stderr)
        return 2
    runner = Runner(sys.argv[2])
    with open(sys.argv[1], encoding="utf-8") as ops:
        for line in ops:
            fields = line.rstrip("\n").split("\t")
            try:
                result = runner.run(fields)
            except entidb.EntiDBError as e:
                result = f"error {e.name}"
            print(result)
    if runner.db is not None:
        runner.db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
