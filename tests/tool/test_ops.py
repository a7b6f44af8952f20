#!/usr/bin/env python3
"""Black-box tests of the entidb tool's operations commands: compact, backup, restore, and the
extended verify and inspect (docs/operations.md, docs/tool.md).

Exit codes: 0 ok, 1 not found, 2 bad usage or bad input, 3 corruption, 4 locked, 5 other I/O;
errors as `error: <message>` on stderr. The tool's path comes from ENTIDB_TOOL.

Standard library only. Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_ops.py
"""

import fcntl
import json
import os
import re
import struct
import tempfile
import unittest
import zlib
from pathlib import Path

from tool_support import EXIT_CORRUPTION, EXIT_LOCKED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, TOOL, files_of, run


def fields(text):
    """`key: value` lines of a command's output as a dict."""
    out = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k.strip()] = v.strip()
    return out


class OpsTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            self.fail("ENTIDB_TOOL must name the entidb executable (got {!r})".format(TOOL))
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-ops-")
        self.tmp = Path(self._tmp.name)
        self.db = self.tmp / "db"

    def tearDown(self):
        self._tmp.cleanup()

    def ok(self, *args):
        r = run(*args)
        self.assertEqual(r.returncode, EXIT_OK, (args, r.out, r.err))
        self.assertEqual(r.err, "", (args, r.err))
        return r

    def error(self, code, *args):
        r = run(*args)
        self.assertEqual(r.returncode, code, (args, r.out, r.err))
        self.assertTrue(r.err.startswith("error: "), (args, r.err))
        return r

    def put(self, coll, i, value, db=None):
        self.ok("put", db or self.db, coll, "{:032x}".format(i), json.dumps(value))

    def scan_all(self, db):
        out = {}
        for coll in self.ok("collections", db).out.split():
            out[coll] = self.ok("scan", db, coll).out
        return out

    def churn(self, rounds=6, keys=12):
        """Overwrites `keys` entities `rounds` times and deletes some: plenty to compact."""
        for t in range(rounds):
            for i in range(keys):
                self.put("c", i, {"t": t, "i": i, "pad": "x" * 80})
        for i in range(0, keys, 3):
            self.ok("delete", self.db, "c", "{:032x}".format(i))

    # ---- compact -----------------------------------------------------------------------

    def test_compact_reclaims_bytes_and_keeps_the_state(self):
        self.churn()
        before = self.scan_all(self.db)
        seg_before = json.loads(self.ok("inspect", self.db, "--json").out)["segment_bytes"]
        r = self.ok("compact", self.db)
        self.assertEqual(r.out.splitlines()[0], "ok")
        f = fields(r.out)
        m = re.match(r"(\d+) -> (\d+) \(reclaimed (\d+)\)", f["bytes"])
        self.assertTrue(m, r.out)
        b, a, reclaimed = map(int, m.groups())
        self.assertEqual(b - a, reclaimed)
        self.assertGreater(reclaimed, 0)
        self.assertEqual(b, seg_before)  # every segment byte was merged
        self.assertEqual(self.scan_all(self.db), before)
        info = json.loads(self.ok("inspect", self.db, "--json").out)
        self.assertEqual(info["segment_bytes"], a)
        self.assertEqual(info["history_horizon"], int(f["history horizon"]))
        self.assertGreater(info["history_horizon"], 0)
        names = sorted(os.listdir(self.db / "SEGMENTS"))
        self.assertEqual([s["file"] for s in info["segments"]], names)
        self.assertFalse([n for n in names if not re.fullmatch(r"seg-\d{6}\.dat", n)], names)
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")
        # the database keeps working, and the history below the horizon is refused
        self.put("c", 1000, {"after": True})
        self.assertEqual(self.ok("count", self.db, "c").out, "9\n")
        self.error(EXIT_USAGE, "changes", self.db, "--since", "0")
        self.ok("changes", self.db, "--since", info["history_horizon"])

    def test_compact_json_and_retention(self):
        self.churn(rounds=2, keys=6)
        r = json.loads(self.ok("compact", self.db, "--json", "--tombstone-retention", "100").out)
        self.assertEqual(r["tombstones_kept"], 2)  # both deletions are within the last 100 commits
        self.assertEqual(r["bytes_before"] - r["bytes_after"], r["bytes_reclaimed"])
        r2 = json.loads(self.ok("compact", self.db, "--json").out)
        self.assertEqual(r2["tombstones_kept"], 1)  # only the newest commit's deletion remains
        self.assertEqual(r2["tombstones_dropped"], 1)

    def test_compact_errors(self):
        self.error(EXIT_NOT_FOUND, "compact", self.tmp / "none")
        self.assertFalse((self.tmp / "none").exists())
        self.churn(rounds=1, keys=2)
        before = files_of(self.db)
        self.error(EXIT_USAGE, "compact", self.db, "--tombstone-retention", "x")
        self.error(EXIT_USAGE, "compact", self.db, "extra")
        self.error(EXIT_USAGE, "compact")
        self.assertEqual(files_of(self.db), before)

    # ---- backup / restore --------------------------------------------------------------

    def test_backup_and_restore(self):
        self.churn()
        self.ok("index", self.db, "c", "--ordered", "i")
        self.put("other", 1, {"x": "y"})
        before = self.scan_all(self.db)
        backup = self.tmp / "b.entidb"
        r = self.ok("backup", self.db, backup)
        f = fields(r.out)
        self.assertEqual(int(f["bytes"]), backup.stat().st_size)
        self.assertEqual(int(f["entities"]), 9)
        seq = int(f["sequence"])
        data = backup.read_bytes()
        self.assertEqual(data[:4], b"EBAK")
        self.assertEqual(struct.unpack_from("<Q", data, 10)[0], seq)
        self.assertEqual("{:016x}".format(struct.unpack_from("<Q", data, len(data) - 8)[0]), f["xxh3-64"])

        target = self.tmp / "restored"
        r = self.ok("restore", backup, target)
        self.assertEqual(fields(r.out)["sequence"], str(seq))
        self.assertEqual(self.scan_all(target), before)
        self.assertEqual(self.ok("verify", target).out, "ok\n")
        info = json.loads(self.ok("inspect", target, "--json").out)
        self.assertEqual(info["last_sequence"], seq)
        self.assertEqual(info["history_horizon"], seq)
        self.assertEqual([(i["path"], i["kind"]) for i in info["indexes"]], [("i", "ordered")])
        self.assertEqual(self.ok("range", target, "c", "i", "0", "5").out.count("\n"), 4)  # 1, 2, 4, 5

        # refusals: existing target (2), existing backup file (2), missing backup (1), missing db (1)
        before_target = files_of(target)
        self.error(EXIT_USAGE, "restore", backup, target)
        self.assertEqual(files_of(target), before_target)
        before_backup = backup.read_bytes()
        self.error(EXIT_USAGE, "backup", self.db, backup)
        self.assertEqual(backup.read_bytes(), before_backup)
        self.error(EXIT_NOT_FOUND, "restore", self.tmp / "nothing", self.tmp / "r2")
        self.assertFalse((self.tmp / "r2").exists())
        self.error(EXIT_NOT_FOUND, "backup", self.tmp / "nodb", self.tmp / "b2")
        self.assertFalse((self.tmp / "nodb").exists())
        self.assertFalse((self.tmp / "b2").exists())

    def test_damaged_backup_is_refused(self):
        self.churn(rounds=2, keys=5)
        backup = self.tmp / "b"
        self.ok("backup", self.db, backup)
        good = backup.read_bytes()
        cases = {
            "truncated": good[:-1],
            "half": good[: len(good) // 2],
            "flipped payload byte": good[:60] + bytes([good[60] ^ 1]) + good[61:],
            "flipped checksum": good[:-1] + bytes([good[-1] ^ 0x80]),
            "extra bytes": good + b"\0",
            "not a backup": b"MANIFEST and more",
            "empty": b"",
        }
        for name, data in cases.items():
            with self.subTest(name):
                bad = self.tmp / ("bad-" + name.replace(" ", "-"))
                bad.write_bytes(data)
                target = self.tmp / ("r-" + name.replace(" ", "-"))
                r = self.error(EXIT_CORRUPTION, "restore", bad, target)
                self.assertIn(str(bad), r.err)
                self.assertFalse(target.exists())
                self.assertFalse(Path(str(target) + ".restoring").exists())

    # ---- verify and inspect ------------------------------------------------------------

    def test_verify_reports_a_pending_compaction_and_finds_damage(self):
        self.churn(rounds=3, keys=4)
        self.ok("compact", self.db)
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")
        journal = (self.db / "COMPACTION").read_bytes()
        self.assertEqual(journal[:4], b"ECMP")
        # a damaged journal: exit 3, the file named, nothing changed
        damaged = bytearray(journal)
        damaged[7] ^= 0x10
        (self.db / "COMPACTION").write_bytes(bytes(damaged))
        before = files_of(self.db)
        r = self.error(EXIT_CORRUPTION, "verify", self.db, )
        self.assertIn("COMPACTION", r.out + r.err)
        self.error(EXIT_CORRUPTION, "count", self.db, "c")
        self.assertEqual(files_of(self.db), before)
        (self.db / "COMPACTION").write_bytes(journal)
        # a leftover temporary of a compaction that never became current: noted, then deleted
        stray = self.db / "SEGMENTS" / "seg-000999.dat.compact"
        stray.write_bytes(b"partial")
        r = self.ok("verify", self.db)
        self.assertTrue(r.out.startswith("ok\n"), r.out)
        self.assertIn("compaction", r.out)
        self.assertTrue(stray.exists())  # verify changes nothing
        self.ok("count", self.db, "c")
        self.assertTrue(stray.exists())  # nor does a command that only reads (a read-only open)
        self.ok("checkpoint", self.db)
        self.assertFalse(stray.exists())  # a read-write open deleted it
        self.assertEqual(self.ok("verify", self.db).out, "ok\n")

    def test_verify_lists_every_problem_with_file_and_offset(self):
        for i in range(6):
            self.put("c", i, {"i": i, "text": "some words to damage " * 3})
        self.ok("checkpoint", self.db)  # sealed: every record there must be good
        seg = self.db / "SEGMENTS" / "seg-000001.dat"
        data = bytearray(seg.read_bytes())
        # Records 1 and 3 get their map entries swapped ({"text": ..., "i": n}): same length,
        # valid CBOR, right CRC, but not canonical.
        offsets, at = [], 0
        while at < len(data):
            (n,) = struct.unpack_from("<I", data, at)
            offsets.append(at)
            at += n
        self.assertEqual(len(offsets), 6)
        for k in (1, 3):
            at = offsets[k]
            (n,) = struct.unpack_from("<I", data, at)
            body = bytes(data[at + 33: at + n - 4])
            self.assertEqual(body[:3], b"\xa2\x61i", body[:8])
            swapped = b"\xa2" + body[4:] + body[1:4]
            data[at + 33: at + n - 4] = swapped
            struct.pack_into("<I", data, at + n - 4, zlib.crc32(bytes(data[at: at + n - 4])))
        seg.write_bytes(bytes(data))
        r = self.error(EXIT_CORRUPTION, "verify", self.db, )
        lines = [l for l in r.out.splitlines() if "canonical" in l]
        self.assertEqual(len(lines), 2, r.out)
        for k, line in zip((1, 3), lines):
            self.assertIn("seg-000001.dat", line)
            self.assertIn("offset {}".format(offsets[k]), line)
        self.assertIn("offset {}".format(offsets[1]), r.err)
        # a damaged sealed record stops the check at once (open would refuse it too)
        data[offsets[4] + 40] ^= 0xFF
        seg.write_bytes(bytes(data))
        r = self.error(EXIT_CORRUPTION, "verify", self.db)
        self.assertIn("offset {}".format(offsets[4]), r.out)
        self.assertEqual(len(r.out.splitlines()), 1, r.out)

    def test_inspect_reports_indexes_bytes_and_horizon(self):
        self.put("c", 1, {"k": "a"})
        self.ok("index", self.db, "c", "--hash", "--unique", "k")
        info = json.loads(self.ok("inspect", self.db, "--json").out)
        self.assertEqual(info["indexes"], [{"id": 1, "collection_id": 1, "path": "k", "kind": "hash",
                                            "unique": True}])
        self.assertEqual(info["history_horizon"], 0)
        self.assertEqual(info["segment_bytes"], sum(s["bytes"] for s in info["segments"]))
        text = self.ok("inspect", self.db).out
        self.assertIn("history horizon: 0", text)
        self.assertRegex(text, r"index 1: .*hash on 'k', unique")


    # ---- salvage -----------------------------------------------------------------------

    def segment_offsets(self, seg):
        data, offsets, at = seg.read_bytes(), [], 0
        while at < len(data):
            (n,) = struct.unpack_from("<I", data, at)
            offsets.append((at, n))
            at += n
        return offsets

    def test_salvage_recovers_around_damage_and_changes_nothing(self):
        for i in range(8):
            self.put("c", i, {"i": i, "text": "words " * 4})
        self.ok("index", self.db, "c", "--ordered", "i")
        self.ok("checkpoint", self.db)
        self.put("c", 100, {"i": 100})  # only in the WAL and the active segment
        expected = self.scan_all(self.db)["c"].splitlines()
        seg = self.db / "SEGMENTS" / "seg-000001.dat"
        records = self.segment_offsets(seg)
        self.assertEqual(len(records), 8)
        data = bytearray(seg.read_bytes())
        at, n = records[2]
        data[at + n // 2] ^= 0xFF  # entity 2 damaged
        at5, n5 = records[5]
        body = bytes(data[at5 + 33: at5 + n5 - 4])  # entity 5: {"i": 5, "text": ...} made non-canonical
        data[at5 + 33: at5 + n5 - 4] = b"\xa2" + body[4:] + body[1:4]
        struct.pack_into("<I", data, at5 + n5 - 4, zlib.crc32(bytes(data[at5: at5 + n5 - 4])))
        seg.write_bytes(bytes(data))
        self.error(EXIT_CORRUPTION, "count", self.db, "c")
        before = files_of(self.db)

        out = self.tmp / "out"
        r = self.ok("salvage", self.db, out)
        self.assertEqual(files_of(self.db), before)  # byte for byte
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "lost data")
        f = fields(r.out)
        self.assertEqual(f["entities"], "7")
        self.assertEqual(f["collections"], "1")
        self.assertEqual(f["indexes"], "1")
        self.assertEqual(f["damaged"], "{} bytes in 1 ranges".format(n))
        self.assertEqual(f["skipped"], "1 records")
        self.assertEqual(f["manifest"], "ok")
        self.assertIn("file SEGMENTS/seg-000001.dat: {} bytes, 6 records recovered, 1 skipped, {} damaged bytes"
                      .format(len(data), n), lines)
        self.assertTrue(any(l.startswith("  damaged {}..{}: ".format(at, at + n)) for l in lines), r.out)
        self.assertTrue(any(l.startswith("  skipped {}: ".format(at5)) and "canonical" in l for l in lines), r.out)
        self.assertEqual(self.ok("verify", out).out, "ok\n")
        lost = {"{:032x}".format(2), "{:032x}".format(5)}
        self.assertEqual(self.ok("scan", out, "c").out.splitlines(),
                         [l for l in expected if l.split("\t")[0] not in lost])
        self.assertEqual(json.loads(self.ok("inspect", out, "--json").out)["indexes"][0]["path"], "i")

    def test_salvage_exit_codes(self):
        self.put("c", 1, {"i": 1})
        self.ok("checkpoint", self.db)
        out = self.tmp / "out"
        # OUT not empty: exit 2, nothing written
        out.mkdir()
        (out / "keep").write_bytes(b"x")
        self.error(EXIT_USAGE, "salvage", self.db, out)
        self.assertEqual(files_of(out), {"keep": b"x"})
        self.error(EXIT_USAGE, "salvage", self.db)
        # no database: exit 1
        self.error(EXIT_NOT_FOUND, "salvage", self.tmp / "missing", self.tmp / "o1")
        self.assertFalse((self.tmp / "o1").exists())
        # locked: exit 4
        with open(self.db / "LOCK", "rb") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.error(EXIT_LOCKED, "salvage", self.db, self.tmp / "o2")
        self.assertFalse((self.tmp / "o2").exists())
        # nothing left to recover: exit 3, the report still printed
        seg = self.db / "SEGMENTS" / "seg-000001.dat"
        data = bytearray(seg.read_bytes())
        data[-1] ^= 0xFF
        seg.write_bytes(bytes(data))
        r = self.error(EXIT_CORRUPTION, "salvage", self.db, self.tmp / "o3")
        self.assertEqual(fields(r.out)["entities"], "0")
        self.assertIn("  damaged 0..{}: ".format(len(data)), r.out)
        # an intact database: "ok", exit 0
        db2 = self.tmp / "db2"
        self.put("c", 1, {"i": 1}, db=db2)
        r = self.ok("salvage", db2, self.tmp / "o4")
        self.assertEqual(r.out.splitlines()[0], "ok")
        self.assertEqual(self.ok("get", self.tmp / "o4", "c", "{:032x}".format(1)).out, '{"i":1}\n')

if __name__ == "__main__":
    unittest.main(verbosity=2)
