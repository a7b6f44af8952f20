#!/usr/bin/env python3
"""Black-box tests of the entidb tool's index and change-feed commands:
index, find, range, search, changes (ENTIDB_TOOL names the tool)."""
import json
import os
import subprocess
import tempfile
import unittest

TOOL = os.environ["ENTIDB_TOOL"]


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def ok(*args):
    r = run(*args)
    if r.returncode != 0:
        raise AssertionError(f"entidb {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def tree(path):
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = fh.read()
    return out


class IndexCommands(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "db")
        self.ids = {}
        for i, (email, age, city) in enumerate([("a@x", 30, "Oslo"), ("b@x", 40, "Lima"),
                                                 ("c@x", 35, "Oslo"), ("d@x", 50, "Rome")]):
            doc = {"email": email, "age": age, "home": {"city": city}}
            self.ids[email] = ok("put", self.db, "users", f"{i + 1:032x}", json.dumps(doc)).strip()

    def tearDown(self):
        self.tmp.cleanup()

    def lines(self, out):
        return [line.split("\t") for line in out.splitlines()]

    def test_find_and_range_use_declared_indexes(self):
        self.assertEqual(ok("index", self.db, "users", "--hash", "--unique", "email"), "ok\n")
        self.assertEqual(ok("index", self.db, "users", "--ordered", "age"), "ok\n")
        self.assertEqual(ok("index", self.db, "users", "--ordered", "home.city"), "ok\n")
        rows = self.lines(ok("find", self.db, "users", "email", '"b@x"'))
        self.assertEqual(rows, [[self.ids["b@x"], '{"age":40,"home":{"city":"Lima"},"email":"b@x"}']])
        self.assertEqual(ok("find", self.db, "users", "email", '"nobody"'), "")
        ages = [json.loads(r[1])["age"] for r in self.lines(ok("range", self.db, "users", "age", "35", "50"))]
        self.assertEqual(ages, [35, 40, 50])  # inclusive bounds, in field order
        oslo = self.lines(ok("find", self.db, "users", "home.city", '"Oslo"'))
        self.assertEqual(sorted(r[0] for r in oslo), sorted([self.ids["a@x"], self.ids["c@x"]]))
        # Indexes persist: a later process finds them in the MANIFEST, and they follow writes.
        ok("put", self.db, "users", self.ids["a@x"], '{"email":"a@x","age":36,"home":{"city":"Oslo"}}')
        ages = [json.loads(r[1])["age"] for r in self.lines(ok("range", self.db, "users", "age", "35", "36"))]
        self.assertEqual(ages, [35, 36])

    def test_missing_index_is_a_usage_error_and_changes_nothing(self):
        before = tree(self.db)
        for args in (["find", self.db, "users", "email", '"a@x"'], ["range", self.db, "users", "age", "1", "2"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        ok("index", self.db, "users", "--hash", "email")
        r = run("range", self.db, "users", "email", '"a"', '"z"')  # ranges need an ordered index
        self.assertEqual(r.returncode, 2)
        self.assertNotEqual(before, tree(self.db))  # the index declaration itself is a change
        self.assertEqual(run("find", self.db, "users", "email", "not json").returncode, 2)

    def test_index_usage_errors(self):
        before = tree(self.db)
        for args in (["index", self.db, "users", "email"],
                     ["index", self.db, "users", "--hash", "--ordered", "email"],
                     ["index", self.db, "users", "--hash", "a..b"],
                     ["index", self.db, "", "--hash", "email"]):
            self.assertEqual(run(*args).returncode, 2, args)
        self.assertEqual(tree(self.db), before)

    def test_unique_index_refuses_duplicates(self):
        ok("index", self.db, "users", "--hash", "--unique", "email")
        before = tree(self.db)
        r = run("put", self.db, "users", "new", '{"email":"a@x","age":1}')
        self.assertEqual(r.returncode, 2)
        self.assertIn("unique", r.stderr)
        self.assertEqual(tree(self.db), before)
        r = run("index", self.db, "users", "--hash", "--unique", "home.city")  # Oslo twice
        self.assertEqual(r.returncode, 2)

    def test_changes(self):
        ok("delete", self.db, "users", self.ids["d@x"])
        rows = self.lines(ok("changes", self.db))
        self.assertEqual(len(rows), 5)
        self.assertEqual([int(r[0]) for r in rows], [1, 2, 3, 4, 5])
        self.assertEqual(rows[0][1:4], ["users", self.ids["a@x"], "put"])
        self.assertEqual(json.loads(rows[0][4])["email"], "a@x")
        self.assertEqual(rows[4], ["5", "users", self.ids["d@x"], "delete"])
        self.assertEqual(self.lines(ok("changes", self.db, "--since", "4")), [rows[4]])
        self.assertEqual(ok("changes", self.db, "--since", "5"), "")
        ok("checkpoint", self.db)  # history is read from the segments, across restarts
        self.assertEqual(self.lines(ok("changes", self.db)), rows)
        self.assertEqual(run("changes", self.db, "--since", "x").returncode, 2)



class SearchCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "db")
        self.texts = ["the quick brown fox", "a fox, a fox, a fox!", "Running in the café", "nothing here"]
        for i, body in enumerate(self.texts):
            ok("put", self.db, "notes", f"{i + 1:032x}", json.dumps({"body": body}))

    def tearDown(self):
        self.tmp.cleanup()

    def hits(self, *args):
        return [line.split("\t") for line in ok("search", self.db, "notes", "body", *args).splitlines()]

    def test_search_prints_hits_best_first(self):
        self.assertEqual(ok("index", self.db, "notes", "--text", "--stem", "english", "body"), "ok\n")
        rows = self.hits("run OR cafe OR brown")
        self.assertEqual([r[0] for r in rows], [f"{3:032x}", f"{1:032x}"])
        for r in rows:
            self.assertEqual(len(r), 3)
            self.assertRegex(r[1], r"^[0-9.e+-]+$")
            self.assertLessEqual(len(r[1].replace(".", "").split("e")[0].lstrip("0")), 6)  # 6 significant digits
        self.assertGreater(float(rows[0][1]), float(rows[1][1]))
        self.assertEqual(json.loads(rows[0][2]), {"body": self.texts[2]})
        self.assertEqual(len(self.hits("fox", "--limit", "1")), 1)
        self.assertEqual(ok("search", self.db, "notes", "body", "zebra"), "")  # no hit: exit 0, no line

    def test_search_errors(self):
        ok("index", self.db, "notes", "--text", "body")
        before = tree(self.db)
        r = run("search", self.db, "notes", "body", "fox AND (brown")
        self.assertEqual(r.returncode, 2)
        self.assertIn("column 9", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(run("search", self.db, "notes", "missing", "fox").returncode, 2)  # no such index
        self.assertEqual(run("search", self.db, "notes", "body", "fox", "--limit", "0").returncode, 2)
        self.assertEqual(before, tree(self.db))  # searching changes nothing
        for args in (["index", self.db, "notes", "--text", "--stem", "latin", "title"],
                     ["index", self.db, "notes", "--hash", "--stem", "english", "title"],
                     ["index", self.db, "notes", "--text", "--unique", "title"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)
        self.assertEqual(before, tree(self.db))

    def test_keep_diacritics(self):
        ok("index", self.db, "notes", "--text", "--keep-diacritics", "body")
        self.assertEqual(self.hits("cafe"), [])
        self.assertEqual(len(self.hits("café")), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
