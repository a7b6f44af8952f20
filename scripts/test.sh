#!/usr/bin/env bash
# The whole test suite: g++ and clang++ with warnings as errors, g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the threaded tests under
# ThreadSanitizer. Every configuration runs even if an earlier one failed; the last line
# sums them up and the exit code is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

status=0
run() {  # NAME TARGETS|all TEST-NAMES|all [meson setup options...]
  local name=$1 targets=$2 tests=$3; shift 3
  echo "== $name =="
  bash scripts/configure.sh "$name" "$@" || { status=1; return; }
  if [[ "$targets" == all ]]; then ninja -C "build/$name" >/dev/null; else ninja -C "build/$name" $targets >/dev/null; fi \
    || { echo "build of $name failed"; ninja -C "build/$name" $([[ "$targets" == all ]] || echo "$targets") | tail -n 40; status=1; return; }
  local which=()
  [[ "$tests" == all ]] || which=($tests)
  meson test -C "build/$name" --no-rebuild --print-errorlogs --num-processes "$(nproc)" "${which[@]}" || status=1
}

# Optimised g++ build (with the benchmark program), then an unoptimised clang++ build (the
# second compiler's diagnostics and behaviour, compiled fast), then sanitizers at -O1.
# (meson.build turns off GCC 12's maybe-uninitialized warning in sanitizer builds only.)
CXX=g++ CC=gcc run gcc all all
CXX=clang++ CC=clang run clang all all -Dbuildtype=debug -Dbenchmarks=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CXX=g++ CC=gcc run asan all all -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 \
  -Dcpp_args=-fno-sanitize-recover=all -Dbenchmarks=false
# ThreadSanitizer over the programs that run threads against one database.
TSAN_OPTIONS=halt_on_error=1 CXX=g++ CC=gcc run tsan "tests/unit_engine tests/unit_compaction tests/unit_shared_gate" "engine compaction shared_gate" \
  -Db_sanitize=thread -Doptimization=1 \
  -Dbenchmarks=false

python3 scripts/test_summary.py build/gcc build/clang build/asan build/tsan || status=1
exit $status
