using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Softmax + cross-entropy (natural log) per row, fused in backward: dlogits = w · (probs − onehot).
/// The caller chooses per-row weights w so that Σ w·loss is the objective's loss (AR: 1/(B·T) for
/// every position; BERT: mask / (masked count of the image · images with a mask); classifier: 1/B).
/// </summary>
public static class CrossEntropy
{
    public static void Forward(Span<float> losses, Span<float> probs, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int N, int V)
    {
        // logits (N,V), targets (N), probs (N,V), losses (N)
        for (int n = 0; n < N; n++)
        {
            var x = logits.Slice(n * V, V);
            var p = probs.Slice(n * V, V);
            float max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, p);
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum(p);
            TensorPrimitives.Divide(p, sum, p);
            losses[n] = MathF.Log(sum) - (x[targets[n]] - max);
        }
    }

    public static void Backward(Span<float> dlogits, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, int N, int V)
    {
        // probs (N,V), targets (N), weights (N); dlogits (N,V) accumulates
        // forward: loss = Σ_n w[n] · (log Σ_v exp x[n,v] − x[n,target])  ->  dx = w (p − onehot)
        for (int n = 0; n < N; n++)
        {
            float w = weights[n];
            if (w == 0f) continue;
            var d = dlogits.Slice(n * V, V);
            TensorPrimitives.MultiplyAdd(probs.Slice(n * V, V), w, d, d);
            d[targets[n]] -= w;
        }
    }

    public static void ForwardNaive(Span<float> losses, Span<float> probs, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int N, int V)
    {
        // logits (N,V), targets (N), probs (N,V), losses (N)
        for (int n = 0; n < N; n++)
        {
            float max = float.NegativeInfinity;
            for (int v = 0; v < V; v++) max = MathF.Max(max, logits[n * V + v]);
            float sum = 0f;
            for (int v = 0; v < V; v++)
            {
                probs[n * V + v] = MathF.Exp(logits[n * V + v] - max);
                sum += probs[n * V + v];
            }
            for (int v = 0; v < V; v++) probs[n * V + v] /= sum;
            losses[n] = -MathF.Log(probs[n * V + targets[n]]);
        }
    }

    public static void BackwardNaive(Span<float> dlogits, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, int N, int V)
    {
        // probs (N,V), targets (N), weights (N); dlogits (N,V) accumulates
        // forward: loss = Σ_n w[n] · (log Σ_v exp x[n,v] − x[n,target])
        for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++)
            dlogits[n * V + v] += weights[n] * (probs[n * V + v] - (v == targets[n] ? 1f : 0f));
    }
}
