#!/usr/bin/env bash
# Prints a folder holding OpenBLAS's libblas.so.3, for LD_LIBRARY_PATH when running PyTorch.
# Why: Debian's python3-torch links the system libblas.so.3, and apt satisfies that with the
# reference (netlib) BLAS unless OpenBLAS is installed; sgemm there is ~20x slower, which would
# make the PyTorch baseline a strawman. Installed system-wide OpenBLAS is used when present;
# otherwise the Debian package is unpacked into .bench/openblas (git-ignored) with no change
# to the system's BLAS. Prints nothing (exit 1) if neither works.
#   LD_LIBRARY_PATH="$(tools/openblas_dir.sh)" /usr/bin/python3 tools/bench_torch.py ...
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
system=/usr/lib/x86_64-linux-gnu/openblas-pthread
local_dir="$root/.bench/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"

if [[ -e "$system/libblas.so.3" ]]; then
    echo "$system"
    exit 0
fi
if [[ ! -e "$local_dir/libblas.so.3" ]]; then
    mkdir -p "$root/.bench"
    (
        cd "$root/.bench"
        rm -f libopenblas0-pthread_*.deb
        apt-get download libopenblas0-pthread >&2 2>/dev/null
        dpkg-deb -x libopenblas0-pthread_*.deb openblas
    ) || { echo "openblas_dir: could not fetch libopenblas0-pthread (try: apt-get update)" >&2; exit 1; }
fi
echo "$local_dir"
