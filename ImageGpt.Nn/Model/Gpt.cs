using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Model;

/// <summary>
/// The tensors of one transformer block, as slots of the parameter slab. Qkv spans the slab's adjacent
/// q, k and v (each [C, C]) as one [3C, C] weight, so one product makes all three (the slab and the
/// safetensors keep the names q, k, v).
/// </summary>
internal readonly record struct BlockSlots(
    TensorSlot Ln1, TensorSlot Qkv, TensorSlot Proj, TensorSlot Ln2, TensorSlot Fc, TensorSlot FcProj)
{
    public static BlockSlots Of(ParameterSlab p, int l)
    {
        TensorSlot q = p.Slot($"h.{l}.attn.q"), k = p.Slot($"h.{l}.attn.k"), v = p.Slot($"h.{l}.attn.v");
        if (k.Offset != q.Offset + q.Length || v.Offset != k.Offset + k.Length || k.Length != q.Length || v.Length != q.Length)
            throw new InvalidOperationException($"h.{l}.attn.q, k, v are not adjacent in the slab; the fused q/k/v product needs them so");
        var qkv = new TensorSlot($"h.{l}.attn.qkv", [3 * q.Shape[0], q.Shape[1]], q.Offset, 3 * q.Length);
        return new(p.Slot($"h.{l}.ln_1.g"), qkv, p.Slot($"h.{l}.attn.c_proj"), p.Slot($"h.{l}.ln_2.g"),
            p.Slot($"h.{l}.mlp.c_fc"), p.Slot($"h.{l}.mlp.c_proj"));
    }
}

/// <summary>
/// Image GPT (IGPT.md) on CPU: embeddings, L pre-norm blocks
/// (h += Proj(Attn(Norm1(h))); h += W2·gelu2(W1·Norm2(h))), ln_f, an untied head, and an optional
/// classifier on the mean-pooled ln_f output. Parameters, gradients and activations live in slabs
/// allocated at construction; Forward/Backward allocate nothing.
/// </summary>
public sealed class Gpt
{
    public GptConfig Config { get; }
    /// <summary>Largest batch (images) a forward pass may carry; the activation slab is sized for it.</summary>
    public int BatchCapacity { get; }
    public ParameterSlab Parameters { get; }
    public ParameterSlab Gradients { get; }
    /// <summary>Threads the matmul, attention and gelu kernels may use.</summary>
    public int Threads { get; set; } = 1;
    /// <summary>Images in the last forward pass.</summary>
    public int Batch { get; private set; }
    /// <summary>Loss of the last forward pass (L_gen, plus L_clf when labels were given).</summary>
    public float Loss { get; private set; }

    private readonly int _C, _T, _V, _K, _NH;
    private readonly TensorSlot _wte, _wpe, _sos, _lnf, _head;
    private readonly TensorSlot? _clf;
    private readonly BlockSlots[] _blocks;
    private readonly Activations _acts;
    private Activations? _dacts;
    private readonly int[] _tokens;
    private readonly byte[] _mask;
    private readonly int[] _labels;
    private readonly float[] _clfWeights;
    private bool _hasMask, _hasLabels, _forwardDone;
    // Attention keeps row statistics, not probabilities, and recomputes them in backward (Activations sizes Att so).
    private readonly bool _recomputeAttention;

