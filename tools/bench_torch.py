#!/usr/bin/python3
"""PyTorch baseline for ImageGpt's training throughput: full training steps (forward, backward,
Adam step) of the same iGPT (tools/igpt_torch.py) in float32 on synthetic random tokens.

  /usr/bin/python3 tools/bench_torch.py --layers 8 --width 64 --heads 4 --side 14 --vocab 16 \\
      --batch 32 --steps 20 --warmup-steps 3 --threads 1

FLOPs per token = 72 L d^2 + 12 L T d + 6 d V (IGPT.md; the full, non-causal-halved count),
times batch*T per step. The last stdout line is one JSON object:
{"tokens_per_s":..., "gflops":..., "threads":..., "torch":..., "config":{...}}.
Other processes sharing the CPU make the numbers noisy; compare runs made back to back.

BLAS matters more than anything else here: Debian's torch calls the system libblas.so.3, the slow
reference BLAS unless OpenBLAS is present. Run it on OpenBLAS with
  LD_LIBRARY_PATH="$(tools/openblas_dir.sh)" /usr/bin/python3 tools/bench_torch.py ...
The BLAS actually loaded is printed and recorded in the JSON config.
"""
import argparse
import json
import os
import sys
import time


def loaded_blas():
    """The BLAS library this process mapped: Debian's torch links the system libblas.so.3, which
    is the slow reference BLAS unless OpenBLAS is installed or put on LD_LIBRARY_PATH."""
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "blas" in line.split()[-1]}
    return ", ".join(sorted(os.path.basename(lib) for lib in libs)) or "none"


def check_fast_attention():
    """The benchmarked formulation must compute what the oracle's does, gradients included."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 10, 16, generator=g, dtype=torch.float64) for _ in range(3))
    dy = torch.randn(2, 10, 16, generator=g, dtype=torch.float64)
    for causal in (True, False):
        grads = []
        for attend in (causal_attention, causal_attention_fused):
            x = [t.clone().requires_grad_(True) for t in (q, k, v)]
            y = attend(*x, 4, causal)
            y.backward(dy)
            grads.append([y.detach()] + [t.grad for t in x])
        d = max(float((a - b).abs().max()) for a, b in zip(*grads))
        assert d < 1e-12, f"fast attention (or its gradient) differs by {d}"


def main():
    ap = argparse.ArgumentParser(description="PyTorch iGPT training throughput baseline")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--side", type=int, default=14)
    ap.add_argument("--vocab", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=0.0, help="clip_grad_norm_ max norm; 0 = off")
    ap.add_argument("--plain", action="store_true",
                    help="three q/k/v products and masked_fill attention (the oracle's formulation)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    # OpenBLAS keeps its own thread pool and reads this once, when the library loads; torch's
    # set_num_threads does not reach it. So set it before torch is imported.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    global torch, IGpt, causal_attention, causal_attention_fused, flops_per_token
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from igpt_torch import IGpt, causal_attention, causal_attention_fused, flops_per_token

    torch.set_num_threads(args.threads)
    check_fast_attention()
    gen = torch.Generator().manual_seed(args.seed)
    model = IGpt(args.layers, args.width, args.heads, args.vocab, args.side, dtype=torch.float32,
                 fast=not args.plain)
    model.paper_init_(gen)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    T = args.side * args.side
    batches = [torch.randint(0, args.vocab, (args.batch, T), generator=gen) for _ in range(4)]
    params = sum(p.numel() for p in model.parameters())
    fpt = flops_per_token(args.layers, args.width, T, args.vocab)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")}
    torch.randn(8, 8) @ torch.randn(8, 8)  # loads the BLAS library so that it shows in the maps
    blas = loaded_blas()
    if "openblas" not in blas:
        print(f"bench_torch: WARNING: BLAS is {blas}, likely the slow reference BLAS. HINT: run with "
              'LD_LIBRARY_PATH="$(tools/openblas_dir.sh)"', file=sys.stderr)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, BLAS {blas}, params {params}, "
          f"T {T}, FLOPs/token {fpt}, env {env}, formulation {'plain' if args.plain else 'fast'}")

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = model(batches[i % len(batches)])["loss"]
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        return float(loss)

    for i in range(args.warmup_steps):
        step(i)
    start, start_cpu = time.perf_counter(), time.process_time()
    loss = float("nan")
    for i in range(args.steps):
        loss = step(i)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    tokens = args.batch * T * args.steps
    tokens_per_s = tokens / elapsed
    gflops = tokens_per_s * fpt / 1e9
    # CPU seconds of this process: on a shared machine wall time includes the time other processes
    # held the cores; tokens per CPU second per thread is the steadier measure there.
    tokens_per_cpu_s = tokens / cpu * torch.get_num_threads()
    print(f"{args.steps} steps in {elapsed:.2f} s wall, {cpu:.2f} s CPU ({elapsed / args.steps * 1000:.1f} ms/step), "
          f"last loss {loss:.4f}: {tokens_per_s:.0f} tokens/s, {gflops:.2f} GFLOP/s; "
          f"{tokens_per_cpu_s:.0f} tokens per CPU second x threads")
    config = dict(layers=args.layers, width=args.width, heads=args.heads, side=args.side,
                  vocab=args.vocab, batch=args.batch, steps=args.steps, warmup_steps=args.warmup_steps,
                  clip=args.clip, formulation="plain" if args.plain else "fast", params=params, blas=blas,
                  openblas_coretype=env["OPENBLAS_CORETYPE"], openblas_l2_size=env["OPENBLAS_L2_SIZE"])
    print(json.dumps(dict(tokens_per_s=round(tokens_per_s, 1), gflops=round(gflops, 3),
                          tokens_per_cpu_s=round(tokens_per_cpu_s, 1),
                          threads=torch.get_num_threads(), torch=torch.__version__, config=config)))


if __name__ == "__main__":
    main()
