#!/usr/bin/env python3
"""Black-box tests of the entidb tool on encrypted databases (docs/tool.md, "Encrypted
databases"; docs/encryption.md): --key-file / --raw-key-file on every database command,
--cipher for a new database, rekey, inspect's encryption lines, and exit 6 (bad key) with the
directory unchanged.

Every passphrase here is made with the cheapest Argon2id cost (--kdf-ops 1 --kdf-memory-mib 1)
and the copies (backup, restore, salvage) use raw keys: no test pays the default cost.

Standard library only. Run: ENTIDB_TOOL=/path/to/entidb python3 tests/tool/test_encryption.py
"""

import json
import os
import tempfile
import unittest
from pathlib import Path

from tool_support import EXIT_BAD_KEY, EXIT_OK, EXIT_USAGE, TOOL, files_of, run

PASSPHRASE = b"correct horse battery staple"
FAST = ["--kdf-ops", "1", "--kdf-memory-mib", "1"]
MARKER = "plaintext-marker-7f3a"  # a payload string that must not appear in any file of the database


class EncryptionTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOOL or not os.access(TOOL, os.X_OK):
            self.fail("ENTIDB_TOOL must name the entidb executable (got {!r})".format(TOOL))
        self._tmp = tempfile.TemporaryDirectory(prefix="entidb-enc-")
        self.tmp = Path(self._tmp.name)
        self.db = self.tmp / "db"
        self.pw = self.key("pw", PASSPHRASE + b"\n")       # one trailing newline: ignored
        self.pw_bare = self.key("pw-bare", PASSPHRASE)      # the same passphrase
        self.wrong = self.key("wrong", b"not the passphrase\n")
        self.raw = self.key("raw", bytes(range(31)) + b"\n")  # a raw key keeps every byte, newline too
        self.raw2 = self.key("raw2", bytes(range(100, 132)))

    def tearDown(self):
        self._tmp.cleanup()

    def key(self, name, data):
        p = self.tmp / name
        p.write_bytes(data)
        return p

    def check_no_key_bytes(self, r):
        for secret in (PASSPHRASE, bytes(range(100, 132))):
            self.assertNotIn(secret, r.stdout + r.stderr)

    def ok(self, *args):
        r = run(*args)
        self.assertEqual(r.returncode, EXIT_OK, (args, r.out, r.err))
        self.assertEqual(r.err, "", (args, r.err))
        self.check_no_key_bytes(r)
        return r

    def error(self, code, *args):
        r = run(*args)
        self.assertEqual(r.returncode, code, (args, r.out, r.err))
        self.assertTrue(r.err.startswith("error: "), (args, r.err))
        self.check_no_key_bytes(r)
        return r

    def make_db(self, *key):
        key = key or ("--key-file", self.pw, *FAST)
        self.ok("put", self.db, "c", "{:032x}".format(1), json.dumps({"n": 1, "s": MARKER}), *key)
        self.ok("put", self.db, "c", "{:032x}".format(2), json.dumps({"n": 2, "s": "two"}), *key)

    def assert_encrypted(self, db, key_args, kek, cipher="xchacha20poly1305"):
        info = json.loads(self.ok("inspect", db, "--json", *key_args).out)
        self.assertEqual((info["encrypted"], info["cipher"], info["key"]["kind"]), (True, cipher, kek))
        for name, data in files_of(db).items():
            self.assertNotIn(MARKER.encode(), data, name)

    def test_every_command_works_with_the_passphrase_and_the_database_is_encrypted(self):
        self.make_db()
        k = ["--key-file", self.pw_bare]
        self.assert_encrypted(self.db, k, "passphrase")
        text = self.ok("inspect", self.db, *k).out
        self.assertIn("encrypted: yes\ncipher: xchacha20poly1305\nkey: passphrase (argon2id", text)
        self.assertEqual(self.ok("count", self.db, "c", *k, *FAST).out, "2\n")  # the cost counts only for a new KEY
        self.assertEqual(self.ok("collections", self.db, *k).out, "c\n")
        self.assertIn(MARKER, self.ok("get", self.db, "c", "{:032x}".format(1), *k).out)
        self.ok("index", self.db, "c", "--hash", "n", *k)
        self.assertIn(MARKER, self.ok("find", self.db, "c", "n", "1", *k).out)
        self.ok("load", self.db, "d", "--txns", "2", "--per-txn", "3", *k)
        self.ok("delete", self.db, "c", "{:032x}".format(2), *k)
        self.assertEqual(len(self.ok("changes", self.db, *k).out.splitlines()), 9)
        self.ok("checkpoint", self.db, *k)
        self.ok("compact", self.db, *k)
        plan = self.key("plan.json", json.dumps({"migrations": [{"version": 1, "name": "m", "steps": [
            {"op": "add_field", "collection": "c", "path": "x", "value": 5}]}]}).encode())
        self.ok("migrate", self.db, plan, *k)
        self.assertIn("version: 1", self.ok("schema", self.db, *k).out)
        self.assertEqual(self.ok("scan", self.db, "c", *k).out,
                         "{:032x}\t{{\"n\":1,\"s\":\"{}\",\"x\":5}}\n".format(1, MARKER))
        self.assertEqual(self.ok("verify", self.db, *k).out, "ok\n")
        self.assert_encrypted(self.db, k, "passphrase")
        # A plain database says so, and a raw key makes a raw-key database.
        self.ok("put", self.tmp / "plain", "c", "new", "{}")
        self.assertIn("encrypted: no\n", self.ok("inspect", self.tmp / "plain").out)
        self.assertFalse(json.loads(self.ok("inspect", self.tmp / "plain", "--json").out)["encrypted"])
        self.ok("put", self.tmp / "rawdb", "c", "new", json.dumps({"s": MARKER}), "--raw-key-file", self.raw)
        self.assert_encrypted(self.tmp / "rawdb", ["--raw-key-file", self.raw], "raw")

    def test_a_wrong_or_missing_key_is_exit_6_and_changes_nothing(self):
        self.make_db()
        self.ok("put", self.tmp / "plain", "c", "new", "{}")
        before, plain_before = files_of(self.db), files_of(self.tmp / "plain")
        wrong_keys = [[], ["--key-file", self.wrong], ["--raw-key-file", self.raw2]]
        commands = [["get", self.db, "c", "{:032x}".format(1)], ["put", self.db, "c", "new", "{}"],
                    ["delete", self.db, "c", "{:032x}".format(1)], ["load", self.db, "c", "--txns", "1", "--per-txn", "1"],
                    ["checkpoint", self.db], ["compact", self.db], ["inspect", self.db], ["verify", self.db],
                    ["index", self.db, "c", "--hash", "n"], ["backup", self.db, self.tmp / "bk"],
                    ["salvage", self.db, self.tmp / "out"], ["scan", self.db, "c"]]
        for cmd in commands:
            for key in wrong_keys:
                with self.subTest(cmd=cmd[0], key=key):
                    self.error(EXIT_BAD_KEY, *cmd, *key)
                    self.assertIsNone(files_of(self.tmp / "bk"))
                    self.assertFalse((self.tmp / "out").exists() and any((self.tmp / "out").iterdir()))
        self.assertEqual(files_of(self.db), before)
        # inspect without the key still says what the KEY file says, then refuses the rest.
        r = self.error(EXIT_BAD_KEY, "inspect", self.db)
        self.assertTrue(r.out.startswith("encrypted: yes\ncipher: xchacha20poly1305\nkey: passphrase (argon2id"), r.out)
        r = self.error(EXIT_BAD_KEY, "inspect", self.db, "--json")
        self.assertTrue(json.loads(r.out)["encrypted"])
        # A key for a database that is not encrypted is a bad key too.
        for cmd in (["count", self.tmp / "plain", "c"], ["put", self.tmp / "plain", "c", "new", "{}"]):
            self.error(EXIT_BAD_KEY, *cmd, "--key-file", self.pw)
        self.assertEqual(files_of(self.tmp / "plain"), plain_before)

    def test_bad_key_options_are_usage_errors_and_create_nothing(self):
        short, long_ = self.key("short", bytes(31)), self.key("long", bytes(33))
        new = self.tmp / "new"
        for args in (["--raw-key-file", short], ["--raw-key-file", long_], ["--raw-key-file", self.pw],
                     ["--key-file", self.pw, "--raw-key-file", self.raw], ["--key-file", self.tmp / "missing"],
                     ["--kdf-ops", "1"], ["--raw-key-file", self.raw, "--kdf-memory-mib", "1"],
                     ["--key-file", self.pw, "--kdf-ops", "0"], ["--key-file", self.pw, "--kdf-memory-mib", "0"],
                     ["--key-file", self.key("empty", b"\n")]):
            with self.subTest(args=args):
                self.error(EXIT_USAGE, "put", new, "c", "new", "{}", *args)
                self.assertFalse(new.exists() and any(new.iterdir()), args)
        self.assertIn("exactly 32 bytes", run("count", new, "c", "--raw-key-file", short).err)

    def test_rekey_changes_the_key_and_only_the_key(self):
        self.make_db()
        data_files = {k: v for k, v in files_of(self.db).items() if k != "KEY"}
        # passphrase → raw key → passphrase
        self.assertEqual(self.ok("rekey", self.db, "--key-file", self.pw, "--new-raw-key-file", self.raw2).out, "ok\n")
        self.error(EXIT_BAD_KEY, "count", self.db, "c", "--key-file", self.pw)
        self.assertEqual(self.ok("count", self.db, "c", "--raw-key-file", self.raw2).out, "2\n")
        new_pw = self.key("new-pw", b"a new passphrase\n")
        self.ok("rekey", self.db, "--raw-key-file", self.raw2, "--new-key-file", new_pw, *FAST)
        self.assertEqual(self.ok("count", self.db, "c", "--key-file", new_pw).out, "2\n")
        self.assertIn("1 MiB", self.ok("inspect", self.db, "--key-file", new_pw).out)
        self.assertEqual({k: v for k, v in files_of(self.db).items() if k not in ("KEY", "LOCK")},
                         {k: v for k, v in data_files.items() if k != "LOCK"})
        # A wrong old key, a missing new key, a plain database: nothing written.
        before = files_of(self.db)
        self.error(EXIT_BAD_KEY, "rekey", self.db, "--key-file", self.pw, "--new-key-file", self.wrong, *FAST)
        self.error(EXIT_USAGE, "rekey", self.db, "--key-file", new_pw)
        self.error(EXIT_USAGE, "rekey", self.db, "--key-file", new_pw, "--new-key-file", self.wrong,
                   "--new-raw-key-file", self.raw)
        self.assertEqual(files_of(self.db), before)
        self.ok("put", self.tmp / "plain", "c", "new", "{}")
        self.error(EXIT_BAD_KEY, "rekey", self.tmp / "plain", "--key-file", self.pw, "--new-key-file", self.wrong)

    def test_backup_restore_and_salvage_keep_the_database_encrypted(self):
        k = ["--raw-key-file", self.raw]
        self.make_db(*k)
        self.ok("backup", self.db, self.tmp / "bk", *k)
        self.assertNotIn(MARKER.encode(), (self.tmp / "bk").read_bytes())
        self.error(EXIT_BAD_KEY, "restore", self.tmp / "bk", self.tmp / "r0")
        self.error(EXIT_BAD_KEY, "restore", self.tmp / "bk", self.tmp / "r1", "--raw-key-file", self.raw2)
        self.ok("restore", self.tmp / "bk", self.tmp / "r", *k)
        self.assert_encrypted(self.tmp / "r", k, "raw")
        self.assertEqual(self.ok("count", self.tmp / "r", "c", *k).out, "2\n")
        self.ok("salvage", self.db, self.tmp / "s", *k)
        self.assert_encrypted(self.tmp / "s", k, "raw")
        self.assertEqual(self.ok("scan", self.tmp / "s", "c", *k).out, self.ok("scan", self.db, "c", *k).out)

    def test_cipher_chooses_aes256gcm_for_a_new_database_and_every_copy_keeps_it(self):
        k = ["--raw-key-file", self.raw]
        self.make_db(*k, "--cipher", "aes256gcm")
        self.assert_encrypted(self.db, k, "raw", "aes256gcm")
        self.assertIn("cipher: aes256gcm\n", self.ok("inspect", self.db, *k).out)
        # An existing database keeps its cipher whatever --cipher says.
        self.ok("put", self.db, "c", "{:032x}".format(3), "{}", *k, "--cipher", "xchacha20poly1305")
        self.assertEqual(self.ok("count", self.db, "c", *k).out, "3\n")
        self.ok("compact", self.db, *k)
        self.assertEqual(self.ok("verify", self.db, *k).out, "ok\n")
        self.ok("backup", self.db, self.tmp / "bk", *k)
        self.ok("restore", self.tmp / "bk", self.tmp / "r", *k)
        self.ok("salvage", self.db, self.tmp / "s", *k)
        new_pw = self.key("new-pw", b"a new passphrase\n")
        self.ok("rekey", self.db, *k, "--new-key-file", new_pw, *FAST)
        for db, key in ((self.db, ["--key-file", new_pw]), (self.tmp / "r", k), (self.tmp / "s", k)):
            with self.subTest(db=db.name):
                self.assert_encrypted(db, key, "passphrase" if key[0] == "--key-file" else "raw", "aes256gcm")
                self.assertIn(MARKER, self.ok("scan", db, "c", *key).out)

    def test_cipher_needs_a_key_and_a_known_name(self):
        new = self.tmp / "new"
        for args in (["--cipher", "aes256gcm"], ["--raw-key-file", self.raw, "--cipher", "aes"],
                     ["--raw-key-file", self.raw, "--cipher", ""]):
            with self.subTest(args=args):
                r = self.error(EXIT_USAGE, "put", new, "c", "new", "{}", *args)
                self.assertIn("cipher", r.err)
                self.assertFalse(new.exists() and any(new.iterdir()), args)


if __name__ == "__main__":
    unittest.main()
