#!/usr/bin/env python3
"""Black-box tests of `entidb sync DB URL` (docs/tool.md, "Sync"; docs/sync-protocol.md,
"Client") against `entidb sync-server` on 127.0.0.1: devices converge and the printed counts say
what moved; a new path becomes a new device; a stale offline edit loses to a delete; tokens name
the tenant and device; a server that cannot be reached or refuses is exit 7 with the database
unchanged (byte for byte) or not created; and devices whose `entidb sync` and server are killed
with SIGKILL at random moments end identical, with every operation applied exactly once.

With ENTIDB_TEST_PG set (tests/sync/with_postgres.py: Meson's tool_sync_postgres) every server
runs with the PostgreSQL store (`--store postgres`, a fresh schema per test) instead of the
embedded one: the same tests, the same results.

Every network call goes to 127.0.0.1 with a timeout. Standard library only.
Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_sync_client.py
"""

import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid
from pathlib import Path

from tool_support import EXIT_OK, EXIT_USAGE, TOOL, cbor_decode, cbor_encode, files_of, run, start_sync_server

POSTGRES = os.environ.get("ENTIDB_TEST_PG", "")


def store_independent(test):
    """Run once, with the embedded store: a test of the client and the command line, or (the kill
    test) one whose store side the PostgreSQL run of the unit cases covers (sync_postgres: five
    devices behind an unreliable transport, concurrent stores on one database). The PostgreSQL
    run of these tests (tool_sync_postgres) repeats what the server's store serves."""
    return unittest.skipIf(POSTGRES, "independent of the server's store: run with the embedded store")(test)

