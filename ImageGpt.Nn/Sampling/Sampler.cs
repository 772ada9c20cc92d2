using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Sampling;

/// <summary>
/// Autoregressive sampling with a KV cache (IGPT.md, Sampling): position t runs the model on one
/// new token per image and attends over the cached keys and values of positions 0..t, so a
/// token costs O(T) attention work instead of a full O(T²) forward pass. The per-position block
/// is Gpt's block on B rows: Norm1 → q,k,v → attention → c_proj → residual → Norm2 → MLP →
/// residual, then ln_f and the head. Every buffer is allocated at construction; a step allocates
/// nothing. Reads the parameters live, so a sampler built on a training model sees its updates.
/// </summary>
public sealed class Sampler
{
    public GptConfig Config { get; }
    public int BatchCapacity { get; }
    public KvCache Cache { get; }
    /// <summary>Threads the matmul kernels may use.</summary>
    public int Threads { get; set; } = 1;
    /// <summary>Images being decoded since the last <see cref="Reset"/>.</summary>
    public int Batch { get; private set; }
    /// <summary>The position the next <see cref="Step"/> decodes (= cached positions).</summary>
    public int Position => Cache.Length;

    private readonly ParameterSlab _p;
    private readonly int _C, _T, _V, _NH;
    private readonly TensorSlot _wte, _wpe, _sos, _lnf, _head;
    private readonly BlockSlots[] _blocks;
    // (B,C) rows of the current position, (B,4C) for the MLP, (B,V) logits, (T) attention scores
    private readonly float[] _x, _ln, _rstd, _q, _qkv, _y, _proj, _fch, _fcg, _logits, _scores;
    private readonly int[] _prev;

    public Sampler(Gpt model, int batchCapacity) : this(model.Config, model.Parameters, batchCapacity) { }

    public Sampler(GptConfig config, ParameterSlab parameters, int batchCapacity)
    {
        config.Validate();
        if (!config.Causal)
            throw new UserError($"sampling needs an autoregressive model, but this one has objective = {config.Objective}. " +
                "HINT: a BERT model predicts masked pixels from both sides and has no left-to-right order to sample in; train with the autoregressive objective to sample");
        if (parameters.Length != config.ParameterCount || parameters.Config.Seq != config.Seq || parameters.Config.Width != config.Width)
            throw new ArgumentException("parameter slab does not match the config", nameof(parameters));
        Config = config;
        Cache = new KvCache(config, batchCapacity);
        BatchCapacity = batchCapacity;
        _p = parameters;
        (_C, _T, _V, _NH) = (config.Width, config.Seq, config.Vocab, config.Heads);
        (_wte, _wpe, _sos, _lnf, _head) = (_p.Slot("wte"), _p.Slot("wpe"), _p.Slot("sos"), _p.Slot("ln_f.g"), _p.Slot("head"));
        _blocks = Enumerable.Range(0, config.Layers).Select(l => BlockSlots.Of(_p, l)).ToArray();
        int BC = batchCapacity * _C;
        (_x, _ln, _q, _qkv, _y, _proj) = (new float[BC], new float[BC], new float[BC], new float[3 * BC], new float[BC], new float[BC]);
        (_fch, _fcg) = (new float[4 * BC], new float[4 * BC]);
        _rstd = new float[batchCapacity];
        _logits = new float[batchCapacity * _V];
        _scores = new float[_T];
        _prev = new int[batchCapacity];
    }

    /// <summary>Tokens a half-image completion keeps: the top (side/2) rows, (side/2)·side tokens.</summary>
    public static int HalfImagePromptLength(GptConfig config) => config.Side / 2 * config.Side;

