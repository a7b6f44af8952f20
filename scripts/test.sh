#!/usr/bin/env bash
# The whole test suite: g++ and clang++ with warnings as errors, g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the threaded tests under
# ThreadSanitizer. Every configuration runs even if an earlier one failed; the last line
# sums them up and the exit code is non-zero if anything failed.
#
# Compiling is most of the time, and a configuration's tests (much of it waiting on fsync
# and child processes) leave the cores half idle: so each configuration's tests run in
# the background while the next one builds, their output kept in build/NAME/test-output.txt
# and printed in order at the end, with the build and test time of each configuration.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

status=0
names=()
pids=()
build_seconds=()
run() {  # NAME TARGETS|all TEST-NAMES|all [meson setup options...]
  local name=$1 targets=$2 tests=$3; shift 3
  local started=$SECONDS
  echo "== building $name =="
  bash scripts/configure.sh "$name" "$@" || { status=1; return; }
  if [[ "$targets" == all ]]; then ninja -C "build/$name" >/dev/null; else ninja -C "build/$name" $targets >/dev/null; fi \
    || { echo "build of $name failed"; ninja -C "build/$name" $([[ "$targets" == all ]] || echo "$targets") | tail -n 40; status=1; return; }
  local which=()
  [[ "$tests" == all ]] || which=($tests)
  (
    tests_started=$SECONDS
    meson test -C "build/$name" --no-rebuild --print-errorlogs --num-processes "$(nproc)" "${which[@]}" \
      > "build/$name/test-output.txt" 2>&1
    rc=$?
    echo $((SECONDS - tests_started)) > "build/$name/test-seconds.txt"
    exit $rc
  ) &
  names+=("$name")
  pids+=($!)
  build_seconds+=($((SECONDS - started)))
}

# Optimised g++ build (with the benchmark program, the examples and the single-header
# copies of the suites), then unoptimised builds: clang++ (the second compiler's
# diagnostics and behaviour) and g++ under ASan + UBSan (at -O0 it compiles in about
# two thirds of the time -O1 takes, the biggest part of the whole run), then ThreadSanitizer
# at -O1. Debug information is line tables only (-g1): enough for sanitizer reports and
# backtraces, and about a third of the compile time that full debug information costs.
# (meson.build turns off GCC 12's maybe-uninitialized warning in sanitizer builds only.)
line_tables=(-Ddebug=false -Dcpp_args=-g1 -Dc_args=-g1)
CXX=g++ CC=gcc run gcc all all "${line_tables[@]}"
CXX=clang++ CC=clang run clang all all -Doptimization=0 -Ddebug=false -Dbenchmarks=false \
  -Dsingle_header_tests=false -Dexamples=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CXX=g++ CC=gcc run asan all all -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=0 \
  -Ddebug=false '-Dcpp_args=-g1 -fno-sanitize-recover=all' -Dc_args=-g1 -Dbenchmarks=false \
  -Dsingle_header_tests=false -Dexamples=false
# ThreadSanitizer over the programs that run threads against one database (tests/meson.build
# builds only those in this configuration).
TSAN_OPTIONS=halt_on_error=1 CXX=g++ CC=gcc run tsan tests/unit_threads "engine compaction shared_gate" \
  -Db_sanitize=thread -Doptimization=1 "${line_tables[@]}" -Dbenchmarks=false -Dsingle_header_tests=false

summary=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  wait "${pids[$i]}" || status=1
  echo "== tests of $name =="
  cat "build/$name/test-output.txt"
  summary+=("$(printf '%-6s build %4d s   tests %4d s (beside the next build)' "$name" "${build_seconds[$i]}" \
    "$(cat "build/$name/test-seconds.txt" 2>/dev/null || echo 0)")")
done
echo "== time per configuration (whole run: $SECONDS s) =="
printf '%s\n' "${summary[@]}"
python3 scripts/test_summary.py build/gcc build/clang build/asan build/tsan || status=1
exit $status
