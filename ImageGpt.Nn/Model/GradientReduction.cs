using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Model;

/// <summary>What one shard contributes to a step: its gradient slab (of its own mean loss), that loss and its images.</summary>
public readonly record struct ShardGradient(float[] Gradients, float Loss, int Images);

/// <summary>
/// Combines shard gradients into the batch gradient in shard order. Each shard's loss is a mean over
/// its images, so the batch loss is the image-weighted mean Σ (n_s/N)·loss_s and its gradient
/// Σ (n_s/N)·g_s. The sum runs in the given order, one fixed sequence of float operations, so the
/// result depends on the shard split but never on which trainer computed which shard or when.
/// (For Bert this weighting equals the per-image loss exactly when every image has a masked position.)
/// </summary>
public static class GradientReduction
{
    /// <summary>Writes the weighted sum into <paramref name="dest"/> and returns the batch loss.</summary>
    public static float Reduce(Span<float> dest, IReadOnlyList<ShardGradient> shardsInOrder)
    {
        if (shardsInOrder.Count == 0) throw new ArgumentException("no shards", nameof(shardsInOrder));
        long total = 0;
        foreach (var s in shardsInOrder)
        {
            if (s.Images <= 0) throw new ArgumentException("a shard has no images", nameof(shardsInOrder));
            if (s.Gradients.Length != dest.Length) throw new ArgumentException("shard gradient length differs", nameof(shardsInOrder));
            total += s.Images;
        }
        double loss = 0;
        dest.Clear();
        foreach (var s in shardsInOrder)
        {
            float w = (float)((double)s.Images / total);
            Elementwise.MultiplyAdd(s.Gradients, w, dest);
            loss += (double)s.Images / total * s.Loss;
        }
        return (float)loss;
    }
}
