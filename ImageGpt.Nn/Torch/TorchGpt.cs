using System.Runtime.InteropServices;
using ImageGpt.Nn.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGpt.Nn.Torch;

/// <summary>
/// Image GPT (IGPT.md) in libtorch, written as <see cref="Gpt"/> is: embeddings, L pre-norm blocks
/// (h += Proj(Attn(Norm1(h))); h += W2·gelu2(W1·Norm2(h))), ln_f and the untied head, no biases. The
/// parameters are leaf tensors under the parameter slab's names and shapes (nn.Linear orientation), so
/// values and gradients move between the two engines by name, and safetensors of either load in the other.
/// Autograd gives the backward pass; attention is libtorch's fused scaled_dot_product_attention.
/// </summary>
public sealed class TorchGpt : IDisposable
{
    private const float Eps = 1e-5f;
    private readonly Dictionary<string, Tensor> _p = new(StringComparer.Ordinal);

    public GptConfig Config { get; }
    public Device Device { get; }

    public TorchGpt(GptConfig config, Device device)
    {
        config.Validate();
        if (config.Classes > 0)
            throw new ArgumentException("the torch backend trains the generative model only (no classifier head)", nameof(config));
        LibTorch.EnsureLoaded();
        Config = config;
        Device = device;
        foreach (var (name, shape) in ParameterSlab.Layout(config))
            _p[name] = zeros(shape.Select(d => (long)d).ToArray(), ScalarType.Float32, device, requires_grad: true);
    }

    /// <summary>The parameter tensor named as in the slab ("h.0.attn.q").</summary>
    public Tensor this[string name] => _p[name];

    // ---- the model, top to bottom ----

    private static Tensor RmsNorm(Tensor x, Tensor g) => x * rsqrt(x.pow(2).mean([-1], keepdim: true) + Eps) * g;

    private static Tensor Gelu2(Tensor x) => x * sigmoid(1.702 * x);

    private Tensor Attention(Tensor x, int l)
    {
        long B = x.shape[0], T = x.shape[1], C = Config.Width, NH = Config.Heads, HS = Config.HeadSize;
        // q, k, v = Wq·x, Wk·x, Wv·x; the rows of each matrix are grouped by head
        Tensor Heads(string w) => F.linear(x, _p[$"h.{l}.attn.{w}"]).view(B, T, NH, HS).transpose(1, 2);
        var y = F.scaled_dot_product_attention(Heads("q"), Heads("k"), Heads("v"), is_casual: Config.Causal);
        return F.linear(y.transpose(1, 2).reshape(B, T, C), _p[$"h.{l}.attn.c_proj"]);
    }

    private Tensor Block(Tensor h, int l, List<Tensor>? norm1)
    {
        var a = RmsNorm(h, _p[$"h.{l}.ln_1.g"]);
        norm1?.Add(a);
        h = h + Attention(a, l);
        var m = RmsNorm(h, _p[$"h.{l}.ln_2.g"]);
        return h + F.linear(Gelu2(F.linear(m, _p[$"h.{l}.mlp.c_fc"])), _p[$"h.{l}.mlp.c_proj"]);
    }

    /// <summary>
    /// Token + position embeddings. Autoregressive: shifted right, position 0 gets sos, position t the
    /// token t-1. Bert: position t gets its token, or the zero vector where <paramref name="mask"/> is set; no sos.
    /// </summary>
    private Tensor Embed(Tensor tokens, Tensor? mask)
    {
        long B = tokens.shape[0], T = tokens.shape[1], C = Config.Width;
        Tensor source;
        if (Config.Causal)
        {
            var previous = _p["wte"].index_select(0, tokens.narrow(1, 0, T - 1).flatten()).view(B, T - 1, C);
            source = cat([_p["sos"].view(1, 1, C).expand(B, 1, C), previous], 1);
        }
        else
        {
            source = _p["wte"].index_select(0, tokens.flatten()).view(B, T, C);
            if (mask is not null) source = source.masked_fill(mask.unsqueeze(-1), 0f);
        }
        return source + _p["wpe"];
    }

