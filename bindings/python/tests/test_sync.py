"""Database.sync (the C ABI's entidb_sync) against `entidb sync-server` on 127.0.0.1: two
databases converge through it, the report counts what moved, a token names the tenant and
device, a server that is not there or that refuses raises the sync errors and changes nothing.

The server is the tool named by ENTIDB_TOOL (the test suite sets it).
"""

import os
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

import entidb

TOOL = os.environ.get("ENTIDB_TOOL", "")
TIMEOUT = 20
# The tool carries its own sanitizer runtime: what the test suite preloads into the interpreter
# (LD_PRELOAD, for the library under AddressSanitizer) must not reach it.
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SyncTest(unittest.TestCase):
    def setUp(self):
        if not TOOL:
            self.skipTest("ENTIDB_TOOL is not set: no sync server to run")
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-pysync-")
        self.dir = Path(self._tmp.name)
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.kill()
            self.server.wait(TIMEOUT)
            self.server.stdout.close()
        self._tmp.cleanup()

    def start(self, *extra):
        self.server = subprocess.Popen(
            [TOOL, "sync-server", "--listen", "127.0.0.1:0", "--data", str(self.dir / "server"), *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=TOOL_ENV)
        line = self.server.stdout.readline().decode()
        self.assertTrue(line.startswith("listening on 127.0.0.1:"), line)
        return "http://127.0.0.1:" + line.strip().rsplit(":", 1)[1]

    def test_two_databases_converge(self):
        url = self.start()
        with entidb.open(self.dir / "a") as a, entidb.open(self.dir / "b") as b:
            first = entidb.new_id()
            with a.transaction() as w:
                w.put("notes", first, {"t": "one"})
                w.put("notes", entidb.new_id(), {"t": "two"})
            self.assertEqual(a.sync(url), entidb.SyncReport(0, 2, 0, 0, 2))
            self.assertEqual(b.sync(url), entidb.SyncReport(2, 0, 0, 0, 2))
            self.assertEqual(b.get("notes", first), {"t": "one"})
            with b.transaction() as w:
                w.delete("notes", first)
            self.assertEqual(b.sync(url).pushed, 1)
            self.assertEqual(a.sync(url).pulled, 1)
            self.assertIsNone(a.get("notes", first))
            # Only the named collections.
            with a.transaction() as w:
                w.put("other", entidb.new_id(), {"x": 1})
            self.assertEqual(a.sync(url, collections=["notes"]).pushed, 0)
            with self.assertRaises(ValueError):
                a.sync(url, collections="notes")

    def test_failures_raise_and_change_nothing(self):
        with entidb.open(self.dir / "a") as a:
            with a.transaction() as w:
                w.put("notes", entidb.new_id(), {"t": "x"})
            before = a.last_sequence
            with self.assertRaises(entidb.SyncUnreachableError):
                a.sync("http://127.0.0.1:{}".format(free_port()))
            with self.assertRaises(entidb.InvalidArgumentError):
                a.sync("ftp://127.0.0.1:1")
            self.assertEqual(a.last_sequence, before)
            tokens = self.dir / "tokens"
            device = "cd" * 16
            r = subprocess.run([TOOL, "sync-token", "--tokens", str(tokens), "--device", device, "--db", "team"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT, check=True, env=TOOL_ENV)
            token = r.stdout.decode().strip()
            url = self.start("--tokens", str(tokens))
            with self.assertRaises(entidb.SyncRefusedError) as refused:
                a.sync(url)
            self.assertIn("unauthorized", str(refused.exception))
            self.assertEqual(a.last_sequence, before)
            report = a.sync(url, token=token, tenant="team", device=device)
            self.assertEqual((report.pushed, report.cursor), (1, 1))
            # The database now syncs as that device: another one is refused.
            with self.assertRaises(entidb.InvalidArgumentError):
                a.sync(url, token=token, tenant="team", device="ef" * 16)


if __name__ == "__main__":
    unittest.main()
