#!/usr/bin/env python3
"""An independent byte-level reader of SPEC.md §3, written from the spec alone.

Usage: check_format.py ENTIDB_TOOL

Writes a database with the entidb tool (puts, updates, deletes, several collections, a
checkpoint, rotation through a small --max-segment-size, more writes after it), then parses
every file with the rules below and checks that the visible state it computes equals what
the tool prints. Shares no code with the library.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

TOOL = None


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def parse_manifest(data):
    at = 0

    def take(fmt):
        nonlocal at
        values = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string():
        nonlocal at
        n = take("H")
        s = data[at:at + n].decode("utf-8")
        at += n
        return s

    assert data[:4] == b"EMFN", "manifest magic"
    at = 4
    manifest_version, major, minor = take("HHH")
    assert (manifest_version, major, minor) == (2, 1, 0), (manifest_version, major, minor)
    next_collection_id, count = take("II")
    collections = {}
    for _ in range(count):
        name = string()
        collections[name] = take("I")
    assert list(collections) == sorted(collections, key=lambda s: s.encode()), "collections sorted by name"
    assert all(0 < i < next_collection_id for i in collections.values())
    next_index_id, index_count = take("QI")
    for _ in range(index_count):
        take("QI")
        for _ in range(take("H")):
            string()
        kind, unique, _created = take("BBQ")
        assert kind in (0, 1) and unique in (0, 1)
    has_checkpoint = take("B")
    assert has_checkpoint in (0, 1)
    checkpoint = take("Q") if has_checkpoint else None
    assert at == len(data), "no trailing bytes in MANIFEST"
    return collections, checkpoint


def parse_segment(data):
    records, at = [], 0
    while at < len(data):
        (length,) = struct.unpack_from("<I", data, at)
        assert length >= 37 and at + length <= len(data), f"record length {length} at {at}"
        body = data[at:at + length - 4]
        (crc,) = struct.unpack_from("<I", data, at + length - 4)
        assert crc == crc32(body), f"segment CRC at {at}"
        collection, = struct.unpack_from("<I", body, 4)
        entity = body[8:24]
        flags = body[24]
        (sequence,) = struct.unpack_from("<Q", body, 25)
        payload = body[33:]
        assert flags in (0, 1), f"flags {flags}"
        assert not (flags & 1) or not payload, "tombstones carry no payload"
        records.append((collection, entity, flags & 1 == 1, sequence, payload))
        at += length
    return records


WAL_TYPES = {1: "BEGIN", 2: "PUT", 3: "DELETE", 4: "COMMIT", 5: "ABORT", 6: "CHECKPOINT"}


def parse_wal(data):
    records, at = [], 0
    while at < len(data):
        assert data[at:at + 4] == b"EWAL", f"WAL magic at {at}"
        version, kind, length = struct.unpack_from("<HBI", data, at + 4)
        assert version == 1 and kind in WAL_TYPES
        end = at + 11 + length
        (crc,) = struct.unpack_from("<I", data, end)
        assert crc == crc32(data[at:end]), f"WAL CRC at {at}"
        p = data[at + 11:end]
        name = WAL_TYPES[kind]
        if name in ("BEGIN", "ABORT"):
            assert len(p) == 8
            records.append((name, struct.unpack("<Q", p)[0]))
        elif name == "COMMIT":
            assert len(p) == 16
            records.append((name,) + struct.unpack("<QQ", p))
        elif name == "CHECKPOINT":
            assert len(p) == 8
            records.append((name, struct.unpack("<Q", p)[0]))
        else:
            txid, collection = struct.unpack_from("<QI", p)
            entity = p[12:28]
            has_hash = p[28]
            assert has_hash in (0, 1)
            rest = p[29 + 32 * has_hash:]
            if name == "PUT":
                (n,) = struct.unpack_from("<I", rest)
                assert len(rest) == 4 + n, "PUT length"
                records.append((name, txid, collection, entity, rest[4:]))
            else:
                assert rest == b"", "DELETE has no trailing bytes"
                records.append((name, txid, collection, entity))
        at = end + 4
    return records


def visible_state(db):
    collections, checkpoint = parse_manifest(open(os.path.join(db, "MANIFEST"), "rb").read())
    latest = {}  # (collection, entity) -> (sequence, tombstone, payload)

    def apply(key, seq, tomb, payload):
        if key not in latest or latest[key][0] <= seq:
            latest[key] = (seq, tomb, payload)

    seg_dir = os.path.join(db, "SEGMENTS")
    names = sorted(os.listdir(seg_dir))
    assert all(len(n) == 14 and n.startswith("seg-") and n.endswith(".dat") for n in names), names
    assert [int(n[4:10]) for n in names] == list(range(1, len(names) + 1)), names
    for name in names:
        for collection, entity, tomb, seq, payload in parse_segment(open(os.path.join(seg_dir, name), "rb").read()):
            apply((collection, entity), seq, tomb, payload)
    pending = {}
    for rec in parse_wal(open(os.path.join(db, "wal.log"), "rb").read()):
        if rec[0] == "BEGIN":
            pending[rec[1]] = []
        elif rec[0] in ("PUT", "DELETE"):
            pending[rec[1]].append(rec)
        elif rec[0] == "COMMIT":
            for op in pending.pop(rec[1]):
                apply((op[2], op[3]), rec[2], op[0] == "DELETE", op[4] if op[0] == "PUT" else b"")
        elif rec[0] == "ABORT":
            pending.pop(rec[1])
    names_by_id = {v: k for k, v in collections.items()}
    state = {}
    for (collection, entity), (_, tomb, payload) in latest.items():
        if not tomb:
            state.setdefault(names_by_id[collection], {})[entity.hex()] = payload.hex()
    return state, checkpoint


def cbor_to_python(data):
    """Decodes the CBOR subset the tool writes into what its JSON output means."""
    def item(at):
        major, info = data[at] >> 5, data[at] & 31
        at += 1
        if info < 24:
            arg = info
        else:
            size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
            arg = int.from_bytes(data[at:at + size], "big")
            at += size
        if major == 0:
            return arg, at
        if major == 1:
            return -1 - arg, at
        if major == 2:
            return {"$bytes": data[at:at + arg].hex()}, at + arg
        if major == 3:
            return data[at:at + arg].decode("utf-8"), at + arg
        if major == 4:
            out = []
            for _ in range(arg):
                v, at = item(at)
                out.append(v)
            return out, at
        if major == 5:
            out = {}
            for _ in range(arg):
                k, at = item(at)
                out[k], at = item(at)
            return out, at
        if major == 7:
            return {20: False, 21: True, 22: None}[info], at
        raise AssertionError(f"unexpected major type {major}")

    value, end = item(0)
    assert end == len(data), "trailing bytes"
    return value


def tool(*args, check=True):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"entidb {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


class FormatTest(unittest.TestCase):
    def test_written_files_follow_the_spec(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "db")
            opts = ["--max-segment-size", "1024"]
            ids = [tool("put", db, "users", "new", json.dumps({"n": i, "name": f"user {i}"}), *opts).strip()
                   for i in range(30)]
            tool("put", db, "notes", ids[0], '{"text":"same id, other collection"}', *opts)
            tool("put", db, "users", ids[1], '{"n":1,"name":"updated","tags":["x",{"$bytes":"00ff"}]}', *opts)
            tool("delete", db, "users", ids[2], *opts)
            tool("checkpoint", db, *opts)
            tool("put", db, "users", ids[3], '{"n":-3}', *opts)
            tool("delete", db, "users", ids[4], *opts)
            tool("load", db, "events", "--txns", "3", "--per-txn", "2", "--size", "40", *opts)

            state, checkpoint = visible_state(db)
            self.assertIsNotNone(checkpoint)
            self.assertGreater(len(os.listdir(os.path.join(db, "SEGMENTS"))), 2)
            self.assertEqual(sorted(state), tool("collections", db).split())
            for collection, entities in state.items():
                lines = tool("scan", db, collection).splitlines()
                self.assertEqual([line.split("\t")[0] for line in lines], sorted(entities))
                for entity, payload_hex in entities.items():
                    # On disk: canonical CBOR whose meaning is what `get` prints.
                    self.assertEqual(tool("cbor", payload_hex).strip(), payload_hex)
                    self.assertEqual(json.loads(tool("get", db, collection, entity)),
                                     cbor_to_python(bytes.fromhex(payload_hex)))
            self.assertNotIn(ids[2], state["users"])
            self.assertNotIn(ids[4], state["users"])
            self.assertEqual(len(state["users"]), 28)
            self.assertEqual(len(state["events"]), 6)


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
