using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Kernels;

/// <summary>iGPT's sigmoid GELU approximation: gelu2(x) = x · sigmoid(1.702 x).</summary>
public static unsafe class Gelu2
{
    public const float K = 1.702f;
    private const int Chunk = 256;

    /// <summary>Below this many elements a second thread costs more to start than it saves.</summary>
    private const int ParallelMin = 1 << 15;

    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, int N, int threads = 1)
    {
        // inp (N), out (N); each element is computed alone, so any thread count gives the same bits
        var x = inp[..N];
        var y = @out[..N];
        if (Vector512.IsHardwareAccelerated)
        {
            if (threads > 1 && N >= ParallelMin)
                fixed (float* yp = y, xp = x) ForwardParallel((nint)yp, (nint)xp, N, threads);
            else
                ForwardWide(y, x);
            return;
        }
        TensorPrimitives.Multiply(x, K, y);
        TensorPrimitives.Sigmoid(y, y);
        TensorPrimitives.Multiply(y, x, y);
    }

    public static void Backward(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N, int threads = 1)
        => Backward(dinp, inp, dout, N, threads, accumulate: true);

    /// <summary>
    /// dinp = dout · gelu2'(inp), written without reading dinp, which may be dout itself (element i is
    /// read before it is written): the model turns the MLP's hidden gradient into its pre-activation
    /// gradient in place, with no second buffer to clear. Equal to Backward into a cleared dinp except
    /// that a product of exactly -0 stays -0 (0 + -0 is +0), which no later FMA chain starting at +0 can tell apart.
    /// </summary>
    internal static void BackwardOverwrite(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N, int threads = 1)
        => Backward(dinp, inp, dout, N, threads, accumulate: false);

    private static void Backward(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N, int threads, bool accumulate)
    {
        // inp (N), dout (N); dinp (N) accumulates (or is overwritten)
        // forward: y = x s, s = sigmoid(K x)  ->  dy/dx = s + K x s (1 - s) = s (1 + K x (1 - s))
        if (Vector512.IsHardwareAccelerated)
        {
            if (threads > 1 && N >= ParallelMin)
                fixed (float* dx = dinp[..N], x = inp[..N], dy = dout[..N]) BackwardParallel((nint)dx, (nint)x, (nint)dy, N, threads, accumulate);
            else
                BackwardWide(dinp[..N], inp[..N], dout[..N], accumulate);
            return;
        }
        Span<float> s = stackalloc float[Chunk];
        Span<float> g = stackalloc float[Chunk];
        for (int start = 0; start < N; start += Chunk)
        {
            int n = Math.Min(Chunk, N - start);
            var x = inp.Slice(start, n);
            var sn = s[..n];
            var gn = g[..n];
            TensorPrimitives.Multiply(x, K, sn);
            TensorPrimitives.Sigmoid(sn, sn);
            TensorPrimitives.Subtract(1f, sn, gn);
            TensorPrimitives.Multiply(gn, x, gn);
            TensorPrimitives.Multiply(gn, K, gn);
            TensorPrimitives.Add(gn, 1f, gn);
            TensorPrimitives.Multiply(gn, sn, gn);
            var dx = dinp.Slice(start, n);
            if (accumulate) TensorPrimitives.MultiplyAdd(gn, dout.Slice(start, n), dx, dx);
            else TensorPrimitives.Multiply(gn, dout.Slice(start, n), dx);
        }
    }

    // One pass over memory with 16 lanes (the TensorPrimitives path makes three, and backward eight
    // over a chunk); the scalar tail is at most 15 elements.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardWide(Span<float> y, ReadOnlySpan<float> x)
    {
        int n = x.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - 16; i += 16)
        {
            var xv = Vector512.LoadUnsafe(ref xr, (nuint)i);
            (xv * Sigmoid(xv)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = x[i] / (1f + MathF.Exp(-K * x[i]));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardWide(Span<float> dx, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, bool accumulate)
    {
        int n = x.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        var one = Vector512.Create(1f);
        var k = Vector512.Create(K);
        for (; i <= n - 16; i += 16)
        {
            var xv = Vector512.LoadUnsafe(ref xr, (nuint)i);
            var s = Sigmoid(xv);
            var grad = s * (one + k * xv * (one - s)) * Vector512.LoadUnsafe(ref dyr, (nuint)i);
            if (accumulate) grad = Vector512.LoadUnsafe(ref dxr, (nuint)i) + grad;
            grad.StoreUnsafe(ref dxr, (nuint)i);
        }
        for (; i < n; i++)
        {
            float s = 1f / (1f + MathF.Exp(-K * x[i]));
            float grad = dy[i] * (s * (1f + K * x[i] * (1f - s)));
            dx[i] = accumulate ? dx[i] + grad : grad;
        }
    }

    // Each thread takes a fixed contiguous piece whose start is a multiple of 16.
    private static (int Start, int Length) Piece(int N, int threads, int t)
    {
        int start = (int)((long)N * t / threads) & ~15;
        int end = t == threads - 1 ? N : (int)((long)N * (t + 1) / threads) & ~15;
        return (start, end - start);
    }

    private static void ForwardParallel(nint y, nint x, int N, int threads) =>
        KernelThreads.Run(threads, new ForwardJob(y, x, N));

    private static void BackwardParallel(nint dx, nint x, nint dy, int N, int threads, bool accumulate) =>
        KernelThreads.Run(threads, new BackwardJob(dx, x, dy, N, accumulate));

    private readonly struct ForwardJob(nint y, nint x, int N) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (start, n) = Piece(N, threads, t);
            ForwardWide(new Span<float>((float*)y + start, n), new ReadOnlySpan<float>((float*)x + start, n));
        }
    }

    private readonly struct BackwardJob(nint dx, nint x, nint dy, int N, bool accumulate) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (start, n) = Piece(N, threads, t);
            BackwardWide(new Span<float>((float*)dx + start, n), new ReadOnlySpan<float>((float*)x + start, n),
                new ReadOnlySpan<float>((float*)dy + start, n), accumulate);
        }
    }

    /// <summary>
    /// sigmoid(K x) from e = exp(-|K x|) ≤ 1 with the softmax's fast exp (valid for arguments ≤ 0):
    /// 1/(1+e) for x ≥ 0, e/(1+e) = 1 − 1/(1+e) without its cancellation for x &lt; 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var z = x * Vector512.Create(K);
        var e = Attention.Exp(-Vector512.Abs(z));
        var inv = Vector512<float>.One / (Vector512<float>.One + e);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(z, Vector512<float>.Zero), inv, e * inv);
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<float> inp, int N)
    {
        // inp (N), out (N)
        for (int i = 0; i < N; i++)
            @out[i] = inp[i] / (1f + MathF.Exp(-K * inp[i]));
    }

    public static void BackwardNaive(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N)
    {
        // inp (N), dout (N); dinp (N) accumulates
        // forward: y = x * sigmoid(K x)
        for (int i = 0; i < N; i++)
        {
            float s = 1f / (1f + MathF.Exp(-K * inp[i]));
            dinp[i] += dout[i] * (s + K * inp[i] * s * (1f - s));
        }
    }
}
