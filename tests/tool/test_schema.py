#!/usr/bin/env python3
"""Black-box tests of the entidb tool's schema commands: migrate (a JSON plan) and schema
(docs/migrations.md, docs/tool.md).

Exit codes: 0 ok, 1 not found, 2 bad usage or bad input, 8 schema mismatch; errors as
`error: <message>` on stderr. The tool's path comes from ENTIDB_TOOL.

Standard library only. Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_schema.py
"""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path


TOOL = os.environ.get("ENTIDB_TOOL", "")
TIMEOUT = 120
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_SCHEMA = 0, 1, 2, 8


from test_ops import files_of, run  # noqa: E402  (the same helpers as the other tool tests)


def user_id(i):
    return f"{i:032x}"


PLAN = {"migrations": [
    {"version": 1, "name": "tidy users", "steps": [
        {"op": "rename_field", "collection": "users", "path": "name", "to": "full_name"},
        {"op": "remove_field", "collection": "users", "path": "legacy"},
        {"op": "add_field", "collection": "users", "path": "active", "value": True},
        {"op": "declare_index", "collection": "users", "path": "full_name", "kind": "hash", "unique": True},
    ]},
    {"version": 2, "name": "notes", "steps": [
        {"op": "create_collection", "collection": "notes"},
        {"op": "declare_index", "collection": "notes", "path": "body", "kind": "text", "stem": "english"},
        {"op": "drop_index", "collection": "users", "path": "full_name"},
    ]},
]}


class SchemaTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.db = self.root / "db"
        for i in range(1, 6):
            r = run("put", self.db, "users", user_id(i), json.dumps({"name": f"u{i}", "legacy": 1}))
            self.assertEqual(r.returncode, EXIT_OK, r.err)

    def tearDown(self):
        self.tmp.cleanup()

    def plan(self, doc, name="plan.json"):
        p = self.root / name
        p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return p

    def test_migrate_applies_the_plan_and_schema_lists_it(self):
        r = run("schema", self.db)
        self.assertEqual((r.returncode, r.out, r.err), (EXIT_OK, "version: 0\n", ""))
        r = run("migrate", self.db, self.plan(PLAN), "--applied-at", "1700000000")
        self.assertEqual(r.returncode, EXIT_OK, r.err)
        self.assertEqual(r.err, "")  # no progress line: stderr is not a terminal
        lines = r.out.splitlines()
        self.assertEqual(lines[0:2], ["ok", "schema version: 0 -> 2"])
        self.assertRegex(lines[2], r"^migration 1 \(tidy users\): steps hash [0-9a-f]{16}$")
        self.assertEqual(lines[3:7], ["  rename_field users.name -> full_name: 5 entities",
                                      "  remove_field users.legacy: 5 entities",
                                      "  add_field users.active: 5 entities",
                                      "  declare_index users.full_name hash unique: 0 entities"])
        self.assertEqual(lines[-1], "records written: 5")
        r = run("get", self.db, "users", user_id(3))
        self.assertEqual(r.out, '{"active":true,"full_name":"u3"}\n')
        r = run("schema", self.db)
        out = r.out.splitlines()
        self.assertEqual(out[0], "version: 2")
        self.assertRegex(out[1], r"^1\ttidy users\t1700000000\t[0-9a-f]{16}$")
        self.assertRegex(out[2], r"^2\tnotes\t1700000000\t[0-9a-f]{16}$")
        self.assertEqual(run("verify", self.db).returncode, EXIT_OK)
        # Again: nothing to do, nothing written.
        before = files_of(self.db)
        r = run("migrate", self.db, self.plan(PLAN))
        self.assertEqual(r.returncode, EXIT_OK, r.err)
        self.assertIn("already applied: 1\nalready applied: 2\n", r.out)
        self.assertEqual(files_of(self.db), before)

    def test_progress_on_a_terminal(self):
        import pty
        master, slave = pty.openpty()
        try:
            p = subprocess.run([TOOL, "migrate", str(self.db), str(self.plan(PLAN))],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=TIMEOUT)
            os.close(slave)
            slave = None
            err = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the terminal's other end is closed: all read
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, EXIT_OK)
        self.assertIn(b"\rmigration 1: users 5/5 entities (100%)", err)
        self.assertTrue(p.stdout.startswith(b"ok\nschema version: 0 -> 2\n"))  # as without a terminal

    def test_dry_run_reports_and_changes_no_byte(self):
        before = files_of(self.db)
        r = run("migrate", self.db, self.plan(PLAN), "--dry-run")
        self.assertEqual(r.returncode, EXIT_OK, r.err)
        self.assertTrue(r.out.startswith("dry run\nschema version: 0 -> 2\n"), r.out)
        self.assertIn("  rename_field users.name -> full_name: 5 entities\n", r.out)
        self.assertIn("records written: 0\n", r.out)
        self.assertEqual(files_of(self.db), before)

    def test_a_changed_applied_migration_exits_8(self):
        self.assertEqual(run("migrate", self.db, self.plan(PLAN)).returncode, EXIT_OK)
        changed = json.loads(json.dumps(PLAN))
        changed["migrations"][0]["steps"].pop()
        before = files_of(self.db)
        r = run("migrate", self.db, self.plan(changed))
        self.assertEqual(r.returncode, EXIT_SCHEMA, r.err)
        self.assertTrue(r.err.startswith("error: schema mismatch: migration 1 was applied"), r.err)
        gap = {"migrations": PLAN["migrations"] + [{"version": 4, "name": "x", "steps": []}]}
        self.assertEqual(run("migrate", self.db, self.plan(gap)).returncode, EXIT_SCHEMA)
        self.assertEqual(files_of(self.db), before)

    def test_bad_plans_exit_2_and_change_nothing(self):
        before = files_of(self.db)
        bad = [
            ("{", "the plan"),  # malformed JSON
            ({"migrations": [{"version": 1, "name": "x", "steps": [{"op": "transform", "collection": "users"}]}]},
             "transforms are C++ only"),
            ({"migrations": [{"version": 1, "name": "x", "steps": [{"op": "remove_field", "collection": "users"}]}]},
             'migrations[0].steps[0] needs "path"'),
            ({"migrations": [{"version": 1, "name": "x", "steps": [], "extra": 1}]}, 'unknown field "extra"'),
            ({"migrations": [{"version": "1", "name": "x", "steps": []}]}, "must be a non-negative integer"),
            ({"migrations": [{"version": 1, "name": "x", "steps": [
                {"op": "declare_index", "collection": "users", "path": "name", "kind": "text", "unique": True}]}]},
             "cannot be unique"),
        ]
        for doc, message in bad:
            with self.subTest(doc=doc):
                r = run("migrate", self.db, self.plan(doc))
                self.assertEqual(r.returncode, EXIT_USAGE, r.err)
                self.assertTrue(r.err.startswith("error: "), r.err)
                if message != "the plan":
                    self.assertIn(message, r.err)
        r = run("migrate", self.db, self.root / "missing.json")
        self.assertEqual(r.returncode, EXIT_USAGE)
        r = run("migrate", self.db)
        self.assertEqual(r.returncode, EXIT_USAGE)
        self.assertIn("usage: entidb migrate DB PLAN.json", r.err)
        # A unique index over repeated values: refused by the database, nothing published.
        run("put", self.db, "users", user_id(9), json.dumps({"name": "u1"}))
        before = files_of(self.db)
        r = run("migrate", self.db, self.plan({"migrations": [PLAN["migrations"][0]]}))
        self.assertEqual(r.returncode, EXIT_USAGE, r.err)
        self.assertIn("unique", r.err)
        self.assertEqual(run("schema", self.db).out, "version: 0\n")
        r = run("migrate", self.root / "nothing", self.plan(PLAN))
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, r.err)


if __name__ == "__main__":
    if not TOOL:
        raise SystemExit("ENTIDB_TOOL is not set")
    unittest.main()
