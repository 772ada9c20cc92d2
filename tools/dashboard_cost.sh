#!/usr/bin/env bash
# The dashboard's cost to the run it watches: the default run (evaluations off, STEPS steps) trained without a dashboard,
# then with `--dashboard 0` and a headless chromium keeping the page open (it polls once a second), interleaved for
# ROUNDS rounds. Prints each run's steady-state tokens/s (the mean of metrics.jsonl's 20-step rates after step 100) and,
# per mode, the best and the median, and the ratio of the medians.
# Usage: tools/dashboard_cost.sh [STEPS=600] [ROUNDS=3]   (builds ImageGpt.Host in Release first)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-600}"
rounds="${2:-3}"
dotnet build ImageGpt.Host -c Release -v q -nologo >/dev/null
exe=ImageGpt.Host/bin/Release/net10.0/imagegpt.dll
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rate() { awk -F'"tokens_per_s":' '{ split($2, a, ","); split($0, s, "\"step\":"); split(s[2], t, ","); if (t[1] > 100) { sum += a[1]; n++ } } END { printf "%.0f", sum / n }' "$1/metrics.jsonl"; }
declare -A results
for round in $(seq 1 "$rounds"); do
  for mode in off on; do
    dir="$work/$mode-$round"
    args=(train --set eval.enabled=false --set "train.steps=$steps" --set log.every=10 --run-dir "$dir")
    if [ "$mode" = off ]; then
      dotnet "$exe" "${args[@]}" >"$work/log" 2>&1
    else
      dotnet "$exe" "${args[@]}" --dashboard 0 >"$work/log" 2>&1 &
      train=$!
      until url=$(grep -oE 'dashboard: http://[^ ]+' "$work/log" | cut -d' ' -f2) && [ -n "$url" ]; do sleep 0.2; done
      chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync \
        --no-first-run --user-data-dir="$work/profile-$round" --remote-debugging-port=0 "$url" >/dev/null 2>&1 &
      browser=$!
      wait "$train"
      kill "$browser"; wait "$browser" 2>/dev/null || true
    fi
    r=$(rate "$dir")
    results[$mode]+="$r "
    echo "round $round, dashboard $mode: $r tokens/s"
  done
done
for mode in off on; do
  read -ra v <<<"${results[$mode]}"
  sorted=($(printf '%s\n' "${v[@]}" | sort -n))
  echo "dashboard $mode: best ${sorted[-1]} tokens/s, median ${sorted[$(( ${#sorted[@]} / 2 ))]} tokens/s over ${#sorted[@]} runs"
done
read -ra off <<<"${results[off]}"; read -ra on <<<"${results[on]}"
moff=$(printf '%s\n' "${off[@]}" | sort -n | sed -n "$(( ${#off[@]} / 2 + 1 ))p")
mon=$(printf '%s\n' "${on[@]}" | sort -n | sed -n "$(( ${#on[@]} / 2 + 1 ))p")
awk -v a="$mon" -v b="$moff" 'BEGIN { printf "with the page open / without: %.3f (medians)\n", a / b }'
