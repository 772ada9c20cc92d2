#!/usr/bin/python3
"""Writes the PyTorch oracle fixtures ar.bin, bert.bin, clf.bin for the C# engine (IGPT.md).

Run:   /usr/bin/python3 tools/make_fixtures.py [--out DIR]
       (default DIR: tests/ImageGpt.Nn.Tests/Fixtures). Deterministic: two runs give
       byte-identical files (single thread, seeded torch.Generator, no timestamps).

Precision: the weights are drawn in float64 and rounded to float32 (the values stored and the
values the reference computes with are the same). Every reference value (logits, loss, grads,
the 5 Adam steps) is computed in float64 and only then stored as float32, so the stored numbers
are the exact answer for the stored weights to float32 rounding, and the C# float32 engine's
tolerance measures its own error alone.

Fixtures (all: L=2, C=32, NH=4, side=4 (T=16), V=16, K=4, B=3, lr 0.01, warmup 2, total 5,
Adam b1 0.9, b2 0.95, eps 1e-8, weight decay 0; clip 1.0 except bert 3.0, see FIXTURES;
the JSON config of each file holds the values used, read them from there):
  ar.bin   autoregressive objective, with `features`.
  bert.bin BERT objective with a fixed mask (p=0.15, every image has >= 1 masked position).
           `sos` is a parameter but unused by BERT, so grad.sos is zero and final.sos == sos.
  clf.bin  fine-tuning: autoregressive L_gen + classifier L_clf; has `clf` and `clf_logits`.
           ar.bin and bert.bin have no `clf` parameter (the classifier exists only when
           fine-tuning). All three use the warmup+cosine schedule for the 5 steps.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from igpt_torch import IGpt, causal_attention, lr_at, paper_stds, param_kind  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "ImageGpt.Nn.Tests", "Fixtures")

BASE = dict(layers=2, width=32, heads=4, vocab=16, side=4, classes=4, batch=3,
            lr=0.01, warmup=2, total_steps=5, beta1=0.9, beta2=0.95, eps=1e-8, clip=1.0,
            weight_decay=0.0)
FIXTURES = [  # name, objective, fine-tune (classifier), seed, clip
    ("ar", "ar", False, 1001, 1.0),
    # bert raises clip so that some steps clip and some do not: both branches of
    # clip_grad_norm_ ("if coef < 1") are then exercised by the fixtures.
    ("bert", "bert", False, 1002, 3.0),
    ("clf", "ar", True, 1003, 1.0),
]
MASK_P = 0.15
STEPS = 5


def fixture_init_(model, gen):
    """Fixture init: the paper's stds, but head and clf N(0,0.02) and gains 1+N(0,0.1),
    so every gradient is nonzero. Drawn in float64 in spec_parameters() order, rounded to f32."""
    stds = dict(paper_stds(model.layers, model.width), head=0.02, clf=0.02)
    with torch.no_grad():
        for name, p in model.spec_parameters():
            kind = param_kind(name)
            x = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            x = 1.0 + 0.1 * x if kind == "gain" else x * stds[kind]
            p.copy_(x.float().double())


def make_batch(cfg, objective, gen):
    B, T = cfg["batch"], cfg["side"] ** 2
    tokens = torch.randint(0, cfg["vocab"], (B, T), generator=gen)
    labels = torch.randint(0, cfg["classes"], (B,), generator=gen)
    mask = None
    if objective == "bert":
        u = torch.rand(B, T, generator=gen, dtype=torch.float64)
        mask = u < MASK_P
        # An image with no masked position contributes nothing; force its most likely one.
        for b in range(B):
            if not mask[b].any():
                mask[b, u[b].argmin()] = True
    return tokens, labels, mask


def fill_missing_grads(model):
    """A parameter the loss does not touch (sos under BERT) has gradient zero, not None."""
    for p in model.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)


def adam_by_hand(params, grads, state, lr, t, b1, b2, eps):
    """Adam (IGPT.md), t 1-based: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)."""
    with torch.no_grad():
        for name, p in params:
            g = grads[name]
            m, v = state.setdefault(name, (torch.zeros_like(p), torch.zeros_like(p)))
            m.mul_(b1).add_((1 - b1) * g)
            v.mul_(b2).add_((1 - b2) * g * g)
            p.sub_(lr * (m / (1 - b1 ** t)) / (torch.sqrt(v / (1 - b2 ** t)) + eps))


def train_steps(model, tokens, mask, labels, cfg, use_torch_adam):
    """5 steps on the same batch: loss, backward, clip_grad_norm_, schedule lr, Adam.
    Returns (losses, grad norms before clipping)."""
    params = list(model.spec_parameters())
    opt = torch.optim.Adam([p for _, p in params], lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]),
                           eps=cfg["eps"], weight_decay=0.0) if use_torch_adam else None
    state = {}
    losses, norms = [], []
    for step in range(STEPS):
        model.zero_grad(set_to_none=True)
        loss = model(tokens, mask, labels)["loss"]
        loss.backward()
        fill_missing_grads(model)
        by_hand = math.sqrt(sum(float((p.grad ** 2).sum()) for _, p in params))
        total = float(torch.nn.utils.clip_grad_norm_([p for _, p in params], cfg["clip"]))
        tol = 1e-12 if params[0][1].dtype == torch.float64 else 1e-5
        assert abs(total - by_hand) <= tol * by_hand, (total, by_hand)
        lr = lr_at(step, cfg["lr"], cfg["warmup"], cfg["total_steps"])
        if use_torch_adam:
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
        else:
            adam_by_hand(params, {n: p.grad for n, p in params}, state, lr, step + 1,
                         cfg["beta1"], cfg["beta2"], cfg["eps"])
        losses.append(float(loss))
        norms.append(total)
    return losses, norms


def build(cfg, objective, finetune, seed):
    gen = torch.Generator().manual_seed(seed)
    model = IGpt(cfg["layers"], cfg["width"], cfg["heads"], cfg["vocab"], cfg["side"],
                 classes=cfg["classes"] if finetune else 0, objective=objective,
                 dtype=torch.float64)
    fixture_init_(model, gen)
    tokens, labels, mask = make_batch(cfg, objective, gen)
    return model, tokens, labels, mask


def make_fixture(name, objective, finetune, seed, clip):
    cfg = dict(BASE, clip=clip)
    model, tokens, labels, mask = build(cfg, objective, finetune, seed)
    lab = labels if finetune else None
    tensors = []  # (name, float64 tensor), in file order
    init = [(n, p.detach().clone()) for n, p in model.spec_parameters()]
    tensors += init
    tensors.append(("tokens", tokens.double()))
    tensors.append(("labels", labels.double()))
    if mask is not None:
        tensors.append(("mask", mask.double()))

    model.zero_grad(set_to_none=True)
    out = model(tokens, mask, lab)
    out["loss"].backward()
    fill_missing_grads(model)
    tensors.append(("logits", out["logits"].detach()))
    tensors.append(("loss", out["loss"].detach().reshape(1)))
    if finetune:
        tensors.append(("clf_logits", out["clf_logits"].detach()))
    if objective == "ar" and not finetune:
        tensors.append(("features", out["features"].detach()))
    for n, p in model.spec_parameters():
        zero_ok = objective == "bert" and n == "sos"
        assert zero_ok or p.grad.abs().max() > 0, f"{name}: grad.{n} is zero"
        tensors.append(("grad." + n, p.grad.detach().clone()))

    losses, norms = train_steps(model, tokens, mask, lab, cfg, use_torch_adam=False)
    final = [(n, p.detach().clone()) for n, p in model.spec_parameters()]

    # The hand-written Adam must agree with torch.optim.Adam (float64) to ~1e-12.
    twin, _, _, _ = build(cfg, objective, finetune, seed)
    losses_t, _ = train_steps(twin, tokens, mask, lab, cfg, use_torch_adam=True)
    adam_diff = max(float((p - q).abs().max()) for (_, p), (_, q) in zip(final, twin.spec_parameters()))
    assert adam_diff < 1e-12, f"{name}: hand Adam differs from torch.optim.Adam by {adam_diff}"
    assert max(abs(a - b) for a, b in zip(losses, losses_t)) < 1e-12
    assert any(n > cfg["clip"] for n in norms), f"{name}: clipping never active, lower clip"
    if name == "bert":
        assert any(n < cfg["clip"] for n in norms), "bert: some step should stay unclipped"

    tensors.append(("step_loss", torch.tensor(losses, dtype=torch.float64)))
    tensors += [("final." + n, p) for n, p in final]

    gaps = float32_gaps(cfg, objective, finetune, seed, dict(tensors))
    config = dict(layers=cfg["layers"], width=cfg["width"], heads=cfg["heads"], vocab=cfg["vocab"],
                  side=cfg["side"], classes=cfg["classes"], batch=cfg["batch"], objective=objective,
                  classifier=finetune, lr=cfg["lr"], warmup=cfg["warmup"],
                  total_steps=cfg["total_steps"], beta1=cfg["beta1"], beta2=cfg["beta2"],
                  eps=cfg["eps"], clip=cfg["clip"], weight_decay=cfg["weight_decay"],
                  mask_p=MASK_P if objective == "bert" else 0.0, seed=seed,
                  step_lr=[lr_at(s, cfg["lr"], cfg["warmup"], cfg["total_steps"]) for s in range(STEPS)],
                  step_grad_norm=norms, reference_dtype="float64 rounded to float32",
                  torch_version=torch.__version__, generator="tools/make_fixtures.py",
                  format_version=1)
    return config, tensors, adam_diff, gaps


def float32_gaps(cfg, objective, finetune, seed, ref):
    """How far PyTorch itself lands from the float64 reference when it runs in float32 from the
    same stored weights: a guide for the C# tolerances (printed, not stored)."""
    model, tokens, labels, mask = build(cfg, objective, finetune, seed)
    model.float()
    lab = labels if finetune else None
    out = model(tokens, mask, lab)
    out["loss"].backward()
    fill_missing_grads(model)

    def gap(a, name):
        return float((a.detach().double() - ref[name]).abs().max())

    gaps = {"logits": gap(out["logits"], "logits"), "loss": gap(out["loss"].reshape(1), "loss"),
            "grad": max(gap(p.grad, "grad." + n) for n, p in model.spec_parameters())}
    train_steps(model, tokens, mask, lab, cfg, use_torch_adam=True)
    gaps["final"] = max(gap(p, "final." + n) for n, p in model.spec_parameters())
    return gaps


