#!/usr/bin/env python3
"""The parity test (SPEC.md §8): one scenario, three front ends, one behaviour.

scenario.json is compiled into an operation list, which run_cpp (the C++ API), run_c (the C
ABI) and run_python.py (the Python binding) each execute against a fresh directory. Then:
  1. every runner's result line for every step matches the scenario's expected result;
  2. the three runners printed identical lines (values as the library renders them);
  3. the three database directories are byte-identical (file names and contents).
EncryptedParity runs the same scenario on an encrypted database (ENTIDB_PARITY_RAW_KEY, a raw
key, set for the three runners): 1 and 2 hold as they are; the directories cannot be identical
(fresh data keys and nonces), so 3 becomes: the same files of the same sizes, a KEY file, and no
payload text in any file.

Configuration (environment; Meson sets it): ENTIDB_PARITY_RUN_CPP, ENTIDB_PARITY_RUN_C (runner
executables), ENTIDB_C_LIBRARY and PYTHONPATH (for run_python.py), ENTIDB_PARITY_KEEP (keep the
directories there instead of a temporary directory). Run: python3 parity_test.py [-v]

The operation list: one line per step, tab-separated fields, no tabs or newlines inside a field.
    open / open_again   MAX_ENTITY_BYTES  MAX_SEGMENT_SIZE  MAX_WAL_SIZE   (0 = default)
    close | begin_write | begin_read | end_read | commit | abort | checkpoint | last_sequence | collections
    put COLLECTION ID JSON       (compact bridge JSON of the value)
    put_json COLLECTION ID TEXT  (raw JSON text, passed as it is)
    put_cbor COLLECTION ID HEX
    get | delete COLLECTION ID
    scan | count COLLECTION
    declare_text COLLECTION PATH STEM KEEP_DIACRITICS   (STEM english|none, KEEP true|false)
    search COLLECTION PATH SYNTAX LIMIT QUERY           (SYNTAX fts5|plain)
Result lines: ok | absent | error NAME | value JSON | existed true|false | sequence N | count N |
items [["ID",JSON],...] | names ["NAME",...] | hits [["ID",SCORE],...]
A search's scores are printed with six significant digits (printf's %.6g), so the three runners'
lines match byte for byte; the scenario's expected scores are compared to 1e-5 relative.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "scenario.json")


# ---- the scenario -------------------------------------------------------------------------------

def compact(value):
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def compile_ops(scenario):
    """The operation lines for the runners (without newlines)."""
    opts = scenario.get("options", {})
    numbers = [str(opts.get(k, 0)) for k in ("max_entity_bytes", "max_segment_size", "max_wal_size")]
    lines = []
    for i, step in enumerate(scenario["steps"]):
        op = step["op"]
        if op in ("open", "open_again"):
            fields = [op] + numbers
        elif op in ("put",):
            fields = [op, step["collection"], step["id"], compact(step["value"])]
        elif op == "put_json":
            fields = [op, step["collection"], step["id"], step["json"]]
        elif op == "put_cbor":
            fields = [op, step["collection"], step["id"], step["cbor"]]
        elif op in ("get", "delete"):
            fields = [op, step["collection"], step["id"]]
        elif op in ("scan", "count"):
            fields = [op, step["collection"]]
        elif op == "declare_text":
            fields = [op, step["collection"], step["path"], step.get("stem") or "none",
                      "true" if step.get("keep_diacritics") else "false"]
        elif op == "search":
            fields = [op, step["collection"], step["path"], "plain" if step.get("plain") else "fts5",
                      str(step.get("limit", 10)), step["query"]]
        elif op in ("close", "begin_write", "begin_read", "end_read", "commit", "abort", "checkpoint",
                    "last_sequence", "collections"):
            fields = [op]
        else:
            raise ValueError(f"step {i}: unknown operation {op!r}")
        for field in fields:
            if "\t" in field or "\n" in field:
                raise ValueError(f"step {i}: a field contains a tab or newline: {field!r}")
        lines.append("\t".join(fields))
    return lines


def canon(x):
    """A comparable form of a bridge JSON value: types kept apart (True is not 1), maps
    unordered, a text-key object equal to the same map written as {"$map": ...}."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int):
        return ("int", x)
    if isinstance(x, float):
        return ("float", x)
    if isinstance(x, str):
        return ("text", x)
    if x is None:
        return ("null",)
    if isinstance(x, list):
        return ("array", tuple(canon(i) for i in x))
    if isinstance(x, dict):
        keys = set(x)
        if keys == {"$bytes"}:
            return ("bytes", x["$bytes"].lower())
        if keys == {"$tag", "$value"}:
            return ("tag", x["$tag"], canon(x["$value"]))
        if keys == {"$map"}:
            pairs = [(canon(k), canon(v)) for k, v in x["$map"]]
        else:
            pairs = [(("text", k), canon(v)) for k, v in x.items()]
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError(f"duplicate keys in {x!r}")
        return ("map", frozenset(pairs))
    raise TypeError(f"not a JSON value: {x!r}")


