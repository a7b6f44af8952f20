#!/usr/bin/env bash
# A short tour of the entidb tool (run by scripts/run.sh).
set -euo pipefail
tool=$1
echo '$ entidb cbor a2616101616202   # {"a":1,"b":2}'
"$tool" cbor a2616101616202
echo '$ entidb cbor a2616201616101   # keys out of order: rejected'
"$tool" cbor a2616201616101 || echo "(exit $?)"
