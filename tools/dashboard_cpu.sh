#!/usr/bin/env bash
# CPU the dashboard spends serving one open page, counted in its own process (steadier than tokens/s on a loaded machine):
# `imagegpt dashboard` on a run directory, warmed up for a minute, then its CPU time over SECONDS with no browser and over
# SECONDS with a headless chromium keeping the page open (it polls /api/run and /api/cluster once a second), and the CPU of
# each endpoint over 200 requests on one kept-alive connection, as a browser sends them.
# Usage: tools/dashboard_cpu.sh RUN_DIR [SECONDS=60]   (after dotnet build -c Release)
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir="$1"
seconds="${2:-60}"
work="$(mktemp -d)"
dotnet ImageGpt.Host/bin/Release/net10.0/imagegpt.dll dashboard --run-dir "$run_dir" --port 0 >"$work/log" 2>&1 &
server=$!
browser=""
trap 'kill $browser $server 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
until url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/' "$work/log") && [ -n "$url" ]; do sleep 0.2; done
cpu() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }   # user + system, in clock ticks
tick=$(getconf CLK_TCK)
ms_per_s() { awk -v t="$1" -v s="$2" -v k="$tick" 'BEGIN { printf "%.1f", 1000 * t / k / s }'; }
endpoints=(api/run api/cluster api/loss api/evaluations api/checkpoints charts/loss.svg charts/probe.svg)
for e in "${endpoints[@]}"; do curl -s -o /dev/null "$url$e"; done
sleep 60   # tiered compilation settles
a=$(cpu); sleep "$seconds"; b=$(cpu)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync \
  --no-first-run --user-data-dir="$work/profile" --remote-debugging-port=0 "$url" >/dev/null 2>&1 &
browser=$!
sleep 15
c=$(cpu); sleep "$seconds"; d=$(cpu)
kill "$browser"; wait "$browser" 2>/dev/null || true; browser=""
echo "dashboard process CPU: $(ms_per_s $((b - a)) "$seconds") ms/s with no page open, $(ms_per_s $((d - c)) "$seconds") ms/s with one page open"
for e in "${endpoints[@]}"; do
  args=(); for i in $(seq 200); do args+=(-o /dev/null "$url$e"); done
  x=$(cpu); curl -s "${args[@]}"; y=$(cpu)
  awk -v t=$((y - x)) -v k="$tick" -v e="$e" 'BEGIN { printf "  %-22s %.2f ms CPU per request (200 on one connection)\n", e, 1000 * t / k / 200 }'
done