    /// <summary>Empties the cache and starts decoding <paramref name="batch"/> images at position 0.</summary>
    public void Reset(int batch)
    {
        if (batch < 1 || batch > BatchCapacity)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch {batch} outside 1..{BatchCapacity} (the sampler's capacity)");
        Batch = batch;
        Cache.Length = 0;
    }

    private Span<float> P(TensorSlot s) => _p.Span(s);

    /// <summary>
    /// Decodes position t = <see cref="Position"/> for every image and returns its logits (B,V),
    /// which predict x[t]. <paramref name="previous"/> (B) holds x[t−1] per image; it is empty at
    /// t = 0, where the input is the SOS vector. The returned span is overwritten by the next step.
    /// </summary>
    public ReadOnlySpan<float> Step(ReadOnlySpan<int> previous) => StepCore(previous, logits: true);

    private ReadOnlySpan<float> StepCore(ReadOnlySpan<int> previous, bool logits)
    {
        int t = Cache.Length, B = Batch, C = _C, N = B * C, th = Threads;
        if (B == 0) throw new InvalidOperationException("call Reset(batch) before Step");
        if (t >= _T) throw new InvalidOperationException($"all {_T} positions are decoded; call Reset to start again");
        if (previous.Length != (t == 0 ? 0 : B))
            throw new ArgumentException($"position {t} needs {(t == 0 ? 0 : B)} previous tokens, got {previous.Length}", nameof(previous));
        foreach (int x in previous)
            if ((uint)x >= (uint)_V) throw new ArgumentOutOfRangeException(nameof(previous), $"token {x} outside [0,{_V})");

        // One position of the AR embedding: a T=1 slice of Embedding with wpe shifted to row t.
        // At t = 0 the shifted form reads SOS; after that the unshifted form reads wte[x[t-1]].
        var x0 = _x.AsSpan(0, N);
        var wpeT = P(_wpe).Slice(t * C, C);
        if (t == 0)
            Embedding.Forward(x0, _prev.AsSpan(0, B), default, P(_wte), wpeT, P(_sos), B, 1, C, shifted: true);
        else
            Embedding.Forward(x0, previous, default, P(_wte), wpeT, P(_sos), B, 1, C, shifted: false);

        Span<float> ln = _ln.AsSpan(0, N), rstd = _rstd.AsSpan(0, B), y = _y.AsSpan(0, N), proj = _proj.AsSpan(0, N);
        Span<float> q = _q.AsSpan(0, N), qkv = _qkv.AsSpan(0, 3 * N);
        Span<float> fch = _fch.AsSpan(0, 4 * N), fcg = _fcg.AsSpan(0, 4 * N);
        for (int l = 0; l < _blocks.Length; l++)
        {
            var w = _blocks[l];
            // h += Proj(Attn(Norm1(h))), attention over the cache extended by this position
            RmsNorm.Forward(ln, rstd, x0, P(w.Ln1), B, C);
            // q, k, v in one product (rows of 3C), as the model makes them; k and v go to the cache
            Matmul.Forward(qkv, ln, P(w.Qkv), B, C, 3 * C, th);
            for (int b = 0; b < B; b++)
            {
                var row = qkv.Slice(3 * b * C, 3 * C);
                row[..C].CopyTo(q.Slice(b * C, C));
                row.Slice(C, C).CopyTo(Cache.Keys(l, b).Slice(t * C, C));
                row.Slice(2 * C, C).CopyTo(Cache.Values(l, b).Slice(t * C, C));
            }
            CachedAttention.Forward(y, _scores, q, Cache, l, B, t, C, _NH);
            Matmul.Forward(proj, y, P(w.Proj), B, C, C, th);
            Residual.Forward(x0, x0, proj, N);
            // h += W2 · gelu2(W1 · Norm2(h))
            RmsNorm.Forward(ln, rstd, x0, P(w.Ln2), B, C);
            Matmul.Forward(fch, ln, P(w.Fc), B, C, 4 * C, th);
            Gelu2.Forward(fcg, fch, 4 * N);
            Matmul.Forward(proj, fcg, P(w.FcProj), B, 4 * C, C, th);
            Residual.Forward(x0, x0, proj, N);
        }
        Cache.Length = t + 1;
        if (!logits) return default;
        var lg = _logits.AsSpan(0, B * _V);
        RmsNorm.Forward(ln, rstd, x0, P(_lnf), B, C);
        Matmul.Forward(lg, ln, P(_head), B, C, _V, th);
        return lg;
    }

    /// <summary>
    /// Teacher-forces the prompt (B,P) through the cache and samples positions P..total−1 from
    /// softmax(logits/temperature); output (B,total) receives the prompt followed by the samples.
    /// B = <paramref name="batch"/>, P = prompt.Length/B, total = output.Length/B ≤ T. Image b draws
    /// from its own stream derived from (seed, b), so its samples do not depend on the batch size.
    /// </summary>
    public void Complete(ReadOnlySpan<int> prompt, int batch, Span<int> output, ulong seed, double temperature = 1.0)
    {
        CheckBatch(batch);
        if (prompt.Length % batch != 0)
            throw new ArgumentException($"prompt length {prompt.Length} is not a multiple of batch {batch}", nameof(prompt));
        Run(prompt, prompt.Length / batch, prompt.Length / batch, batch, output, seed, temperature);
    }

    public int[] Complete(ReadOnlySpan<int> prompt, int batch, int total, ulong seed, double temperature = 1.0)
    {
        CheckBatch(batch);
        var output = new int[batch * total];
        Complete(prompt, batch, output, seed, temperature);
        return output;
    }

    /// <summary>
    /// Half-image completion (the paper's figure): images (B,T); keeps each image's top half,
    /// (side/2)·side tokens, and samples the bottom half. Returns (B,T).
    /// </summary>
    public int[] CompleteHalfImages(ReadOnlySpan<int> images, int batch, ulong seed, double temperature = 1.0)
    {
        CheckBatch(batch);
        if (images.Length != batch * _T)
            throw new ArgumentException($"images length {images.Length} is not batch*T = {batch}*{_T}", nameof(images));
        var output = new int[batch * _T];
        Run(images, _T, HalfImagePromptLength(Config), batch, output, seed, temperature);
        return output;
    }

    /// <summary>B whole images from SOS alone: (B,T).</summary>
    public int[] SampleUnconditional(int batch, ulong seed, double temperature = 1.0) =>
        Complete(ReadOnlySpan<int>.Empty, batch, _T, seed, temperature);

    private void CheckBatch(int batch)
    {
        if (batch < 1 || batch > BatchCapacity)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch {batch} outside 1..{BatchCapacity} (the sampler's capacity)");
    }

    /// <summary>prompt: row b's P tokens start at b·promptStride.</summary>
    private void Run(ReadOnlySpan<int> prompt, int promptStride, int P, int batch, Span<int> output, ulong seed, double temperature)
    {
        Categorical.ValidateTemperature(temperature);
        if (output.Length % batch != 0)
            throw new ArgumentException($"output length {output.Length} is not a multiple of batch {batch}", nameof(output));
        int total = output.Length / batch;
        if (total < 1 || total > _T)
            throw new ArgumentException($"total {total} tokens per image outside 1..T = {_T}", nameof(output));
        if (P > total)
            throw new ArgumentException($"prompt of {P} tokens per image is longer than total = {total}", nameof(prompt));
        for (int b = 0; b < batch; b++)
            foreach (int x in prompt.Slice(b * promptStride, P))
                if ((uint)x >= (uint)_V) throw new ArgumentOutOfRangeException(nameof(prompt), $"prompt token {x} outside [0,{_V})");

        var rngs = ImageStreams(seed, batch);
        Reset(batch);
        var prev = _prev.AsSpan(0, batch);
        for (int t = 0; t < total; t++)
        {
            if (t > 0)
                for (int b = 0; b < batch; b++) prev[b] = output[b * total + t - 1];
            // Logits of prompt positions would only be thrown away: skip ln_f and the head there.
            var logits = StepCore(t == 0 ? ReadOnlySpan<int>.Empty : prev, logits: t >= P);
            for (int b = 0; b < batch; b++)
                output[b * total + t] = t < P
                    ? prompt[b * promptStride + t]
                    : Categorical.Sample(logits.Slice(b * _V, _V), temperature, rngs[b]);
        }
    }

    /// <summary>One generator per image, seeded from the b-th draw of a generator seeded with <paramref name="seed"/>.</summary>
    internal static SeededRandom[] ImageStreams(ulong seed, int batch)
    {
        var master = new SeededRandom(seed);
        var rngs = new SeededRandom[batch];
        for (int b = 0; b < batch; b++) rngs[b] = new SeededRandom(master.NextUInt64());
        return rngs;
    }
}
