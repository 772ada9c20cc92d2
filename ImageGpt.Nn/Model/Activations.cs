namespace ImageGpt.Nn.Model;

/// <summary>A named region of an activation slab, sized for the full batch capacity.</summary>
public readonly record struct Region(int Offset, int Length);

/// <summary>
/// Every intermediate tensor of one forward pass in one float[] sized for (B, T) at construction
/// (llm.c's ActivationTensors). The model allocates one for the forward pass and, at the first
/// Backward, a second with the same layout for the gradients of the activations (plus the
/// attention scratch). A smaller batch uses a prefix of each region; nothing is allocated per step.
/// </summary>
public sealed class Activations
{
    public int B { get; }
    public int T { get; }
    public float[] Data { get; }

    // Per layer l (BT = B*T): Norm1 -> q,k,v -> attention -> projection -> residual, Norm2 -> MLP -> residual.
    public Region[] Ln1 { get; }        // (B,T,C)
    public Region[] Ln1Rstd { get; }    // (B,T)
    public Region[] Qkv { get; }        // (B,T,3C): q, k, v side by side in each row, the output of one fused product
    public Region[] Att { get; }        // (B,NH,T,T) softmax probabilities, or (B,NH,T,2) row statistics when attention recomputes them
    public Region[] AttY { get; }       // (B,T,C) attention output before the projection
    public Region[] Res2 { get; }       // (B,T,C) residual after attention
    public Region[] Ln2 { get; }        // (B,T,C)
    public Region[] Ln2Rstd { get; }    // (B,T)
    public Region[] Fch { get; }        // (B,T,4C)
    public Region[] FchGelu { get; }    // (B,T,4C)
    public Region[] Res3 { get; }       // (B,T,C) residual after the MLP = input of block l+1

    public Region Encoded { get; }      // (B,T,C) embeddings, input of block 0
    public Region LnF { get; }          // (B,T,C)
    public Region LnFRstd { get; }      // (B,T)
    public Region Logits { get; }       // (B,T,V)
    public Region Probs { get; }        // (B,T,V)
    public Region Losses { get; }       // (B,T) per-position cross-entropy
    public Region LossWeights { get; }  // (B,T) weight of each position in the objective
    public Region Pooled { get; }       // (B,C) mean of ln_f over T (classifier input)
    public Region ClfLogits { get; }    // (B,K)
    public Region ClfProbs { get; }     // (B,K)
    public Region ClfLosses { get; }    // (B)
    public Region Scratch { get; }      // (B,NH,T,T) attention backward working memory (gradient slab only)

    /// <param name="gradients">
    /// Layout for the gradients of the activations: attention backward needs one (B,NH,T,T) scratch
    /// instead of a probability matrix per layer, so Att is empty and Scratch is allocated; the residual
    /// stream's gradient lives in Encoded alone (Res2 and Res3 are empty), and all layers
    /// share one set of per-layer regions (with no Fch: FchGelu's region holds that gradient too).
    /// </param>
    public Activations(GptConfig cfg, int batch, bool gradients)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch));
        B = batch;
        T = cfg.Seq;
        // Where the attention kernel can recompute the probabilities in backward (Attention.Recomputes), the
        // forward keeps two statistics per query row instead of T probabilities, and backward needs no scratch.
        bool recompute = Kernels.Attention.Recomputes(cfg.Width, cfg.Heads);
        long BT = (long)batch * T, C = cfg.Width, L = cfg.Layers, att = BT * cfg.Heads * (recompute ? 2 : T);
        long offset = 0;
        Region Take(long length)
        {
            if (offset + length > Array.MaxLength)
                throw new UserError($"activations for batch {batch} x {T} tokens need more than {Array.MaxLength:N0} floats. HINT: reduce the batch (or shards' size) or the model");
            var r = new Region((int)offset, (int)length);
            offset += length;
            return r;
        }
        // A layer's activation gradients are dead once its backward is done, so in the gradient layout
        // every layer shares one set of regions (the model zeroes each before its first accumulation):
        // the slab is L times smaller and stays nearer the caches.
        Region[] PerLayer(long length) => gradients
            ? Enumerable.Repeat(Take(length), (int)L).ToArray()
            : Enumerable.Range(0, (int)L).Select(_ => Take(length)).ToArray();

        Encoded = Take(BT * C);
        Ln1 = PerLayer(BT * C); Ln1Rstd = PerLayer(BT);
        Qkv = PerLayer(3 * BT * C);
        // The residual stream's gradient is the same tensor at every point of the stream (out = a + b
        // passes dout to both), so the gradient layout keeps one copy of it, in Encoded, and no
        // per-layer Res2 or Res3. The projections' outputs are never stored: their products add the
        // residual in their epilogue and write Res2 and Res3 directly.
        long residual = gradients ? 0 : BT * C;
        Att = PerLayer(gradients ? 0 : att); AttY = PerLayer(BT * C); Res2 = PerLayer(residual);
        Ln2 = PerLayer(BT * C); Ln2Rstd = PerLayer(BT);
        // Backward turns the gradient of FchGelu into that of Fch in place, so the gradient layout has no Fch.
        Fch = PerLayer(gradients ? 0 : BT * 4 * C); FchGelu = PerLayer(BT * 4 * C); Res3 = PerLayer(residual);
        LnF = Take(BT * C); LnFRstd = Take(BT);
        Logits = Take(BT * cfg.Vocab); Probs = Take(BT * cfg.Vocab);
        Losses = Take(BT); LossWeights = Take(BT);
        Pooled = Take(batch * C);
        ClfLogits = Take((long)batch * cfg.Classes); ClfProbs = Take((long)batch * cfg.Classes); ClfLosses = Take(batch);
        Scratch = Take(gradients && !recompute ? att : 0);
        Data = new float[offset];
    }

    /// <summary>The first <paramref name="length"/> floats of a region (the prefix a smaller batch uses).</summary>
    public Span<float> this[Region r, int length]
    {
        get
        {
            System.Diagnostics.Debug.Assert(length <= r.Length);
            return Data.AsSpan(r.Offset, length);
        }
    }

    public Span<float> this[Region r] => Data.AsSpan(r.Offset, r.Length);

    /// <summary>Zeroes every region but Scratch, whose contents the attention contract leaves undefined (it is the largest).</summary>
    public void Clear()
    {
        Data.AsSpan(0, Scratch.Offset).Clear();
        Data.AsSpan(Scratch.Offset + Scratch.Length).Clear();
    }
}