def write_fixture(path, config, tensors):
    blob = bytearray(b"IGPTFX01")
    js = json.dumps(config, separators=(",", ":")).encode("utf-8")
    blob += struct.pack("<i", len(js)) + js
    blob += struct.pack("<i", len(tensors))
    for name, t in tensors:
        nb = name.encode("utf-8")
        blob += struct.pack("<i", len(nb)) + nb
        blob += struct.pack("<i", t.dim()) + struct.pack(f"<{t.dim()}i", *t.shape)
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
        blob += data.tobytes()
    with open(path, "wb") as f:
        f.write(blob)
    return hashlib.sha256(blob).hexdigest()


def naive_attention(q, k, v, heads, causal):
    """Obviously correct twin: explicit loops over batch, head and query row."""
    B, T, C = q.shape
    hs = C // heads
    out = torch.zeros_like(q)
    for b in range(B):
        for h in range(heads):
            cols = slice(h * hs, (h + 1) * hs)
            for i in range(T):
                n = i + 1 if causal else T
                s = torch.stack([torch.dot(q[b, i, cols], k[b, j, cols]) for j in range(n)]) / math.sqrt(hs)
                w = torch.exp(s - s.max())
                w = w / w.sum()
                out[b, i, cols] = sum(w[j] * v[b, j, cols] for j in range(n))
    return out


