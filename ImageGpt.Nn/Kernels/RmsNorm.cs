using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Kernels;

/// <summary>RMS norm with a gain and no bias: y = x · rsqrt(mean(x²) + 1e-5) · g.</summary>
public static unsafe class RmsNorm
{
    public const float Eps = 1e-5f;

    /// <summary>Below this many elements a second thread costs more to start than it saves.</summary>
    private const int ParallelMin = 1 << 15;

    public static void Forward(Span<float> @out, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, int BT, int C,
        int threads = 1)
    {
        // inp (BT,C), gain (C), out (BT,C), rstd (BT) saved for backward; rows are independent, so threads
        // take contiguous row ranges and any thread count gives the same bits
        if (Vector512.IsHardwareAccelerated && C % 16 == 0)
        {
            if (threads > 1 && (long)BT * C >= ParallelMin)
                fixed (float* y = @out, r = rstd, x = inp, g = gain)
                    ForwardParallel((nint)y, (nint)r, (nint)x, (nint)g, BT, C, threads);
            else
                ForwardWide(@out, rstd, inp, gain, BT, C);
            return;
        }
        for (int bt = 0; bt < BT; bt++)
        {
            var x = inp.Slice(bt * C, C);
            var y = @out.Slice(bt * C, C);
            float r = 1f / MathF.Sqrt(TensorPrimitives.Dot(x, x) / C + Eps);
            rstd[bt] = r;
            TensorPrimitives.Multiply(x, r, y);
            TensorPrimitives.Multiply(y, gain, y);
        }
    }

    public static void Backward(Span<float> dinp, Span<float> dgain, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, ReadOnlySpan<float> rstd, int BT, int C, int threads = 1)
    {
        // dout (BT,C), inp (BT,C), gain (C), rstd (BT); dinp (BT,C) and dgain (C) accumulate
        // forward: y[i] = x[i] * r * g[i], r = (mean(x²) + eps)^-1/2, dr/dx[j] = -r³ x[j] / C
        // so dx[i] = r g[i] dy[i] - (r³/C) x[i] Σ_j dy[j] g[j] x[j];  dg[i] = dy[i] x[i] r
        if (Vector512.IsHardwareAccelerated && C % 16 == 0)
        {
            if (BT == 0) return;
            CheckLengths(dinp.Length, dgain.Length, dout.Length, inp.Length, gain.Length, rstd.Length, BT, C);
            fixed (float* dx = dinp, dg = dgain, dy = dout, x = inp, g = gain, r = rstd, part = Partial(C))
            {
                // dgain's sum over rows in two fixed halves whatever the thread count: rows [0, BT/2) add onto
                // dgain, rows [BT/2, BT) onto a cleared partial that is then added. Two threads take a half each
                // and read only their own rows; any thread count gives the same bits.
                new Span<float>(part, C).Clear();
                var job = new BackwardJob((nint)dx, (nint)dg, (nint)part, (nint)dy, (nint)x, (nint)g, (nint)r, BT, C);
                if (threads > 1 && (long)BT * C >= ParallelMin) KernelThreads.Run(2, job);
                else
                {
                    job.Run(0, 2);
                    job.Run(1, 2);
                }
                Elementwise.Add(new ReadOnlySpan<float>(dg, C), new ReadOnlySpan<float>(part, C), new Span<float>(dg, C));
            }
            return;
        }
        Span<float> tmp = C <= 4096 ? stackalloc float[C] : new float[C];
        for (int bt = 0; bt < BT; bt++)
        {
            var x = inp.Slice(bt * C, C);
            var dy = dout.Slice(bt * C, C);
            var dx = dinp.Slice(bt * C, C);
            float r = rstd[bt];
            TensorPrimitives.Multiply(dy, x, tmp);
            TensorPrimitives.MultiplyAdd(tmp, r, dgain, dgain);
            float dot = TensorPrimitives.Dot(tmp, gain);
            TensorPrimitives.Multiply(dy, gain, tmp);
            TensorPrimitives.MultiplyAdd(tmp, r, dx, dx);
            TensorPrimitives.MultiplyAdd(x, -r * r * r * dot / C, dx, dx);
        }
    }

    /// <summary>The calling thread's partial dgain for the second half of the rows, grown to the widest asked for.</summary>
    [ThreadStatic] private static float[]? _partial;

    private static float[] Partial(int C)
    {
        if (_partial is null || _partial.Length < C) _partial = GC.AllocateUninitializedArray<float>(Math.Max(C, 1), pinned: true);
        return _partial;
    }

    private static void CheckLengths(int dinp, int dgain, int dout, int inp, int gain, int rstd, int BT, int C)
    {
        long n = (long)BT * C;
        if (dinp < n || dout < n || inp < n || dgain < C || gain < C || rstd < BT)
            throw new ArgumentException($"RmsNorm.Backward needs (BT, C) = ({BT}, {C}) tensors, a gain and dgain of C and rstd of BT");
    }

