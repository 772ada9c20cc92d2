#!/usr/bin/env bash
# Runs a command with the opt-in settings that speed up libtorch (runtime.backend = torch) on this kind of machine:
#   1. LD_PRELOAD of mkl_amd_shim.c (built here with cc on first use): MKL takes its AVX2/AVX-512 paths on AMD CPUs.
#   2. GLIBC_TUNABLES that keep freed memory (malloc's trim and mmap thresholds at 1 GiB): libtorch frees and
#      re-allocates its activations every step, and glibc otherwise returns them to the kernel and faults them in again.
# Example:  tools/libtorch/torch-fast.sh ImageGpt.Host/bin/Release/net10.0/imagegpt bench --backend torch
# `imagegpt bench --backend torch` prints the settings it ran with. Measured numbers: README, "The torch backend".
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/imagegpt"
shim="$cache/libmkl_amd_shim.so"
if [[ ! -f "$shim" || "$here/mkl_amd_shim.c" -nt "$shim" ]]; then
  command -v cc >/dev/null || { echo "torch-fast.sh: no C compiler (cc) to build the MKL shim. HINT: apt-get install gcc, or run without this script" >&2; exit 2; }
  mkdir -p "$cache"
  cc -O2 -shared -fPIC -o "$shim.tmp" "$here/mkl_amd_shim.c"
  mv "$shim.tmp" "$shim"
fi
export LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}"
export GLIBC_TUNABLES="glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=1073741824${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"
exec "$@"
