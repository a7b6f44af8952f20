#!/usr/bin/env python3
"""Runs entidb-bench on a small data set (EntiDB and the raw row only) and checks that the
table and its JSON hold every workload with a plausible figure, and that bad command lines
are refused before anything runs. It measures nothing: the figures of a run this small say
nothing about speed (docs/performance.md)."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ENTIDB_ROWS = [
    "W1 commits/s", "W1 4 threads commits/s", "W2 bulk load", "W3 point read",
    "W3 chained point read", "W4 scan", "W4 scan in key order", "W6 reads with writer",
    "W6 writer commits/s", "W5 reopen", "W5 RSS per entity",
]
# The raw row cannot commit from several threads; its W6 writer only writes and syncs.
RAW_ROWS = [row for row in ENTIDB_ROWS if row != "W1 4 threads commits/s"]
MAY_BE_ZERO = {"W5 reopen", "W5 RSS per entity"}  # too small to register on a tiny open


# Bad command lines end at once with exit code 2 (1 for an unwritable JSON path) and say
# why, before anything is run; --help prints the usage and runs nothing.
USAGE_CASES = [
    (["--help"], 0, "usage: entidb-bench"),
    (["--entities"], 2, "--entities needs a value"),
    (["--entities", "12x"], 2, "positive whole number"),
    (["--reads", "0"], 2, "positive whole number"),
    (["--only", "entidb,nosuch"], 2, "no engine 'nosuch'"),
    (["--bogus", "1"], 2, "unknown option --bogus"),
    (["--json", "/nonexistent-dir/x.json", "--entities", "100"], 1, "cannot write"),
]


def usage_failures(bench: str) -> list:
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for args, code, says in USAGE_CASES:
            run = subprocess.run([bench, "--dir", str(Path(tmp) / "data"), *args],
                                 capture_output=True, text=True, timeout=30)
            said = run.stdout + run.stderr
            if run.returncode != code or says not in said:
                failures.append(f"{args}: exit {run.returncode}, wanted {code} saying '{says}': {said!r}")
            if (Path(tmp) / "data").exists():
                failures.append(f"{args}: a workload ran")
    return failures


def main() -> int:
    bench = sys.argv[1]
    usage = usage_failures(bench)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        run = subprocess.run(
            [bench, "--entities", "3000", "--commits", "200", "--reads", "3000",
             "--only", "entidb,raw", "--dir", str(Path(tmp) / "data"), "--json", str(out)],
            capture_output=True, text=True, timeout=240)
        if run.returncode != 0:
            print(run.stdout, run.stderr, sep="\n")
            print(f"entidb-bench exited with {run.returncode}")
            return 1
        if not out.exists():
            print("entidb-bench wrote no JSON")
            return 1
        rows = json.loads(out.read_text())
    failures = usage
    for engine, wanted in (("entidb", ENTIDB_ROWS), ("raw", RAW_ROWS)):
        got = {r["workload"]: r["value"] for r in rows if r["engine"] == engine}
        for workload in wanted:
            value = got.get(workload)
            if value is None:
                failures.append(f"{engine}: no '{workload}' row")
            elif value < 0 or (value == 0 and workload not in MAY_BE_ZERO):
                failures.append(f"{engine}: '{workload}' is {value}")
        extra = set(got) - set(wanted)
        if extra:
            failures.append(f"{engine}: unexpected rows {sorted(extra)}")
    for workload in ENTIDB_ROWS:
        if workload not in run.stdout:
            failures.append(f"the printed table has no '{workload}' row")
    for f in failures:
        print(f)
    print(f"{len(rows)} figures checked, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
