#!/usr/bin/env bash
# Two-thread scaling of the engine: `imagegpt bench --threads 1`, `--threads 2`, and two `--threads 1`
# processes at once (one pinned to each core, their tokens/s summed) in alternation for several rounds (the
# machine is shared, so side by side and best of each), then the ratios of the bests. The pair of
# processes shares nothing but the machine's caches and memory: what two cores give this workload when
# no thread ever waits for the other, the bound for what two threads of one step can reach. Each bench warms up for
# 20 steps (bench's default) and times 100 unless bench options are given: in shorter runs the JIT's background
# compilation shares the cores with the pair (20 timed steps after 3 read 1.63-1.69x for the pair at L8 d64, 100-200
# after 20 read 1.84-1.92x).
# Usage: tools/bench_threads.sh [rounds] [bench options, e.g. --width 128 --warmup-steps 10 --steps 30]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rounds="${1:-3}"
shift || true
[[ $# -gt 0 ]] || set -- --steps 100
dotnet build -c Release ImageGpt.Host >/dev/null
imagegpt=ImageGpt.Host/bin/Release/net10.0/imagegpt
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tokens() { /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["tokens_per_s"])'; }
declare -A best=([1]=0 [2]=0 [pair]=0)
for ((r = 1; r <= rounds; r++)); do
    for threads in 1 2; do
        tps="$("$imagegpt" bench --threads "$threads" "$@" | tokens)"
        echo "round $r/$rounds threads $threads: $tps tokens/s (load $(cut -d' ' -f1 /proc/loadavg))"
        best[$threads]="$(/usr/bin/python3 -c "print(max($tps, ${best[$threads]}))")"
    done
    taskset -c 0 "$imagegpt" bench --threads 1 "$@" > "$work/core0" &
    taskset -c 1 "$imagegpt" bench --threads 1 "$@" > "$work/core1"
    wait
    a="$(tokens < "$work/core0")" b="$(tokens < "$work/core1")"
    tps="$(/usr/bin/python3 -c "print(round($a + $b, 1))")"
    echo "round $r/$rounds two 1-thread processes, one per core: $a + $b = $tps tokens/s"
    best[pair]="$(/usr/bin/python3 -c "print(max($tps, ${best[pair]}))")"
done
/usr/bin/python3 -c "b1, b2, bp = ${best[1]}, ${best[2]}, ${best[pair]}; print(f'best: 1 thread {b1:.0f}, 2 threads {b2:.0f}, two 1-thread processes {bp:.0f} tokens/s; 2 threads / 1 thread = {b2 / b1:.2f}x, two processes / 1 thread = {bp / b1:.2f}x')"
