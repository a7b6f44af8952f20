#!/usr/bin/env python3
"""Draws the benchmark's figures as SVG charts (Python's standard library only).

    python3 scripts/plot_bench.py RUN.json [--out DIR]

RUN.json is what `entidb-bench --json RUN.json` writes: a list of
{"engine", "workload", "unit", "value", "higher_is_better"} (files from before the last field
existed are read too: the direction then follows the unit). One chart per unit — grouped bars
per workload, the engines side by side, on a logarithmic axis — with the `raw` row (the bare
file loop the engines are measured against) drawn as a dashed line across its workloads
rather than as a bar. Charts go to DIR (default docs/plots) named after the unit
(commits-per-s.svg, entities-per-s.svg, ns-per-read.svg, seconds.svg, microseconds.svg, ...),
replacing earlier ones of the same name; the names written are printed, one per line.

Bad input (a missing or unreadable file, JSON that is not such a list, a value that is not a
finite number) is an error on stderr and exit code 2, and nothing is written.
"""

import argparse
import html
import json
import math
import os
import re
import sys
import tempfile

# Engines in the order the benchmark prints them; any other engine follows, in file order.
ENGINE_ORDER = ["entidb", "entidb-recycled", "entidb+enc", "entidb+aes", "sqlite", "lmdb", "rocksdb", "leveldb"]
COLORS = {
    "entidb": "#1f6fb4",
    "entidb-recycled": "#174a78",
    "entidb+enc": "#6aa5d8",
    "entidb+aes": "#a9cbe8",
    "sqlite": "#e08a2c",
    "lmdb": "#3a9a48",
    "rocksdb": "#c43c39",
    "leveldb": "#8d6ab8",
}
SPARE_COLORS = ["#7f7f7f", "#b5a33a", "#2aa3a8", "#d46fb0"]
RAW = "raw"
HIGHER = {"commits/s", "entities/s", "docs/s", "x alone"}  # directions of files without the field
UNIT_TITLES = {"us": "µs", "x alone": "× the rate alone", "s": "seconds", "ms": "milliseconds"}

BAR_WIDTH, BAR_GAP, GROUP_GAP = 18, 3, 28
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 56, 92
PLOT_HEIGHT = 260


class BadInput(Exception):
    pass


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path} is not JSON: {e}")
    if not isinstance(rows, list) or not rows:
        raise BadInput(f"{path}: expected a non-empty list of figures")
    out = []
    for i, row in enumerate(rows):
        where = f"{path}: figure {i}"
        if not isinstance(row, dict):
            raise BadInput(f"{where} is not an object")
        for field in ("engine", "workload", "unit"):
            if not isinstance(row.get(field), str) or not row[field]:
                raise BadInput(f"{where}: '{field}' must be a non-empty string")
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise BadInput(f"{where}: 'value' must be a finite number >= 0")
        higher = row.get("higher_is_better", row["unit"] in HIGHER)
        if not isinstance(higher, bool):
            raise BadInput(f"{where}: 'higher_is_better' must be true or false")
        out.append({**row, "value": float(value), "higher_is_better": higher})
    return out


def charts_of(rows):
    """{unit: (higher_is_better, [workload...], {(engine, workload): value}, [engine...])}"""
    charts = {}
    for r in rows:
        higher, workloads, values, engines = charts.setdefault(r["unit"], (r["higher_is_better"], [], {}, []))
        if r["workload"] not in workloads:
            workloads.append(r["workload"])
        if r["engine"] not in engines:
            engines.append(r["engine"])
        values[(r["engine"], r["workload"])] = r["value"]
    for unit, (higher, workloads, values, engines) in charts.items():
        known = [e for e in ENGINE_ORDER if e in engines]
        engines[:] = known + [e for e in engines if e not in known]
    return charts


