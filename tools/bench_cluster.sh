#!/usr/bin/env bash
# Scaling of a run over processes on this machine, the default model, evaluations off, rounds alternating:
#   1 process x 1 trainer (pinned to core 0), 1 process x 2 trainers (cores 0-1), and 2 processes x 1 trainer
#   (imagegpt train on core 0 + imagegpt node on core 1, cluster.min-trainers = 2), and the same with a node that has no
#   data set (roles [trainer], data.dir nowhere): its batches are made by the train process and streamed to it.
# Prints each run's tokens/s over the last 20 steps (metrics.csv), the scaling (2 processes / 1 trainer), the cluster's
# overhead at equal trainer count (2 processes / 1 process with 2 trainers), the streamed node's run against the one
# with the data set (2x1 streamed / 2x1), and checks the weights are the same bytes.
# Usage: tools/bench_cluster.sh [STEPS] [ROUNDS] [extra --set ...]; KEEP=1 keeps the run directories.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-400}; rounds=${2:-2}; shift $(( $# > 2 ? 2 : $# ))
dll=ImageGpt.Host/bin/Release/net10.0/imagegpt.dll
[ -f "$dll" ] || dotnet build ImageGpt.Host -c Release -v q >/dev/null
work=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "runs kept in $work" || trap 'rm -rf "$work"' EXIT
common=(--set train.steps="$steps" --set eval.enabled=false --set runtime.trainers=1 --set log.every=1000000 --set checkpoint.every=1000000 "$@")
# tokens/s of the last row (the rate over the run's last 20 steps)
rate() { tail -1 "$1/metrics.csv" | cut -d, -f6 | cut -d. -f1; }
echo "bench_cluster: $steps steps, $rounds rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before"
# A run of imagegpt train on core 0 and imagegpt node on core 1: cluster RUN_DIR [the node's extra arguments...]
cluster() {
  local dir=$1; shift
  taskset -c 0 dotnet "$dll" train "${common[@]}" --set cluster.min-trainers=2 --run-dir "$dir" >"$dir.log" 2>&1 &
  local train=$!
  for _ in $(seq 1 120); do grep -q -- "--seed " "$dir.log" 2>/dev/null && break; sleep 0.5; done
  local seed; seed=$(grep -o -- "--seed [0-9.:]*" "$dir.log" | awk '{print $2}')
  taskset -c 1 dotnet "$dll" node "${common[@]}" --run-dir "$dir" --seed "$seed" "$@" >"$dir.node.log" 2>&1
  wait "$train"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
for round in $(seq 1 "$rounds"); do
  one="$work/one-$round"; pair="$work/pair-$round"; two="$work/two-$round"; streamed="$work/streamed-$round"
  taskset -c 0 dotnet "$dll" train "${common[@]}" --run-dir "$one" >"$one.log" 2>&1
  taskset -c 0,1 dotnet "$dll" train "${common[@]}" --set runtime.trainers=2 --run-dir "$pair" >"$pair.log" 2>&1
  cluster "$two"
  cluster "$streamed" --set "akka.cluster.roles=[trainer]" --set data.dir="$work/no-data-set"
  grep -q "batches are streamed from the data node" "$streamed.node.log" || { echo "the streamed node did not stream:"; cat "$streamed.node.log"; exit 1; }
  same="same weights"
  for run in "$pair" "$two" "$streamed"; do cmp -s "$one/step-$steps.safetensors" "$run/step-$steps.safetensors" || same="WEIGHTS DIFFER ($run)"; done
  a=$(rate "$one"); p=$(rate "$pair"); b=$(rate "$two"); s=$(rate "$streamed")
  echo "round $round: tokens/s 1x1 $a, 1x2 $p, 2x1 $b, 2x1 streamed $s; scaling 2x1/1x1 $(ratio "$b" "$a"), cluster vs one process 2x1/1x2 $(ratio "$b" "$p"), streamed vs data set on the node $(ratio "$s" "$b"); $same"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after"
