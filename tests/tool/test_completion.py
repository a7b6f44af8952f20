#!/usr/bin/env python3
"""Tests of the tool's bash completion (scripts/entidb.bash-completion), run the way bash runs it:
the script sourced into bash, COMP_WORDS and COMP_CWORD set as bash sets them for a command line,
the completion function called, COMPREPLY printed. The tool's path comes from ENTIDB_TOOL.

Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_completion.py
"""

import os
import re
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "entidb.bash-completion"
TOOL = os.environ.get("ENTIDB_TOOL", "")
TIMEOUT = 120


def complete(words, cword=None):
    """COMPREPLY for the command line `words` with the cursor on word `cword` (default: the last)."""
    cword = len(words) - 1 if cword is None else cword
    line = " ".join(shlex.quote(w) for w in [TOOL, *words])
    script = (f"source {shlex.quote(str(SCRIPT))}; COMP_WORDS=({line}); COMP_CWORD={cword + 1}; _entidb; "
              'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError(f"bash failed: {r.stderr}")
    return {line for line in r.stdout.splitlines() if line}


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=TIMEOUT)


class CompletionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not TOOL:
            raise unittest.SkipTest("ENTIDB_TOOL is not set")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = os.path.join(cls.tmp.name, "db")
        for collection in ("notes", "people"):
            assert tool("put", cls.db, collection, "new", "{}").returncode == 0
        os.mkdir(os.path.join(cls.tmp.name, "other"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_first_word_completes_to_the_commands_the_tool_names(self):
        hint = tool().stderr
        commands = set(re.search(r"\(commands: (.*)\)", hint).group(1).split(", "))
        self.assertIn("scan", commands)
        self.assertEqual(complete([""]), commands)
        self.assertEqual(complete(["sync"]), {c for c in commands if c.startswith("sync")})

    def test_options_come_from_the_commands_synopsis_and_the_global_ones(self):
        self.assertEqual(complete(["scan", self.db, "notes", "--l"]), {"--limit"})
        self.assertEqual(complete(["get", "--k"]), {"--key-file", "--kdf-ops", "--kdf-memory-mib"})
        self.assertIn("--unique", complete(["index", "--"]))
        self.assertNotIn("--limit", complete(["get", "--"]))

    def test_a_collection_completes_from_the_database_on_the_line(self):
        self.assertEqual(complete(["scan", self.db, ""]), {"notes", "people"})
        self.assertEqual(complete(["get", self.db, "n"]), {"notes"})
        # An option and its value before the database are not positionals.
        self.assertEqual(complete(["scan", "--limit", "5", self.db, "p"]), {"people"})
        # A path that holds no database offers nothing (and changes nothing).
        missing = os.path.join(self.tmp.name, "absent")
        self.assertEqual(complete(["scan", missing, ""]), set())
        self.assertFalse(os.path.exists(missing))

    def test_the_database_position_completes_directories(self):
        got = complete(["count", os.path.join(self.tmp.name, "")])
        self.assertEqual(got, {self.db, os.path.join(self.tmp.name, "other")})

    def test_the_global_options_are_the_ones_every_command_accepts(self):
        source = (ROOT / "tools" / "entidb" / "command_line.hpp").read_text()
        parsed = re.search(r"takes_value\.insert\(takes_value\.end\(\), \{([^}]*)\}\)", source).group(1)
        accepted = set(re.findall(r'"(--[a-z-]+)"', parsed))
        listed = set(re.search(r'_entidb_global_options="([^"]*)"', SCRIPT.read_text()).group(1).split())
        self.assertEqual(listed, accepted)


if __name__ == "__main__":
    unittest.main(verbosity=2)
