using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>Residual connection: out = a + b.</summary>
public static unsafe class Residual
{
    /// <summary>Below this many elements a second thread costs more to start than it saves.</summary>
    private const int ParallelMin = 1 << 15;

    public static void Forward(Span<float> @out, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int N, int threads = 1)
    {
        // a, b, out (N); each element is one add, so any thread count gives the same bits
        if (threads > 1 && N >= ParallelMin)
        {
            fixed (float* o = @out[..N], ap = a[..N], bp = b[..N]) ForwardParallel((nint)o, (nint)ap, (nint)bp, N, threads);
            return;
        }
        TensorPrimitives.Add(a[..N], b[..N], @out[..N]);
    }

    private static void ForwardParallel(nint o, nint a, nint b, int N, int threads) =>
        KernelThreads.Run(threads, new ForwardJob(o, a, b, N));

    // Pieces start at multiples of 16.
    private readonly struct ForwardJob(nint o, nint a, nint b, int N) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            int start = (int)((long)N * t / threads) & ~15;
            int end = t == threads - 1 ? N : (int)((long)N * (t + 1) / threads) & ~15;
            TensorPrimitives.Add(new ReadOnlySpan<float>((float*)a + start, end - start),
                new ReadOnlySpan<float>((float*)b + start, end - start), new Span<float>((float*)o + start, end - start));
        }
    }

    public static void Backward(Span<float> da, Span<float> db, ReadOnlySpan<float> dout, int N)
    {
        // dout (N); da, db (N) accumulate
        // forward: out = a + b
        TensorPrimitives.Add(da[..N], dout[..N], da[..N]);
        TensorPrimitives.Add(db[..N], dout[..N], db[..N]);
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int N)
    {
        // a, b, out (N)
        for (int i = 0; i < N; i++) @out[i] = a[i] + b[i];
    }

    public static void BackwardNaive(Span<float> da, Span<float> db, ReadOnlySpan<float> dout, int N)
    {
        // dout (N); da, db (N) accumulate
        // forward: out = a + b
        for (int i = 0; i < N; i++)
        {
            da[i] += dout[i];
            db[i] += dout[i];
        }
    }
}
