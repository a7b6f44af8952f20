#!/usr/bin/env python3
"""Black-box tests of `entidb sync-server` and `entidb sync-token` (docs/tool.md, "Sync";
docs/sync-protocol.md): the server prints `listening on HOST:PORT`, answers the protocol's
messages over HTTP on 127.0.0.1 with canonical CBOR, refuses bad requests with an error body and
the documented status, wakes long-polling pulls when a push lands, stops on SIGTERM with exit 0,
keeps its state, and with --tokens lets through only tokens its key signed, for the request's
device, database and collections, until they expire.

Every network call goes to 127.0.0.1 with a timeout. Standard library only (the CBOR codec is
tool_support.py's). Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_sync_server.py
"""

import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from tool_support import (EXIT_LOCKED, EXIT_OK, EXIT_USAGE, TOOL, cbor_decode as uncbor, cbor_encode as cbor, run,
                          start_sync_server)

TIMEOUT = 20


DEVICE_A, DEVICE_B = bytes([0xA1] * 16), bytes([0xB2] * 16)


def op(cseq, entity, base=0, hlc=100, kind=1, coll="notes"):
    o = {"cseq": cseq, "coll": coll, "id": bytes([entity] * 16), "kind": kind, "base": base, "hlc": hlc}
    if kind == 1:
        o["payload"] = cbor({"n": cseq})
    return o


class SyncServerTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            self.fail("ENTIDB_TOOL must name the entidb executable (got {!r})".format(TOOL))
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-sync-")
        self.data = Path(self._tmp.name) / "server"
        self.servers = []

    def tearDown(self):
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait(TIMEOUT)
        self._tmp.cleanup()

    def start(self, *extra):
        p, self.base = start_sync_server(self.data, *extra)
        self.servers.append(p)
        if self.base is None:
            self.fail("sync-server did not start: " + p.stderr.read().decode(errors="replace"))
        return p

    def post(self, path, body, content_type="application/cbor", token=None):
        """(status, decoded body) of a POST, with a bearer token when one is given."""
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base + path, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.status, uncbor(r.read())
        except urllib.error.HTTPError as e:
            return e.code, uncbor(e.read())

    def call(self, path, message):
        status, body = self.post(path, cbor(message))
        self.assertEqual(status, 200, body)
        return body

    def push(self, device, ops):
        return self.call("/sync/v2/push", {"db": "app", "device": device, "ops": ops})

    def pull(self, cursor=0, limit=1000, wait_ms=0, **extra):
        return self.call("/sync/v2/pull", {"db": "app", "device": DEVICE_B, "cursor": cursor, "limit": limit,
                                           "wait_ms": wait_ms, **extra})

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(TIMEOUT), EXIT_OK)

    def test_handshake_push_pull_exactly_once_and_a_restart(self):
        p = self.start()
        hs = self.call("/sync/v2/handshake", {"db": "app", "device": DEVICE_A, "protocol": 2})
        self.assertEqual((hs["protocol"], hs["acked"], hs["head"], len(hs["server"])), (2, 0, 0, 16))
        pushed = self.push(DEVICE_A, [op(1, 1), op(2, 2), op(3, 3, coll="tags")])
        self.assertEqual([(r["status"], r["sseq"]) for r in pushed["results"]], [(1, 1), (1, 2), (1, 3)])
        again = self.push(DEVICE_A, [op(3, 3, coll="tags"), op(4, 4)])  # a retry overlapping the last push
        self.assertEqual([r["status"] for r in again["results"]], [3, 1])
        pulled = self.pull()
        self.assertEqual([o["sseq"] for o in pulled["ops"]], [1, 2, 3, 4])
        self.assertEqual((pulled["cursor"], pulled["has_more"]), (4, False))
        self.assertEqual(pulled["ops"][0]["device"], DEVICE_A)
        self.assertEqual(uncbor(pulled["ops"][0]["payload"]), {"n": 1})
        self.assertEqual([o["sseq"] for o in self.pull(colls=["tags"])["ops"]], [3])
        page = self.pull(limit=1)
        self.assertEqual(([o["sseq"] for o in page["ops"]], page["cursor"], page["has_more"]), ([1], 1, True))
        # A second server on the same data is refused (the database's lock).
        second = subprocess.run([TOOL, "sync-server", "--listen", "127.0.0.1:0", "--data", str(self.data)],
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(second.returncode, EXIT_LOCKED, second.stderr)
        self.stop(p)
        self.start()
        self.assertEqual(self.call("/sync/v2/handshake", {"db": "app", "device": DEVICE_A, "protocol": 2})["acked"], 4)
        self.assertEqual(self.call("/sync/v2/handshake", {"db": "app", "device": DEVICE_A, "protocol": 2})["server"],
                         hs["server"])
        self.assertEqual([o["sseq"] for o in self.pull()["ops"]], [1, 2, 3, 4])

    def test_bad_requests_get_an_error_body_and_change_nothing(self):
        self.start()
        self.push(DEVICE_A, [op(1, 1)])
        cases = [
            ("/sync/v2/push", b"", 400, "bad_request", "CBOR"),
            ("/sync/v2/push", b"\xa1\x61x\x18\x01", 400, "bad_request", "non-canonical"),
            ("/sync/v2/push", cbor({"db": "app", "device": DEVICE_A, "ops": [op(2, 1)], "extra": 1}), 400,
             "bad_request", 'unknown field "extra"'),
            ("/sync/v2/push", cbor({"db": "app", "device": DEVICE_A[:15], "ops": [op(2, 1)]}), 400, "bad_request",
             "push.device: expected a byte string of 16 bytes"),
            ("/sync/v2/push", cbor({"db": "app", "device": DEVICE_A, "ops": [op(5, 1)]}), 409, "out_of_order",
             "client sequence 5 follows 1"),
            ("/sync/v2/handshake", cbor({"db": "app", "device": DEVICE_A, "protocol": 3}), 400,
             "unsupported_protocol", "protocol 3"),
            ("/sync/v2/pull", cbor({"db": "app", "device": DEVICE_A, "cursor": 0, "limit": 0, "wait_ms": 0}), 400,
             "bad_request", "pull.limit"),
        ]
        for path, body, status, code, text in cases:
            with self.subTest(path=path, code=code, text=text):
                got_status, got = self.post(path, body)
                self.assertEqual((got_status, got["error"]), (status, code), got)
                self.assertIn(text, got["message"])
        status, got = self.post("/sync/v2/push", cbor({"db": "app", "device": DEVICE_A, "ops": [op(2, 1)]}),
                                content_type="application/json")
        self.assertEqual((status, got["error"]), (400, "bad_request"))
        # Nothing above changed the state: one operation, acked 1.
        self.assertEqual([o["sseq"] for o in self.pull()["ops"]], [1])
        self.assertEqual(self.call("/sync/v2/handshake", {"db": "app", "device": DEVICE_A, "protocol": 2})["acked"], 1)

    def test_a_long_poll_wakes_on_a_push_and_ends_at_its_deadline(self):
        self.start()
        started = time.monotonic()
        self.assertEqual(self.pull(wait_ms=300)["ops"], [])
        self.assertGreaterEqual(time.monotonic() - started, 0.25)
        result = {}

        def waiting_pull():
            t = time.monotonic()
            result["ops"] = self.pull(wait_ms=10000)["ops"]
            result["seconds"] = time.monotonic() - t

        t = threading.Thread(target=waiting_pull)
        t.start()
        time.sleep(0.3)
        self.push(DEVICE_A, [op(1, 1)])
        t.join(TIMEOUT)
        self.assertFalse(t.is_alive())
        self.assertEqual([o["sseq"] for o in result["ops"]], [1])
        self.assertLess(result["seconds"], 5)

    def token(self, *args):
        r = run("sync-token", "--tokens", self.tokens, *args)
        self.assertEqual(r.returncode, EXIT_OK, r.err)
        return r.out.strip()

    def test_tokens_name_the_device_database_and_collections_and_expire(self):
        self.tokens = Path(self._tmp.name) / "tokens"
        good = self.token("--device", DEVICE_A.hex(), "--db", "app", "--collections", "notes,tags")
        self.assertEqual(self.tokens.stat().st_mode & 0o777, 0o600)  # the signing key: its owner's only
        self.assertTrue(good.startswith("et1."))
        other_device = self.token("--device", DEVICE_B.hex(), "--db", "app")
        other_db = self.token("--device", DEVICE_A.hex(), "--db", "elsewhere")
        short = self.token("--device", DEVICE_A.hex(), "--db", "app", "--ttl", "1s")
        self.start("--tokens", self.tokens)
        push = cbor({"db": "app", "device": DEVICE_A, "ops": [op(1, 1)]})

        def post(token, body=push, path="/sync/v2/push"):
            return self.post(path, body, token=token)

        forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
        header, claims_part, sig = good.split(".")
        for why, token, status in (("none", None, 401), ("forged signature", forged, 401),
                                   ("not a token", "hello", 401), ("altered claims", header + "." + claims_part[:-1]
                                                                   + ("A" if claims_part[-1] != "A" else "B") + "." + sig, 401),
                                   ("another device", other_device, 403), ("another database", other_db, 403)):
            with self.subTest(why=why):
                status_got, body = post(token)
                self.assertEqual((status_got, body["error"]), (status, "unauthorized" if status == 401 else "forbidden"))
                self.assertNotIn(good, body["message"])
        # A collection the token does not cover; then the good token works, and its pull is
        # limited to its collections.
        status_got, body = post(good, cbor({"db": "app", "device": DEVICE_A, "ops": [op(1, 1, coll="secrets")]}))
        self.assertEqual((status_got, body["error"]), (403, "forbidden"))
        status_got, body = post(good)
        self.assertEqual((status_got, [r["status"] for r in body["results"]]), (200, [1]))
        status_got, body = post(good, cbor({"db": "app", "device": DEVICE_A, "cursor": 0, "limit": 10, "wait_ms": 0,
                                           "colls": ["secrets"]}), "/sync/v2/pull")
        self.assertEqual(status_got, 403)
        time.sleep(1.1)
        status_got, body = post(short)
        self.assertEqual((status_got, body["error"], body["message"]), (401, "unauthorized", "an expired token"))
        # The refusals changed nothing: one push applied.
        status_got, body = post(good, cbor({"db": "app", "device": DEVICE_A, "protocol": 2}), "/sync/v2/handshake")
        self.assertEqual((status_got, body["acked"], body["head"]), (200, 1, 1))
        for args in (["--device", "", "--db", "app"], ["--device", DEVICE_A.hex()],
                     ["--device", DEVICE_A.hex(), "--db", "app", "--ttl", "5y"],
                     ["--device", DEVICE_A.hex(), "--db", "app", "--collections", "a,"]):
            with self.subTest(args=args):
                self.assertEqual(run("sync-token", "--tokens", self.tokens, *args).returncode, EXIT_USAGE)

    def test_command_line_errors_exit_2_and_create_nothing(self):
        for args in (["--listen", "0.0.0.0:0", "--data", self.data], ["--listen", "127.0.0.1:0"],
                     ["--data", self.data], ["--listen", "127.0.0.1", "--data", self.data],
                     ["--listen", "127.0.0.1:70000", "--data", self.data],
                     ["--listen", "127.0.0.1:0", "--data", self.data, "--policy", "newest"],
                     ["--listen", "127.0.0.1:0", "--data", self.data, "--bogus"]):
            with self.subTest(args=args):
                r = run("sync-server", *args)
                self.assertEqual(r.returncode, EXIT_USAGE, r.err)
                self.assertTrue(r.err.startswith("error: "), r.err)
                self.assertFalse(self.data.exists())


if __name__ == "__main__":
    unittest.main()
