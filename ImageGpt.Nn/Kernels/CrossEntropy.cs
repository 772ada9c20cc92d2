using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Softmax + cross-entropy (natural log) per row, fused in backward: dlogits = w · (probs − onehot).
/// The caller chooses per-row weights w so that Σ w·loss is the objective's loss (AR: 1/(B·T) for
/// every position; BERT: mask / (masked count of the image · images with a mask); classifier: 1/B).
/// </summary>
public static unsafe class CrossEntropy
{
    /// <summary>Below this many logits a second thread costs more to start than it saves.</summary>
    private const int ParallelMin = 1 << 15;

    public static void Forward(Span<float> losses, Span<float> probs, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int N, int V,
        int threads = 1)
    {
        // logits (N,V), targets (N), probs (N,V), losses (N); rows are independent, so threads take fixed
        // row ranges and any thread count gives the same bits
        if (threads > 1 && (long)N * V >= ParallelMin)
        {
            fixed (float* l = losses, p = probs, x = logits)
            fixed (int* tg = targets)
                KernelThreads.Run(threads, new ForwardJob((nint)l, (nint)p, (nint)x, (nint)tg, losses.Length, probs.Length, logits.Length,
                    targets.Length, N, V));
            return;
        }
        ForwardRows(losses, probs, logits, targets, 0, N, V);
    }

    public static void Backward(Span<float> dlogits, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, int N, int V,
        int threads = 1)
    {
        // probs (N,V), targets (N), weights (N); dlogits (N,V) accumulates
        if (threads > 1 && (long)N * V >= ParallelMin)
        {
            fixed (float* d = dlogits, p = probs, w = weights)
            fixed (int* tg = targets)
                KernelThreads.Run(threads, new BackwardJob((nint)d, (nint)p, (nint)tg, (nint)w, dlogits.Length, probs.Length,
                    targets.Length, weights.Length, N, V));
            return;
        }
        BackwardRows(dlogits, probs, targets, weights, 0, N, V);
    }

    private readonly struct ForwardJob(nint l, nint p, nint x, nint tg, int nl, int np, int nx, int ntg, int N, int V) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (n0, n1) = KernelThreads.Range(N, t, threads);
            ForwardRows(new Span<float>((float*)l, nl), new Span<float>((float*)p, np), new ReadOnlySpan<float>((float*)x, nx),
                new ReadOnlySpan<int>((int*)tg, ntg), n0, n1, V);
        }
    }

    private readonly struct BackwardJob(nint d, nint p, nint tg, nint w, int nd, int np, int ntg, int nw, int N, int V) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (n0, n1) = KernelThreads.Range(N, t, threads);
            BackwardRows(new Span<float>((float*)d, nd), new ReadOnlySpan<float>((float*)p, np), new ReadOnlySpan<int>((int*)tg, ntg),
                new ReadOnlySpan<float>((float*)w, nw), n0, n1, V);
        }
    }

    private static void ForwardRows(Span<float> losses, Span<float> probs, ReadOnlySpan<float> logits, ReadOnlySpan<int> targets,
        int n0, int n1, int V)
    {
        for (int n = n0; n < n1; n++)
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

    private static void BackwardRows(Span<float> dlogits, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights,
        int n0, int n1, int V)
    {
        // forward: loss = Σ_n w[n] · (log Σ_v exp x[n,v] − x[n,target])  ->  dx = w (p − onehot)
        for (int n = n0; n < n1; n++)
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