def short(value):
    """Three significant digits with a k/M/G suffix: what fits above a bar."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def log_range(values):
    positive = [v for v in values if v > 0]
    if not positive:
        return 0, 1
    lo = math.floor(math.log10(min(positive)))
    if math.log10(min(positive)) - lo < 0.3:  # a bar just above a decade would be a sliver
        lo -= 1
    hi = math.ceil(math.log10(max(positive)))
    return lo, hi if hi > lo else lo + 1


def workload_label(workload, unit):
    # "W1 commits/s" in the commits/s chart says its unit twice.
    return re.sub(r"\s+" + re.escape(unit) + "$", "", workload)


def svg_chart(unit, higher, workloads, values, engines):
    bars = [e for e in engines if e != RAW]
    colors = {e: COLORS.get(e) for e in bars}
    spare = iter(SPARE_COLORS * 4)
    for e in bars:
        colors[e] = colors[e] or next(spare)
    lo, hi = log_range(values.values())
    group_width = max(1, len(bars)) * (BAR_WIDTH + BAR_GAP) - BAR_GAP
    width = LEFT + len(workloads) * (group_width + GROUP_GAP) + RIGHT
    width = max(width, 420)
    height = TOP + PLOT_HEIGHT + BOTTOM
    base = TOP + PLOT_HEIGHT

    def y_of(v):
        return base - (math.log10(v) - lo) / (hi - lo) * PLOT_HEIGHT

    title = f"{UNIT_TITLES.get(unit, unit)} — {'higher' if higher else 'lower'} is better (log scale)"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<title>{html.escape(title)}</title>',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    # The legend: one swatch per engine drawn as bars, then the raw line if there is one.
    x = LEFT
    for e in bars:
        out.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{colors[e]}"/>')
        out.append(f'<text x="{x + 14}" y="37">{html.escape(e)}</text>')
        x += 22 + 7 * len(e)
    if RAW in engines:
        out.append(f'<line class="raw-legend" x1="{x}" y1="33" x2="{x + 18}" y2="33" stroke="black" '
                   f'stroke-width="2" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 22}" y="37">raw (file loop)</text>')
    # Decades: a grid line and a label each.
    for d in range(lo, hi + 1):
        y = y_of(10.0 ** d)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" stroke="#dddddd"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{short(10.0 ** d)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#444444"/>')
    for i, w in enumerate(workloads):
        x0 = LEFT + GROUP_GAP / 2 + i * (group_width + GROUP_GAP)
        for j, e in enumerate(bars):
            v = values.get((e, w))
            if v is None:
                continue
            x = x0 + j * (BAR_WIDTH + BAR_GAP)
            label = html.escape(f"{e}, {w}: {v:g} {unit}")
            if v <= 0:  # no bar on a log axis: say so where it would stand
                out.append(f'<text x="{x + BAR_WIDTH / 2:.1f}" y="{base - 4}" text-anchor="middle" '
                           f'font-size="9">0</text>')
                continue
            y = y_of(v)
            out.append(f'<rect class="bar" data-engine="{html.escape(e)}" data-workload="{html.escape(w)}" '
                       f'data-value="{v!r}" x="{x:.1f}" y="{y:.1f}" width="{BAR_WIDTH}" height="{base - y:.1f}" '
                       f'fill="{colors[e]}"><title>{label}</title></rect>')
            out.append(f'<text x="{x + BAR_WIDTH / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                       f'font-size="8">{short(v)}</text>')
        raw = values.get((RAW, w))
        if raw is not None and raw > 0:
            y = y_of(raw)
            out.append(f'<line class="raw" data-workload="{html.escape(w)}" data-value="{raw!r}" x1="{x0 - 4:.1f}" '
                       f'y1="{y:.1f}" x2="{x0 + group_width + 4:.1f}" y2="{y:.1f}" stroke="black" stroke-width="2" '
                       f'stroke-dasharray="4 3"><title>{html.escape(f"raw, {w}: {raw:g} {unit}")}</title></line>')
        cx = x0 + group_width / 2
        out.append(f'<text class="workload" x="{cx:.1f}" y="{base + 14}" text-anchor="end" '
                   f'transform="rotate(-25 {cx:.1f} {base + 14})">{html.escape(workload_label(w, unit))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "x alone": "ratio-to-alone"}


def file_name(unit):
    name = UNIT_NAMES.get(unit) or unit.lower().replace("/", " per ")
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") + ".svg"


def main(argv):
    parser = argparse.ArgumentParser(description="Draw entidb-bench --json output as SVG charts.")
    parser.add_argument("run", help="the JSON file entidb-bench --json wrote")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "plots"),
                        help="directory for the charts (default docs/plots)")
    args = parser.parse_args(argv)
    try:
        charts = charts_of(load(args.run))
        # Every chart is drawn before any is written: bad input writes nothing.
        drawn = {file_name(unit): svg_chart(unit, *chart) for unit, chart in charts.items()}
        if len(drawn) != len(charts):
            raise BadInput("two units give the same chart file name")
        os.makedirs(args.out, exist_ok=True)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot create {args.out}: {e.strerror}", file=sys.stderr)
        return 2
    for name, text in drawn.items():
        fd, tmp = tempfile.mkstemp(dir=args.out, prefix=".plot-", suffix=".svg")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(args.out, name))
        print(os.path.join(args.out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
