#!/usr/bin/env python3
"""libentidb_c exports exactly the functions declared in include/entidb/c/entidb.h.

    check_exports.py LIBRARY HEADER

Reads the dynamic symbol table with `nm -D --defined-only` and the ENTIDB_C_API declarations
from the header; fails on any exported symbol that is not declared (a C++ symbol leaking out of
the library) and on any declared function that is not exported.
"""

import re
import subprocess
import sys


def main():
    library, header = sys.argv[1], sys.argv[2]
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True, text=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] in ("A",):  # version definition nodes (ENTIDB_C_1)
            continue
        exported.add(parts[2].split("@")[0])
    with open(header, encoding="utf-8") as f:
        declared = set(re.findall(r"ENTIDB_C_API\s+[^;(]*?\b(entidb_\w+)\s*\(", f.read()))
    extra = sorted(exported - declared)
    missing = sorted(declared - exported)
    if not declared:
        print("no ENTIDB_C_API declarations found in", header)
        return 1
    for name in extra:
        print("exported but not declared in the header:", name)
    for name in missing:
        print("declared in the header but not exported:", name)
    print(f"{len(declared)} declared, {len(exported)} exported")
    return 1 if extra or missing else 0


if __name__ == "__main__":
    sys.exit(main())
