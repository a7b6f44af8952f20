#!/usr/bin/env bash
# The main job: install what is missing, build, and run the entidb tool's demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CXX=g++ bash scripts/configure.sh gcc
ninja -C build/gcc tools/entidb/entidb >/dev/null
tool=build/gcc/tools/entidb/entidb
"$tool" version
bash scripts/demo.sh "$tool"