def numpy_forward(params, tokens, mask, labels, cfg, objective):
    """A second, loop-per-layer forward in numpy from the IGPT.md text, for the logits and loss."""
    import numpy as np
    P = {n: p.detach().numpy() for n, p in params}
    x = tokens.numpy()
    B, T = x.shape
    C, NH, L = cfg["width"], cfg["heads"], cfg["layers"]
    hs = C // NH
    if objective == "ar":
        h = np.stack([np.vstack([P["sos"][None, :], P["wte"][x[b, :-1]]]) for b in range(B)])
    else:
        h = P["wte"][x] * (1.0 - mask.numpy()[..., None])
    h = h + P["wpe"]

    def norm(a, g):
        return a / np.sqrt((a * a).mean(-1, keepdims=True) + 1e-5) * g

    for l in range(L):
        w = lambda n: P[f"h.{l}.{n}"]  # noqa: E731
        a = norm(h, w("ln_1.g"))
        q, k, v = a @ w("attn.q").T, a @ w("attn.k").T, a @ w("attn.v").T
        y = np.zeros_like(q)
        for b in range(B):
            for hd in range(NH):
                c = slice(hd * hs, (hd + 1) * hs)
                s = q[b, :, c] @ k[b, :, c].T / np.sqrt(hs)
                if objective == "ar":
                    s = np.where(np.tri(T, dtype=bool), s, -np.inf)
                e = np.exp(s - s.max(-1, keepdims=True))
                y[b, :, c] = (e / e.sum(-1, keepdims=True)) @ v[b, :, c]
        h = h + y @ w("attn.c_proj").T
        u = norm(h, w("ln_2.g")) @ w("mlp.c_fc").T
        h = h + (u / (1.0 + np.exp(-1.702 * u))) @ w("mlp.c_proj").T
    hf = norm(h, P["ln_f.g"])
    logits = hf @ P["head"].T
    lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    ce = lse - np.take_along_axis(logits, x[..., None], -1)[..., 0]  # (B,T)
    if objective == "ar":
        loss = ce.mean()
    else:
        m = mask.numpy().astype(float)
        loss = np.mean([(ce[b] * m[b]).sum() / m[b].sum() for b in range(B) if m[b].sum() > 0])
    if labels is not None:
        z = hf.mean(1) @ P["clf"].T
        zl = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
        loss += (zl - z[np.arange(B), labels.numpy()]).mean()
    return logits, loss


