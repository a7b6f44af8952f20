#!/usr/bin/env python3
"""Adds up Meson's test logs of several build directories into one closing line."""
import json
import sys
from pathlib import Path

passed = failed = skipped = 0
for build in sys.argv[1:]:
    log = Path(build) / "meson-logs" / "testlog.json"
    for line in log.read_text().splitlines():
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"entidb: {passed} passed, {failed} failed, {skipped} skipped")
if failed or passed == 0:
    sys.exit(1)
