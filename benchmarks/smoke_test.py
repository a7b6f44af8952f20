#!/usr/bin/env python3
"""Runs entidb-bench on a small data set (EntiDB and the raw row only) and checks that the
table and its JSON hold every workload with a plausible figure (W7's percentiles in
order), that --workloads runs only the workloads listed, and that bad command lines are
refused before anything runs. It measures nothing: the figures of a run this small say
nothing about speed (docs/performance.md)."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ENTIDB_ROWS = [
    "W1 commits/s", "W1 4 threads commits/s", "W2 bulk load", "W3 point read",
    "W3 chained point read", "W4 scan", "W4 scan in key order", "W6 reads with writer",
    "W6 writer commits/s", "W7 read p50", "W7 read p99", "W7 read p99.9", "W7 read max",
    "W7 commit p99", "W7 commit max", "W7 load", "W5 reopen", "W5 RSS per entity", "W5 first point read",
]
W7_ROWS = [row for row in ENTIDB_ROWS if row.startswith("W7")]
# Each a percentile of the same samples as the next, so never above it.
ORDERED = [("W7 read p50", "W7 read p99"), ("W7 read p99", "W7 read p99.9"),
           ("W7 read p99.9", "W7 read max"), ("W7 commit p99", "W7 commit max")]
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
    (["--workloads", "W2,W8"], 2, "no workload 'W8'"),
    (["--workloads", "w2"], 2, "no workload 'w2'"),
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


def run_bench(bench: str, tmp: str, args: list):
    """The rows of one small run (engine -> workload -> value), or a failure message."""
    out = Path(tmp) / "bench.json"
    out.unlink(missing_ok=True)
    run = subprocess.run([bench, "--entities", "3000", "--commits", "200", "--reads", "3000",
                          "--dir", str(Path(tmp) / "data"), "--json", str(out), *args],
                         capture_output=True, text=True, timeout=240)
    if run.returncode != 0:
        return None, f"{args}: exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    if not out.exists():
        return None, f"{args}: no JSON"
    rows = {}
    for r in json.loads(out.read_text()):
        rows.setdefault(r["engine"], {})[r["workload"]] = r["value"]
    return (rows, run.stdout), None


def row_failures(engine: str, got: dict, wanted: list) -> list:
    failures = []
    for workload in wanted:
        value = got.get(workload)
        if value is None:
            failures.append(f"{engine}: no '{workload}' row")
        elif value < 0 or (value == 0 and workload not in MAY_BE_ZERO):
            failures.append(f"{engine}: '{workload}' is {value}")
    extra = set(got) - set(wanted)
    if extra:
        failures.append(f"{engine}: unexpected rows {sorted(extra)}")
    for low, high in ORDERED:
        if low in got and high in got and got[low] > got[high]:
            failures.append(f"{engine}: '{low}' {got[low]} above '{high}' {got[high]}")
    return failures


def main() -> int:
    bench = sys.argv[1]
    failures = usage_failures(bench)
    with tempfile.TemporaryDirectory() as tmp:
        full, why = run_bench(bench, tmp, ["--only", "entidb,raw"])
        # A subset: only the rows asked for, W2's load run but not reported.
        subset, why_subset = run_bench(bench, tmp, ["--only", "entidb", "--workloads", "W7,W3"])
    for why_not in (why, why_subset):
        if why_not:
            print(why_not)
            return 1
    rows, stdout = full
    for engine, wanted in (("entidb", ENTIDB_ROWS), ("raw", RAW_ROWS)):
        failures += row_failures(engine, rows.get(engine, {}), wanted)
    for workload in ENTIDB_ROWS:
        if workload not in stdout:
            failures.append(f"the printed table has no '{workload}' row")
    subset_rows, _ = subset
    if set(subset_rows) != {"entidb"}:
        failures.append(f"--only entidb ran {sorted(subset_rows)}")
    failures += row_failures("entidb (W7,W3 only)", subset_rows.get("entidb", {}),
                             ["W3 point read", "W3 chained point read", *W7_ROWS])
    for f in failures:
        print(f)
    print(f"{sum(len(r) for r in rows.values()) + sum(len(r) for r in subset_rows.values())} "
          f"figures checked, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
