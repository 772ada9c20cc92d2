using System.Numerics.Tensors;

namespace ImageGpt.Nn.Sampling;

/// <summary>
/// Attention of one new query per image over its cached keys and values: the row t of causal
/// attention (Kernels.Attention) without recomputing rows 0..t-1. Same arithmetic as the full
/// kernel: scale 1/sqrt(HS), max-subtracted softmax over keys 0..t, weighted sum of values.
/// </summary>
public static class CachedAttention
{
    public static void Forward(Span<float> @out, Span<float> scores, ReadOnlySpan<float> q, KvCache cache, int layer,
        int B, int t, int C, int NH)
    {
        // q (B,C) for position t, cache keys/values (B,T,C) rows 0..t valid, scores (t+1) scratch, out (B,C)
        int HS = C / NH, n = t + 1;
        float scale = 1f / MathF.Sqrt(HS);
        var row = scores[..n];
        for (int b = 0; b < B; b++)
        {
            ReadOnlySpan<float> keys = cache.Keys(layer, b), values = cache.Values(layer, b);
            for (int h = 0; h < NH; h++)
            {
                var qh = q.Slice(b * C + h * HS, HS);
                for (int t2 = 0; t2 < n; t2++)
                    row[t2] = TensorPrimitives.Dot(qh, keys.Slice(t2 * C + h * HS, HS)) * scale;
                float max = TensorPrimitives.Max(row);
                TensorPrimitives.Subtract(row, max, row);
                TensorPrimitives.Exp(row, row);
                float inv = 1f / TensorPrimitives.Sum(row);
                var o = @out.Slice(b * C + h * HS, HS);
                o.Clear();
                for (int t2 = 0; t2 < n; t2++)
                    TensorPrimitives.MultiplyAdd(values.Slice(t2 * C + h * HS, HS), row[t2] * inv, o, o);
            }
        }
    }
}