    /// <param name="parameters">Share an existing slab (e.g. an evaluation replica); null allocates one.</param>
    public Gpt(GptConfig config, int batchCapacity, ParameterSlab? parameters = null)
    {
        config.Validate();
        if (batchCapacity <= 0)
            throw new UserError($"batch = {batchCapacity} must be positive. HINT: set the batch size to at least 1");
        Config = config;
        BatchCapacity = batchCapacity;
        Parameters = parameters ?? new ParameterSlab(config);
        if (parameters is not null && (parameters.Length != config.ParameterCount || parameters.Config.Seq != config.Seq || parameters.Config.Width != config.Width))
            throw new ArgumentException("parameter slab does not match the config", nameof(parameters));
        Gradients = Parameters.ZerosLike();
        (_C, _T, _V, _K, _NH) = (config.Width, config.Seq, config.Vocab, config.Classes, config.Heads);
        var p = Parameters;
        (_wte, _wpe, _sos, _lnf, _head) = (p.Slot("wte"), p.Slot("wpe"), p.Slot("sos"), p.Slot("ln_f.g"), p.Slot("head"));
        _clf = _K > 0 ? p.Slot("clf") : null;
        _blocks = Enumerable.Range(0, config.Layers).Select(l => BlockSlots.Of(p, l)).ToArray();
        _recomputeAttention = Attention.Recomputes(_C, _NH);
        _acts = new Activations(config, batchCapacity, gradients: false);
        _tokens = new int[batchCapacity * _T];
        _mask = new byte[batchCapacity * _T];
        _labels = new int[batchCapacity];
        _clfWeights = new float[batchCapacity];
    }

    /// <summary>Paper init from the config's seed (stds: IGPT.md "Init"). Same seed, same bits, any machine.</summary>
    public void Init() => Init(Config.Seed);

    public void Init(ulong seed)
    {
        var rng = new SeededRandom(seed);
        double C = _C, L = Config.Layers;
        foreach (var slot in Parameters.Slots)
        {
            var w = Parameters.Span(slot);
            string kind = slot.Name.StartsWith("h.", StringComparison.Ordinal) ? slot.Name[(slot.Name.IndexOf('.', 2) + 1)..] : slot.Name;
            switch (kind)
            {
                case "wte": rng.FillNormal(w, 0.02); break;
                case "wpe": rng.FillNormal(w, 0.01); break;
                case "sos": rng.FillNormal(w, 0.02); break;
                case "attn.q" or "attn.k" or "attn.v": rng.FillNormal(w, 1.0 / Math.Sqrt(C)); break;
                case "attn.c_proj": rng.FillNormal(w, 1.0 / Math.Sqrt(C * L)); break;
                case "mlp.c_fc" or "mlp.c_proj": rng.FillNormal(w, 0.02); break;
                case "ln_1.g" or "ln_2.g" or "ln_f.g": w.Fill(1f); break;
                case "head" or "clf": w.Clear(); break;
                default: throw new InvalidOperationException($"no init rule for {slot.Name}");
            }
        }
    }

    public void ZeroGrad() => Gradients.Clear();

    private Span<float> P(TensorSlot s) => Parameters.Span(s);
    private Span<float> G(TensorSlot s) => Gradients.Span(s);

    public ReadOnlySpan<float> Logits => _acts[_acts.Logits, Batch * _T * _V];
    public ReadOnlySpan<float> ClfLogits => _hasLabels ? _acts[_acts.ClfLogits, Batch * _K] : default;

    // ---- forward: embeddings, blocks, head ----

