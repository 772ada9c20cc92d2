using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageGpt.Nn.Kernels;

// The blocked path of Attention (AVX-512, head size a multiple of 8): one (batch, head) at a time, its
// queries in blocks of QB = 32 with SIMD over the block's queries (two zmm vectors per key). Every score
// product is an 8 x 32 register tile of Gemm (8 keys or 8 head dims by the block's 32 queries), and the
// softmax's max and sum over keys are element-wise across key rows: no horizontal reduction and no
// per-query loop. The short block (T mod 32 queries) comes first, where a causal block sees fewest keys;
// a causal block stops at its last query's key, and the 32 x 32 diagonal is masked.
// Determinism: every value is a fixed sequence of vector operations over keys or queries in increasing
// order within one head, whatever the thread count.
public static unsafe partial class Attention
{
    private const int QB = 32;

    /// <summary>Queries in the first block: the remainder of T / QB (all QB when QB divides T).</summary>
    private static int FirstBlock(int T) => T % QB == 0 ? QB : T % QB;

    /// <summary>
    /// One head's forward; every pointer is at the head's first element (q, k, v rows every ld, out rows
    /// every C). Exactly one of att (this head's T x T probabilities) and stats (this head's T x 2: the
    /// subtracted maximum scale*max_j(q.k_j) and the reciprocal of the sum of exponentials, per query) is set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardHeadBlocked(float* @out, float* att, float* stats, float* q, float* k, float* v,
        int T, int C, int ld, int HS, bool causal)
    {
        int HSp = Pad(HS, 16), T8 = Pad(T, 8);
        float* qt = Buffers.Mine.Get(2 * HS * QB + QB * HSp + T8 * QB + 8 * HS + 2 * QB);
        float* ot = qt + HS * QB, tmp = ot + HS * QB, s = tmp + QB * HSp, kTail = s + T8 * QB, st = kTail + 8 * HS;
        float scale = 1f / MathF.Sqrt(HS);
        var vScale = Vector512.Create(scale);
        for (int i0 = 0, rows = FirstBlock(T); i0 < T; i0 += rows, rows = QB)
        {
            int keys = causal ? i0 + rows : T;
            Prefetch(q, k, v, ld, i0 + rows, T, HS);
            TransposeBlock(qt, q + (nint)i0 * ld, ld, rows, HS, tmp);
            // preatt^T[j, r] = k_j . q_r
            KeyTiles(s, k, ld, qt, HS, keys, T, kTail);
            // att[r, :] = softmax(scale * preatt[r, :]) over the visible keys, as max, then e = exp and its sum
            var (max0, max1) = MaskedMax(s, keys, i0, rows, causal);
            Vector512<float> m0 = max0 * vScale, m1 = max1 * vScale;
            var (sum0, sum1) = ExpAndSum(s, keys, i0, rows, causal, vScale, -m0, -m1);
            Vector512<float> inv0 = Vector512<float>.One / sum0, inv1 = Vector512<float>.One / sum1;
            inv0.Store(st); inv1.Store(st + 16);
            if (att != null) WriteProbabilities(att + (nint)i0 * T, s, keys, rows, T, st);
            else
            {
                m0.Store(st + QB); m1.Store(st + QB + 16);
                for (int r = 0; r < rows; r++) (stats[2 * (i0 + r)], stats[2 * (i0 + r) + 1]) = (st[QB + r], st[r]);
            }
            // out_r[d] = inv_r * sum_j e[j, r] v_j[d]: out^T = V^T e^T, one tile per 8 head dims
            for (int d0 = 0; d0 < HS; d0 += 8)
                Gemm.Kernel512Cols(v + d0, ld, s, QB, keys, ot + d0 * QB, QB, false);
            for (int d = 0; d < HS; d++)
            {
                (Vector512.Load(ot + d * QB) * inv0).Store(ot + d * QB);
                (Vector512.Load(ot + d * QB + 16) * inv1).Store(ot + d * QB + 16);
            }
            StoreBlock(@out + (nint)i0 * C, C, ot, rows, HS, tmp, accumulate: false);
        }
    }

    /// <summary>
    /// One head's backward (pointers at the head's first element; q, k, v, dq, dk, dv rows every ld, dout
    /// rows every C). The block's probabilities come from att (this head's T x T) or, with stats set, are
    /// recomputed as ForwardHeadBlocked made them (same tiles, same operations: the same bits). dq, dk, dv
    /// are added to, or written when overwrite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardHeadBlocked(float* dq, float* dk, float* dv, float* dout, float* att, float* stats,
        float* q, float* k, float* v, int T, int C, int ld, int HS, bool causal, bool overwrite)
    {
        int HSp = Pad(HS, 16), T8 = Pad(T, 8);
        float* qt = Buffers.Mine.Get(3 * HS * QB + 3 * QB * HSp + 2 * T8 * QB + 2 * T8 * HSp + 8 * HS + 2 * QB);
        float* gt = qt + HS * QB, dqt = gt + HS * QB, qb = dqt + HS * QB, gb = qb + QB * HSp, tmp = gb + QB * HSp;
        float* p = tmp + QB * HSp, ds = p + T8 * QB, dkAcc = ds + T8 * QB, dvAcc = dkAcc + T8 * HSp;
        float* kTail = dvAcc + T8 * HSp, st = kTail + 8 * HS;
        new Span<float>(dkAcc, 2 * T8 * HSp).Clear();
        float scale = 1f / MathF.Sqrt(HS);
        var vScale = Vector512.Create(scale);
        for (int i0 = 0, rows = FirstBlock(T); i0 < T; i0 += rows, rows = QB)
        {
            int keys = causal ? i0 + rows : T, keys8 = Pad(keys, 8);
            Prefetch(q, k, v, ld, i0 + rows, T, HS);
            Prefetch(dout, null, null, C, i0 + rows, T, HS);
            // The block's q and dout rows, zero padded to QB rows and HSp columns, and transposed.
            PadBlock(qb, q + (nint)i0 * ld, ld, rows, HS, HSp);
            PadBlock(gb, dout + (nint)i0 * C, C, rows, HS, HSp);
            TransposeBlock(qt, qb, HSp, QB, HS, tmp);
            TransposeBlock(gt, gb, HSp, QB, HS, tmp);
            if (att == null)
            {
                // forward: preatt^T[j, r] = k_j . q_r; att = exp(scale * preatt - max) * inv
                KeyTiles(p, k, ld, qt, HS, keys, T, kTail);
                for (int r = 0; r < QB; r++)
                {
                    st[r] = r < rows ? -stats[2 * (i0 + r)] : 0f;
                    st[QB + r] = r < rows ? stats[2 * (i0 + r) + 1] : 0f;
                }
                Probabilities(p, keys, i0, rows, causal, vScale, Vector512.Load(st), Vector512.Load(st + 16),
                    Vector512.Load(st + QB), Vector512.Load(st + QB + 16));
            }
            else ReadProbabilities(p, att + (nint)i0 * T, keys, rows, T);
            for (int j = keys; j < keys8; j++)
            {
                Vector512<float>.Zero.Store(p + j * QB);
                Vector512<float>.Zero.Store(p + j * QB + 16);
            }
            // forward: out_r = sum_j att[r, j] v_j
            // datt^T[j, r] = v_j . dout_r;  dv_j += sum_r att[r, j] dout_r
            KeyTiles(ds, v, ld, gt, HS, keys, T, kTail);
            KeyRowUpdates(dvAcc, p, gb, keys8, HSp);
            // forward: att[r, :] = softmax(preatt[r, :]); dpreatt = att * (datt - sum_j att datt), scale folded in
            SoftmaxBackwardBlock(p, ds, keys, keys8, vScale);
            // forward: preatt[r, j] = scale * q_r . k_j
            // dk_j += sum_r dpreatt[r, j] q_r;  dq_r = sum_j dpreatt[r, j] k_j (dq^T = K^T dpreatt^T)
            KeyRowUpdates(dkAcc, ds, qb, keys8, HSp);
            for (int d0 = 0; d0 < HS; d0 += 8)
                Gemm.Kernel512Cols(k + d0, ld, ds, QB, keys, dqt + d0 * QB, QB, false);
            StoreBlock(dq + (nint)i0 * ld, ld, dqt, rows, HS, tmp, accumulate: !overwrite);
        }
        for (int t = 0; t < T; t++)
        {
            RowOut(dk + (nint)t * ld, dkAcc + t * HSp, HS, !overwrite);
            RowOut(dv + (nint)t * ld, dvAcc + t * HSp, HS, !overwrite);
        }
    }

    /// <summary>
    /// Asks for the next block's rows of x, y and z (any may be null) to be brought into the caches while this
    /// block computes: each block is the first to touch 32 new rows of q, k, v (and dout), strided by ld
    /// floats, which the hardware prefetchers do not bring in ahead (10-20% of a head's time at head size 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* x, float* y, float* z, int ld, int from, int T, int HS)
    {
        if (!Sse.IsSupported) return;
        int to = Math.Min(T, from + QB);
        for (int t = from; t < to; t++)
            for (int d = 0; d < HS; d += 16)
            {
                nint at = (nint)t * ld + d;
                Sse.Prefetch0(x + at);
                if (y != null) Sse.Prefetch0(y + at);
                if (z != null) Sse.Prefetch0(z + at);
            }
    }

    /// <summary>
    /// s^T (keys rounded up to 8, QB) = rows (keys, stride ld) times xt (HS, QB): s[j, r] = row_j . x_r, in
    /// 8 x 32 register tiles over the head dims. A last tile past T reads a zero-padded copy of the remaining rows.
    /// </summary>
    private static void KeyTiles(float* s, float* rows, int ld, float* xt, int HS, int keys, int T, float* tail)
    {
        int tiles = Pad(keys, 8) / 8, inside = Math.Min(tiles, T / 8);
        ScoreTiles(s, rows, ld, xt, HS, inside);
        if (inside < tiles)
        {
            new Span<float>(tail, 8 * HS).Clear();
            for (int r = 0; r < T - inside * 8; r++) CopyRow(tail + r * HS, rows + (nint)(inside * 8 + r) * ld, HS);
            ScoreTiles(s + inside * 8 * QB, tail, HS, xt, HS, 1);
        }
    }

    /// <summary>
    /// `tiles` 8 x 32 tiles: s[8t + i, r] = sum_d rows[(8t + i) * ld + d] * xt[d * QB + r]. Gemm's Kernel512Rows
    /// with the loop over tiles inside: the head dims are as few as 8, so a call per tile costs about as much as its FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTiles(float* s, float* rows, nint ld, float* xt, int HS, int tiles)
    {
        for (int t = 0; t < tiles; t++, rows += 8 * ld, s += 8 * QB)
        {
            float* a0 = rows, a1 = rows + ld, a2 = rows + 2 * ld, a3 = rows + 3 * ld;
            float* a4 = rows + 4 * ld, a5 = rows + 5 * ld, a6 = rows + 6 * ld, a7 = rows + 7 * ld;
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
            float* b = xt;
            for (nint d = 0; d < HS; d++, b += QB)
            {
                Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
                Vector512<float> x = Vector512.Create(a0[d]);
                c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                x = Vector512.Create(a1[d]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                x = Vector512.Create(a2[d]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                x = Vector512.Create(a3[d]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                x = Vector512.Create(a4[d]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(a5[d]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
                x = Vector512.Create(a6[d]);
                c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
                x = Vector512.Create(a7[d]);
                c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            }
            c00.Store(s); c01.Store(s + 16); c10.Store(s + QB); c11.Store(s + QB + 16);
            c20.Store(s + 2 * QB); c21.Store(s + 2 * QB + 16); c30.Store(s + 3 * QB); c31.Store(s + 3 * QB + 16);
            c40.Store(s + 4 * QB); c41.Store(s + 4 * QB + 16); c50.Store(s + 5 * QB); c51.Store(s + 5 * QB + 16);
            c60.Store(s + 6 * QB); c61.Store(s + 6 * QB + 16); c70.Store(s + 7 * QB); c71.Store(s + 7 * QB + 16);
        }
    }

    /// <summary>acc (rows of HSp) += a (8-row tiles of QB) times b (QB, HSp): the key-row gradient updates.</summary>
    private static void KeyRowUpdates(float* acc, float* a, float* b, int keys8, int HSp)
    {
        for (int j0 = 0; j0 < keys8; j0 += 8)
        {
            int n0 = 0;
            for (; n0 + 32 <= HSp; n0 += 32)
                Gemm.Kernel512Rows(a + j0 * QB, QB, b + n0, HSp, QB, acc + j0 * HSp + n0, HSp, true);
            if (n0 < HSp)
                Gemm.Kernel512Rows16(a + j0 * QB, QB, b + n0, HSp, QB, acc + j0 * HSp + n0, HSp, true);
        }
    }

    /// <summary>Lanes (queries i0 + r of the block) that see key j: r &lt; rows and, when causal, i0 + r &gt;= j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>) Visible(int j, int i0, int rows, bool causal)
    {
        var lo = Vector512.Create(causal ? j - i0 : 0);
        var hi = Vector512.Create(rows);
        var r0 = Vector512<int>.Indices;
        var r1 = r0 + Vector512.Create(16);
        return ((Vector512.GreaterThanOrEqual(r0, lo) & Vector512.LessThan(r0, hi)).AsSingle(),
            (Vector512.GreaterThanOrEqual(r1, lo) & Vector512.LessThan(r1, hi)).AsSingle());
    }

    /// <summary>Keys every lane of a block sees: all keys before the block's first query when causal, all when not; none in a short block.</summary>
    private static int UnmaskedKeys(int keys, int i0, int rows, bool causal) => rows < QB ? 0 : causal ? i0 : keys;

    /// <summary>
    /// Per query (lane), the largest visible score; 0 for a lane that sees none (past the block's rows).
    /// vmaxps itself (Avx512F.Max): Vector512.Max orders -0 below +0 and propagates NaN with two fix-ups
    /// per call, which triples the latency of this chain; a NaN score makes its lane NaN through the sum anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Vector512<float>, Vector512<float>) MaskedMax(float* s, int keys, int i0, int rows, bool causal)
    {
        var ninf = Vector512.Create(float.NegativeInfinity);
        Vector512<float> m0 = ninf, m1 = ninf;
        int j = 0, full = UnmaskedKeys(keys, i0, rows, causal);
        for (; j < full; j++)
        {
            m0 = Avx512F.Max(m0, Vector512.Load(s + j * QB));
            m1 = Avx512F.Max(m1, Vector512.Load(s + j * QB + 16));
        }
        for (; j < keys; j++)
        {
            var (v0, v1) = Visible(j, i0, rows, causal);
            m0 = Avx512F.Max(m0, Vector512.ConditionalSelect(v0, Vector512.Load(s + j * QB), ninf));
            m1 = Avx512F.Max(m1, Vector512.ConditionalSelect(v1, Vector512.Load(s + j * QB + 16), ninf));
        }
        return (Vector512.ConditionalSelect(Vector512.Equals(m0, ninf), Vector512<float>.Zero, m0),
            Vector512.ConditionalSelect(Vector512.Equals(m1, ninf), Vector512<float>.Zero, m1));
    }

    /// <summary>s = e = Exp(FMA(s, scale, -max)) where visible, 0 elsewhere; returns the sums over keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Vector512<float>, Vector512<float>) ExpAndSum(float* s, int keys, int i0, int rows, bool causal,
        Vector512<float> vScale, Vector512<float> negMax0, Vector512<float> negMax1)
    {
        Vector512<float> sum0 = default, sum1 = default;
        int j = 0, full = UnmaskedKeys(keys, i0, rows, causal);
        for (; j < full; j++)
        {
            var e0 = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j * QB), vScale, negMax0));
            var e1 = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j * QB + 16), vScale, negMax1));
            e0.Store(s + j * QB); e1.Store(s + j * QB + 16);
            sum0 += e0; sum1 += e1;
        }
        for (; j < keys; j++)
        {
            var (v0, v1) = Visible(j, i0, rows, causal);
            var e0 = Vector512.ConditionalSelect(v0, Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j * QB), vScale, negMax0)), Vector512<float>.Zero);
            var e1 = Vector512.ConditionalSelect(v1, Exp(Vector512.FusedMultiplyAdd(Vector512.Load(s + j * QB + 16), vScale, negMax1)), Vector512<float>.Zero);
            e0.Store(s + j * QB); e1.Store(s + j * QB + 16);
            sum0 += e0; sum1 += e1;
        }
        return (sum0, sum1);
    }

    /// <summary>p = Exp(FMA(p, scale, -max)) * inv where visible, 0 elsewhere: ExpAndSum's e times the forward's inv, bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Probabilities(float* p, int keys, int i0, int rows, bool causal, Vector512<float> vScale,
        Vector512<float> negMax0, Vector512<float> negMax1, Vector512<float> inv0, Vector512<float> inv1)
    {
        int j = 0, full = UnmaskedKeys(keys, i0, rows, causal);
        for (; j < full; j++)
        {
            (Exp(Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB), vScale, negMax0)) * inv0).Store(p + j * QB);
            (Exp(Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB + 16), vScale, negMax1)) * inv1).Store(p + j * QB + 16);
        }
        for (; j < keys; j++)
        {
            var (v0, v1) = Visible(j, i0, rows, causal);
            var e0 = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB), vScale, negMax0)) * inv0;
            var e1 = Exp(Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB + 16), vScale, negMax1)) * inv1;
            Vector512.ConditionalSelect(v0, e0, Vector512<float>.Zero).Store(p + j * QB);
            Vector512.ConditionalSelect(v1, e1, Vector512<float>.Zero).Store(p + j * QB + 16);
        }
    }

    /// <summary>att rows i0.. of this head: att[r, j] = e[j, r] * inv[r] for j &lt; keys, 0 after (the products Probabilities makes).</summary>
    private static void WriteProbabilities(float* att, float* e, int keys, int rows, int T, float* inv)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = att + (nint)r * T;
            for (int j = 0; j < keys; j++) row[j] = e[j * QB + r] * inv[r];
            new Span<float>(row + keys, T - keys).Clear();
        }
    }

    /// <summary>p[j, r] = att[r, j] (att at the block's first row) for j &lt; keys and r &lt; rows, 0 for the other lanes.</summary>
    private static void ReadProbabilities(float* p, float* att, int keys, int rows, int T)
    {
        for (int j = 0; j < keys; j++)
            for (int r = 0; r < QB; r++)
                p[j * QB + r] = r < rows ? att[(nint)r * T + j] : 0f;
    }

    /// <summary>
    /// d = scale * p * (d - D) with D = sum_j p[j] d[j] per lane over the visible keys (masked p are 0);
    /// rows keys..keys8 of d become 0. D runs in two chains per lane (even and odd keys) to halve its latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxBackwardBlock(float* p, float* d, int keys, int keys8, Vector512<float> vScale)
    {
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
        int j = 0;
        for (; j + 2 <= keys; j += 2)
        {
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB), Vector512.Load(d + j * QB), a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB + 16), Vector512.Load(d + j * QB + 16), a1);
            b0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + (j + 1) * QB), Vector512.Load(d + (j + 1) * QB), b0);
            b1 = Vector512.FusedMultiplyAdd(Vector512.Load(p + (j + 1) * QB + 16), Vector512.Load(d + (j + 1) * QB + 16), b1);
        }
        if (j < keys)
        {
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB), Vector512.Load(d + j * QB), a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(p + j * QB + 16), Vector512.Load(d + j * QB + 16), a1);
        }
        Vector512<float> dot0 = a0 + b0, dot1 = a1 + b1;
        for (j = 0; j < keys; j++)
        {
            float* pj = p + j * QB, dj = d + j * QB;
            (Vector512.Load(pj) * vScale * (Vector512.Load(dj) - dot0)).Store(dj);
            (Vector512.Load(pj + 16) * vScale * (Vector512.Load(dj + 16) - dot1)).Store(dj + 16);
        }
        for (; j < keys8; j++)
        {
            Vector512<float>.Zero.Store(d + j * QB);
            Vector512<float>.Zero.Store(d + j * QB + 16);
        }
    }

    /// <summary>dst (QB, HSp) = the block's rows of src (stride ld), zero past `rows` and past HS.</summary>
    private static void PadBlock(float* dst, float* src, int ld, int rows, int HS, int HSp)
    {
        for (int r = 0; r < QB; r++)
        {
            float* o = dst + r * HSp;
            if (r < rows) CopyRow(o, src + (nint)r * ld, HS);
            for (int d = r < rows ? HS : 0; d < HSp; d += 8) Vector256<float>.Zero.Store(o + d);
        }
    }

    /// <summary>xt (HS, QB) = the block's rows of src (stride lds) transposed, zero for lanes past `rows`.</summary>
    private static void TransposeBlock(float* xt, float* src, nint lds, int rows, int HS, float* tmp)
    {
        if (rows < QB)
        {
            // A short block: its rows, zero padded to QB, first (only the first block of a head is short).
            for (int r = 0; r < QB; r++)
                if (r < rows) CopyRow(tmp + r * HS, src + r * lds, HS);
                else new Span<float>(tmp + r * HS, HS).Clear();
            src = tmp;
            lds = HS;
        }
        for (int r0 = 0; r0 < QB; r0 += 8)
            for (int d0 = 0; d0 < HS; d0 += 8)
                Gemm.Transpose8x8(src + r0 * lds + d0, lds, xt + d0 * QB + r0, QB);
    }

    /// <summary>The block's rows of dst (stride ld) (+)= xt (HS, QB) transposed, for the first `rows` lanes.</summary>
    private static void StoreBlock(float* dst, int ld, float* xt, int rows, int HS, float* tmp, bool accumulate)
    {
        if (rows == QB && !accumulate)
        {
            for (int d0 = 0; d0 < HS; d0 += 8)
                for (int r0 = 0; r0 < QB; r0 += 8)
                    Gemm.Transpose8x8(xt + d0 * QB + r0, QB, dst + (nint)r0 * ld + d0, ld);
            return;
        }
        for (int d0 = 0; d0 < HS; d0 += 8)
            for (int r0 = 0; r0 < QB; r0 += 8)
                Gemm.Transpose8x8(xt + d0 * QB + r0, QB, tmp + r0 * HS + d0, HS);
        for (int r = 0; r < rows; r++) RowOut(dst + (nint)r * ld, tmp + r * HS, HS, accumulate);
    }

    /// <summary>dst[0..HS) = src (HS a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* dst, float* src, int HS)
    {
        for (int d = 0; d < HS; d += 8) Vector256.Load(src + d).Store(dst + d);
    }

    /// <summary>
    /// dst[0..HS) += src, or = 0 + src: a written row has the bits a cleared-then-accumulated one would
    /// (0 + x turns a -0 into +0 as the accumulation does).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowOut(float* dst, float* src, int HS, bool accumulate)
    {
        for (int d = 0; d < HS; d += 8)
            ((accumulate ? Vector256.Load(dst + d) : Vector256<float>.Zero) + Vector256.Load(src + d)).Store(dst + d);
    }
}
