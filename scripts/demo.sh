#!/usr/bin/env bash
# A short tour of the entidb tool (run by scripts/run.sh) on a throwaway database.
set -euo pipefail
tool=$1
db=$(mktemp -d)/demo.db
trap 'rm -rf "$(dirname "$db")"' EXIT
show() { echo "\$ entidb $*"; "$tool" "$@" || echo "(exit $?)"; }

show cbor a2616101616202
show cbor a2616201616101
id=$("$tool" put "$db" users new '{"name":"Ada","born":1815,"langs":["en","fr"]}')
echo "\$ entidb put $db users new '{\"name\":\"Ada\",...}'"; echo "$id"
show put "$db" users 0000000000000000000000000000002a '{"name":"Alan","born":1912}'
show get "$db" users "$id"
show load "$db" events --txns 3 --per-txn 2 --size 64
show scan "$db" users
show count "$db" events
show checkpoint "$db"
show inspect "$db"
show verify "$db"
show get "$db" users 00000000000000000000000000000063
