"""What the tool's black-box tests share (test_ops.py, test_encryption.py): the tool's path,
its exit codes (docs/tool.md), running it, and the files of a directory.

Standard library only. The tool's path comes from ENTIDB_TOOL.
"""

import os
import subprocess
from pathlib import Path

TOOL = os.environ.get("ENTIDB_TOOL", "")
TIMEOUT = 120
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_CORRUPTION, EXIT_LOCKED, EXIT_IO, EXIT_BAD_KEY = 0, 1, 2, 3, 4, 5, 6


def run(*args, **kwargs):
    """Runs the tool with `args` (stdin empty); the result has .out and .err as text."""
    argv = [TOOL] + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, **kwargs)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def files_of(path):
    """Every file under `path` with its bytes (None if the path does not exist)."""
    path = Path(path)
    if not path.exists():
        return None
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = Path(root) / f
            out[str(p.relative_to(path))] = p.read_bytes()
    return out
