#!/usr/bin/env python3
"""Sync throughput of `entidb sync-server` over HTTP on 127.0.0.1 (docs/performance.md, "Sync"):
N operations of 256-byte payloads pushed in batches of 1,000 by 1 device, then by 8 devices at
once (N/8 each, one thread per device), then pulled back whole in pages of 10,000 (decoded after
the clock stops); the time from a push to a long-polling puller receiving it; and the client:
`entidb sync` of a database holding N entities into the server (stage, push, pull back), then of
a second, empty database (pull N). The requests' bodies are encoded before the clock starts, so
the protocol figures are the server's (and the loopback's), not the client's CBOR.

With --store postgres the server keeps its state in PostgreSQL (the connection string from --pg
or ENTIDB_TEST_PG: run it under tests/sync/with_postgres.py), and the long-poll waits on a second
server sharing the database, woken through NOTIFY.

Standard library only. Usage:
  python3 benchmarks/sync_bench.py --tool build/rel/tools/entidb/entidb [--ops 100000]
  python3 tests/sync/with_postgres.py -- python3 benchmarks/sync_bench.py --tool … --store postgres
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tool"))
from tool_support import cbor_decode, cbor_encode  # noqa: E402

BATCH = 1000


def post(base, path, body, raw=False):
    req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "application/cbor"})
    with urllib.request.urlopen(req, timeout=120) as r:
        data = r.read()
    return data if raw else cbor_decode(data)


def pushes(db, device, first_entity, count):
    """The bodies of `count` operations' pushes, BATCH per request."""
    payload = cbor_encode({"body": "x" * 248})  # 256 bytes of canonical CBOR
    assert len(payload) == 256, len(payload)
    bodies = []
    for start in range(0, count, BATCH):
        ops = []
        for i in range(start, min(count, start + BATCH)):
            n = first_entity + i
            ops.append({"cseq": i + 1, "coll": "notes", "id": n.to_bytes(16, "big"), "kind": 1,
                        "payload": payload, "base": 0, "hlc": 1_000_000 + i})
        bodies.append(cbor_encode({"db": db, "device": device, "ops": ops}))
    return bodies


def run_devices(base, db, devices, total):
    per = total // devices
    work = [pushes(db, bytes([d + 1] * 16), d * per, per) for d in range(devices)]
    def device(bodies):
        for b in bodies:
            post(base, "/sync/v2/push", b)
    threads = [threading.Thread(target=device, args=(w,)) for w in work]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * devices / (time.perf_counter() - started)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--store", choices=["embedded", "postgres"], default="embedded")
    ap.add_argument("--pg", default=os.environ.get("ENTIDB_TEST_PG", ""))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="entidb-sync-bench-") as tmp:
        store = ["--store", "postgres", "--pg", a.pg] if a.store == "postgres" else []
        def start():
            return subprocess.Popen([a.tool, "sync-server", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "s"),
                                     *store], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        def url_of(p):
            return "http://127.0.0.1:" + p.stdout.readline().decode().strip().rsplit(":", 1)[1]
        server = start()
        servers = [server]
        try:
            base = url_of(server)
            # The long-poll waits on another server when there can be one (PostgreSQL).
            if a.store == "postgres":
                servers.append(start())
                poll_base = url_of(servers[-1])
            else:
                poll_base = base
            one = run_devices(base, "one", 1, a.ops)
            eight = run_devices(base, "eight", 8, a.ops)
            # Pages are fetched raw (server sequences are dense: page k starts at 10,000 k) and
            # decoded after the clock stops, so the figure is not Python's CBOR decoding.
            total = a.ops // 8 * 8
            requests = [cbor_encode({"db": "eight", "device": bytes(16), "cursor": c, "limit": 10000, "wait_ms": 0})
                        for c in range(0, total, 10000)]
            started = time.perf_counter()
            pages = [post(base, "/sync/v2/pull", r, raw=True) for r in requests]
            pull = total / (time.perf_counter() - started)
            pulled = sum(len(cbor_decode(p)["ops"]) for p in pages)
            assert pulled == total, pulled
            cursor = total
            # Latency: a long-polling pull waiting, then one push.
            latencies = []
            for i in range(20):
                got = {}
                def wait(c=cursor + i):
                    post(poll_base, "/sync/v2/pull", cbor_encode({"db": "eight", "device": bytes(16), "cursor": c,
                                                             "limit": 10, "wait_ms": 10000}))
                    got["at"] = time.perf_counter()
                t = threading.Thread(target=wait)
                t.start()
                time.sleep(0.05)
                body = cbor_encode({"db": "eight", "device": bytes([99] * 16), "ops": [
                    {"cseq": i + 1, "coll": "notes", "id": (10**9 + i).to_bytes(16, "big"), "kind": 1,
                     "payload": cbor_encode({"n": i}), "base": 0, "hlc": 2_000_000 + i}]})
                sent = time.perf_counter()
                post(base, "/sync/v2/push", body)
                t.join(30)
                latencies.append((got["at"] - sent) * 1000)
            latencies.sort()
            # The client: a database of a.ops entities syncs into the server, then an empty one pulls them.
            loaded = os.path.join(tmp, "device-a")
            subprocess.run([a.tool, "load", loaded, "notes", "--txns", str(a.ops // 1000), "--per-txn", "1000",
                            "--size", "256"], check=True, stdout=subprocess.DEVNULL)
            started = time.perf_counter()
            out_a = subprocess.run([a.tool, "sync", loaded, base, "--db", "client"], check=True,
                                   stdout=subprocess.PIPE).stdout.decode().strip()
            client_push = (a.ops // 1000 * 1000) / (time.perf_counter() - started)
            started = time.perf_counter()
            out_b = subprocess.run([a.tool, "sync", os.path.join(tmp, "device-b"), base, "--db", "client"], check=True,
                                   stdout=subprocess.PIPE).stdout.decode().strip()
            client_pull = (a.ops // 1000 * 1000) / (time.perf_counter() - started)
            print(f"store: {a.store}")
            print(f"push, 1 device:   {one:10.0f} operations/s ({a.ops} x 256 B, batches of {BATCH})")
            print(f"push, 8 devices:  {eight:10.0f} operations/s")
            print(f"pull:             {pull:10.0f} operations/s (pages of 10,000)")
            where = "on another server" if poll_base != base else "on the same server"
            print(f"push -> long-poll: median {latencies[len(latencies) // 2]:.1f} ms, max {latencies[-1]:.1f} ms "
                  f"(20 pushes; the pull waits {where})")
            print(f"entidb sync, push: {client_push:10.0f} entities/s ({out_a})")
            print(f"entidb sync, pull: {client_pull:10.0f} entities/s ({out_b})")
        finally:
            for p in servers:
                p.terminate()
                p.wait(30)


if __name__ == "__main__":
    main()
