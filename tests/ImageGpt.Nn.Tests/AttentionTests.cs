using System.Runtime.Intrinsics;
using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// The fast attention against the plain-loop <see cref="AttentionNaive"/>. Tolerance: per tensor,
/// max |fast - naive| &lt;= 1e-5 (forward) or 4e-5 (backward) times the largest |naive| value of that tensor,
/// i.e. float rounding of reordered sums over T &lt;= 130 keys, with inputs of order 1.
/// </summary>
public sealed class AttentionTests
{
    private static float[] Random(int n, int seed, float amplitude = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = amplitude * (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void AssertClose(float[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(expected.Max(MathF.Abs), 1e-30f);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= relative * scale))
                Assert.Fail($"{what}[{i}]: naive {expected[i]} fast {actual[i]} (tolerance {relative * scale:g3})");
    }

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 2, 1, 16, 2 },    // one position
        { 2, 5, 16, 2 },    // HS = 8, T far below one vector of keys
        { 1, 17, 32, 2 },   // HS = 16, T one past a vector
        { 2, 64, 32, 4 },   // HS = 8, T exactly one 64-key block
        { 1, 65, 24, 2 },   // HS = 12: head size not a multiple of 8
        { 1, 70, 96, 3 },   // HS = 32
        { 1, 67, 96, 2 },   // HS = 48: a 32- and a 16-column value strip
        { 1, 130, 5, 1 },   // HS = 5, T crosses two 64-key blocks
        { 1, 100, 128, 2 }, // HS = 64: two 32-column strips; T = 3 x 32 + 4, a short first block
    };

    private static void Check(int B, int T, int C, int NH, bool causal, int threads, bool wide)
    {
        int seed = B * 1000 + T * 10 + C;
        float[] q = Random(B * T * C, seed + 1, 2f), k = Random(B * T * C, seed + 2, 2f), v = Random(B * T * C, seed + 3);
        float[] dout = Random(B * T * C, seed + 4);
        int attLen = B * NH * T * T;
        var expectedOut = new float[B * T * C];
        var expectedAtt = new float[attLen];
        AttentionNaive.Forward(expectedOut, expectedAtt, q, k, v, B, T, C, NH, causal);
        // Garbage in out and att proves they are overwritten.
        float[] @out = Random(B * T * C, 9), att = Random(attLen, 10);
        Attention.Forward(@out, att, q, k, v, B, T, C, NH, causal, threads, wide, C);
        string shape = $"B={B} T={T} C={C} NH={NH} causal={causal} threads={threads} wide={wide}";
        AssertClose(expectedAtt, att, 1e-5, "att " + shape);
        AssertClose(expectedOut, @out, 1e-5, "out " + shape);
        if (causal)
            for (int bh = 0; bh < B * NH; bh++)
                for (int i = 0; i < T; i++)
                    for (int j = i + 1; j < T; j++)
                        Assert.Equal(0f, att[(bh * T + i) * T + j]);

        float[] dq0 = Random(B * T * C, 11), dk0 = Random(B * T * C, 12), dv0 = Random(B * T * C, 13);
        float[] edq = (float[])dq0.Clone(), edk = (float[])dk0.Clone(), edv = (float[])dv0.Clone();
        AttentionNaive.Backward(edq, edk, edv, new float[attLen], dout, expectedAtt, q, k, v, B, T, C, NH, causal);
        float[] dq = (float[])dq0.Clone(), dk = (float[])dk0.Clone(), dv = (float[])dv0.Clone();
        Attention.Backward(dq, dk, dv, Random(attLen, 14), dout, expectedAtt, q, k, v, B, T, C, NH, causal, threads, wide, C);
        // Compare the increments, so the accumulated start values do not hide small errors.
        AssertClose(Minus(edq, dq0), Minus(dq, dq0), 4e-5, "dq " + shape);
        AssertClose(Minus(edk, dk0), Minus(dk, dk0), 4e-5, "dk " + shape);
        AssertClose(Minus(edv, dv0), Minus(dv, dv0), 4e-5, "dv " + shape);
    }

    private static float[] Minus(float[] a, float[] b) => a.Zip(b, (x, y) => x - y).ToArray();

    /// <summary>(B*T, 3C) rows holding x, y, z side by side, as the model's fused q/k/v product writes them.</summary>
    private static float[] Interleave(float[] x, float[] y, float[] z, int rows, int C)
    {
        var r = new float[3 * rows * C];
        for (int i = 0; i < rows; i++)
        {
            x.AsSpan(i * C, C).CopyTo(r.AsSpan(3 * i * C, C));
            y.AsSpan(i * C, C).CopyTo(r.AsSpan(3 * i * C + C, C));
            z.AsSpan(i * C, C).CopyTo(r.AsSpan(3 * i * C + 2 * C, C));
        }
        return r;
    }

    /// <summary>Column block `part` (0, 1, 2) of (rows, 3C) rows, as a (rows, C) tensor.</summary>
    private static float[] Part(float[] fused, int part, int rows, int C)
    {
        var r = new float[rows * C];
        for (int i = 0; i < rows; i++) fused.AsSpan(3 * i * C + part * C, C).CopyTo(r.AsSpan(i * C, C));
        return r;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void QkvAsColumnBlocksOfOneFusedTensorGiveTheBitsOfSeparateTensors(int B, int T, int C, int NH)
    {
        int BT = B * T;
        float[] q = Random(BT * C, 51, 2f), k = Random(BT * C, 52, 2f), v = Random(BT * C, 53), dout = Random(BT * C, 54);
        float[] qkv = Interleave(q, k, v, BT, C);
        foreach (bool causal in new[] { true, false })
            foreach (bool wide in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                {
                    if (wide && !Vector512.IsHardwareAccelerated) continue;
                    string shape = $"B={B} T={T} C={C} NH={NH} causal={causal} wide={wide} threads={threads}";
                    float[] out1 = new float[BT * C], att1 = new float[B * NH * T * T];
                    float[] out3 = Random(BT * C, 55), att3 = Random(att1.Length, 56);
                    Attention.Forward(out1, att1, q, k, v, B, T, C, NH, causal, threads, wide, C);
                    Attention.Forward(out3, att3, qkv, qkv.AsSpan(C), qkv.AsSpan(2 * C), B, T, C, NH, causal, threads, wide, 3 * C);
                    Assert.True(out1.AsSpan().SequenceEqual(out3), "out " + shape);
                    Assert.True(att1.AsSpan().SequenceEqual(att3), "att " + shape);

                    float[] dq = new float[BT * C], dk = new float[BT * C], dv = new float[BT * C];
                    Attention.Backward(dq, dk, dv, new float[att1.Length], dout, att1, q, k, v, B, T, C, NH, causal, threads, wide, C);
                    // Garbage in the fused gradient proves every element is written.
                    float[] dqkv = Random(3 * BT * C, 57);
                    Attention.Backward(dqkv, dqkv.AsSpan(C), dqkv.AsSpan(2 * C), new float[att1.Length], dout, att1,
                        qkv, qkv.AsSpan(C), qkv.AsSpan(2 * C), B, T, C, NH, causal, threads, wide, 3 * C, overwrite: true);
                    Assert.True(dq.AsSpan().SequenceEqual(Part(dqkv, 0, BT, C)), "dq " + shape);
                    Assert.True(dk.AsSpan().SequenceEqual(Part(dqkv, 1, BT, C)), "dk " + shape);
                    Assert.True(dv.AsSpan().SequenceEqual(Part(dqkv, 2, BT, C)), "dv " + shape);

                    if (!wide || !Attention.Recomputes(C, NH)) continue;
                    float[] stats = new float[B * NH * T * 2], outS = Random(BT * C, 58);
                    Attention.ForwardStats(outS, stats, qkv, qkv.AsSpan(C), qkv.AsSpan(2 * C), B, T, C, NH, causal, threads, 3 * C);
                    Assert.True(out1.AsSpan().SequenceEqual(outS), "stats out " + shape);
                    float[] dqkvS = Random(3 * BT * C, 59);
                    Attention.BackwardRecompute(dqkvS, dqkvS.AsSpan(C), dqkvS.AsSpan(2 * C), dout, stats,
                        qkv, qkv.AsSpan(C), qkv.AsSpan(2 * C), B, T, C, NH, causal, threads, 3 * C);
                    Assert.True(dqkv.AsSpan().SequenceEqual(dqkvS), "recomputed dqkv " + shape);
                }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void CausalAttentionMatchesNaive(int B, int T, int C, int NH)
    {
        foreach (bool wide in new[] { true, false })
        {
            if (wide && !Vector512.IsHardwareAccelerated) continue;
            Check(B, T, C, NH, causal: true, threads: 1, wide);
            Check(B, T, C, NH, causal: true, threads: 2, wide);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BidirectionalAttentionMatchesNaive(int B, int T, int C, int NH)
    {
        foreach (bool wide in new[] { true, false })
        {
            if (wide && !Vector512.IsHardwareAccelerated) continue;
            Check(B, T, C, NH, causal: false, threads: 1, wide);
            Check(B, T, C, NH, causal: false, threads: 2, wide);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardOverwriteEqualsBackwardIntoZerosBitForBit(int B, int T, int C, int NH)
    {
        float[] q = Random(B * T * C, 31, 2f), k = Random(B * T * C, 32, 2f), v = Random(B * T * C, 33), dout = Random(B * T * C, 34);
        var att = new float[B * NH * T * T];
        Attention.Forward(new float[B * T * C], att, q, k, v, B, T, C, NH, causal: true);
        foreach (int threads in new[] { 1, 2 })
        {
            float[] dq = new float[B * T * C], dk = new float[B * T * C], dv = new float[B * T * C];
            Attention.Backward(dq, dk, dv, new float[att.Length], dout, att, q, k, v, B, T, C, NH, true, threads);
            // Garbage in dq, dk, dv proves they are written, not read.
            float[] oq = Random(B * T * C, 35), ok = Random(B * T * C, 36), ov = Random(B * T * C, 37);
            Attention.BackwardOverwrite(oq, ok, ov, new float[att.Length], dout, att, q, k, v, B, T, C, NH, true, threads);
            Assert.Equal(dq, oq);
            Assert.Equal(dk, ok);
            Assert.Equal(dv, ov);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RecomputingAttentionGivesTheBitsOfTheStoredProbabilityPath(int B, int T, int C, int NH)
    {
        if (!Attention.Recomputes(C, NH)) return; // head size not a multiple of 8, or no AVX-512: the model uses att
        float[] q = Random(B * T * C, 41, 2f), k = Random(B * T * C, 42, 2f), v = Random(B * T * C, 43), dout = Random(B * T * C, 44);
        foreach (bool causal in new[] { true, false })
            foreach (int threads in new[] { 1, 2 })
            {
                var expectedOut = new float[B * T * C];
                var att = new float[B * NH * T * T];
                Attention.Forward(expectedOut, att, q, k, v, B, T, C, NH, causal, threads);
                float[] edq = new float[B * T * C], edk = new float[B * T * C], edv = new float[B * T * C];
                Attention.Backward(edq, edk, edv, new float[att.Length], dout, att, q, k, v, B, T, C, NH, causal, threads);

                // Garbage in every output proves it is written, not read or accumulated.
                float[] @out = Random(B * T * C, 45), stats = Random(B * NH * T * 2, 46);
                Attention.ForwardStats(@out, stats, q, k, v, B, T, C, NH, causal, threads);
                float[] dq = Random(B * T * C, 47), dk = Random(B * T * C, 48), dv = Random(B * T * C, 49);
                Attention.BackwardRecompute(dq, dk, dv, dout, stats, q, k, v, B, T, C, NH, causal, threads);
                Assert.Equal(expectedOut, @out);
                Assert.Equal(edq, dq);
                Assert.Equal(edk, dk);
                Assert.Equal(edv, dv);

                // And against the plain loops, as Check does for the stored path.
                var naiveOut = new float[B * T * C];
                var naiveAtt = new float[att.Length];
                AttentionNaive.Forward(naiveOut, naiveAtt, q, k, v, B, T, C, NH, causal);
                float[] ndq = new float[B * T * C], ndk = new float[B * T * C], ndv = new float[B * T * C];
                AttentionNaive.Backward(ndq, ndk, ndv, new float[att.Length], dout, naiveAtt, q, k, v, B, T, C, NH, causal);
                string shape = $"B={B} T={T} C={C} NH={NH} causal={causal} threads={threads}";
                AssertClose(naiveOut, @out, 1e-5, "out " + shape);
                AssertClose(ndq, dq, 4e-5, "dq " + shape);
                AssertClose(ndk, dk, 4e-5, "dk " + shape);
                AssertClose(ndv, dv, 4e-5, "dv " + shape);
            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TwoThreadsGiveBitIdenticalResultsToOne(bool causal)
    {
        const int B = 3, T = 49, C = 32, NH = 2;
        float[] q = Random(B * T * C, 1), k = Random(B * T * C, 2), v = Random(B * T * C, 3), dout = Random(B * T * C, 4);
        var results = new List<float[]>();
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var @out = new float[B * T * C];
            var att = new float[B * NH * T * T];
            float[] dq = new float[B * T * C], dk = new float[B * T * C], dv = new float[B * T * C];
            Attention.Forward(@out, att, q, k, v, B, T, C, NH, causal, threads);
            Attention.Backward(dq, dk, dv, new float[att.Length], dout, att, q, k, v, B, T, C, NH, causal, threads);
            results.Add([.. @out, .. att, .. dq, .. dk, .. dv]);
        }
        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], results[2]);
    }

    [Fact]
    public void SoftmaxRowsSumToOneAndCausalRowZeroSeesOnlyItself()
    {
        const int B = 1, T = 20, C = 16, NH = 2;
        float[] q = Random(B * T * C, 5, 3f), k = Random(B * T * C, 6, 3f), v = Random(B * T * C, 7);
        var @out = new float[B * T * C];
        var att = new float[B * NH * T * T];
        Attention.Forward(@out, att, q, k, v, B, T, C, NH, causal: true);
        for (int row = 0; row < NH * T; row++)
            Assert.Equal(1.0, att.AsSpan(row * T, T).ToArray().Sum(x => (double)x), 5);
        // Position 0 attends only to itself, so its output is its own value vector.
        for (int d = 0; d < C; d++) Assert.Equal(v[d], @out[d], 6);
    }

    [Fact]
    public void VectorExpIsWithinTwoUlpOfMathFExpOverTheSoftmaxRange()
    {
        if (!Vector512.IsHardwareAccelerated) return;
        double worst = 0;
        for (float x0 = -87f; x0 <= 0f; x0 += 16 * 0.00731f)
        {
            var x = Vector512.Create(x0) + Vector512<float>.Indices * 0.00731f;
            x = Vector512.Min(x, Vector512<float>.Zero);
            var e = Attention.Exp(x);
            for (int i = 0; i < 16; i++)
            {
                float expected = MathF.Exp(x[i]);
                worst = Math.Max(worst, Math.Abs(e[i] - expected) / expected);
            }
        }
        Assert.True(worst <= 2.4e-7, $"worst relative error {worst:g3}");
    }
}
