#!/usr/bin/env bash
# The whole test suite: g++ -O1 with warnings as errors, clang++ (warnings as errors too)
# under AddressSanitizer + UndefinedBehaviorSanitizer, and the threaded tests under
# ThreadSanitizer (clang++). Every configuration runs even if an earlier one failed; the last lines
# give the time of each configuration and sum the tests up, and the exit code is non-zero
# if anything failed.
#
# Compiling is most of the time, and a configuration's tests (much of it waiting on fsync
# and child processes) leave the cores half idle: so each configuration's tests run in
# the background while the next one builds (two test programs per core: most of them wait on
# fsync), their output kept in build/NAME/test-output.txt and printed in order at the end. The second compiler installs (if missing) while the
# first configuration builds.
set -uo pipefail
cd "$(dirname "$0")/.."
started_all=$SECONDS
bash scripts/setup.sh base || exit 1
mkdir -p build
bash scripts/setup.sh clang postgres > build/setup-clang.log 2>&1 &
setup_clang=$!
setup_seconds=$SECONDS

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
    meson test -C "build/$name" --no-rebuild --print-errorlogs --num-processes "$((2 * $(nproc)))" "${which[@]}" \
      > "build/$name/test-output.txt" 2>&1
    rc=$?
    echo $((SECONDS - tests_started)) > "build/$name/test-seconds.txt"
    exit $rc
  ) &
  names+=("$name")
  pids+=($!)
  build_seconds+=($((SECONDS - started)))
}
wait_for_clang() {
  wait "$setup_clang" || { cat build/setup-clang.log; echo "setup of clang failed"; exit 1; }
}

# g++ -O1 (optimised: the optimiser's view of the code, its warnings and what it assumes; -O2
# took half again as long to compile the database suite, this configuration's longest step):
# the library as users build it, the benchmark program, and the database suite
# (unit and crash tests) against the single header (the same headers as one file), the CBOR
# fuzz run at full length. Then clang++ under ASan + UBSan, unoptimised (clang compiles
# sanitized code in less than half the time g++ takes): every test program — the layers below
# the database, the allocation and crypto tests (the core_suites option: they do not depend
# on optimisation, so they build there only) — the examples, and the front ends — the tool,
# the C ABI, Python, the format interop and the full-text layer's tests — which run there only
# (the frontend_tests option: under the sanitizers they check more than optimised).
# There the consumer projects build and run against this configuration's install; `pip install`
# into a fresh environment (pip_install, which compiles the C library once more) is left out for
# time: its install plan is checked instead (pip_package). Then
# ThreadSanitizer (clang++ unoptimised: half the compile time of -O1, and the threaded cases run
# as fast; two translation units, which include every public header: their link is the ODR
# check) over the test cases that start threads, and in the same configuration what only has to
# run once on the second compiler: the compile-fail checks (they run the compiler with their
# own command line). The static concept checks compile into the ASan configuration's unit_core.
# There is no plain clang++ configuration: everything it would build, the ASan one builds
# with the same compiler and warnings. No configuration carries debug information: compile
# time is the run's cost, and the sanitizers' reports name functions from the symbol table
# (UBSan's carry their source locations anyway); rebuild with -g1 to have line numbers in a
# report.
CXX=g++ CC=gcc run gcc all all -Doptimization=1 -Ddebug=false -Dsingle_header_tests=true -Dexamples=false -Dcompile_checks=false \
  -Dfrontend_tests=false -Dtools=false -Dcore_suites=false
wait_for_clang
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CXX=clang++ CC=clang run asan all all -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=0 \
  -Ddebug=false -Dcpp_args=-fno-sanitize-recover=all -Dbenchmarks=false \
  -Dsingle_header_tests=false -Dexamples=true -Dcompile_checks=false -Dpip_install_test=false
# ThreadSanitizer: tests/meson.build builds only the programs that run threads against one
# database or gate, plus the compile checks.
TSAN_OPTIONS=halt_on_error=1 CXX=clang++ CC=clang run tsan all all \
  -Db_sanitize=thread -Doptimization=0 -Ddebug=false -Dbenchmarks=false -Dsingle_header_tests=false \
  -Dexamples=false -Dcompile_checks=true -Dfrontend_tests=false -Dtools=false

summary=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  wait "${pids[$i]}" || status=1
  echo "== tests of $name =="
  cat "build/$name/test-output.txt"
  summary+=("$(printf '%-6s build %4d s   tests %4d s (beside the next build)' "$name" "${build_seconds[$i]}" \
    "$(cat "build/$name/test-seconds.txt" 2>/dev/null || echo 0)")")
done
echo "== time per configuration (whole run: $((SECONDS - started_all)) s, of which setup $setup_seconds s before the first build) =="
printf '%s\n' "${summary[@]}"
python3 scripts/test_summary.py build/gcc build/asan build/tsan || status=1
exit $status
