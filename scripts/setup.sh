#!/usr/bin/env bash
# Installs what building and testing EntiDB needs, from Debian's packages only.
# Idempotent: installs nothing when everything is present. Needs root for apt-get.
set -euo pipefail

packages=(meson ninja-build pkg-config g++ clang libclang-rt-14-dev
          libfmt-dev catch2 libxxhash-dev python3)
# Benchmark peers are optional: scripts/bench.sh asks for them with ENTIDB_BENCH_PEERS=1.
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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
