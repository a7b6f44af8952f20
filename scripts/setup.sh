#!/usr/bin/env bash
# Installs what building and testing EntiDB needs, from Debian's packages only.
# Idempotent: installs nothing when everything is present. Needs root for apt-get.
#
#   setup.sh [all|base|clang|postgres]...
#
# base: what the library, the tool and a g++ build need; clang: the second compiler and its
# sanitizer runtimes; postgres: the sync server's PostgreSQL store (libpq-dev) and the server
# its tests start a private cluster of (postgresql); all (the default): every group. Several
# groups install in one apt-get call. The test run installs base first, and clang and postgres
# in the background while its first (g++) configuration builds.
set -euo pipefail

# unicode-data: the UCD files scripts/gen_unicode_tables.py reads (the unicode_tables test);
# libutf8proc-dev, libstemmer-dev, wamerican: the tokenizer's cross-check (text_crosscheck).
# libsodium-dev: encryption at rest (docs/encryption.md); optional to the library, needed by
# the crypto tests and by any build that names an encrypting cipher. libcpp-httplib-dev: the
# sync server over HTTP (docs/sync-protocol.md); optional to the library and the tool. openssl: the
# sync tests' TLS certificate. cmake: the CMake consumer projects' tests (tests/consumers/);
# python3-mesonpy, python3-venv: `pip install bindings/python` and its test.
base=(meson ninja-build pkg-config g++ cmake python3-mesonpy python3-venv libfmt-dev catch2 libxxhash-dev python3
  unicode-data libutf8proc-dev libstemmer-dev wamerican libsodium-dev libcpp-httplib-dev openssl)
clang=(clang libclang-rt-14-dev)
postgres=(libpq-dev postgresql)
packages=()
for group in "${@:-all}"; do
  case "$group" in
    base) packages+=("${base[@]}") ;;
    clang) packages+=("${clang[@]}") ;;
    postgres) packages+=("${postgres[@]}") ;;
    all) packages+=("${base[@]}" "${clang[@]}" "${postgres[@]}") ;;
    *) echo "usage: setup.sh [all|base|clang|postgres]..." >&2; exit 2 ;;
  esac
done
# Benchmark peers are optional (docs/performance.md): ENTIDB_BENCH_PEERS=1 adds them.
if [[ "${ENTIDB_BENCH_PEERS:-0}" == 1 ]]; then
  packages+=(libsqlite3-dev liblmdb-dev librocksdb-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package lists fetched in the last hour (by an earlier call) are reused.
  if ! find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | grep -q .; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
