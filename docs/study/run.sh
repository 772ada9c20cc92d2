#!/bin/bash
# The study of README.md ("The study"): every row's training run and full-data probe, as they were run.
# Training budgets are in steps, taken from one core's quiet training throughput on this machine (L8 d64: 39.5k
# tokens/s, L8 d128: 13.0k; 6,272 tokens per step), so a loaded machine only stretches the wall time, not the run.
# The two 60-minute runs ran side by side, one pinned to each core. Results of any number of trainers are the same bits.
# Usage: bash docs/study/run.sh [OUT]   (OUT defaults to runs/study; about 12 hours on this 2-core machine: 5 of training, 7 of probes)
# The completions: imagegpt sample --weights OUT/L8-d128-60min/step-7500.safetensors --palette OUT/L8-d128-60min/palette.json --out docs/study/completions.png
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/study}
mkdir -p "$OUT"
dotnet build -c Release ImageGpt.Host >/dev/null
IG=ImageGpt.Host/bin/Release/net10.0/imagegpt
# Every row states its model and learning rate: the rows before the default run became L8 d128 at lr 1e-3 for 2,350
# steps (hocon/fashion-mnist.conf) were trained with the then default, L8 d64 at lr 3e-3.
OLD="--set model.width=64 --set train.lr=3e-3"
# In-run evaluations reduced to the validation loss: the probes below use the full splits.
QUIET="--set checkpoint.keep=0 --set eval.probe.train=0 --set eval.probe.validation=0 --set eval.probe.test=0 --set eval.completions.images=0"

# Row 1: the default run of then (L8 d64, lr 3e-3, 5000 steps, 2 trainers, every in-run evaluation: about 10 minutes).
$IG train $OLD --set train.steps=5000 --set checkpoint.every=1250 --run-dir "$OUT/L8-d64-10min" --set checkpoint.keep=0

# Rows 2 and 3: L8 d64 and L8 d128, 60 minutes of one core each, side by side.
taskset -c 0 $IG train $QUIET $OLD --set runtime.trainers=1 --set train.steps=22500 --set checkpoint.every=5625 \
  --run-dir "$OUT/L8-d64-60min" &
taskset -c 1 $IG train $QUIET $OLD --set runtime.trainers=1 --set model.width=128 --set train.steps=7500 --set checkpoint.every=1875 \
  --run-dir "$OUT/L8-d128-60min" &
wait

# Rows 5 and 6: depth at the same 60 minutes of one core, L12 d96 H3 (head size 32, as d128 H4) and L16 d64 H4, side by side.
# Budgets from one core's throughput measured with the other core busy, scaled by L8 d128's quiet/busy ratio (13.0k/11.8k):
# L12 d96 15.2k tokens/s, L16 d64 22.0k.
taskset -c 0 $IG train $QUIET $OLD --set runtime.trainers=1 --set model.layers=12 --set model.width=96 --set model.heads=3 \
  --set train.steps=8700 --set checkpoint.every=2175 --run-dir "$OUT/L12-d96-60min" &
taskset -c 1 $IG train $QUIET $OLD --set runtime.trainers=1 --set model.layers=16 --set train.steps=12600 --set checkpoint.every=3150 \
  --run-dir "$OUT/L16-d64-60min" &
wait

# Row 7: BERT with the settings and steps of row 1 (5000 steps, 2 trainers), against its autoregressive objective.
$IG train $QUIET $OLD --set model.objective=bert --set train.steps=5000 --set checkpoint.every=1250 --run-dir "$OUT/L8-d64-bert-5000"

# Rows 8 and 9: the two best 60-minute recipes at the default run's 10 minutes on both cores (2 trainers), budgets from
# their 2-trainer throughput on the quiet machine x 600 s (L8 d128 24.6k tokens/s, L12 d96 22.5k; the default L8 d64 run's
# 5,000 steps are about 7-7.5 minutes of training at its 70-75k, the rest its five in-run evaluations).
$IG train $QUIET $OLD --set model.width=128 --set train.steps=2350 --set checkpoint.every=1175 --run-dir "$OUT/L8-d128-10min"
$IG train $QUIET $OLD --set model.layers=12 --set model.width=96 --set model.heads=3 --set train.steps=2150 --set checkpoint.every=1075 \
  --run-dir "$OUT/L12-d96-10min"

# L16 d64 at the same 10 minutes, one trainer (the same bits as two): its 2-thread bench against L8 d128's (35.4k and
# 23.0k tokens/s, `imagegpt bench --layers 16 --threads 2 --steps 100`, best of two each) scales L8 d128's 24.6k to 37.9k,
# x 600 s = 3,626 steps, rounded to 3,600.
$IG train $QUIET $OLD --set runtime.trainers=1 --set model.layers=16 --set train.steps=3600 --set checkpoint.every=1800 \
  --run-dir "$OUT/L16-d64-10min"

# BERT for 60 minutes of one core: L8 d64 BERT at 30.4k tokens/s (`imagegpt bench --bert --steps 60`), 17,432 steps.
$IG train $QUIET $OLD --set runtime.trainers=1 --set model.objective=bert --set train.steps=17432 --set checkpoint.every=4358 \
  --run-dir "$OUT/L8-d64-bert-60min"

