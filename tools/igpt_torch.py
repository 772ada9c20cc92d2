"""Image GPT (Chen et al. 2020) in PyTorch: the independent oracle for the C# engine.

Written from shared/docs/IGPT.md, not from the C# code. Shared by
tools/make_fixtures.py (float64 reference values) and tools/bench_torch.py (float32 speed).

Semantics, in the order the model reads:
- RMS norm y = x * rsqrt(mean(x^2) + 1e-5) * g (no mean subtraction, no bias).
- gelu2(x) = x * sigmoid(1.702 x).
- Attention: separate q/k/v/c_proj linears [C,C] without bias (rows h*HS..(h+1)*HS-1 are
  head h), scores scaled by 1/sqrt(HS), causal mask for AR (none for BERT), softmax.
- Block: h += c_proj(attn(ln_1(h))); h += mlp.c_proj(gelu2(mlp.c_fc(ln_2(h)))).
- AR input: position 0 gets sos, position i>0 gets wte[x[i-1]]; then + wpe[i].
- BERT input: wte[x[i]], or the zero vector where masked; + wpe[i]; no sos, no causal mask.
- ln_f, untied head [V,C]; classifier clf [K,C] on the mean over T of the ln_f output.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

RMS_EPS = 1e-5


def gelu2(x):
    return x * torch.sigmoid(1.702 * x)


def rms_norm(x, g):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + RMS_EPS) * g


def causal_attention(q, k, v, heads, causal):
    """q, k, v (B,T,C) -> out (B,T,C). Heads split along C in blocks of HS = C/heads."""
    B, T, C = q.shape
    hs = C // heads
    q = q.view(B, T, heads, hs).transpose(1, 2)  # (B,NH,T,HS)
    k = k.view(B, T, heads, hs).transpose(1, 2)
    v = v.view(B, T, heads, hs).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B,NH,T,T)
    if causal:
        above = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
        att = att.masked_fill(above, float("-inf"))
    att = torch.softmax(att, dim=-1)  # subtracts the row max internally
    y = att @ v  # (B,NH,T,HS)
    return y.transpose(1, 2).reshape(B, T, C)


class _FusedAttention(torch.autograd.Function):
    """softmax(scale q k^T + causal bias) v over (B*NH,T,HS) with a hand-written backward.
    Why: PyTorch 1.13's CPU softmax backward (and each fresh (T,T)-per-head temporary) was the
    largest single cost of a training step here; the closed form dS = P * (dP - rowsum(dP * P))
    done in place on dP is much cheaper."""

    @staticmethod
    def forward(ctx, q, k, v, bias, scale):
        att = torch.baddbmm(bias, q, k.transpose(1, 2), beta=1.0, alpha=scale)
        att = torch.softmax(att, dim=-1)
        y = torch.bmm(att, v)
        ctx.save_for_backward(q, k, v, att, y)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, dy):
        q, k, v, att, y = ctx.saved_tensors
        # forward: y = P v;  P = softmax(S);  S = scale q k^T + bias
        dv = torch.bmm(att.transpose(1, 2), dy)
        dp = torch.bmm(dy, v.transpose(1, 2))
        # rowsum(dP * P)_i = dy_i . sum_j P_ij v_j = dy_i . y_i: no (T,T) temporary needed.
        ds = dp.sub_((dy * y).sum(dim=-1, keepdim=True)).mul_(att)
        dq = torch.bmm(ds, k).mul_(ctx.scale)
        dk = torch.bmm(ds.transpose(1, 2), q).mul_(ctx.scale)
        return dq, dk, dv, None, None


def causal_attention_fused(q, k, v, heads, causal):
    """Same result as causal_attention, faster on CPU: one baddbmm does the scale and the causal
    mask (an additive -inf bias) inside the batched GEMM, and the backward is hand-written
    (_FusedAttention). Used by tools/bench_torch.py."""
    B, T, C = q.shape
    hs = C // heads
    q = q.view(B, T, heads, hs).transpose(1, 2).reshape(B * heads, T, hs)
    k = k.view(B, T, heads, hs).transpose(1, 2).reshape(B * heads, T, hs)
    v = v.view(B, T, heads, hs).transpose(1, 2).reshape(B * heads, T, hs)
    bias = torch.zeros(T, T, dtype=q.dtype, device=q.device)
    if causal:
        bias = bias.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    y = _FusedAttention.apply(q, k, v, bias.expand(B * heads, T, T), 1.0 / math.sqrt(hs))  # (B*NH,T,HS)
    return y.view(B, heads, T, hs).transpose(1, 2).reshape(B, T, C)


class RmsNorm(nn.Module):
    def __init__(self, width, dtype):
        super().__init__()
        self.g = nn.Parameter(torch.ones(width, dtype=dtype))

    def forward(self, x):
        return rms_norm(x, self.g)


class Attention(nn.Module):
    def __init__(self, width, heads, dtype, fast=False):
        """fast: one q|k|v product and causal_attention_fused (same math, quicker on CPU)."""
        super().__init__()
        self.heads = heads
        self.fast = fast
        self.q = nn.Parameter(torch.zeros(width, width, dtype=dtype))
        self.k = nn.Parameter(torch.zeros(width, width, dtype=dtype))
        self.v = nn.Parameter(torch.zeros(width, width, dtype=dtype))
        self.c_proj = nn.Parameter(torch.zeros(width, width, dtype=dtype))

    def forward(self, x, causal):
        if self.fast:
            # One (BT,C)x(C,3C) product is faster than three small ones; same math.
            q, k, v = F.linear(x, torch.cat([self.q, self.k, self.v])).split(x.shape[-1], dim=-1)
        else:
            q, k, v = F.linear(x, self.q), F.linear(x, self.k), F.linear(x, self.v)
        attend = causal_attention_fused if self.fast else causal_attention
        return F.linear(attend(q, k, v, self.heads, causal), self.c_proj)


class Mlp(nn.Module):
    def __init__(self, width, dtype):
        super().__init__()
        self.c_fc = nn.Parameter(torch.zeros(4 * width, width, dtype=dtype))
        self.c_proj = nn.Parameter(torch.zeros(width, 4 * width, dtype=dtype))

    def forward(self, x):
        return F.linear(gelu2(F.linear(x, self.c_fc)), self.c_proj)


class Block(nn.Module):
    def __init__(self, width, heads, dtype, fast=False):
        super().__init__()
        self.ln_1 = RmsNorm(width, dtype)
        self.attn = Attention(width, heads, dtype, fast)
        self.ln_2 = RmsNorm(width, dtype)
        self.mlp = Mlp(width, dtype)

    def forward(self, h, causal):
        a = self.ln_1(h)
        h = h + self.attn(a, causal)
        h = h + self.mlp(self.ln_2(h))
        return h, a


class IGpt(nn.Module):
    """named_parameters() gives the IGPT.md names; spec_parameters() gives them in the C# slab order
    (wte, wpe, sos, h.{l}.*, ln_f.g, head, clf), the order used for init draws and files."""

    def __init__(self, layers, width, heads, vocab, side, classes=0, objective="ar",
                 dtype=torch.float64, fast=False):
        super().__init__()
        assert width % heads == 0, "width must be a multiple of heads"
        assert objective in ("ar", "bert")
        self.layers, self.width, self.heads = layers, width, heads
        self.vocab, self.side, self.seq = vocab, side, side * side
        self.classes, self.objective = classes, objective
        self.wte = nn.Parameter(torch.zeros(vocab, width, dtype=dtype))
        self.wpe = nn.Parameter(torch.zeros(self.seq, width, dtype=dtype))
        self.sos = nn.Parameter(torch.zeros(width, dtype=dtype))
        self.h = nn.ModuleList(Block(width, heads, dtype, fast) for _ in range(layers))
        self.ln_f = RmsNorm(width, dtype)
        self.head = nn.Parameter(torch.zeros(vocab, width, dtype=dtype))
        self.clf = nn.Parameter(torch.zeros(classes, width, dtype=dtype)) if classes > 0 else None

    def spec_parameters(self):
        named = dict(self.named_parameters())
        block = ["ln_1.g", "attn.q", "attn.k", "attn.v", "attn.c_proj", "ln_2.g", "mlp.c_fc", "mlp.c_proj"]
        order = ["wte", "wpe", "sos"] + [f"h.{l}.{b}" for l in range(self.layers) for b in block]
        order += ["ln_f.g", "head"] + (["clf"] if self.clf is not None else [])
        assert sorted(order) == sorted(named), "spec order out of date with the module"
        return [(n, named[n]) for n in order]

    def paper_init_(self, generator):
        """The paper's init (IGPT.md), drawn in spec_parameters() order from one generator."""
        stds = paper_stds(self.layers, self.width)
        with torch.no_grad():
            for name, p in self.spec_parameters():
                kind = param_kind(name)
                if kind == "gain":
                    p.fill_(1.0)
                elif kind in ("head", "clf"):
                    p.zero_()
                else:
                    p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * stds[kind])

    def embed(self, tokens, mask):
        B, T = tokens.shape
        if self.objective == "ar":
            # Shift right: position 0 sees sos, position i sees token i-1.
            x = torch.cat([self.sos.expand(B, 1, self.width), self.wte[tokens[:, :-1]]], dim=1)
        else:
            x = self.wte[tokens] * (~mask).unsqueeze(-1).to(self.wte.dtype)
        return x + self.wpe

    def forward(self, tokens, mask=None, labels=None):
        """tokens (B,T) int64; mask (B,T) bool for BERT; labels (B,) int64 when fine-tuning.
        Returns dict: logits (B,T,V), gen_loss, loss, features (L+1,B,C), clf_logits (B,K)."""
        h = self.embed(tokens, mask)
        feats = []
        for block in self.h:
            h, a = block(h, causal=self.objective == "ar")
            feats.append(a.mean(dim=1))
        hf = self.ln_f(h)
        feats.append(hf.mean(dim=1))
        logits = F.linear(hf, self.head)
        gen_loss = self.gen_loss(logits, tokens, mask)
        out = {"logits": logits, "gen_loss": gen_loss, "loss": gen_loss,
               "features": torch.stack(feats)}
        if labels is not None:
            clf_logits = F.linear(hf.mean(dim=1), self.clf)
            out["clf_logits"] = clf_logits
            out["loss"] = gen_loss + F.cross_entropy(clf_logits, labels)
        return out

    def gen_loss(self, logits, tokens, mask):
        V = logits.shape[-1]
        if self.objective == "ar":
            return F.cross_entropy(logits.reshape(-1, V), tokens.reshape(-1))
        ce = F.cross_entropy(logits.reshape(-1, V), tokens.reshape(-1), reduction="none")
        ce = ce.view(tokens.shape)
        m = mask.to(ce.dtype)
        count = m.sum(dim=1)
        per_image = (ce * m).sum(dim=1) / count.clamp(min=1)
        return per_image[count > 0].mean()


def param_kind(name):
    """Maps a parameter name to its init family."""
    if name.endswith(".g"):
        return "gain"
    if name in ("wte", "wpe", "sos", "head", "clf"):
        return name
    if name.endswith("attn.c_proj"):
        return "attn_out"
    if ".attn." in name:
        return "qkv"
    if ".mlp." in name:
        return "mlp"
    raise ValueError(name)


def paper_stds(layers, width):
    return {"wte": 0.02, "wpe": 0.01, "sos": 0.02, "qkv": 1.0 / math.sqrt(width),
            "attn_out": 1.0 / math.sqrt(width * layers), "mlp": 0.02}


def flops_per_token(layers, width, seq, vocab):
    """Training FLOPs per token (forward + backward), IGPT.md: 72 L d^2 + 12 L T d + 6 d V."""
    return 72 * layers * width * width + 12 * layers * seq * width + 6 * width * vocab


def lr_at(step, base, warmup, total):
    """The schedule of IGPT.md, 0-based step: linear warmup to base over `warmup` steps, then cosine to 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (total - warmup)))
