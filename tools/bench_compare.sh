#!/usr/bin/env bash
# Training throughput of the C# engine against PyTorch on the same iGPT, same options, one after
# the other in this script. Example:
#   tools/bench_compare.sh --layers 8 --width 64 --heads 4 --side 14 --vocab 16 --batch 32 \
#       --steps 20 --warmup-steps 3 --threads 1
# Every option goes unchanged to `imagegpt bench` and to tools/bench_torch.py; each prints one JSON
# object as its last stdout line. PyTorch runs on OpenBLAS (tools/openblas_dir.sh: Debian's torch
# otherwise gets the reference BLAS) at its best setting: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset, so OpenBLAS picks its kernels from the CPU it finds.
# Numbers are noisy when other processes share the CPU: run it on a quiet machine, or twice.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== C#: imagegpt bench $*" >&2
dotnet run -c Release --project ImageGpt.Host -- bench "$@" | tee "$work/cs.out" >&2
blas="$(tools/openblas_dir.sh || true)"
[[ -n "$blas" ]] || echo "bench_compare: WARNING: no OpenBLAS, PyTorch runs on the system BLAS" >&2
echo "== PyTorch: tools/bench_torch.py $* (OpenBLAS ${blas:-none}; OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset)" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_LIBRARY_PATH="${blas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    /usr/bin/python3 tools/bench_torch.py "$@" | tee "$work/torch.out" >&2

/usr/bin/python3 - "$work/cs.out" "$work/torch.out" <<'EOF'
import json
import sys


def last_json(path, who):
    lines = [line for line in open(path).read().splitlines() if line.strip()]
    if not lines:
        sys.exit(f"bench_compare: {who} printed nothing")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        sys.exit(f"bench_compare: {who}'s last line is not JSON: {lines[-1]!r}")


cs = last_json(sys.argv[1], "imagegpt bench")
pt = last_json(sys.argv[2], "bench_torch.py")
ratio = cs["tokens_per_s"] / pt["tokens_per_s"]
print(f"C#      {cs['tokens_per_s']:12.1f} tokens/s  {cs['gflops']:8.2f} GFLOP/s"
      + (f"  MFU {cs['mfu']:.3f} (against the FMA loop measured in the run: {cs['mfu_now']:.3f} of {cs['ceiling_now_gflops']} GFLOP/s per core)" if "mfu" in cs else ""))
print(f"PyTorch {pt['tokens_per_s']:12.1f} tokens/s  {pt['gflops']:8.2f} GFLOP/s  (torch {pt['torch']}, threads {pt['threads']})")
print(f"ratio C#/PyTorch {ratio:.3f}")
print(json.dumps({"cs_tokens_per_s": cs["tokens_per_s"], "torch_tokens_per_s": pt["tokens_per_s"],
                  "ratio": round(ratio, 4), "cs": cs, "torch": pt}))
EOF
