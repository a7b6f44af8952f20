#!/usr/bin/env python3
"""Tests of scripts/plot_bench.py, run as a user runs it: the charts it writes from a
benchmark's JSON (one SVG per unit, a bar per engine and workload on a log axis, the raw row
as a line) and its refusals of bad input (exit 2, one line on stderr, nothing written).

Run: python3 tests/scripts/test_plot_bench.py"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_bench.py"
SVG = "{http://www.w3.org/2000/svg}"

RUN = [
    {"engine": "entidb", "workload": "W1 commits/s", "unit": "commits/s", "value": 6970.1, "higher_is_better": True},
    {"engine": "raw", "workload": "W1 commits/s", "unit": "commits/s", "value": 7899.4, "higher_is_better": True},
    {"engine": "lmdb", "workload": "W1 commits/s", "unit": "commits/s", "value": 4389.5, "higher_is_better": True},
    {"engine": "entidb", "workload": "W2 bulk load", "unit": "entities/s", "value": 633362.8, "higher_is_better": True},
    {"engine": "raw", "workload": "W2 bulk load", "unit": "entities/s", "value": 970244.3, "higher_is_better": True},
    {"engine": "lmdb", "workload": "W2 bulk load", "unit": "entities/s", "value": 58091.1, "higher_is_better": True},
    {"engine": "entidb", "workload": "W4 scan", "unit": "entities/s", "value": 29029738.5, "higher_is_better": True},
    {"engine": "lmdb", "workload": "W4 scan", "unit": "entities/s", "value": 12462393.5, "higher_is_better": True},
    {"engine": "entidb", "workload": "W3 point read", "unit": "ns/read", "value": 466.6, "higher_is_better": False},
    {"engine": "lmdb", "workload": "W3 point read", "unit": "ns/read", "value": 1129.3, "higher_is_better": False},
]


def plot(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


class PlotBenchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.out = self.dir / "plots"

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rows, name="run.json"):
        path = self.dir / name
        path.write_text(rows if isinstance(rows, str) else json.dumps(rows))
        return path

    def charts(self):
        return {p.name: ET.parse(p).getroot() for p in sorted(self.out.glob("*.svg"))}

    def test_one_chart_per_unit_with_a_bar_per_engine_and_workload(self):
        r = plot(str(self.write(RUN)), "--out", str(self.out))
        self.assertEqual(r.returncode, 0, r.stderr)
        charts = self.charts()
        self.assertEqual(set(charts), {"commits-per-s.svg", "entities-per-s.svg", "ns-per-read.svg"})
        self.assertEqual(sorted(r.stdout.split()), sorted(str(self.out / n) for n in charts))
        bars = {(b.get("data-engine"), b.get("data-workload")): b
                for root in charts.values() for b in root.iter(SVG + "rect") if b.get("class") == "bar"}
        expected = {(x["engine"], x["workload"]) for x in RUN if x["engine"] != "raw"}
        self.assertEqual(set(bars), expected)
        for (engine, workload), bar in bars.items():
            value = next(x["value"] for x in RUN if (x["engine"], x["workload"]) == (engine, workload))
            self.assertEqual(float(bar.get("data-value")), value)
        # Taller bars for larger values, on a log scale: 29M and 633k are about 1.7 decades apart.
        scan, load = bars[("entidb", "W4 scan")], bars[("entidb", "W2 bulk load")]
        self.assertGreater(float(scan.get("height")), float(load.get("height")))
        decades = [t.text for t in charts["entities-per-s.svg"].iter(SVG + "text") if t.get("class") == "tick"]
        self.assertEqual(decades, ["10k", "100k", "1M", "10M", "100M"])
        # The direction is in the title.
        self.assertIn("lower is better", charts["ns-per-read.svg"].find(SVG + "title").text)
        self.assertIn("higher is better", charts["commits-per-s.svg"].find(SVG + "title").text)

    def test_the_raw_row_is_a_line_across_its_workloads_not_a_bar(self):
        self.assertEqual(plot(str(self.write(RUN)), "--out", str(self.out)).returncode, 0)
        lines = [l for root in self.charts().values() for l in root.iter(SVG + "line") if l.get("class") == "raw"]
        self.assertEqual(sorted(l.get("data-workload") for l in lines), ["W1 commits/s", "W2 bulk load"])
        w1 = next(l for l in lines if l.get("data-workload") == "W1 commits/s")
        self.assertEqual(float(w1.get("data-value")), 7899.4)
        self.assertLess(float(w1.get("x1")), float(w1.get("x2")))  # across the group

    def test_files_without_the_direction_field_follow_the_unit(self):
        old = [{k: v for k, v in x.items() if k != "higher_is_better"} for x in RUN]
        self.assertEqual(plot(str(self.write(old)), "--out", str(self.out)).returncode, 0)
        self.assertIn("lower is better", self.charts()["ns-per-read.svg"].find(SVG + "title").text)
        self.assertIn("higher is better", self.charts()["entities-per-s.svg"].find(SVG + "title").text)

    def test_bad_input_exits_2_with_one_line_and_writes_nothing(self):
        self.out.mkdir()
        (self.out / "keep.svg").write_text("<svg/>")
        cases = {
            "missing file": str(self.dir / "absent.json"),
            "not JSON": str(self.write("{", "a.json")),
            "not a list": str(self.write({"engine": "entidb"}, "b.json")),
            "empty list": str(self.write([], "c.json")),
            "no unit": str(self.write([{"engine": "e", "workload": "w", "value": 1}], "d.json")),
            "value a string": str(self.write([dict(RUN[0], value="fast")], "e.json")),
            "negative value": str(self.write([dict(RUN[0], value=-1)], "f.json")),
            "infinite value": str(self.write('[{"engine":"e","workload":"w","unit":"u","value":1e999}]', "g.json")),
            "direction not a bool": str(self.write([dict(RUN[0], higher_is_better="yes")], "h.json")),
        }
        for what, path in cases.items():
            with self.subTest(what):
                r = plot(path, "--out", str(self.out))
                self.assertEqual(r.returncode, 2, what)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("error: "), r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(sorted(os.listdir(self.out)), ["keep.svg"])

    def test_a_zero_has_no_bar_but_is_shown(self):
        rows = RUN + [{"engine": "sqlite", "workload": "W3 point read", "unit": "ns/read", "value": 0,
                       "higher_is_better": False}]
        self.assertEqual(plot(str(self.write(rows)), "--out", str(self.out)).returncode, 0)
        root = self.charts()["ns-per-read.svg"]
        self.assertFalse([b for b in root.iter(SVG + "rect") if b.get("data-engine") == "sqlite"])
        self.assertIn("0", [t.text for t in root.iter(SVG + "text")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
