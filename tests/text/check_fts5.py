#!/usr/bin/env python3
"""The tokenizer agrees with SQLite FTS5's unicode61 tokenizer on ASCII text.

Random ASCII strings (letters, digits, punctuation, spaces, control characters; seeded, so
every run checks the same strings) are tokenized by FTS5 (Python's sqlite3 module: the
fts5vocab 'instance' table lists each token with its position) and by our tokenizer (the
tokenize_lines program), and the token lists must be equal. Runs are kept under 256 bytes:
FTS5 keeps longer tokens, ours drops them (docs/indexes.md, "Tokenizer").

    check_fts5.py TOKENIZE_LINES_PROGRAM
Exits 77 (skipped) when the sqlite3 module has no FTS5.
"""
import random
import sqlite3
import subprocess
import sys

CHARS = [chr(c) for c in range(1, 128) if chr(c) not in "\n\r"]
WORDY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_strings(count, seed=1207):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 20)):
            if rng.random() < 0.6:
                parts.append("".join(rng.choice(WORDY) for _ in range(rng.randint(1, 12))))
            else:
                parts.append("".join(rng.choice(CHARS) for _ in range(rng.randint(1, 4))))
        out.append("".join(parts))
    out += ["", "Hello, World!", "don't", "a_b-c.d", "x\ty\x0bz\x1f!", "MiXeD123CaSe 42 3.14"]
    return out


def fts5_tokens(db, text):
    db.execute("DELETE FROM docs")
    db.execute("INSERT INTO docs(rowid, body) VALUES (1, ?)", (text,))
    rows = db.execute("SELECT term, offset FROM vocab WHERE doc = 1 ORDER BY offset").fetchall()
    assert [o for _, o in rows] == list(range(len(rows))), rows
    return [t for t, _ in rows]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'unicode61')")
        db.execute("CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, 'instance')")
    except sqlite3.OperationalError as e:
        print(f"skipped: no FTS5 in this sqlite3 ({e})")
        return 77
    strings = random_strings(500)
    run = subprocess.run([sys.argv[1]], input="\n".join(strings) + "\n", capture_output=True,
                         text=True, check=True)
    ours = [line.split() for line in run.stdout.split("\n")[:-1]]
    assert len(ours) == len(strings), (len(ours), len(strings))
    bad = 0
    for text, mine in zip(strings, ours):
        theirs = fts5_tokens(db, text)
        if mine != theirs:
            bad += 1
            if bad <= 10:
                print(f"differ on {text!r}: ours {mine} FTS5 {theirs}")
    print(f"{len(strings)} strings, {bad} differ (SQLite {sqlite3.sqlite_version})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
