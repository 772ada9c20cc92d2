using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Multi-head scaled dot-product attention, one (batch, head) pair at a time. On AVX-512 with a head size
/// that is a multiple of 8 (every model shape) the blocked path of AttentionBlocked.cs runs: 32 queries at a
/// time in SIMD lanes, every product an 8 x 32 register tile. Otherwise this file's per-query path: the
/// head's keys and values are copied transposed (HS x Tp, zero padded to a multiple of 64 keys) so that
/// every inner loop runs SIMD over keys. q, k and v (and dq, dk, dv) may be the column blocks of one fused
/// (B,T,3C) tensor (row stride ld). Causal rows stop at their diagonal. Threads take whole (batch, head)
/// pairs and every output element is written by one thread in a fixed order, so results do not depend on `threads`.
/// </summary>
public static unsafe partial class Attention
{
    // q,k,v (B,T,C), head h in columns [h*HS,(h+1)*HS); att (B,NH,T,T) softmax probabilities; out (B,T,C)
    public static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
        => Forward(@out, att, q, k, v, B, T, C, NH, causal, threads, Vector512.IsHardwareAccelerated, C);

    /// <param name="ld">Row stride of q, k and v (C when separate; 3C when they are the column blocks of one fused (B,T,3C) tensor).</param>
    internal static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads, bool wide, int ld)
    {
        int HS = CheckShape(B, T, C, NH);
        long btc = (long)B * T * C;
        CheckLength(@out.Length, btc, nameof(@out));
        CheckLength(att.Length, (long)B * NH * T * T, nameof(att));
        CheckInputs(B * T, C, ld, q, k, v);
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* o = @out, a = att, qp = q, kp = k, vp = v)
        {
            nint op = (nint)o, ap = (nint)a, qq = (nint)qp, kk = (nint)kp, vv = (nint)vp;
            ForEachHead(B * NH, threads, new ForwardJob(op, ap, qq, kk, vv, T, C, NH, HS, ld, causal, wide));
        }
    }

    /// <summary>
    /// Whether <see cref="ForwardStats"/> and <see cref="BackwardRecompute"/> run for this shape on this
    /// CPU (the blocked AVX-512 path: head size a multiple of 8). Otherwise use Forward/Backward with att.
    /// </summary>
    public static bool Recomputes(int C, int NH) =>
        Vector512.IsHardwareAccelerated && NH > 0 && C % NH == 0 && C / NH % 8 == 0;

    // q,k,v (B,T,C); out (B,T,C) overwritten; stats (B,NH,T,2): per query row the subtracted maximum
    // scale*max_j(q.k_j) and the reciprocal of the sum of exponentials
    /// <summary>
    /// Forward without the (B,NH,T,T) probabilities: only two numbers per query row are kept, from which
    /// <see cref="BackwardRecompute"/> recomputes each probability with the same operations on the same
    /// inputs, so it gets the bits Forward would have stored in att. Writing and rereading att is
    /// memory traffic of T*T floats per head, which costs more than the recomputation at small head sizes.
    /// </summary>
    public static void ForwardStats(Span<float> @out, Span<float> stats, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
        => ForwardStats(@out, stats, q, k, v, B, T, C, NH, causal, threads, C);

    /// <param name="ld">Row stride of q, k and v (3C for the column blocks of one fused (B,T,3C) tensor).</param>
    internal static void ForwardStats(Span<float> @out, Span<float> stats, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads, int ld)
    {
        int HS = CheckShape(B, T, C, NH);
        if (!Recomputes(C, NH)) throw new ArgumentException($"no recomputing attention for C={C} NH={NH} on this CPU");
        long btc = (long)B * T * C;
        CheckLength(@out.Length, btc, nameof(@out));
        CheckLength(stats.Length, (long)B * NH * T * 2, nameof(stats));
        CheckInputs(B * T, C, ld, q, k, v);
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* o = @out, st = stats, qp = q, kp = k, vp = v)
        {
            nint op = (nint)o, sp = (nint)st, qq = (nint)qp, kk = (nint)kp, vv = (nint)vp;
            ForEachHead(B * NH, threads, new ForwardStatsJob(op, sp, qq, kk, vv, T, C, NH, HS, ld, causal));
        }
    }

    // dout (B,T,C), stats (B,NH,T,2) from ForwardStats, q,k,v (B,T,C); dq,dk,dv (B,T,C) overwritten
    /// <summary>
    /// Backward of <see cref="ForwardStats"/>: the probabilities are recomputed block by block from q, k
    /// and the row statistics (bit for bit those of Forward). dq, dk and dv are written, not accumulated
    /// (each head zeroes its own columns first), so the caller need not clear them.
    /// </summary>
    public static void BackwardRecompute(Span<float> dq, Span<float> dk, Span<float> dv, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> stats, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        int B, int T, int C, int NH, bool causal, int threads = 1)
        => BackwardRecompute(dq, dk, dv, dout, stats, q, k, v, B, T, C, NH, causal, threads, C);

    /// <param name="ld">Row stride of q, k, v, dq, dk and dv (3C for the column blocks of fused tensors).</param>
    internal static void BackwardRecompute(Span<float> dq, Span<float> dk, Span<float> dv, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> stats, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        int B, int T, int C, int NH, bool causal, int threads, int ld)
    {
        int HS = CheckShape(B, T, C, NH);
        if (!Recomputes(C, NH)) throw new ArgumentException($"no recomputing attention for C={C} NH={NH} on this CPU");
        CheckGradients(B * T, C, ld, dq, dk, dv, dout);
        CheckInputs(B * T, C, ld, q, k, v);
        CheckLength(stats.Length, (long)B * NH * T * 2, nameof(stats));
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* dqp = dq, dkp = dk, dvp = dv, g = dout, st = stats, qp = q, kp = k, vp = v)
        {
            nint p0 = (nint)dqp, p1 = (nint)dkp, p2 = (nint)dvp, p3 = (nint)g, p4 = (nint)st;
            nint p5 = (nint)qp, p6 = (nint)kp, p7 = (nint)vp;
            ForEachHead(B * NH, threads, new BackwardRecomputeJob(p0, p1, p2, p3, p4, p5, p6, p7, T, C, NH, HS, ld, causal));
        }
    }

    // dout (B,T,C), att (B,NH,T,T), q,k,v (B,T,C); dq,dk,dv (B,T,C) accumulate; scratch unused here
    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
        => Backward(dq, dk, dv, scratch, dout, att, q, k, v, B, T, C, NH, causal, threads,
            Vector512.IsHardwareAccelerated, C);

    /// <summary>
    /// Backward for dq, dk, dv that nothing else adds to: their old contents are never read (the caller
    /// need not clear them). Each head zeroes its own columns right before accumulating into them, while
    /// those lines are about to be touched anyway, so the bits are those of clear-then-Backward.
    /// </summary>
    internal static void BackwardOverwrite(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1, int ld = 0)
        => Backward(dq, dk, dv, scratch, dout, att, q, k, v, B, T, C, NH, causal, threads,
            Vector512.IsHardwareAccelerated, ld == 0 ? C : ld, overwrite: true);

    internal static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads, bool wide, int ld, bool overwrite = false)
    {
        int HS = CheckShape(B, T, C, NH);
        CheckGradients(B * T, C, ld, dq, dk, dv, dout);
        CheckInputs(B * T, C, ld, q, k, v);
        CheckLength(att.Length, (long)B * NH * T * T, nameof(att));
        // The contract reserves B*NH*T*T floats of scratch; this kernel works in per-thread buffers instead.
        CheckLength(scratch.Length, (long)B * NH * T * T, nameof(scratch));
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* dqp = dq, dkp = dk, dvp = dv, g = dout, a = att, qp = q, kp = k, vp = v)
        {
            nint p0 = (nint)dqp, p1 = (nint)dkp, p2 = (nint)dvp, p3 = (nint)g, p4 = (nint)a;
            nint p5 = (nint)qp, p6 = (nint)kp, p7 = (nint)vp;
            ForEachHead(B * NH, threads, new BackwardJob(p0, p1, p2, p3, p4, p5, p6, p7, T, C, NH, HS, ld, causal, wide, overwrite));
        }
    }

    private static int CheckShape(int B, int T, int C, int NH)
    {
        if (B < 0 || T < 0 || C < 0 || NH <= 0 || C % NH != 0)
            throw new ArgumentException($"bad attention shape B={B} T={T} C={C} NH={NH} (C must be a multiple of NH)");
        return C / NH;
    }

    /// <summary>
    /// Rows of `C` floats every `ld` (C, or 3C for one column block of a fused tensor): `rows` of them
    /// need (rows-1)*ld + C floats from the span's start.
    /// </summary>
    private static long Strided(int rows, int C, int ld)
    {
        if (ld < C) throw new ArgumentException($"row stride {ld} is below the width C={C}", nameof(ld));
        return rows == 0 ? 0 : (long)(rows - 1) * ld + C;
    }

    // q, k, v (B,T,C) rows of stride ld
    private static void CheckInputs(int rows, int C, int ld, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        long n = Strided(rows, C, ld);
        CheckLength(q.Length, n, nameof(q));
        CheckLength(k.Length, n, nameof(k));
        CheckLength(v.Length, n, nameof(v));
    }

    // dq, dk, dv (B,T,C) rows of stride ld; dout (B,T,C)
    private static void CheckGradients(int rows, int C, int ld, Span<float> dq, Span<float> dk, Span<float> dv, ReadOnlySpan<float> dout)
    {
        long n = Strided(rows, C, ld);
        CheckLength(dq.Length, n, nameof(dq));
        CheckLength(dk.Length, n, nameof(dk));
        CheckLength(dv.Length, n, nameof(dv));
        CheckLength(dout.Length, (long)rows * C, nameof(dout));
    }

    private static void CheckLength(int actual, long needed, string name)
    {
        if (actual < needed)
            throw new ArgumentException($"{name} has {actual} floats, needs {needed}", name);
    }

    private interface IHeadJob { void Run(int bh); }

    // Each job finds head h of image b: q, k, v (and dq, dk, dv) rows of stride ld, out (and dout) of stride C,
    // att (T x T) and stats (T x 2) per (b, h).
    private readonly struct ForwardJob(nint o, nint a, nint q, nint k, nint v, int T, int C, int NH, int HS, int ld, bool causal, bool wide) : IHeadJob
    {
        public void Run(int bh)
        {
            nint x = (nint)(bh / NH) * T * ld + bh % NH * HS, y = (nint)(bh / NH) * T * C + bh % NH * HS;
            if (wide && HS % 8 == 0)
                ForwardHeadBlocked((float*)o + y, (float*)a + (nint)bh * T * T, null, (float*)q + x, (float*)k + x,
                    (float*)v + x, T, C, ld, HS, causal);
            else ForwardHead((float*)o + y, (float*)a + (nint)bh * T * T, (float*)q + x, (float*)k + x, (float*)v + x, T, C, ld, HS, causal, wide);
        }
    }

    private readonly struct BackwardJob(nint dq, nint dk, nint dv, nint dout, nint att, nint q, nint k, nint v,
        int T, int C, int NH, int HS, int ld, bool causal, bool wide, bool overwrite) : IHeadJob
    {
        public void Run(int bh)
        {
            nint x = (nint)(bh / NH) * T * ld + bh % NH * HS, y = (nint)(bh / NH) * T * C + bh % NH * HS;
            float* a = (float*)att + (nint)bh * T * T;
            if (wide && HS % 8 == 0)
            {
                BackwardHeadBlocked((float*)dq + x, (float*)dk + x, (float*)dv + x, (float*)dout + y, a, null,
                    (float*)q + x, (float*)k + x, (float*)v + x, T, C, ld, HS, causal, overwrite);
                return;
            }
            if (overwrite) ClearHead((float*)dq + x, (float*)dk + x, (float*)dv + x, T, ld, HS);
            BackwardHead((float*)dq + x, (float*)dk + x, (float*)dv + x, (float*)dout + y, a, (float*)q + x, (float*)k + x,
                (float*)v + x, T, C, ld, HS, causal, wide);
        }
    }

    private readonly struct ForwardStatsJob(nint o, nint stats, nint q, nint k, nint v, int T, int C, int NH, int HS, int ld, bool causal) : IHeadJob
    {
        public void Run(int bh)
        {
            nint x = (nint)(bh / NH) * T * ld + bh % NH * HS, y = (nint)(bh / NH) * T * C + bh % NH * HS;
            ForwardHeadBlocked((float*)o + y, null, (float*)stats + (nint)bh * T * 2, (float*)q + x, (float*)k + x,
                (float*)v + x, T, C, ld, HS, causal);
        }
    }

    private readonly struct BackwardRecomputeJob(nint dq, nint dk, nint dv, nint dout, nint stats, nint q, nint k, nint v,
        int T, int C, int NH, int HS, int ld, bool causal) : IHeadJob
    {
        public void Run(int bh)
        {
            nint x = (nint)(bh / NH) * T * ld + bh % NH * HS, y = (nint)(bh / NH) * T * C + bh % NH * HS;
            BackwardHeadBlocked((float*)dq + x, (float*)dk + x, (float*)dv + x, (float*)dout + y, null,
                (float*)stats + (nint)bh * T * 2, (float*)q + x, (float*)k + x, (float*)v + x, T, C, ld, HS, causal, overwrite: true);
        }
    }

    /// <summary>Zeroes one head's T x HS elements of dq, dk and dv (pointers at the head's first element, rows every ld).</summary>
    private static void ClearHead(float* dq, float* dk, float* dv, int T, int ld, int HS)
    {
        for (int t = 0; t < T; t++)
        {
            nint row = (nint)t * ld;
            new Span<float>(dq + row, HS).Clear();
            new Span<float>(dk + row, HS).Clear();
            new Span<float>(dv + row, HS).Clear();
        }
    }

    /// <summary>Runs heads [0, count) split into `threads` fixed contiguous ranges.</summary>
    private static void ForEachHead<TJob>(int count, int threads, TJob job) where TJob : struct, IHeadJob =>
        KernelThreads.Run(Math.Clamp(threads, 1, Math.Max(1, count)), new HeadRanges<TJob>(count, job));

    private readonly struct HeadRanges<TJob>(int count, TJob job) : IPieceJob where TJob : struct, IHeadJob
    {
        public void Run(int t, int threads)
        {
            var (i0, i1) = KernelThreads.Range(count, t, threads);
            for (int i = i0; i < i1; i++) job.Run(i);
        }
    }

    /// <summary>Per-thread working memory, grown on demand and reused across calls.</summary>
    private sealed class Buffers
    {
        private float[] _data = [];

        [ThreadStatic] private static Buffers? _mine;
        public static Buffers Mine => _mine ??= new Buffers();

        /// <summary>At least `floats` floats, 64-byte aligned, contents undefined.</summary>
        public float* Get(int floats)
        {
            if (_data.Length < floats + 16) _data = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            float* p = (float*)Unsafe.AsPointer(ref _data[0]);
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }

    private static int Pad(int n, int to) => (n + to - 1) / to * to;

    /// <summary>dst (HS, Tp) = src rows t (stride ld) transposed, zero beyond T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(float* dst, float* src, int T, int Tp, int ld, int HS)
    {
        for (int d = 0; d < HS; d++)
        {
            float* row = dst + (nint)d * Tp;
            for (int t = 0; t < T; t++) row[t] = src[(nint)t * ld + d];
            new Span<float>(row + T, Tp - T).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardHead(float* @out, float* att, float* q, float* k, float* v,
        int T, int C, int ld, int HS, bool causal, bool wide)
    {
        int Tp = Pad(T, 64);
        float* buf = Buffers.Mine.Get(2 * HS * Tp + Tp);
        float* kt = buf, vt = buf + HS * Tp, s = buf + 2 * HS * Tp;
        Transpose(kt, k, T, Tp, ld, HS);
        Transpose(vt, v, T, Tp, ld, HS);
        float scale = 1f / MathF.Sqrt(HS);
        for (int i = 0; i < T; i++)
        {
            int L = causal ? i + 1 : T;
            float* qi = q + (nint)i * ld;
            float* attRow = att + (nint)i * T;
            // preatt[j] = scale * q_i . k_j for the L visible keys; att = softmax(preatt)
            KeyDots(s, qi, kt, HS, Tp, L, wide);
            if (wide) SoftmaxWide(s, L, scale);
            else SoftmaxPortable(s, L, scale);
            new ReadOnlySpan<float>(s, L).CopyTo(new Span<float>(attRow, L));
            new Span<float>(attRow + L, T - L).Clear();
            // out_i[d] = sum_j att[j] * v_j[d]
            KeyWeightedSums(@out + (nint)i * C, s, vt, HS, Tp, L, wide, accumulate: false);
        }
    }

    /// <summary>s[0..L) = softmax(scale * s[0..L)), max-subtracted; s[L..Pad(L,16)) = 0 for the value sum.</summary>
    private static void SoftmaxPortable(float* s, int L, float scale)
    {
        var row = new Span<float>(s, L);
        TensorPrimitives.Multiply(row, scale, row);
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
        new Span<float>(s + L, Pad(L, 16) - L).Clear();
    }

    /// <summary>The same softmax in three vector passes (max, exp and sum, scale), lanes past L masked to zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxWide(float* s, int L, float scale)
    {
        var vMax = Vector512.Create(float.NegativeInfinity);
        int j = 0;
        for (; j + 16 <= L; j += 16) vMax = Vector512.Max(vMax, Vector512.Load(s + j));
        if (j < L)
            vMax = Vector512.Max(vMax, Vector512.ConditionalSelect(TailMask(L - j), Vector512.Load(s + j),
                Vector512.Create(float.NegativeInfinity)));
        var m256 = Vector256.Max(vMax.GetLower(), vMax.GetUpper());
        var m128 = Vector128.Max(m256.GetLower(), m256.GetUpper());
        // scale > 0, so max(scale * s) = scale * max(s).
        float max = MathF.Max(MathF.Max(m128[0], m128[1]), MathF.Max(m128[2], m128[3])) * scale;
        var vScale = Vector512.Create(scale);
        var vNegMax = Vector512.Create(-max);
        var sum = Vector512<float>.Zero;
        for (j = 0; j + 16 <= L; j += 16)
        {
            var e = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j), vScale, vNegMax));
            e.Store(s + j);
            sum += e;
        }
        if (j < L)
        {
            var e = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j), vScale, vNegMax));
            e = Vector512.ConditionalSelect(TailMask(L - j), e, Vector512<float>.Zero);
            e.Store(s + j);
            sum += e;
        }
        var inv = Vector512.Create(1f / Vector512.Sum(sum));
        for (j = 0; j < L; j += 16) (Vector512.Load(s + j) * inv).Store(s + j);
    }

    /// <summary>
    /// e^x for x &lt;= 0 (softmax arguments), Cephes expf: x = n ln2 + r with |r| &lt;= ln2/2, a degree-6
    /// polynomial for e^r, then 2^n through the exponent bits. Within 2 ulp of MathF.Exp down to
    /// x = -87.3 (below that the result stays at e^-87.3 ~ 1e-38 instead of a denormal or 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        // vmaxps with the bound first returns x when x is NaN, as Vector512.Max does, without its -0/NaN fix-ups.
        x = Avx512F.IsSupported ? Avx512F.Max(Vector512.Create(-87.3f), x) : Vector512.Max(x, Vector512.Create(-87.3f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500E-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894E-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459E-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201E-1f));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        // y * 2^n in one vscalefps instead of convert, add, shift and multiply: exact either way, as
        // n >= -126 keeps 2^n a normal float, so the bits are the same.
        if (Avx512F.IsSupported) return Avx512F.Scale(y, n);
        var pow2n = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return y * pow2n;
    }

    /// <summary>All-ones in the first `count` lanes (1..16), zero in the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TailMask(int count) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardHead(float* dq, float* dk, float* dv, float* dout, float* att, float* q, float* k,
        float* v, int T, int C, int ld, int HS, bool causal, bool wide)
    {
        int Tp = Pad(T, 64);
        float* buf = Buffers.Mine.Get(4 * HS * Tp + 2 * Tp);
        float* kt = buf, vt = buf + HS * Tp, dkt = buf + 2 * HS * Tp, dvt = buf + 3 * HS * Tp;
        float* ds = buf + 4 * HS * Tp, p = ds + Tp;
        Transpose(kt, k, T, Tp, ld, HS);
        Transpose(vt, v, T, Tp, ld, HS);
        new Span<float>(dkt, 2 * HS * Tp).Clear();
        float scale = 1f / MathF.Sqrt(HS);
        for (int i = 0; i < T; i++)
        {
            int L = causal ? i + 1 : T, Lv = Pad(L, 16);
            nint row = (nint)i * ld, outRow = (nint)i * C;
            // The visible probabilities, zero padded to whole vectors.
            new ReadOnlySpan<float>(att + (nint)i * T, L).CopyTo(new Span<float>(p, L));
            new Span<float>(p + L, Lv - L).Clear();
            // forward: out_i[d] = sum_j att[i,j] * v_j[d]
            // datt[j] = dout_i . v_j
            KeyDots(ds, dout + outRow, vt, HS, Tp, L, wide);
            // forward: att[i,:] = softmax(preatt[i,:]); dpreatt[j] = att[j] * (datt[j] - sum_j' att[j'] datt[j'])
            // forward: preatt[i,j] = scale * q_i . k_j; the scale is folded into dpreatt here
            var pRow = new Span<float>(p, Lv);
            var dsRow = new Span<float>(ds, Lv);
            float dot = TensorPrimitives.Dot(pRow, dsRow);
            TensorPrimitives.Subtract(dsRow, dot, dsRow);
            TensorPrimitives.Multiply(dsRow, pRow, dsRow);
            TensorPrimitives.Multiply(dsRow, scale, dsRow);
            // dq_i[d] += sum_j dpreatt[j] * k_j[d]
            KeyWeightedSums(dq + row, ds, kt, HS, Tp, L, wide, accumulate: true);
            // dk_j[d] += dpreatt[j] * q_i[d];  dv_j[d] += att[i,j] * dout_i[d]
            OuterUpdates(dkt, dvt, ds, p, q + row, dout + outRow, HS, Tp, Lv, wide);
        }
        for (int t = 0; t < T; t++)
        {
            float* dkt0 = dk + (nint)t * ld, dvt0 = dv + (nint)t * ld;
            for (int d = 0; d < HS; d++)
            {
                dkt0[d] += dkt[(nint)d * Tp + t];
                dvt0[d] += dvt[(nint)d * Tp + t];
            }
        }
    }

    /// <summary>dkt[d, j] += x[d] * ds[j] and dvt[d, j] += y[d] * p[j] for j &lt; Lv (a multiple of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OuterUpdates(float* dkt, float* dvt, float* ds, float* p, float* x, float* y, int HS, int Tp,
        int Lv, bool wide)
    {
        if (!wide)
        {
            var dsRow = new ReadOnlySpan<float>(ds, Lv);
            var pRow = new ReadOnlySpan<float>(p, Lv);
            for (int d = 0; d < HS; d++)
            {
                var dkRow = new Span<float>(dkt + (nint)d * Tp, Lv);
                var dvRow = new Span<float>(dvt + (nint)d * Tp, Lv);
                TensorPrimitives.MultiplyAdd(dsRow, x[d], dkRow, dkRow);
                TensorPrimitives.MultiplyAdd(pRow, y[d], dvRow, dvRow);
            }
            return;
        }
        for (int j = 0; j < Lv; j += 16)
        {
            var dsv = Vector512.Load(ds + j);
            var pv = Vector512.Load(p + j);
            float* mk = dkt + j, mv = dvt + j;
            for (int d = 0; d < HS; d++, mk += Tp, mv += Tp)
            {
                Vector512.FusedMultiplyAdd(Vector512.Create(x[d]), dsv, Vector512.Load(mk)).Store(mk);
                Vector512.FusedMultiplyAdd(Vector512.Create(y[d]), pv, Vector512.Load(mv)).Store(mv);
            }
        }
    }

    /// <summary>
    /// s[j] = sum_d x[d] * mt[d*Tp + j] for j &lt; L (and up to the next multiple of 16, harmlessly):
    /// one query against L transposed keys, SIMD over keys, four key vectors in flight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeyDots(float* s, float* x, float* mt, int HS, int Tp, int L, bool wide)
    {
        if (!wide)
        {
            var dst = new Span<float>(s, L);
            dst.Clear();
            for (int d = 0; d < HS; d++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(mt + (nint)d * Tp, L), x[d], dst, dst);
            return;
        }
        int j = 0;
        for (; j + 64 <= L; j += 64)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float* m = mt + j;
            for (int d = 0; d < HS; d++, m += Tp)
            {
                var xd = Vector512.Create(x[d]);
                a0 = Vector512.FusedMultiplyAdd(xd, Vector512.Load(m), a0);
                a1 = Vector512.FusedMultiplyAdd(xd, Vector512.Load(m + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(xd, Vector512.Load(m + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(xd, Vector512.Load(m + 48), a3);
            }
            a0.Store(s + j); a1.Store(s + j + 16); a2.Store(s + j + 32); a3.Store(s + j + 48);
        }
        for (; j < L; j += 16)
        {
            Vector512<float> a0 = default;
            float* m = mt + j;
            for (int d = 0; d < HS; d++, m += Tp)
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x[d]), Vector512.Load(m), a0);
            a0.Store(s + j);
        }
    }

    /// <summary>
    /// y[d] (+)= sum_j p[j] * mt[d*Tp + j] over j &lt; L, with p zero from L to the next multiple of 16:
    /// HS dot products over keys, eight head dimensions at a time sharing each load of p.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeyWeightedSums(float* y, float* p, float* mt, int HS, int Tp, int L, bool wide,
        bool accumulate)
    {
        if (!wide)
        {
            var pr = new ReadOnlySpan<float>(p, L);
            for (int dd = 0; dd < HS; dd++)
            {
                float sum = TensorPrimitives.Dot(pr, new ReadOnlySpan<float>(mt + (nint)dd * Tp, L));
                y[dd] = accumulate ? y[dd] + sum : sum;
            }
            return;
        }
        int Lv = Pad(L, 16);
        int d = 0;
        for (; d + 8 <= HS; d += 8)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
            float* m = mt + (nint)d * Tp;
            for (int j = 0; j < Lv; j += 16)
            {
                var pj = Vector512.Load(p + j);
                a0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + j), a0);
                a1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + Tp + j), a1);
                a2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 2 * Tp + j), a2);
                a3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 3 * Tp + j), a3);
                a4 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 4 * Tp + j), a4);
                a5 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 5 * Tp + j), a5);
                a6 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 6 * Tp + j), a6);
                a7 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(m + 7 * Tp + j), a7);
            }
            Put(y + d, Vector512.Sum(a0), accumulate); Put(y + d + 1, Vector512.Sum(a1), accumulate);
            Put(y + d + 2, Vector512.Sum(a2), accumulate); Put(y + d + 3, Vector512.Sum(a3), accumulate);
            Put(y + d + 4, Vector512.Sum(a4), accumulate); Put(y + d + 5, Vector512.Sum(a5), accumulate);
            Put(y + d + 6, Vector512.Sum(a6), accumulate); Put(y + d + 7, Vector512.Sum(a7), accumulate);
        }
        for (; d < HS; d++)
        {
            Vector512<float> a0 = default;
            float* m = mt + (nint)d * Tp;
            for (int j = 0; j < Lv; j += 16)
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + j), Vector512.Load(m + j), a0);
            Put(y + d, Vector512.Sum(a0), accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* y, float value, bool accumulate) => *y = accumulate ? *y + value : value;
}
