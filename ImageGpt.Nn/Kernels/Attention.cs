using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Multi-head scaled dot-product attention, one (batch, head) pair at a time. The head's keys and values
/// are first copied transposed (HS x Tp, zero padded to a multiple of 64 keys) so that every inner loop
/// runs SIMD over keys, which is long (T = 196) while the head size is short (HS = 8..32). Causal rows
/// stop at their diagonal: masked keys are never computed. Threads take whole (batch, head) pairs and
/// every output element is written by one thread in a fixed order, so results do not depend on `threads`.
/// </summary>
public static unsafe class Attention
{
    // q,k,v (B,T,C), head h in columns [h*HS,(h+1)*HS); att (B,NH,T,T) softmax probabilities; out (B,T,C)
    public static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
        => Forward(@out, att, q, k, v, B, T, C, NH, causal, threads, Vector512.IsHardwareAccelerated);

    internal static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads, bool wide)
    {
        int HS = CheckShape(B, T, C, NH);
        long btc = (long)B * T * C;
        CheckLength(@out.Length, btc, nameof(@out));
        CheckLength(att.Length, (long)B * NH * T * T, nameof(att));
        CheckLength(q.Length, btc, nameof(q));
        CheckLength(k.Length, btc, nameof(k));
        CheckLength(v.Length, btc, nameof(v));
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* o = @out, a = att, qp = q, kp = k, vp = v)
        {
            nint op = (nint)o, ap = (nint)a, qq = (nint)qp, kk = (nint)kp, vv = (nint)vp;
            ForEachHead(B * NH, threads, bh =>
                ForwardHead((float*)op, (float*)ap, (float*)qq, (float*)kk, (float*)vv, bh / NH, bh % NH,
                    T, C, NH, HS, causal, wide));
        }
    }

    // dout (B,T,C), att (B,NH,T,T), q,k,v (B,T,C); dq,dk,dv (B,T,C) accumulate; scratch unused here
    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
        => Backward(dq, dk, dv, scratch, dout, att, q, k, v, B, T, C, NH, causal, threads,
            Vector512.IsHardwareAccelerated);

    internal static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads, bool wide)
    {
        int HS = CheckShape(B, T, C, NH);
        long btc = (long)B * T * C;
        CheckLength(dq.Length, btc, nameof(dq));
        CheckLength(dk.Length, btc, nameof(dk));
        CheckLength(dv.Length, btc, nameof(dv));
        CheckLength(dout.Length, btc, nameof(dout));
        CheckLength(q.Length, btc, nameof(q));
        CheckLength(k.Length, btc, nameof(k));
        CheckLength(v.Length, btc, nameof(v));
        CheckLength(att.Length, (long)B * NH * T * T, nameof(att));
        // The contract reserves B*NH*T*T floats of scratch; this kernel works in per-thread buffers instead.
        CheckLength(scratch.Length, (long)B * NH * T * T, nameof(scratch));
        if (B == 0 || T == 0 || C == 0) return;
        fixed (float* dqp = dq, dkp = dk, dvp = dv, g = dout, a = att, qp = q, kp = k, vp = v)
        {
            nint p0 = (nint)dqp, p1 = (nint)dkp, p2 = (nint)dvp, p3 = (nint)g, p4 = (nint)a;
            nint p5 = (nint)qp, p6 = (nint)kp, p7 = (nint)vp;
            ForEachHead(B * NH, threads, bh =>
                BackwardHead((float*)p0, (float*)p1, (float*)p2, (float*)p3, (float*)p4, (float*)p5, (float*)p6,
                    (float*)p7, bh / NH, bh % NH, T, C, NH, HS, causal, wide));
        }
    }

    private static int CheckShape(int B, int T, int C, int NH)
    {
        if (B < 0 || T < 0 || C < 0 || NH <= 0 || C % NH != 0)
            throw new ArgumentException($"bad attention shape B={B} T={T} C={C} NH={NH} (C must be a multiple of NH)");
        return C / NH;
    }

    private static void CheckLength(int actual, long needed, string name)
    {
        if (actual < needed)
            throw new ArgumentException($"{name} has {actual} floats, needs {needed}", name);
    }

    /// <summary>Runs heads [0, count) split into `threads` fixed contiguous ranges.</summary>
    private static void ForEachHead(int count, int threads, Action<int> head)
    {
        threads = Math.Clamp(threads, 1, Math.Max(1, count));
        if (threads == 1)
        {
            for (int i = 0; i < count; i++) head(i);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int i0 = (int)((long)count * t / threads), i1 = (int)((long)count * (t + 1) / threads);
            for (int i = i0; i < i1; i++) head(i);
        });
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

    /// <summary>dst (HS, Tp) = src rows t (stride C) transposed, zero beyond T.</summary>
    private static void Transpose(float* dst, float* src, int T, int Tp, int C, int HS)
    {
        for (int d = 0; d < HS; d++)
        {
            float* row = dst + (nint)d * Tp;
            for (int t = 0; t < T; t++) row[t] = src[(nint)t * C + d];
            new Span<float>(row + T, Tp - T).Clear();
        }
    }

    private static void ForwardHead(float* @out, float* att, float* q, float* k, float* v, int b, int h,
        int T, int C, int NH, int HS, bool causal, bool wide)
    {
        int Tp = Pad(T, 64);
        float* buf = Buffers.Mine.Get(2 * HS * Tp + Tp);
        float* kt = buf, vt = buf + HS * Tp, s = buf + 2 * HS * Tp;
        nint head = (nint)b * T * C + h * HS;
        Transpose(kt, k + head, T, Tp, C, HS);
        Transpose(vt, v + head, T, Tp, C, HS);
        float scale = 1f / MathF.Sqrt(HS);
        for (int i = 0; i < T; i++)
        {
            int L = causal ? i + 1 : T;
            float* qi = q + head + (nint)i * C;
            // preatt[j] = scale * q_i . k_j for the L visible keys
            KeyDots(s, qi, kt, HS, Tp, L, wide);
            var row = new Span<float>(s, L);
            TensorPrimitives.Multiply(row, scale, row);
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
            // Zeros after the visible keys let the value sum run over whole vectors.
            new Span<float>(s + L, Pad(L, 16) - L).Clear();
            float* attRow = att + (((nint)b * NH + h) * T + i) * T;
            row.CopyTo(new Span<float>(attRow, L));
            new Span<float>(attRow + L, T - L).Clear();
            // out_i[d] = sum_j att[j] * v_j[d]
            KeyWeightedSums(@out + head + (nint)i * C, s, vt, HS, Tp, L, wide, accumulate: false);
        }
    }

    private static void BackwardHead(float* dq, float* dk, float* dv, float* dout, float* att, float* q, float* k,
        float* v, int b, int h, int T, int C, int NH, int HS, bool causal, bool wide)
    {
        int Tp = Pad(T, 64);
        float* buf = Buffers.Mine.Get(4 * HS * Tp + Tp);
        float* kt = buf, vt = buf + HS * Tp, dkt = buf + 2 * HS * Tp, dvt = buf + 3 * HS * Tp, ds = buf + 4 * HS * Tp;
        nint head = (nint)b * T * C + h * HS;
        Transpose(kt, k + head, T, Tp, C, HS);
        Transpose(vt, v + head, T, Tp, C, HS);
        new Span<float>(dkt, 2 * HS * Tp).Clear();
        float scale = 1f / MathF.Sqrt(HS);
        for (int i = 0; i < T; i++)
        {
            int L = causal ? i + 1 : T;
            nint row = head + (nint)i * C;
            var p = new ReadOnlySpan<float>(att + (((nint)b * NH + h) * T + i) * T, L);
            // forward: out_i[d] = sum_j att[i,j] * v_j[d]
            // datt[j] = dout_i . v_j;  dv_j[d] += att[i,j] * dout_i[d]
            KeyDots(ds, dout + row, vt, HS, Tp, L, wide);
            for (int d = 0; d < HS; d++)
            {
                var dvRow = new Span<float>(dvt + (nint)d * Tp, L);
                TensorPrimitives.MultiplyAdd(p, dout[row + d], dvRow, dvRow);
            }
            // forward: att[i,:] = softmax(preatt[i,:]); dpreatt[j] = att[j] * (datt[j] - sum_j' att[j'] datt[j'])
            var dsRow = new Span<float>(ds, L);
            float dot = TensorPrimitives.Dot(p, dsRow);
            TensorPrimitives.Subtract(dsRow, dot, dsRow);
            TensorPrimitives.Multiply(dsRow, p, dsRow);
            // forward: preatt[i,j] = scale * q_i . k_j;  the scale is folded into dpreatt here
            TensorPrimitives.Multiply(dsRow, scale, dsRow);
            new Span<float>(ds + L, Pad(L, 16) - L).Clear();
            // dq_i[d] += sum_j dpreatt[j] * k_j[d];  dk_j[d] += dpreatt[j] * q_i[d]
            KeyWeightedSums(dq + row, ds, kt, HS, Tp, L, wide, accumulate: true);
            for (int d = 0; d < HS; d++)
            {
                var dkRow = new Span<float>(dkt + (nint)d * Tp, L);
                TensorPrimitives.MultiplyAdd(dsRow, q[row + d], dkRow, dkRow);
            }
        }
        for (int t = 0; t < T; t++)
        {
            float* dkt0 = dk + head + (nint)t * C, dvt0 = dv + head + (nint)t * C;
            for (int d = 0; d < HS; d++)
            {
                dkt0[d] += dkt[(nint)d * Tp + t];
                dvt0[d] += dvt[(nint)d * Tp + t];
            }
        }
    }

    /// <summary>
    /// s[j] = sum_d x[d] * mt[d*Tp + j] for j &lt; L (and up to the next multiple of 16, harmlessly):
    /// one query against L transposed keys, SIMD over keys, four key vectors in flight.
    /// </summary>
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
