#!/usr/bin/env python3
"""Runs entidb-bench on a small data set (EntiDB and the raw row only) and checks that the
table and its JSON hold every workload with a plausible figure (W7's percentiles in
order), that --workloads runs only the workloads listed, and that bad command lines are
refused before anything runs; scripts/plot_bench.py draws the run. W8 (full text) also runs on SQLite FTS5 where the program
has it, and then every query must find as many hits on both engines. It measures nothing: the figures of a run this small say
nothing about speed (docs/performance.md)."""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ENTIDB_ROWS = [
    "W1 commits/s", "W1 4 threads commits/s", "W2 bulk load", "W3 point read",
    "W3 chained point read", "W4 scan", "W4 scan in key order", "W6 reads with writer",
    "W6 writer commits/s", "W7 read p50", "W7 read p99", "W7 read p99.9", "W7 read max",
    "W7 commit p99", "W7 commit max", "W7 load", "W5 reopen", "W5 RSS per entity", "W5 first point read",
    "W8 text build", "W8 text query p50", "W8 text query p99", "W8 text index bytes", "W8 text bytes per pair",
]
W8_ROWS = [row for row in ENTIDB_ROWS if row.startswith("W8")]
W7_ROWS = [row for row in ENTIDB_ROWS if row.startswith("W7")]
# Each a percentile of the same samples as the next, so never above it.
ORDERED = [("W7 read p50", "W7 read p99"), ("W7 read p99", "W7 read p99.9"),
           ("W7 read p99.9", "W7 read max"), ("W7 commit p99", "W7 commit max"),
           ("W8 text query p50", "W8 text query p99")]
# The raw row cannot commit from several threads; its W6 writer only writes and syncs. It
# has no full-text search (W8).
RAW_ROWS = [row for row in ENTIDB_ROWS if row != "W1 4 threads commits/s" and row not in W8_ROWS]
MAY_BE_ZERO = {"W5 reopen", "W5 RSS per entity"}  # too small to register on a tiny open


# Bad command lines end at once with exit code 2 (1 for an unwritable JSON path) and say
# why, before anything is run; --help prints the usage and runs nothing.
USAGE_CASES = [
    (["--help"], 0, "usage: entidb-bench"),
    (["--entities"], 2, "--entities needs a value"),
    (["--entities", "12x"], 2, "positive whole number"),
    (["--reads", "0"], 2, "positive whole number"),
    (["--only", "entidb,nosuch"], 2, "no engine 'nosuch'"),
    (["--workloads", "W2,W9"], 2, "no workload 'W9'"),
    (["--docs", "0"], 2, "positive whole number"),
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
    """The rows of one small run (engine -> workload -> value), its stdout and stderr, or a
    failure message."""
    out = Path(tmp) / "bench.json"
    out.unlink(missing_ok=True)
    run = subprocess.run([bench, "--entities", "3000", "--commits", "200", "--reads", "3000",
                          "--docs", "2000", "--queries", "200", "--dir", str(Path(tmp) / "data"), "--json", str(out), *args],
                         capture_output=True, text=True, timeout=240)
    if run.returncode != 0:
        return None, f"{args}: exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    if not out.exists():
        return None, f"{args}: no JSON"
    rows = {}
    for r in json.loads(out.read_text()):
        rows.setdefault(r["engine"], {})[r["workload"]] = r["value"]
    return (rows, run.stdout, run.stderr), None


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


def plot_failures(run: Path, out: Path) -> list:
    """scripts/plot_bench.py draws this run: a bar for each of EntiDB's figures above zero, a
    line for each of the raw row's (the script's own tests check the drawing)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "plot_bench.py"
    plot = subprocess.run([sys.executable, str(script), str(run), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    if plot.returncode != 0:
        return [f"plot_bench.py: exit {plot.returncode}: {plot.stderr.strip()}"]
    rows = json.loads(run.read_text())
    text = "".join(p.read_text() for p in out.glob("*.svg"))
    bars, lines = text.count('class="bar"'), text.count('class="raw"')
    want_bars = sum(1 for r in rows if r["engine"] != "raw" and r["value"] > 0)
    want_lines = sum(1 for r in rows if r["engine"] == "raw" and r["value"] > 0)
    if (bars, lines) != (want_bars, want_lines):
        return [f"plot_bench.py drew {bars} bars and {lines} raw lines, not {want_bars} and {want_lines}"]
    return []


def has_engine(bench: str, engine: str) -> bool:
    """Whether the program was built with `engine` (--only refuses an unknown one before --help)."""
    return subprocess.run([bench, "--only", engine, "--help"], capture_output=True, timeout=30).returncode == 0


def full_text_failures(bench: str, tmp: str) -> list:
    """W8 alone on EntiDB and, where built in, SQLite FTS5: their rows, and no query on which
    the two find a different number of hits (the program warns of each on stderr)."""
    engines = ["entidb"] + (["sqlite"] if has_engine(bench, "sqlite") else [])
    ran, why = run_bench(bench, tmp, ["--only", ",".join(engines), "--workloads", "W8"])
    if why:
        return [why]
    rows, _, stderr = ran
    failures = []
    if set(rows) != set(engines):
        failures.append(f"W8 on {engines} gave rows for {sorted(rows)}")
    for engine in engines:
        failures += row_failures(f"{engine} (W8 only)", rows.get(engine, {}), W8_ROWS)
    if len(engines) == 2:
        compared = re.search(r"W8: hit counts of entidb and sqlite compared on (\d+) queries .*: (\d+) differ", stderr)
        if not compared or int(compared.group(1)) != 200:
            failures.append(f"W8 compared no hit counts: {stderr!r}")
        elif int(compared.group(2)) != 0:
            failures.append(f"W8: EntiDB and SQLite differ in hit counts:\n{stderr}")
    else:
        print("W8: no SQLite in this build, hit counts not compared")
    return failures


def main() -> int:
    bench = sys.argv[1]
    failures = usage_failures(bench)
    with tempfile.TemporaryDirectory() as tmp:
        full, why = run_bench(bench, tmp, ["--only", "entidb,raw"])
        if not why:
            failures += plot_failures(Path(tmp) / "bench.json", Path(tmp) / "plots")
        # A subset: only the rows asked for, W2's load run but not reported.
        subset, why_subset = run_bench(bench, tmp, ["--only", "entidb", "--workloads", "W7,W3"])
        failures += full_text_failures(bench, tmp)
    for why_not in (why, why_subset):
        if why_not:
            print(why_not)
            return 1
    rows, stdout, _ = full
    for engine, wanted in (("entidb", ENTIDB_ROWS), ("raw", RAW_ROWS)):
        failures += row_failures(engine, rows.get(engine, {}), wanted)
    for workload in ENTIDB_ROWS:
        if workload not in stdout:
            failures.append(f"the printed table has no '{workload}' row")
    subset_rows, _, _ = subset
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
