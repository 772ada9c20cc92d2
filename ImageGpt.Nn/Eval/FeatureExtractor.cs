using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Probe;

namespace ImageGpt.Nn.Eval;

/// <summary>Linear-probe features of every layer over a token set, one forward pass per batch.</summary>
public static class FeatureExtractor
{
    /// <summary>
    /// Returns L+1 feature sets, layer l's rows (N, C): the mean over T of block l's Norm1 output
    /// (l &lt; L) or of ln_f's output (l = L), exactly <see cref="Gpt.ProbeFeatures(ReadOnlySpan{ushort}, Span{float}, ReadOnlySpan{byte})"/>
    /// per batch, regrouped by layer. <paramref name="model"/>'s capacity bounds the batch.
    /// </summary>
    public static Features[] Extract(Gpt model, TokenSet set, int batch, Action<int, int>? progress = null)
    {
        var config = model.Config;
        if (set.T != config.Seq) throw new ArgumentException($"token set has T={set.T}, the model {config.Seq}", nameof(set));
        batch = Math.Clamp(batch, 1, model.BatchCapacity);
        int L1 = config.Layers + 1, C = config.Width, N = set.Count;
        var layers = new float[L1][];
        for (int l = 0; l < L1; l++) layers[l] = new float[N * C];
        var buffer = new float[L1 * batch * C];
        for (int start = 0; start < N; start += batch)
        {
            int b = Math.Min(batch, N - start);
            var features = buffer.AsSpan(0, L1 * b * C);
            model.ProbeFeatures(set.Tokens.AsSpan(start * set.T, b * set.T), features);
            // (L+1, b, C) -> layer l rows start..start+b
            for (int l = 0; l < L1; l++)
                features.Slice(l * b * C, b * C).CopyTo(layers[l].AsSpan(start * C, b * C));
            progress?.Invoke(start + b, N);
        }
        return layers.Select(x => new Features(x, set.Labels, C)).ToArray();
    }
}