    private void BlockForward(int l, Activations a, int B)
    {
        int BT = B * _T, C = _C, N = BT * C, th = Threads;
        var w = _blocks[l];
        long t = KernelProfile.Start();
        var resIn = l == 0 ? a[a.Encoded, N] : a[a.Res3[l - 1], N];
        // h += Proj(Attn(Norm1(h)))
        RmsNorm.Forward(a[a.Ln1[l], N], a[a.Ln1Rstd[l], BT], resIn, P(w.Ln1), BT, C, th);
        KernelProfile.Lap(ref t, KernelKind.Norm);
        // q, k, v = Wq·ln1, Wk·ln1, Wv·ln1 as one product: qkv (BT, 3C) = ln1 @ [Wq; Wk; Wv]^T
        var qkv = a[a.Qkv[l], 3 * N];
        Matmul.Forward(qkv, a[a.Ln1[l], N], P(w.Qkv), BT, C, 3 * C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulForward);
        // q, k and v are the column blocks of qkv: rows of C floats every 3C.
        ReadOnlySpan<float> q = qkv, k = qkv[C..], v = qkv[(2 * C)..];
        if (_recomputeAttention)
            Attention.ForwardStats(a[a.AttY[l], N], a[a.Att[l], B * _NH * _T * 2], q, k, v, B, _T, C, _NH, Config.Causal, th, 3 * C);
        else
            Attention.Forward(a[a.AttY[l], N], a[a.Att[l], B * _NH * _T * _T], q, k, v, B, _T, C, _NH, Config.Causal, th,
                System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, 3 * C);
        KernelProfile.Lap(ref t, KernelKind.AttentionForward);
        // res2 = resIn + Proj(attY): the residual add is the product's epilogue
        Matmul.ForwardResidual(a[a.Res2[l], N], resIn, a[a.AttY[l], N], P(w.Proj), BT, C, C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulForward);
        // h += W2 · gelu2(W1 · Norm2(h))
        RmsNorm.Forward(a[a.Ln2[l], N], a[a.Ln2Rstd[l], BT], a[a.Res2[l], N], P(w.Ln2), BT, C, th);
        KernelProfile.Lap(ref t, KernelKind.Norm);
        Matmul.Forward(a[a.Fch[l], 4 * N], a[a.Ln2[l], N], P(w.Fc), BT, C, 4 * C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulForward);
        // gelu2 in a pass of its own: in the product's epilogue it read fch tile by tile, and the training
        // step was 5% slower (one sequential pass streams better than 8-row tiles of a (BT, 4C) tensor).
        Gelu2.Forward(a[a.FchGelu[l], 4 * N], a[a.Fch[l], 4 * N], 4 * N, th);
        KernelProfile.Lap(ref t, KernelKind.Gelu);
        // res3 = res2 + W2 · gelu2(fch), the add again in the epilogue
        Matmul.ForwardResidual(a[a.Res3[l], N], a[a.Res2[l], N], a[a.FchGelu[l], 4 * N], P(w.FcProj), BT, 4 * C, C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulForward);
    }

