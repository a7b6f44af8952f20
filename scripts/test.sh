#!/usr/bin/env bash
# The whole test suite: g++ and clang++ with warnings as errors, then g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

run_suite() {  # NAME [meson test options...]
  local name=$1; shift
  echo "== $name =="
  meson test -C "build/$name" --print-errorlogs --num-processes "$(nproc)" "$@" | tail -n 12
}

CXX=g++ bash scripts/configure.sh gcc
run_suite gcc
CXX=clang++ bash scripts/configure.sh clang
run_suite clang
CXX=g++ bash scripts/configure.sh asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dcpp_args=-fno-sanitize-recover=all -Dfuzz_iterations=1000000
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite asan

python3 scripts/test_summary.py build/gcc build/clang build/asan
