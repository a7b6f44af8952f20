#!/usr/bin/env bash
# scripts/configure.sh NAME [meson options...] — sets up (or reconfigures) build/NAME.
# Compiler comes from CXX. Shared by run.sh and test.sh so both build the same way.
set -euo pipefail
name=$1; shift
dir=build/$name
if [[ -f "$dir/build.ninja" ]]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