    /// <summary>
    /// One forward pass over tokens (B,T), B ≤ BatchCapacity. Autoregressive: every position's next
    /// pixel is a target. Bert: <paramref name="mask"/> (B,T) marks the masked positions (their input
    /// is zeroed and only they count in the loss); empty = nothing masked, loss 0. With
    /// <paramref name="labels"/> (B) the classifier loss is added (fine-tuning: L_gen + L_clf).
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> labels = default, ReadOnlySpan<byte> mask = default)
    {
        CheckLength(tokens.Length);
        tokens.CopyTo(_tokens);
        return ForwardCopied(tokens.Length / _T, labels, mask);
    }

    /// <summary>As the int overload, for batches stored as ushort palette indices (no conversion buffer needed).</summary>
    public float Forward(ReadOnlySpan<ushort> tokens, ReadOnlySpan<int> labels = default, ReadOnlySpan<byte> mask = default)
    {
        CheckLength(tokens.Length);
        for (int i = 0; i < tokens.Length; i++) _tokens[i] = tokens[i];
        return ForwardCopied(tokens.Length / _T, labels, mask);
    }

    private float ForwardCopied(int B, ReadOnlySpan<int> labels, ReadOnlySpan<byte> mask)
    {
        int BT = B * _T, C = _C, N = BT * C;
        ReadOnlySpan<int> tokens = _tokens.AsSpan(0, BT);
        _forwardDone = false; // the token buffer now holds this call's input: no Backward of the previous pass
        CheckInputs(tokens, labels, mask);
        Batch = B;
        bool shifted = Config.Causal;
        _hasMask = !mask.IsEmpty;
        if (_hasMask) mask.CopyTo(_mask);
        _hasLabels = !labels.IsEmpty;
        if (_hasLabels) labels.CopyTo(_labels);
        var a = _acts;
        long t = KernelProfile.Start();

        Embedding.Forward(a[a.Encoded, N], tokens, mask, P(_wte), P(_wpe), P(_sos), B, _T, C, shifted, Threads);
        KernelProfile.Lap(ref t, KernelKind.Embedding);
        for (int l = 0; l < Config.Layers; l++)
            BlockForward(l, a, B);
        t = KernelProfile.Start();
        RmsNorm.Forward(a[a.LnF, N], a[a.LnFRstd, BT], a[a.Res3[^1], N], P(_lnf), BT, C, Threads);
        KernelProfile.Lap(ref t, KernelKind.Norm);
        Matmul.Forward(a[a.Logits, BT * _V], a[a.LnF, N], P(_head), BT, C, _V, Threads);
        KernelProfile.Lap(ref t, KernelKind.MatmulForward);
        CrossEntropy.Forward(a[a.Losses, BT], a[a.Probs, BT * _V], a[a.Logits, BT * _V], tokens, BT, _V, Threads);
        KernelProfile.Lap(ref t, KernelKind.CrossEntropy);
        FillLossWeights(a[a.LossWeights, BT], mask, B);
        double loss = WeightedSum(a[a.Losses, BT], a[a.LossWeights, BT]);

        if (_hasLabels)
        {
            // L_clf: linear head on the mean over T of ln_f's output
            MeanPool.Forward(a[a.Pooled, B * C], a[a.LnF, N], B, _T, C);
            KernelProfile.Lap(ref t, KernelKind.Other);
            Matmul.Forward(a[a.ClfLogits, B * _K], a[a.Pooled, B * C], P(_clf!), B, C, _K, Threads);
            KernelProfile.Lap(ref t, KernelKind.MatmulForward);
            CrossEntropy.Forward(a[a.ClfLosses, B], a[a.ClfProbs, B * _K], a[a.ClfLogits, B * _K], labels, B, _K);
            KernelProfile.Lap(ref t, KernelKind.CrossEntropy);
            _clfWeights.AsSpan(0, B).Fill(1f / B);
            loss += WeightedSum(a[a.ClfLosses, B], _clfWeights.AsSpan(0, B));
        }
        _forwardDone = true;
        Loss = (float)loss;
        return Loss;
    }

    /// <summary>AR: 1/(B·T) everywhere. Bert: per image mean over its masked positions, then mean over images with a mask.</summary>
    private void FillLossWeights(Span<float> w, ReadOnlySpan<byte> mask, int B)
    {
        if (Config.Causal)
        {
            w.Fill(1f / (B * _T));
            return;
        }
        w.Clear();
        if (mask.IsEmpty) return;
        int images = 0;
        for (int b = 0; b < B; b++)
            if (mask.Slice(b * _T, _T).ContainsAnyExcept((byte)0)) images++;
        for (int b = 0; b < B; b++)
        {
            var m = mask.Slice(b * _T, _T);
            int count = _T - m.Count((byte)0);
            if (count == 0) continue;
            float wb = 1f / ((float)count * images);
            for (int t = 0; t < _T; t++)
                if (m[t] != 0) w[b * _T + t] = wb;
        }
    }

    private static double WeightedSum(ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)x[i] * w[i];
        return sum;
    }

    private void CheckLength(int length)
    {
        if (length == 0 || length % _T != 0 || length / _T > BatchCapacity)
            throw new ArgumentException($"tokens length {length} is not B*T with T={_T}, 1 <= B <= {BatchCapacity}", "tokens");
    }

    private void CheckInputs(ReadOnlySpan<int> tokens, ReadOnlySpan<int> labels, ReadOnlySpan<byte> mask)
    {
        int B = tokens.Length / _T;
        foreach (int x in tokens)
            if ((uint)x >= (uint)_V) throw new ArgumentOutOfRangeException(nameof(tokens), $"token {x} outside [0,{_V})");
        if (!mask.IsEmpty && (Config.Causal || mask.Length != tokens.Length))
            throw new ArgumentException("mask is for the Bert objective and must have one entry per token", nameof(mask));
        if (!labels.IsEmpty)
        {
            if (_K == 0 || labels.Length != B)
                throw new ArgumentException($"labels need a model with classes > 0 and one label per image ({B})", nameof(labels));
            foreach (int y in labels)
                if ((uint)y >= (uint)_K) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} outside [0,{_K})");
        }
    }

    // ---- backward: the same path in reverse ----

    /// <remarks>
    /// dRes holds the gradient of the residual stream: on entry that of block l's output res3, on exit
    /// that of its input. A residual add passes its gradient unchanged to both summands (forward:
    /// res3 = res2 + fcproj, res2 = resIn + attproj), so the projections read dRes as their dout and
    /// the norms add their part to it in place: the same sums, in the same order, as separate buffers.
    /// The other gradient regions are shared by all layers (Activations); each one's first producer
    /// overwrites it (the same FMA chains from zero as accumulating into a cleared buffer), so none is cleared.
    /// </remarks>
    private void BlockBackward(int l, Activations a, Activations d, Span<float> dRes, int B)
    {
        int BT = B * _T, C = _C, N = BT * C, th = Threads;
        var w = _blocks[l];
        long t = KernelProfile.Start();
        var resIn = l == 0 ? a[a.Encoded, N] : a[a.Res3[l - 1], N];
        // forward: fcproj = W2 · gelu2(fch), fch = W1 · ln2
        // dFchGelu is written, then turned into dFch in place, so neither region needs clearing.
        var dFc = d[d.FchGelu[l], 4 * N];
        Matmul.BackwardOverwrite(dFc, G(w.FcProj), dRes, a[a.FchGelu[l], 4 * N], P(w.FcProj), BT, 4 * C, C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
        Gelu2.BackwardOverwrite(dFc, a[a.Fch[l], 4 * N], dFc, 4 * N, th);
        KernelProfile.Lap(ref t, KernelKind.Gelu);
        Matmul.BackwardOverwrite(d[d.Ln2[l], N], G(w.Fc), dFc, a[a.Ln2[l], N], P(w.Fc), BT, C, 4 * C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
        // forward: ln2 = Norm2(res2)
        RmsNorm.Backward(dRes, G(w.Ln2), d[d.Ln2[l], N], a[a.Res2[l], N], P(w.Ln2), a[a.Ln2Rstd[l], BT], BT, C, th);
        KernelProfile.Lap(ref t, KernelKind.Norm);
        // forward: res2 = resIn + Proj(Attn(q, k, v)); dAttY and dqkv are written whole, not accumulated
        Matmul.BackwardOverwrite(d[d.AttY[l], N], G(w.Proj), dRes, a[a.AttY[l], N], P(w.Proj), BT, C, C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
        Span<float> dqkv = d[d.Qkv[l], 3 * N];
        ReadOnlySpan<float> qkv = a[a.Qkv[l], 3 * N], q = qkv, k = qkv[C..], v = qkv[(2 * C)..];
        if (_recomputeAttention)
            Attention.BackwardRecompute(dqkv, dqkv[C..], dqkv[(2 * C)..], d[d.AttY[l], N],
                a[a.Att[l], B * _NH * _T * 2], q, k, v, B, _T, C, _NH, Config.Causal, th, 3 * C);
        else
            Attention.BackwardOverwrite(dqkv, dqkv[C..], dqkv[(2 * C)..], d[d.Scratch, B * _NH * _T * _T], d[d.AttY[l], N],
                a[a.Att[l], B * _NH * _T * _T], q, k, v, B, _T, C, _NH, Config.Causal, th, 3 * C);
        KernelProfile.Lap(ref t, KernelKind.AttentionBackward);
        // forward: qkv = ln1 @ [Wq; Wk; Wv]^T (one product, so one backward: dln1 over K = 3C, dW for all three)
        Matmul.BackwardOverwrite(d[d.Ln1[l], N], G(w.Qkv), dqkv, a[a.Ln1[l], N], P(w.Qkv), BT, C, 3 * C, th);
        KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
        // forward: ln1 = Norm1(resIn)
        RmsNorm.Backward(dRes, G(w.Ln1), d[d.Ln1[l], N], resIn, P(w.Ln1), a[a.Ln1Rstd[l], BT], BT, C, th);
        KernelProfile.Lap(ref t, KernelKind.Norm);
    }

    /// <summary>Adds the gradient of the last forward pass's loss to <see cref="Gradients"/> (call ZeroGrad between steps).</summary>
    public void Backward()
    {
        if (!_forwardDone) throw new InvalidOperationException("Backward needs a Forward first");
        var d = _dacts ??= new Activations(Config, BatchCapacity, gradients: true);
        long t = KernelProfile.Start();
        var a = _acts;
        int B = Batch, BT = B * _T, C = _C, N = BT * C;
        // Only the regions that are accumulated into before anything writes them need zeros: the residual
        // stream's gradient and the cross-entropy inputs (their backward adds, and skips weight-0 rows).
        d[d.Encoded, N].Clear();
        d[d.Logits, BT * _V].Clear();
        d[d.ClfLogits, B * _K].Clear();
        KernelProfile.Lap(ref t, KernelKind.Other);
        ReadOnlySpan<int> tokens = _tokens.AsSpan(0, BT);

        CrossEntropy.Backward(d[d.Logits, BT * _V], a[a.Probs, BT * _V], tokens, a[a.LossWeights, BT], BT, _V, Threads);
        KernelProfile.Lap(ref t, KernelKind.CrossEntropy);
        Matmul.BackwardOverwrite(d[d.LnF, N], G(_head), d[d.Logits, BT * _V], a[a.LnF, N], P(_head), BT, C, _V, Threads);
        KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
        if (_hasLabels)
        {
            CrossEntropy.Backward(d[d.ClfLogits, B * _K], a[a.ClfProbs, B * _K], _labels.AsSpan(0, B), _clfWeights.AsSpan(0, B), B, _K);
            KernelProfile.Lap(ref t, KernelKind.CrossEntropy);
            Matmul.BackwardOverwrite(d[d.Pooled, B * C], G(_clf!), d[d.ClfLogits, B * _K], a[a.Pooled, B * C], P(_clf!), B, C, _K, Threads);
            KernelProfile.Lap(ref t, KernelKind.MatmulBackward);
            MeanPool.Backward(d[d.LnF, N], d[d.Pooled, B * C], B, _T, C);
            KernelProfile.Lap(ref t, KernelKind.Other);
        }
        var dRes = d[d.Encoded, N];
        RmsNorm.Backward(dRes, G(_lnf), d[d.LnF, N], a[a.Res3[^1], N], P(_lnf), a[a.LnFRstd, BT], BT, C, Threads);
        KernelProfile.Lap(ref t, KernelKind.Norm);
        for (int l = Config.Layers - 1; l >= 0; l--)
            BlockBackward(l, a, d, dRes, B);
        t = KernelProfile.Start();
        Embedding.Backward(G(_wte), G(_wpe), G(_sos), dRes, tokens,
            _hasMask ? _mask.AsSpan(0, BT) : default, B, _T, C, Config.Causal);
        KernelProfile.Lap(ref t, KernelKind.Embedding);
    }

    // ---- linear-probe features ----

    /// <summary>
    /// One forward pass; writes (L+1, B, C): for l &lt; L the mean over T of block l's Norm1 output,
    /// for l = L the mean over T of ln_f's output.
    /// </summary>
    public void ProbeFeatures(ReadOnlySpan<int> tokens, Span<float> features, ReadOnlySpan<byte> mask = default)
    {
        Forward(tokens, default, mask);
        PoolFeatures(features);
    }

    public void ProbeFeatures(ReadOnlySpan<ushort> tokens, Span<float> features, ReadOnlySpan<byte> mask = default)
    {
        Forward(tokens, default, mask);
        PoolFeatures(features);
    }

    private void PoolFeatures(Span<float> features)
    {
        int B = Batch, BC = B * _C, N = B * _T * _C;
        if (features.Length != (Config.Layers + 1) * BC)
            throw new ArgumentException($"features must hold (L+1)*B*C = {(Config.Layers + 1) * BC} floats", nameof(features));
        var a = _acts;
        for (int l = 0; l < Config.Layers; l++)
            MeanPool.Forward(features.Slice(l * BC, BC), a[a.Ln1[l], N], B, _T, _C);
        MeanPool.Forward(features.Slice(Config.Layers * BC, BC), a[a.LnF, N], B, _T, _C);
    }

    public float[] ProbeFeatures(ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask = default)
    {
        var features = new float[(Config.Layers + 1) * (tokens.Length / _T) * _C];
        ProbeFeatures(tokens, features, mask);
        return features;
    }
}
