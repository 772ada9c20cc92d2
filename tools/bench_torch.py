#!/usr/bin/python3
"""PyTorch baseline for ImageGpt's training throughput: full training steps (forward, backward,
Adam step) of the same iGPT (tools/igpt_torch.py) in float32 on synthetic random tokens.

  /usr/bin/python3 tools/bench_torch.py --layers 8 --width 64 --heads 4 --side 14 --vocab 16 \\
      --batch 32 --steps 20 --warmup-steps 3 --threads 1

FLOPs per token = 72 L d^2 + 12 L T d + 6 d V (IGPT.md; the full, non-causal-halved count),
times batch*T per step. The last stdout line is one JSON object:
{"tokens_per_s":..., "gflops":..., "threads":..., "torch":..., "config":{...}}.
Other processes sharing the CPU make the numbers noisy; compare runs made back to back.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from igpt_torch import IGpt, causal_attention, causal_attention_fused, flops_per_token  # noqa: E402


def check_fast_attention():
    """The benchmarked formulation must compute what the oracle's does."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 10, 16, generator=g, dtype=torch.float64) for _ in range(3))
    for causal in (True, False):
        d = (causal_attention(q, k, v, 4, causal) - causal_attention_fused(q, k, v, 4, causal)).abs().max()
        assert d < 1e-12, f"fast attention differs by {d}"


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
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")}
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, params {params}, "
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
    start = time.perf_counter()
    loss = float("nan")
    for i in range(args.steps):
        loss = step(i)
    elapsed = time.perf_counter() - start
    tokens_per_s = args.batch * T * args.steps / elapsed
    gflops = tokens_per_s * fpt / 1e9
    print(f"{args.steps} steps in {elapsed:.2f} s ({elapsed / args.steps * 1000:.1f} ms/step), "
          f"last loss {loss:.4f}: {tokens_per_s:.0f} tokens/s, {gflops:.2f} GFLOP/s")
    config = dict(layers=args.layers, width=args.width, heads=args.heads, side=args.side,
                  vocab=args.vocab, batch=args.batch, steps=args.steps, warmup_steps=args.warmup_steps,
                  clip=args.clip, formulation="plain" if args.plain else "fast", params=params,
                  openblas_coretype=env["OPENBLAS_CORETYPE"], openblas_l2_size=env["OPENBLAS_L2_SIZE"])
    print(json.dumps(dict(tokens_per_s=round(tokens_per_s, 1), gflops=round(gflops, 3),
                          threads=torch.get_num_threads(), torch=torch.__version__, config=config)))


if __name__ == "__main__":
    main()