def self_check():
    """Checks the reference itself: attention vs naive loops, autograd vs finite differences."""
    gen = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 9, 12, generator=gen, dtype=torch.float64) for _ in range(3))
    for causal in (True, False):
        d = float((causal_attention(q, k, v, 3, causal) - naive_attention(q, k, v, 3, causal)).abs().max())
        print(f"  attention vs naive masked softmax (causal={causal}): max diff {d:.2e}")
        assert d < 1e-12
    for name, objective, finetune, seed, _ in FIXTURES:
        model, tokens, labels, mask = build(dict(BASE), objective, finetune, seed)
        lab = labels if finetune else None
        with torch.no_grad():
            out = model(tokens, mask, lab)
        np_logits, np_loss = numpy_forward(model.spec_parameters(), tokens, mask, lab, BASE, objective)
        d_logits = float((out["logits"] - torch.from_numpy(np_logits)).abs().max())
        d_loss = abs(float(out["loss"]) - float(np_loss))
        print(f"  {name}: torch vs numpy forward: logits max diff {d_logits:.1e}, loss diff {d_loss:.1e}")
        assert d_logits < 1e-12 and d_loss < 1e-12
        picks = ["sos" if objective == "ar" else "wte", "h.0.ln_1.g", "h.1.attn.k", "h.0.mlp.c_proj",
                 "ln_f.g", "clf" if finetune else "head"]
        named = dict(model.spec_parameters())
        base = {n: p.detach() for n, p in named.items()}
        inputs = tuple(base[n].clone().requires_grad_(True) for n in picks)

        def loss_of(*xs):
            ps = dict(base)
            ps.update(zip(picks, xs))
            return torch.nn.utils.stateless.functional_call(model, ps, (tokens, mask, lab))["loss"]

        ok = torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)
        grads = torch.autograd.grad(loss_of(*inputs), inputs)
        worst = 0.0
        for n, x, g in zip(picks, inputs, grads):
            flat = x.detach().reshape(-1)
            for idx in range(0, flat.numel(), max(1, flat.numel() // 7)):
                xp, xm = flat.clone(), flat.clone()
                xp[idx] += 1e-6
                xm[idx] -= 1e-6
                args_p = [a.detach() if a is not x else xp.view_as(x) for a in inputs]
                args_m = [a.detach() if a is not x else xm.view_as(x) for a in inputs]
                fd = (float(loss_of(*args_p)) - float(loss_of(*args_m))) / 2e-6
                worst = max(worst, abs(fd - float(g.reshape(-1)[idx])))
        print(f"  {name}: gradcheck({', '.join(picks)}) = {ok}; sampled central-difference max diff {worst:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    ap.add_argument("--skip-check", action="store_true", help="skip the gradcheck self-test")
    args = ap.parse_args()
    torch.set_num_threads(1)  # single thread: reductions in a fixed order, byte-identical output
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, reference in float64, stored as float32")
    if not args.skip_check:
        print("self-check:")
        self_check()
    for name, objective, finetune, seed, clip in FIXTURES:
        config, tensors, adam_diff, gaps = make_fixture(name, objective, finetune, seed, clip)
        path = os.path.join(args.out, name + ".bin")
        digest = write_fixture(path, config, tensors)
        loss = float(dict(tensors)["loss"][0])
        norms = ", ".join(f"{n:.3f}" for n in config["step_grad_norm"])
        steps = ", ".join(f"{x:.5f}" for x in dict(tensors)["step_loss"].tolist())
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes, sha256 {digest[:16]}")
        print(f"  objective {objective}{' + classifier' if finetune else ''}, loss {loss:.6f}")
        print(f"  step losses [{steps}]")
        print(f"  grad norms before clip [{norms}] (clip {config['clip']}: active when > clip)")
        print(f"  hand Adam vs torch.optim.Adam max param diff {adam_diff:.2e}")
        print("  torch float32 vs this float64 reference, max abs diff: "
              + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items()))


if __name__ == "__main__":
    main()