def check_result(expect, line):
    """None if `line` is the expected result, else what is wrong."""
    def want(text):
        return None if line == text else f"expected {text!r}"

    if expect in ("ok", "absent"):
        return want(expect)
    if not isinstance(expect, dict) or len(expect) != 1:
        return f"bad expectation {expect!r}"
    (kind, arg), = expect.items()
    if kind == "error":
        return want(f"error {arg}")
    if kind in ("sequence", "count"):
        return want(f"{kind} {arg}")
    if kind == "existed":
        return want("existed true" if arg else "existed false")
    prefix = {"value": "value ", "items": "items ", "names": "names ", "hits": "hits "}.get(kind)
    if prefix is None:
        return f"bad expectation {expect!r}"
    if not line.startswith(prefix):
        return f"expected a {kind} line"
    try:
        got = json.loads(line[len(prefix):])
    except ValueError as e:
        return f"unparsable JSON ({e})"
    if kind == "value":
        return None if canon(got) == canon(arg) else f"expected the value {compact(arg)}"
    if kind == "names":
        return None if got == arg else f"expected the names {arg!r}"
    if kind == "hits":
        return check_hits(arg, got)
    if not isinstance(got, list) or len(got) != len(arg):
        return f"expected {len(arg)} items"
    for (want_id, want_value), item in zip(arg, got):
        if not isinstance(item, list) or len(item) != 2 or item[0] != want_id or canon(item[1]) != canon(want_value):
            return f"expected the item [{want_id!r}, {compact(want_value)}], got {compact(item)}"
    return None


def check_hits(expect, got):
    """None if the hits are the expected ids, in order, with the expected scores (to 1e-5
    relative: the line carries six significant digits)."""
    if not isinstance(got, list) or len(got) != len(expect):
        return f"expected {len(expect)} hits"
    for (want_id, want_score), hit in zip(expect, got):
        if (not isinstance(hit, list) or len(hit) != 2 or hit[0] != want_id or isinstance(hit[1], bool)
                or not isinstance(hit[1], (int, float)) or abs(hit[1] - want_score) > 1e-5 * abs(want_score)):
            return f"expected the hit [{want_id!r}, {want_score!r}], got {compact(hit)}"
    return None


