#!/usr/bin/env bash
# Before/after of the compute engine in ONE process: ImageGpt.Nn of a git ref (renamed Before.ImageGpt.Nn)
# and of the working tree, training steps of the same model in alternation, best and median of each.
# On a machine shared with other work this is the comparison to trust (both sides see the same clock and
# load); `imagegpt bench` runs give the absolute numbers on a quiet machine.
# Usage: tools/ab_engine.sh REF [LAYERS WIDTH HEADS THREADS ROUNDS]   e.g. tools/ab_engine.sh main 8 64 4 1 12
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="${1:?usage: tools/ab_engine.sh REF [LAYERS WIDTH HEADS THREADS ROUNDS]}"
shift
git -C "$root" rev-parse --verify --quiet "$ref^{commit}" >/dev/null || { echo "ab_engine: '$ref' is not a commit here. HINT: a branch, tag or hash, e.g. main" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/before"
git -C "$root" archive "$ref" ImageGpt.Nn | tar -x -C "$work/before"
rm -rf "$work/before/ImageGpt.Nn/bin" "$work/before/ImageGpt.Nn/obj"
find "$work/before" -name '*.cs' -exec sed -i 's/\bImageGpt\.Nn\b/Before.ImageGpt.Nn/g' {} +
cp "$root/tools/ab_engine/Program.cs" "$work/"
sed "s|@ROOT@|$root|g" "$root/tools/ab_engine/ab_engine.csproj.in" > "$work/ab_engine.csproj"
dotnet build -c Release -o "$work/out" "$work/ab_engine.csproj" -p:NoWarn='CS1591%3BCS8618%3BCS8602%3BCS8604' >/dev/null \
    || { echo "ab_engine: the build failed (run dotnet build -c Release $work/ab_engine.csproj to see why)" >&2; exit 1; }
[[ $# -gt 0 ]] || set -- 8 64 4 1 12
"$work/out/ab_engine" "$@"