    // The rows are short (C = 64..512), so the per-call overhead of the TensorPrimitives path (three calls
    // per row forward, six backward) is most of its cost; these loops make two passes over a row in
    // registers for the common case of C a multiple of 16.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardWide(Span<float> @out, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, int BT, int C)
    {
        if (BT == 0) return;
        ref float x0 = ref MemoryMarshal.GetReference(inp);
        ref float y0 = ref MemoryMarshal.GetReference(@out);
        ref float g0 = ref MemoryMarshal.GetReference(gain);
        _ = rstd[BT - 1];
        _ = inp[BT * C - 1];
        _ = @out[BT * C - 1];
        for (int bt = 0; bt < BT; bt++)
        {
            nuint row = (nuint)bt * (nuint)C;
            var ss = Vector512<float>.Zero;
            for (int c = 0; c < C; c += 16)
            {
                var x = Vector512.LoadUnsafe(ref x0, row + (nuint)c);
                ss = Vector512.FusedMultiplyAdd(x, x, ss);
            }
            float r = 1f / MathF.Sqrt(Vector512.Sum(ss) / C + Eps);
            rstd[bt] = r;
            var rv = Vector512.Create(r);
            for (int c = 0; c < C; c += 16)
                (Vector512.LoadUnsafe(ref x0, row + (nuint)c) * rv * Vector512.LoadUnsafe(ref g0, (nuint)c))
                    .StoreUnsafe(ref y0, row + (nuint)c);
        }
    }

    private static void ForwardParallel(nint y, nint rstd, nint x, nint g, int BT, int C, int threads) =>
        KernelThreads.Run(threads, new ForwardJob(y, rstd, x, g, BT, C));

    private readonly struct ForwardJob(nint y, nint rstd, nint x, nint g, int BT, int C) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (r0, r1) = KernelThreads.Range(BT, t, threads);
            int n = r1 - r0;
            ForwardWide(new Span<float>((float*)y + (nint)r0 * C, n * C), new Span<float>((float*)rstd + r0, n),
                new ReadOnlySpan<float>((float*)x + (nint)r0 * C, n * C), new ReadOnlySpan<float>((float*)g, C), n, C);
        }
    }

    /// <summary>Half `half` of the rows: dinp for each, and its dgain sum onto dgain (half 0) or the partial (half 1).</summary>
    private readonly struct BackwardJob(nint dx, nint dg, nint partial, nint dy, nint x, nint g, nint rstd, int BT, int C) : IPieceJob
    {
        public void Run(int half, int halves)
        {
            var (r0, r1) = KernelThreads.Range(BT, half, halves);
            BackwardRows((float*)dx, (float*)(half == 0 ? dg : partial), (float*)dy, (float*)x, (float*)g, (float*)rstd, r0, r1, C);
        }
    }

    /// <summary>Rows [r0, r1): dinp, and dgain's sum over these rows in row order (one FMA chain per column, onto dg0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(float* dx0, float* dg0, float* dy0, float* x0, float* g0, float* rstd, int r0, int r1, int C)
    {
        for (int bt = r0; bt < r1; bt++)
        {
            nint row = (nint)bt * C;
            float r = rstd[bt];
            var rv = Vector512.Create(r);
            var dotv = Vector512<float>.Zero;
            for (int c = 0; c < C; c += 16)
            {
                var dyx = Vector512.Load(dy0 + row + c) * Vector512.Load(x0 + row + c);
                Vector512.FusedMultiplyAdd(dyx, rv, Vector512.Load(dg0 + c)).Store(dg0 + c);
                dotv = Vector512.FusedMultiplyAdd(dyx, Vector512.Load(g0 + c), dotv);
            }
            var k = Vector512.Create(-r * r * r * Vector512.Sum(dotv) / C);
            for (int c = 0; c < C; c += 16)
            {
                nint i = row + c;
                var dx = Vector512.FusedMultiplyAdd(Vector512.Load(dy0 + i) * Vector512.Load(g0 + c), rv, Vector512.Load(dx0 + i));
                Vector512.FusedMultiplyAdd(Vector512.Load(x0 + i), k, dx).Store(dx0 + i);
            }
        }
    }

    public static void ForwardNaive(Span<float> @out, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, int BT, int C)
    {
        // inp (BT,C), gain (C), out (BT,C), rstd (BT)
        for (int bt = 0; bt < BT; bt++)
        {
            float ss = 0f;
            for (int c = 0; c < C; c++) ss += inp[bt * C + c] * inp[bt * C + c];
            float r = 1f / MathF.Sqrt(ss / C + Eps);
            rstd[bt] = r;
            for (int c = 0; c < C; c++) @out[bt * C + c] = inp[bt * C + c] * r * gain[c];
        }
    }

    public static void BackwardNaive(Span<float> dinp, Span<float> dgain, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, ReadOnlySpan<float> rstd, int BT, int C)
    {
        // dout (BT,C), inp (BT,C), gain (C), rstd (BT); dinp (BT,C) and dgain (C) accumulate
        // forward: y[i] = x[i] * r * g[i]
        for (int bt = 0; bt < BT; bt++)
        {
            float r = rstd[bt];
            float dot = 0f;
            for (int c = 0; c < C; c++) dot += dout[bt * C + c] * gain[c] * inp[bt * C + c];
            for (int c = 0; c < C; c++)
            {
                int i = bt * C + c;
                dgain[c] += dout[i] * inp[i] * r;
                dinp[i] += r * gain[c] * dout[i] - r * r * r * dot / C * inp[i];
            }
        }
    }
}