def directory_contents(root):
    """{relative path: bytes, or None for a directory} of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d))] = None
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[os.path.normpath(os.path.join(rel, f))] = fh.read()
    return out


def directory_differences(a, b):
    """Human-readable differences between two directory_contents() results."""
    diffs = []
    for path in sorted(set(a) | set(b)):
        if path not in a or path not in b:
            diffs.append(f"{path}: only in {'the first' if path in a else 'the second'}")
        elif a[path] != b[path]:
            x, y = a[path], b[path]
            if x is None or y is None:
                diffs.append(f"{path}: a file in one, a directory in the other")
                continue
            at = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            diffs.append(f"{path}: {len(x)} vs {len(y)} bytes, first difference at offset {at}")
    return diffs


# ---- running the three --------------------------------------------------------------------------

def runner_environment(name, extra):
    """The compiled runners are programs of their own: a sanitizer runtime preloaded into this
    interpreter (tests/meson.build, sanitizer builds) is not theirs, and may clash with the one
    linked into them. The Python runner loads the library as this interpreter does."""
    env = dict(os.environ, **extra)
    if name != "python":
        env.pop("LD_PRELOAD", None)
    return env


def runners():
    """(name, argv prefix) for each front end; None entries are missing configuration."""
    return [
        ("c++", [os.environ.get("ENTIDB_PARITY_RUN_CPP")]),
        ("c", [os.environ.get("ENTIDB_PARITY_RUN_C")]),
        ("python", [sys.executable, os.path.join(HERE, "run_python.py")]),
    ]


class Parity(unittest.TestCase):
    extra_env = {}  # for every runner

    @classmethod
    def setUpClass(cls):
        with open(SCENARIO, encoding="utf-8") as f:
            cls.scenario = json.load(f)
        cls.steps = cls.scenario["steps"]
        keep = os.environ.get("ENTIDB_PARITY_KEEP")
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
            os.makedirs(keep)
            cls.work = keep
        else:
            cls.work = tempfile.mkdtemp(prefix="entidb-parity-")
        ops_path = os.path.join(cls.work, "ops.tsv")
        with open(ops_path, "w", encoding="utf-8") as f:
            f.write("\n".join(compile_ops(cls.scenario)) + "\n")
        cls.outputs = {}
        cls.dirs = {}
        for name, argv in runners():
            if argv[0] is None:
                raise unittest.SkipTest(f"runner for {name} not configured (see the module docstring)")
            db_dir = os.path.join(cls.work, name.replace("+", "p"), "db")
            os.makedirs(os.path.dirname(db_dir))
            proc = subprocess.run(argv + [ops_path, db_dir], capture_output=True, text=True, timeout=300,
                                  env=runner_environment(name, cls.extra_env))
            if proc.returncode != 0:
                raise AssertionError(f"the {name} runner exited with {proc.returncode}:\n{proc.stderr}")
            cls.outputs[name] = proc.stdout.splitlines()
            cls.dirs[name] = db_dir

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("ENTIDB_PARITY_KEEP"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def test_each_runner_gives_the_expected_results(self):
        for name, lines in self.outputs.items():
            with self.subTest(runner=name):
                self.assertEqual(len(lines), len(self.steps), f"{name}: one result line per step")
                problems = []
                for i, (step, line) in enumerate(zip(self.steps, lines)):
                    why = check_result(step["expect"], line)
                    if why:
                        problems.append(f"step {i} ({step['op']} {step.get('collection', '')} {step.get('id', '')}): "
                                        f"{why}; got {line[:300]!r}")
                self.assertEqual(problems, [], f"{name} runner:\n" + "\n".join(problems))

    def test_runners_print_identical_lines(self):
        reference = self.outputs["c++"]
        for name in ("c", "python"):
            with self.subTest(runner=name):
                diffs = [f"step {i}: c++ {a[:200]!r} / {name} {b[:200]!r}"
                         for i, (a, b) in enumerate(zip(reference, self.outputs[name])) if a != b]
                self.assertEqual(len(self.outputs[name]), len(reference))
                self.assertEqual(diffs, [], "\n".join(diffs))

    def test_database_directories_match(self):
        """Byte-identical (EncryptedParity: the same layout)."""
        reference = directory_contents(self.dirs["c++"])
        # The scenario must really have written the whole layout, or equality proves little.
        for required in ("LOCK", "MANIFEST", "wal.log", "SEGMENTS"):
            self.assertIn(required, reference)
        self.assertTrue(reference["wal.log"], "the scenario should end with commits after its last checkpoint")
        segments = [p for p in reference if p.startswith("SEGMENTS" + os.sep) and p.endswith(".dat")]
        self.assertGreaterEqual(len(segments), 2, "the scenario should seal at least one segment")
        for name in ("c", "python"):
            with self.subTest(runner=name):
                diffs = directory_differences(reference, directory_contents(self.dirs[name]))
                self.assertEqual(diffs, [], f"c++ vs {name}:\n" + "\n".join(diffs))


class EncryptedParity(Parity):
    """The scenario on an encrypted database: same results and lines, same layout."""
    extra_env = {"ENTIDB_PARITY_RAW_KEY": "5e" * 32}

    def test_database_directories_match(self):
        """Fresh data keys and nonces make the bytes differ: the files and their sizes match."""
        reference = directory_contents(self.dirs["c++"])
        self.assertIn("KEY", reference)
        sizes = {path: None if data is None else len(data) for path, data in reference.items()}
        for name in ("c++", "c", "python"):
            with self.subTest(runner=name):
                contents = directory_contents(self.dirs[name])
                self.assertEqual({p: None if d is None else len(d) for p, d in contents.items()}, sizes)
                self.assertEqual([p for p, d in contents.items() if d and b"poetry" in d], [])


class Checker(unittest.TestCase):
    """The comparison functions above can fail (so a green parity run means something)."""

    def test_check_result(self):
        self.assertIsNone(check_result({"value": {"a": 1, "b": True}}, 'value {"b":true,"a":1}'))
        self.assertIsNotNone(check_result({"value": {"a": 1, "b": True}}, 'value {"a":1,"b":1}'))
        self.assertIsNotNone(check_result({"value": {"$bytes": "00"}}, 'value "00"'))
        self.assertIsNone(check_result({"value": {"$map": [["x", 1]]}}, 'value {"x":1}'))
        self.assertIsNotNone(check_result({"value": 1}, "absent"))
        self.assertIsNotNone(check_result({"error": "locked"}, "ok"))
        self.assertIsNotNone(check_result({"existed": False}, "existed true"))
        self.assertIsNotNone(check_result({"items": [["01", 1]]}, 'items [["02",1]]'))
        self.assertIsNotNone(check_result({"items": [["01", 1]]}, "items []"))
        self.assertIsNotNone(check_result({"names": ["a"]}, 'names ["b"]'))
        self.assertIsNone(check_result({"hits": [["01", 1.5], ["02", 0.25]]}, 'hits [["01",1.5],["02",0.250001]]'))
        self.assertIsNotNone(check_result({"hits": [["01", 1.5], ["02", 0.25]]}, 'hits [["02",0.25],["01",1.5]]'))
        self.assertIsNotNone(check_result({"hits": [["01", 1.5]]}, 'hits [["01",1.6]]'))
        self.assertIsNotNone(check_result({"hits": [["01", 1.5]]}, "hits []"))

    def test_directory_differences(self):
        a = {"x": b"abc", "d": None}
        self.assertEqual(directory_differences(a, dict(a)), [])
        self.assertTrue(directory_differences(a, {"x": b"abd", "d": None}))
        self.assertTrue(directory_differences(a, {"x": b"abc"}))
        self.assertTrue(directory_differences(a, {"x": b"abc", "d": None, "y": b""}))

    def test_compile_rejects_unknown_operations_and_tabs(self):
        with self.assertRaises(ValueError):
            compile_ops({"steps": [{"op": "frobnicate"}]})
        with self.assertRaises(ValueError):
            compile_ops({"steps": [{"op": "get", "collection": "a\tb", "id": "00"}]})


if __name__ == "__main__":
    unittest.main()
