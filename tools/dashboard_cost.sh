#!/usr/bin/env bash
# The dashboard's cost to the run it watches: the default run (evaluations off, STEPS steps) trained, in each round, three
# ways one after the other: without a dashboard ("off"), with `--dashboard 0` and no client ("idle"), and with a headless
# chromium on this machine keeping the page open ("page": it polls /api/run and /api/cluster once a second). Each run's
# tokens/s is the median of metrics.jsonl's rates after step WARMUP; per way, the median over the rounds and their range,
# and the ratios of the medians to "off". The load average before each run and chromium's own CPU time are printed: on a
# machine shared with other work, read the ratios, not the absolute numbers.
# Usage: tools/dashboard_cost.sh [STEPS=600] [ROUNDS=3] [WARMUP=100]   (builds ImageGpt.Host in Release first)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-600}"
rounds="${2:-3}"
warmup="${3:-100}"
dotnet build ImageGpt.Host -c Release -v q -nologo >/dev/null
exe=ImageGpt.Host/bin/Release/net10.0/imagegpt.dll
work="$(mktemp -d)"
train=""; browser=""
trap 'for p in $browser $train; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() { awk -v w="$warmup" -F'"tokens_per_s":' '{ split($2, a, ","); split($0, s, "\"step\":"); split(s[2], t, ","); if (t[1] + 0 > w) print a[1] }' "$1/metrics.jsonl" | median; }
declare -A results
modes=(off idle page)
for round in $(seq 1 "$rounds"); do
  for mode in "${modes[@]}"; do
    dir="$work/$mode-$round"
    args=(train --set eval.enabled=false --set "train.steps=$steps" --set log.every=10 --run-dir "$dir")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    extra=""
    case "$mode" in
      off) dotnet "$exe" "${args[@]}" >"$work/log" 2>&1 ;;
      idle) dotnet "$exe" "${args[@]}" --dashboard 0 >"$work/log" 2>&1 ;;
      page)
        dotnet "$exe" "${args[@]}" --dashboard 0 >"$work/log" 2>&1 &
        train=$!
        until url=$(grep -oE 'dashboard: http://[^ ]+' "$work/log" | cut -d' ' -f2) && [ -n "$url" ]; do sleep 0.2; done
        /usr/bin/time -f '%U %S' -o "$work/browser-cpu" chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
          --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile-$round" --remote-debugging-port=0 "$url" >/dev/null 2>&1 &
        browser=$!
        wait "$train"; train=""
        kill -TERM "$(pgrep -P "$browser" | head -1)" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$browser" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$browser" 2>/dev/null || true
        wait "$browser" 2>/dev/null || true; browser=""
        extra=", chromium $(awk '{ printf "%.1f", $1 + $2 }' "$work/browser-cpu" 2>/dev/null || echo '?') s CPU"
        ;;
    esac
    r=$(rate "$dir")
    results[$mode]+="$r "
    echo "round $round, $mode: $r tokens/s (load average before: $load$extra)"
  done
done
declare -A med
for mode in "${modes[@]}"; do
  med[$mode]=$(tr ' ' '\n' <<<"${results[$mode]}" | grep . | median)
  range=$(tr ' ' '\n' <<<"${results[$mode]}" | grep . | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
  echo "$mode: median $(( med[$mode] )) tokens/s over $rounds runs (range $range)"
done
awk -v off="${med[off]}" -v idle="${med[idle]}" -v page="${med[page]}" \
  'BEGIN { printf "ratios of the medians to no dashboard: idle %.3f, page open %.3f\n", idle / off, page / off }'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