# The learning rate of L8 d128 at the 10-minute budget (3e-3 is row 8): 0.01, 1e-3 and 3e-4, one trainer each, the first
# two side by side. 1e-3, the first local minimum, is the default run since (hocon/fashion-mnist.conf: the same settings).
for lr in 0.01 0.001; do
  $IG train $QUIET --set runtime.trainers=1 --set model.width=128 --set train.lr=$lr --set train.steps=2350 \
    --set checkpoint.every=1175 --run-dir "$OUT/L8-d128-10min-lr$lr" &
done
wait
$IG train $QUIET --set runtime.trainers=1 --set model.width=128 --set train.lr=0.0003 --set train.steps=2350 \
  --set checkpoint.every=1175 --run-dir "$OUT/L8-d128-10min-lr0.0003"
# The default run as the README's first command runs it (two trainers, every in-run evaluation), timed; its final
# weights are those of the 1e-3 run above, byte for byte.
$IG train --run-dir "$OUT/default"

# Full-data probes (54,000 train / 6,000 validation / 10,000 test, C over 1e-3..1e3), appended to one results file.
probe() { $IG probe --weights "$OUT/$2/step-$3.safetensors" --palette "$OUT/$2/palette.json" --label "$1" --results "$OUT/study.csv" "${@:4}"; }
probe "L8-d64 default 10min 2 trainers" L8-d64-10min 5000            # with the raw-pixel baseline
probe "L8-d64 default 10min 2 trainers" L8-d64-10min 0 --no-baseline  # random init, the same bits as L8-d64-60min's
probe "L8-d64 60min 1 core" L8-d64-60min 22500 --no-baseline
probe "L8-d128 60min 1 core" L8-d128-60min 7500 --no-baseline
# The other probes one thread each, two side by side, each checkpoint into a file of its own, then appended.
probe1() { $IG probe --weights "$OUT/$2/step-$3.safetensors" --palette "$OUT/$2/palette.json" --label "$1" --results "$OUT/$2-$3.csv" --no-baseline --threads 1; }
append() { for f in "$@"; do tail -n +2 "$OUT/$f.csv" >> "$OUT/study.csv"; done; }
one() { probe1 "$1" "$2" "$3"; append "$2-$3"; }
pair() { probe1 "$1" "$2" "$3" & probe1 "$4" "$5" "$6" & wait; append "$2-$3" "$5-$6"; }
# The deeper models.
pair "L12-d96 60min 1 core" L12-d96-60min 8700  "L16-d64 60min 1 core" L16-d64-60min 12600
# Intermediate checkpoints of the 60-minute runs (Fig. 3's lines along training).
pair "L8-d64 60min 1 core" L8-d64-60min 5625    "L8-d64 60min 1 core" L8-d64-60min 11250
pair "L8-d128 60min 1 core" L8-d128-60min 3750  "L8-d128 60min 1 core" L8-d128-60min 1875
pair "L8-d128 60min 1 core" L8-d128-60min 5625  "L12-d96 60min 1 core" L12-d96-60min 4350
# The 10-minute recipes.
pair "L8-d128 10min 2 trainers" L8-d128-10min 2350  "L12-d96 10min 2 trainers" L12-d96-10min 2150
# The default run's recipe (L8 d128 at lr 1e-3: the same weights as "$OUT/default"), the final and the middle checkpoint.
pair "L8-d128 10min lr 1e-3" L8-d128-10min-lr0.001 2350  "L8-d128 10min lr 1e-3" L8-d128-10min-lr0.001 1175
one "L16-d64 10min 2 trainers" L16-d64-10min 3600
pair "L16-d64 60min 1 core" L16-d64-60min 6300  "L12-d96 60min 1 core" L12-d96-60min 6525
one "L12-d96 60min 1 core" L12-d96-60min 2175
pair "L8-d64 60min 1 core" L8-d64-60min 16875  "L16-d64 60min 1 core" L16-d64-60min 3150
pair "L16-d64 60min 1 core" L16-d64-60min 9450  "L16-d64 10min 2 trainers" L16-d64-10min 1800
one "L8-d128 10min 2 trainers" L8-d128-10min 1175
# BERT's validation loss is over masked positions and does not compare with the others': its results go to a file of their own.
bert() { for step in "${@:3}"; do $IG probe --weights "$OUT/$2/step-$step.safetensors" --palette "$OUT/$2/palette.json" \
  --label "$1" --results "$OUT/study-bert.csv" --no-baseline --threads 1; done; }
bert "L8-d64 BERT 5000 steps 2 trainers" L8-d64-bert-5000 5000 3750 1250
bert "L8-d64 BERT 60min 1 core" L8-d64-bert-60min 17432 8716 4358 13074
$IG chart --results "$OUT/study-bert.csv" --out "$OUT/bert"
# The random init's rows serve the L8-d64 60-minute run too (docs/study/study.csv holds them under both labels).
$IG chart --results "$OUT/study.csv" --out "$OUT"
