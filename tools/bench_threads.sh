#!/usr/bin/env bash
# Two-thread scaling of the engine: `imagegpt bench --threads 1` and `--threads 2` in alternation for
# several rounds (the machine is shared, so side by side and best of each), then the ratio of the bests.
# Usage: tools/bench_threads.sh [rounds] [bench options, e.g. --width 128]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rounds="${1:-3}"
shift || true
dotnet build -c Release ImageGpt.Host >/dev/null
imagegpt=ImageGpt.Host/bin/Release/net10.0/imagegpt
declare -A best=([1]=0 [2]=0)
for ((r = 1; r <= rounds; r++)); do
    for threads in 1 2; do
        tps="$("$imagegpt" bench --threads "$threads" "$@" | tail -1 | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["tokens_per_s"])')"
        echo "round $r/$rounds threads $threads: $tps tokens/s (load $(cut -d' ' -f1 /proc/loadavg))"
        best[$threads]="$(/usr/bin/python3 -c "print(max($tps, ${best[$threads]}))")"
    done
done
/usr/bin/python3 -c "print(f'best: 1 thread {${best[1]}:.0f}, 2 threads {${best[2]}:.0f} tokens/s; 2 threads / 1 thread = {${best[2]} / ${best[1]}:.2f}x')"