    /// <summary>
    /// Logits (B,T,V) for tokens (B,T) int64 on <see cref="Device"/>; <paramref name="mask"/> (B,T) bool for Bert.
    /// With <paramref name="features"/>, adds each block's Norm1 output and ln_f's output (B,T,C): the probe's inputs.
    /// </summary>
    public Tensor Logits(Tensor tokens, Tensor? mask = null, List<Tensor>? features = null)
    {
        var h = Embed(tokens, mask);
        for (int l = 0; l < Config.Layers; l++) h = Block(h, l, features);
        var lnf = RmsNorm(h, _p["ln_f.g"]);
        features?.Add(lnf);
        return F.linear(lnf, _p["head"]);
    }

    /// <summary>
    /// The loss <see cref="Gpt.Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{byte})"/> computes, in nats:
    /// autoregressive, the mean cross-entropy over all positions; Bert, per image the mean over its masked
    /// positions, then the mean over the images that have one (0 when nothing is masked).
    /// </summary>
    public Tensor Loss(Tensor logits, Tensor tokens, Tensor? mask = null)
    {
        long V = Config.Vocab;
        var ce = F.cross_entropy(logits.view(-1, V), tokens.flatten(), reduction: nn.Reduction.None).view_as(tokens);
        if (Config.Causal) return ce.mean();
        if (mask is null) return (ce * 0f).sum();
        var m = mask.to_type(ScalarType.Float32);
        var perImage = m.sum(1, keepdim: true);
        var images = (perImage > 0).to_type(ScalarType.Float32).sum();
        return (ce * m / perImage.clamp_min(1f)).sum() / images.clamp_min(1f);
    }

    // ---- moving values between the slab and the tensors, by name ----

    /// <summary>Copies every parameter of <paramref name="source"/> (a slab of this config) into the tensors.</summary>
    public void Load(ParameterSlab source)
    {
        foreach (var slot in source.Slots) Write(_p[slot.Name], source.Span(slot));
    }

    /// <summary>Copies the parameters into <paramref name="dest"/>.</summary>
    public void Store(ParameterSlab dest)
    {
        foreach (var slot in dest.Slots) Read(_p[slot.Name], dest.Span(slot));
    }

    /// <summary>
    /// Copies the gradients of the last backward pass into <paramref name="into"/>, laid out as
    /// <paramref name="layout"/> lays out its parameters (zeros for a tensor that got no gradient).
    /// </summary>
    public void StoreGradients(ParameterSlab layout, Span<float> into)
    {
        if (into.Length != layout.Length) throw new ArgumentException("gradient buffer length differs from the slab's", nameof(into));
        foreach (var slot in layout.Slots)
        {
            var dest = into.Slice(slot.Offset, slot.Length);
            using var grad = _p[slot.Name].grad;
            if (grad is null) dest.Clear();
            else Read(grad, dest);
        }
    }

    /// <summary>Forgets the gradients (the next backward pass writes them afresh).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _p.Values)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    private static void Write(Tensor t, ReadOnlySpan<float> values)
    {
        if (t.device_type == DeviceType.CPU)
        {
            values.CopyTo(MemoryMarshal.Cast<byte, float>(t.bytes));
            return;
        }
        using var host = empty(t.shape, ScalarType.Float32);
        values.CopyTo(MemoryMarshal.Cast<byte, float>(host.bytes));
        using (no_grad()) t.copy_(host);
    }

    private static void Read(Tensor t, Span<float> into)
    {
        if (t.device_type == DeviceType.CPU && t.is_contiguous())
        {
            MemoryMarshal.Cast<byte, float>(t.bytes).CopyTo(into);
            return;
        }
        using var host = t.cpu().contiguous();
        MemoryMarshal.Cast<byte, float>(host.bytes).CopyTo(into);
    }

    public void Dispose()
    {
        foreach (var p in _p.Values) p.Dispose();
        _p.Clear();
    }
}