EXIT_SYNC = 7
TIMEOUT = 20
REPORT = re.compile(r"^pulled (\d+) pushed (\d+) conflicts (\d+) cursor (\d+)\n$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SyncClientTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            self.fail("ENTIDB_TOOL must name the entidb executable (got {!r})".format(TOOL))
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-syncc-")
        self.dir = Path(self._tmp.name)
        self.servers = []
        self.store = ["--store", "postgres", "--pg", POSTGRES, "--pg-schema", "t" + uuid.uuid4().hex] if POSTGRES else []

    def tearDown(self):
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait(TIMEOUT)
            p.stdout.close()
            p.stderr.close()
        self._tmp.cleanup()

    def start(self, *extra):
        p, self.url = start_sync_server(self.dir / "server", *self.store, *extra)
        self.servers.append(p)
        if self.url is None:
            self.fail("sync-server did not start: " + p.stderr.read().decode(errors="replace"))
        return p

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(TIMEOUT), 0)

    def sync(self, device, *extra, expect=EXIT_OK):
        r = run("sync", self.dir / device, self.url, *extra)
        self.assertEqual(r.returncode, expect, r.err)
        if expect != EXIT_OK:
            return r
        m = REPORT.match(r.out)
        self.assertIsNotNone(m, r.out)
        return tuple(int(x) for x in m.groups())

    def put(self, device, coll, ident, json):
        r = run("put", self.dir / device, coll, ident, json)
        self.assertEqual(r.returncode, EXIT_OK, r.err)
        return r.out.strip()

    def scan(self, device, coll="notes"):
        r = run("scan", self.dir / device, coll)
        self.assertIn(r.returncode, (EXIT_OK,), r.err)
        return r.out

    def test_devices_converge_and_report_what_moved(self):  # also with --store postgres
        self.start()
        a1 = self.put("a", "notes", "new", '{"t":"one"}')
        self.put("a", "notes", "new", '{"t":"two"}')
        self.assertEqual(self.sync("a"), (0, 2, 0, 2))
        self.assertEqual(self.sync("b"), (2, 0, 0, 2))  # a new path: a new device
        self.assertEqual(self.scan("b"), self.scan("a"))
        self.assertEqual(self.sync("a"), (0, 0, 0, 2))  # nothing new; its own pushes are not pulled back

        # b deletes what a edits offline: a's edit was made before it saw the delete, so it loses.
        self.assertEqual(run("delete", self.dir / "b", "notes", a1).returncode, EXIT_OK)
        self.assertEqual(self.sync("b"), (0, 1, 0, 3))
        self.put("a", "notes", a1, '{"t":"stale"}')
        self.assertEqual(self.sync("a"), (0, 1, 1, 3))  # the pulled delete waits; the push's answer applies it
        self.assertEqual(run("get", self.dir / "a", "notes", a1).returncode, 1)
        # A put of that id now is a fresh write: it comes back everywhere.
        self.put("a", "notes", a1, '{"t":"back"}')
        self.assertEqual(self.sync("a"), (0, 1, 0, 4))
        self.assertEqual(self.sync("b"), (1, 0, 0, 4))
        self.assertEqual(self.scan("b"), self.scan("a"))
        self.assertIn('"back"', self.scan("b"))

    @store_independent
    def test_unreachable_or_refusing_server_is_exit_7_and_changes_nothing(self):
        self.url = "http://127.0.0.1:{}".format(free_port())
        r = self.sync("new", expect=EXIT_SYNC)
        self.assertIn("127.0.0.1", r.err)
        self.assertIsNone(files_of(self.dir / "new"))  # not created
        self.put("a", "notes", "new", '{"t":"x"}')
        before = files_of(self.dir / "a")
        self.sync("a", expect=EXIT_SYNC)
        self.assertEqual(files_of(self.dir / "a"), before)

        # a syncs once with an open server, then the server requires tokens.
        server = self.start()
        self.assertEqual(self.sync("a"), (0, 1, 0, 1))
        self.stop(server)
        tokens = self.dir / "tokens"
        t = run("sync-token", "--tokens", tokens, "--device", "ab" * 16, "--db", "team", "--ttl", "1h")
        self.assertEqual(t.returncode, EXIT_OK, t.err)
        token_file = self.dir / "token"
        token_file.write_text(t.out)
        self.start("--tokens", str(tokens))
        before = files_of(self.dir / "a")
        r = self.sync("a", expect=EXIT_SYNC)  # no token: 401
        self.assertIn("unauthorized", r.err)
        self.assertEqual(files_of(self.dir / "a"), before)
        # The token names the tenant and the device: a new device takes both.
        self.assertEqual(self.sync("c", "--token-file", token_file), (0, 0, 0, 0))
        self.put("c", "notes", "new", '{"t":"c"}')
        self.assertEqual(self.sync("c", "--token-file", token_file), (0, 1, 0, 1))
        # A device may be named: the token and the sync read the name the same way.
        t = run("sync-token", "--tokens", tokens, "--device", "laptop", "--db", "team")
        self.assertEqual(t.returncode, EXIT_OK, t.err)
        named = self.dir / "named.token"
        named.write_text(t.out)
        self.assertEqual(self.sync("d", "--token-file", named, "--device", "laptop"), (1, 0, 0, 1))
        self.sync("e", "--token-file", named, "--device", "desktop", expect=EXIT_USAGE)  # not the token's device
        # A database that syncs as another device cannot take this token: exit 2, unchanged.
        r = self.sync("a", "--token-file", token_file, expect=EXIT_USAGE)
        self.assertIn("device", r.err)
        self.assertEqual(files_of(self.dir / "a"), before)

    def test_compacted_history_loses_nothing(self):  # also with --store postgres
        self.start("--keep-history", "2")
        note = self.put("a", "notes", "new", '{"v":0}')
        self.sync("a")
        self.sync("b")
        self.put("b", "notes", "new", '{"b":"unpushed"}')
        for v in range(1, 8):  # a overwrites its note: the server drops the superseded versions
            self.put("a", "notes", note, '{"v":%d}' % v)
            self.sync("a")
        self.sync("b")  # b's cursor is below the horizon now: it catches up, then pushes
        self.sync("a")
        self.assertEqual(self.scan("b"), self.scan("a"))
        self.assertIn('"unpushed"', self.scan("a"))
        self.assertIn('{"v":7}', self.scan("b"))
        r = run("sync-server", "--listen", "127.0.0.1:0", "--data", self.dir / "s3", "--keep-history", "0")
        self.assertEqual(r.returncode, EXIT_USAGE, r.err)

    @store_independent
    def test_tls(self):
        cert, key = self.dir / "cert.pem", self.dir / "key.pem"
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Bad TLS options: exit 2, nothing created.
        for extra in (["--tls-cert", str(cert)], ["--tls-cert", str(cert), "--tls-key", str(cert)]):
            r = run("sync-server", "--listen", "127.0.0.1:0", "--data", self.dir / "s2", *self.store, *extra)
            self.assertEqual(r.returncode, EXIT_USAGE, r.err)
        self.assertIsNone(files_of(self.dir / "s2"))
        self.start("--tls-cert", str(cert), "--tls-key", str(key))
        https = self.url.replace("http://", "https://")
        self.put("a", "notes", "new", '{"t":"tls"}')
        self.url = https
        self.assertEqual(self.sync("a", "--ca-file", cert), (0, 1, 0, 1))
        self.assertEqual(self.sync("c", "--ca-file", cert), (1, 0, 0, 1))
        r = self.sync("b", expect=EXIT_SYNC)  # no CA for this certificate: it does not verify
        self.assertIn("certificate", r.err)
        self.assertIsNone(files_of(self.dir / "b"))
        self.url = https.replace("https://", "http://")
        self.sync("b", expect=EXIT_SYNC)  # plain HTTP to a TLS server
        self.assertIsNone(files_of(self.dir / "b"))

    @store_independent
    def test_bad_command_lines_are_exit_2_and_create_nothing(self):
        self.url = "http://127.0.0.1:{}".format(free_port())
        for extra in (["--collections", ","], ["--device", ""], ["--token-file", str(self.dir / "missing")],
                      ["--bogus"]):
            r = run("sync", self.dir / "n", self.url, *extra)
            self.assertEqual(r.returncode, EXIT_USAGE, (extra, r.err))
        for url in ("ftp://127.0.0.1:1", "http://", "https://", "http://127.0.0.1:1/path"):
            r = run("sync", self.dir / "n", url)
            self.assertEqual(r.returncode, EXIT_USAGE, (url, r.err))
        self.assertIsNone(files_of(self.dir / "n"))
        bad = self.dir / "badtoken"
        bad.write_text("et1.@@@.xyz\n")
        self.assertEqual(run("sync", self.dir / "n", self.url, "--token-file", bad).returncode, EXIT_USAGE)
        self.assertIsNone(files_of(self.dir / "n"))

    @store_independent
    def test_kills_of_clients_and_server_lose_nothing_and_repeat_nothing(self):
        """Five devices write (new entities, overwrites of entities they hold, deletes), their syncs
        are killed with SIGKILL at random moments and so is the server: after quiet syncs every
        device holds the server's state, every write survives unless a later one replaced it, and
        no (device, client sequence) was applied twice."""
        rng = random.Random(20261208)
        server = self.start()
        devices = ["d{}".format(i) for i in range(5)]
        for d in devices:
            self.assertEqual(run("load", self.dir / d, "notes", "--txns", 1, "--per-txn", 1).returncode, EXIT_OK)
        deadline = time.monotonic() + 90
        killed = 0
        for round_ in range(7):
            self.assertLess(time.monotonic(), deadline, "the kill rounds took too long")
            d = rng.choice(devices)
            r = run("load", self.dir / d, "notes", "--txns", rng.randint(1, 2), "--per-txn", rng.randint(1, 30))
            self.assertEqual(r.returncode, EXIT_OK, r.err)
            held = [line.split("\t")[0] for line in self.scan(d).splitlines()]
            if rng.random() < 0.6:
                self.put(d, "notes", rng.choice(held), '{"over":%d}' % round_)
            if rng.random() < 0.4:
                self.assertIn(run("delete", self.dir / d, "notes", rng.choice(held)).returncode, (EXIT_OK, 1))
            p = subprocess.Popen([TOOL, "sync", str(self.dir / d), self.url], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.03))
            p.kill()
            killed += p.wait(TIMEOUT) == -signal.SIGKILL
            if round_ % 3 == 2:  # the server too, at once, then again on the same data
                server.kill()
                server.wait(TIMEOUT)
                server = self.start()
        self.assertGreater(killed, 2, "most syncs must be killed while they run")
        for _ in range(2):  # the first round pushes everything, the second pulls it everywhere
            for d in devices:
                self.sync(d)
        first = self.scan(devices[0])
        self.assertGreater(first.count("\n"), 5)
        for d in devices[1:]:
            self.assertEqual(self.scan(d), first)
        # The server's history: no (device, client sequence) twice, and folding it gives the
        # devices' state.
        body = cbor_encode({"db": "default", "device": bytes(16), "cursor": 0, "limit": 10000, "wait_ms": 0})
        req = urllib.request.Request(self.url + "/sync/v2/pull", data=body, method="POST",
                                     headers={"Content-Type": "application/cbor"})
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            ops = cbor_decode(r.read())["ops"]
        self.assertEqual(len({(op["device"], op["cseq"]) for op in ops}), len(ops))
        live = {}
        for op in ops:
            if op["kind"] == 1:
                live[op["id"].hex()] = True
            else:
                live.pop(op["id"].hex(), None)
        self.assertEqual(sorted(live), [line.split("\t")[0] for line in first.splitlines()])
        self.stop(server)

if __name__ == "__main__":
    unittest.main(verbosity=2)
