"""What the tool's black-box tests share: the tool's path, its exit codes (docs/tool.md),
running it, the files of a directory, and a small canonical CBOR codec (docs/cbor.md) for the
values the tests write and read.

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


def start_sync_server(data, *extra):
    """Starts `entidb sync-server` on a free port of 127.0.0.1 with its data in `data`; returns
    (the process, its base URL), or (the process, None) when its first line is not
    `listening on 127.0.0.1:PORT` (the caller fails with that line and the process's errors)."""
    p = subprocess.Popen([TOOL, "sync-server", "--listen", "127.0.0.1:0", "--data", str(data)] + [str(a) for a in extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    if not line.startswith("listening on 127.0.0.1:"):
        p.kill()
        p.wait(TIMEOUT)
        return p, None
    return p, "http://127.0.0.1:{}".format(int(line.strip().rsplit(":", 1)[1]))


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


def _cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor_encode(v):
    """Canonical CBOR of None, bools, ints, bytes, str, lists and dicts (keys sorted by their encodings)."""
    if v is None:
        return b"\xf6"
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _cbor_head(0, v) if v >= 0 else _cbor_head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)):
        return _cbor_head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _cbor_head(3, len(b)) + b
    if isinstance(v, list):
        return _cbor_head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        items = sorted((cbor_encode(k), cbor_encode(x)) for k, x in v.items())
        return _cbor_head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError(type(v))


def cbor_decode(b):
    """The value of one CBOR item (the kinds cbor_encode writes); anything else or trailing bytes: ValueError."""
    def item(i):
        major, info = b[i] >> 5, b[i] & 31
        i += 1
        if major == 7:
            if info not in (20, 21, 22):
                raise ValueError("simple value {}".format(info))
            return {20: False, 21: True, 22: None}[info], i
        if info < 24:
            n = info
        elif info <= 27:
            size = 1 << (info - 24)
            n = int.from_bytes(b[i:i + size], "big")
            i += size
        else:
            raise ValueError("additional information {}".format(info))
        if major in (0, 1):
            return (n if major == 0 else -1 - n), i
        if major in (2, 3):
            data = bytes(b[i:i + n])
            return (data if major == 2 else data.decode("utf-8")), i + n
        if major in (4, 5):
            out = [] if major == 4 else {}
            for _ in range(n):
                x, i = item(i)
                if major == 4:
                    out.append(x)
                else:
                    out[x], i = item(i)
            return out, i
        raise ValueError("major type {}".format(major))
    v, end = item(0)
    if end != len(b):
        raise ValueError("trailing bytes")
    return v
