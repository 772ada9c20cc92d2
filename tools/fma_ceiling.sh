#!/usr/bin/env bash
# The FMA ceiling of one core, three ways, in alternation for several rounds (all read the core's clock of
# the moment, so only side-by-side figures compare): the clock x 64 FLOPs per cycle, the C loop
# (tools/fma_ceiling.c, gcc -O2 -mavx512f) in its two forms, and the engine's managed loop
# (ImageGpt.Nn.Kernels.FmaCeiling, `imagegpt bench-gemm --ceiling-only`). First it counts the FMA
# instructions each loop body really holds (objdump for C, DOTNET_JitDisasm for the JIT's code).
# Usage: tools/fma_ceiling.sh [rounds]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rounds="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

gcc -O2 -mavx512f tools/fma_ceiling.c -o "$work/fma_ceiling"
dotnet build -c Release ImageGpt.Host >/dev/null
imagegpt=ImageGpt.Host/bin/Release/net10.0/imagegpt

count_c() {
    objdump -d --no-show-raw-insn "$work/fma_ceiling" | awk -v f="<$1>:" '$2 == f {on = 1} on && /vfmadd/ {n++} on && /ret/ {print n + 0; exit}'
}
DOTNET_JitDisasm=Loop512 DOTNET_JitStdOutFile="$work/jit.asm" "$imagegpt" bench-gemm --ceiling-only --repeats 1 >/dev/null
echo "FMA instructions per loop iteration: C same_start $(count_c same_start), C distinct_start $(count_c distinct_start), managed Loop512 $(grep -c vfmadd "$work/jit.asm")"
for ((r = 1; r <= rounds; r++)); do
    echo "== round $r/$rounds (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$work/fma_ceiling" 20
    "$imagegpt" bench-gemm --ceiling-only --repeats 20
done
