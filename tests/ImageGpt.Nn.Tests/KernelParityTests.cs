using System.Numerics.Tensors;
using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// Each SIMD kernel against its plain-loop twin at every size 1..67, which covers empty, partial and
/// several full Vector128/256/512 blocks plus every tail. Tolerance: relative 1e-5 of the value's
/// magnitude (the twins differ only in summation order and in exp/sigmoid approximations that are
/// within a few ulps).
/// </summary>
public sealed class KernelParityTests
{
    public static IEnumerable<object[]> Sizes() => Enumerable.Range(1, 67).Select(n => new object[] { n });

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    private static void Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, float rel = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float tol = rel * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: naive {expected[i]} vs simd {actual[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Rms_norm_simd_matches_naive_forward_and_backward(int C)
    {
        const int BT = 3;
        var x = Random(BT * C, C, 3f);
        var g = Random(C, C + 1);
        var dy = Random(BT * C, C + 2);
        float[] y1 = new float[BT * C], y2 = new float[BT * C], r1 = new float[BT], r2 = new float[BT];
        RmsNorm.ForwardNaive(y1, r1, x, g, BT, C);
        RmsNorm.Forward(y2, r2, x, g, BT, C);
        Near(y1, y2, "out");
        Near(r1, r2, "rstd");
        // Start from nonzero gradients to check that backward accumulates.
        float[] dx1 = Random(BT * C, 7), dx2 = (float[])dx1.Clone(), dg1 = Random(C, 8), dg2 = (float[])dg1.Clone();
        RmsNorm.BackwardNaive(dx1, dg1, dy, x, g, r1, BT, C);
        RmsNorm.Backward(dx2, dg2, dy, x, g, r1, BT, C);
        Near(dx1, dx2, "dinp");
        Near(dg1, dg2, "dgain");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Gelu2_simd_matches_naive_forward_and_backward(int N)
    {
        var x = Random(N, N, 6f);
        var dy = Random(N, N + 1);
        float[] y1 = new float[N], y2 = new float[N];
        Gelu2.ForwardNaive(y1, x, N);
        Gelu2.Forward(y2, x, N);
        Near(y1, y2, "out");
        float[] d1 = Random(N, 3), d2 = (float[])d1.Clone();
        Gelu2.BackwardNaive(d1, x, dy, N);
        Gelu2.Backward(d2, x, dy, N);
        Near(d1, d2, "dinp");
    }

    [Fact]
    public void Gelu2_backward_crosses_its_chunk_boundary_like_naive()
    {
        const int N = 700; // more than two 256-float chunks plus a tail
        var x = Random(N, 11, 5f);
        var dy = Random(N, 12);
        float[] d1 = new float[N], d2 = new float[N];
        Gelu2.BackwardNaive(d1, x, dy, N);
        Gelu2.Backward(d2, x, dy, N);
        Near(d1, d2, "dinp");
    }

    [Theory]
    [InlineData(2, 64)]
    [InlineData(3, 64)]
    [InlineData(2, 16)]   // one column vector: the second worker has no dgain columns
    [InlineData(3, 96)]
    [InlineData(2, 176)]  // 5 and 6 dgain column vectors per worker: a group of four, then one or two
    public void Rms_norm_split_over_threads_matches_naive_and_one_thread_bit_for_bit(int threads, int C)
    {
        int BT = (1 << 15) / C + 37; // above the parallel threshold, rows not a multiple of the thread count
        var x = Random(BT * C, 41, 3f);
        var g = Random(C, 42);
        var dy = Random(BT * C, 43);
        float[] yN = new float[BT * C], rN = new float[BT], yOne = new float[BT * C], rOne = new float[BT];
        float[] yMany = new float[BT * C], rMany = new float[BT];
        RmsNorm.ForwardNaive(yN, rN, x, g, BT, C);
        RmsNorm.Forward(yOne, rOne, x, g, BT, C);
        RmsNorm.Forward(yMany, rMany, x, g, BT, C, threads);
        Near(yN, yMany, "out");
        Assert.Equal(yOne, yMany);
        Assert.Equal(rOne, rMany);
        float[] dxN = Random(BT * C, 44), dgN = Random(C, 45);
        float[] dxOne = (float[])dxN.Clone(), dgOne = (float[])dgN.Clone(), dxMany = (float[])dxN.Clone(), dgMany = (float[])dgN.Clone();
        RmsNorm.BackwardNaive(dxN, dgN, dy, x, g, rN, BT, C);
        RmsNorm.Backward(dxOne, dgOne, dy, x, g, rN, BT, C);
        RmsNorm.Backward(dxMany, dgMany, dy, x, g, rN, BT, C, threads);
        Near(dxN, dxMany, "dinp");
        Near(dgN, dgMany, "dgain", 1e-4f); // a sum over all BT rows
        Assert.Equal(dxOne, dxMany);
        Assert.Equal(dgOne, dgMany);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Residual_split_over_threads_matches_naive_and_one_thread_bit_for_bit(int threads)
    {
        const int N = (1 << 15) + 67;
        var a = Random(N, 51);
        var b = Random(N, 52);
        float[] yN = new float[N], yOne = new float[N], yMany = new float[N];
        Residual.ForwardNaive(yN, a, b, N);
        Residual.Forward(yOne, a, b, N);
        Residual.Forward(yMany, a, b, N, threads);
        Near(yN, yMany, "out");
        Assert.Equal(yOne, yMany);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Gelu2_backward_overwrite_in_place_matches_naive_into_zeros(int threads)
    {
        const int N = (1 << 15) + 67; // above the parallel threshold, with a scalar tail
        var x = Random(N, 31, 6f);
        var dy = Random(N, 32);
        var expected = new float[N];
        Gelu2.BackwardNaive(expected, x, dy, N);
        var zeroStart = new float[N];
        Gelu2.Backward(zeroStart, x, dy, N, threads);
        // dinp is dout itself: each element is read before it is overwritten.
        var inPlace = (float[])dy.Clone();
        Gelu2.BackwardOverwrite(inPlace, x, inPlace, N, threads);
        Near(expected, inPlace, "dinp");
        for (int i = 0; i < N; i++) Assert.Equal(zeroStart[i] + 0f, inPlace[i] + 0f);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Gelu2_split_over_threads_matches_naive_and_one_thread_bit_for_bit(int threads)
    {
        const int N = (1 << 15) + 67; // above the parallel threshold, pieces not multiples of 16
        var x = Random(N, 21, 6f);
        var dy = Random(N, 22);
        float[] y1 = new float[N], yOne = new float[N], yMany = new float[N];
        Gelu2.ForwardNaive(y1, x, N);
        Gelu2.Forward(yOne, x, N);
        Gelu2.Forward(yMany, x, N, threads);
        Near(y1, yMany, "out");
        Assert.Equal(yOne, yMany);
        float[] d1 = Random(N, 23), dOne = (float[])d1.Clone(), dMany = (float[])d1.Clone();
        Gelu2.BackwardNaive(d1, x, dy, N);
        Gelu2.Backward(dOne, x, dy, N);
        Gelu2.Backward(dMany, x, dy, N, threads);
        Near(d1, dMany, "dinp");
        Assert.Equal(dOne, dMany);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Residual_simd_matches_naive_forward_and_backward(int N)
    {
        var a = Random(N, 1);
        var b = Random(N, 2);
        var dy = Random(N, 3);
        float[] y1 = new float[N], y2 = new float[N];
        Residual.ForwardNaive(y1, a, b, N);
        Residual.Forward(y2, a, b, N);
        Near(y1, y2, "out");
        float[] da1 = Random(N, 4), da2 = (float[])da1.Clone(), db1 = Random(N, 5), db2 = (float[])db1.Clone();
        Residual.BackwardNaive(da1, db1, dy, N);
        Residual.Backward(da2, db2, dy, N);
        Near(da1, da2, "da");
        Near(db1, db2, "db");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(409_963)]  // a gradient slab, above TensorPrimitives' large-array threshold
    public void Elementwise_add_scale_and_multiply_add_give_the_bits_of_tensor_primitives(int n)
    {
        float[] x = Random(n, 81, 100f), y = Random(n, 82);
        float[] expected = new float[n], actual = new float[n];
        TensorPrimitives.Add(x, y, expected);
        Elementwise.Add(x, y, actual);
        Assert.Equal(expected, actual);
        float[] inPlace = (float[])x.Clone();
        Elementwise.Add(inPlace, y, inPlace);
        Assert.Equal(expected, inPlace);

        expected = (float[])x.Clone();
        actual = (float[])x.Clone();
        TensorPrimitives.Multiply(expected, 0.37f, expected);
        Elementwise.Scale(actual, 0.37f);
        Assert.Equal(expected, actual);

        expected = (float[])y.Clone();
        actual = (float[])y.Clone();
        TensorPrimitives.MultiplyAdd(x, 0.3f, expected, expected);
        Elementwise.MultiplyAdd(x, 0.3f, actual);
        Assert.Equal(expected, actual);
        // the product is rounded before the add: a fused multiply-add would differ somewhere in this many elements
        if (n > 1000)
            Assert.Contains(Enumerable.Range(0, n), i => MathF.FusedMultiplyAdd(x[i], 0.3f, y[i]) != actual[i]);
    }

    [Fact]
    public void Elementwise_lengths_that_differ_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[3], new float[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Elementwise.MultiplyAdd(new float[3], 1f, new float[4]));
    }

    [Theory]
    [InlineData(2, 16)]
    [InlineData(3, 10)]   // rows not a multiple of the thread count, a palette that is no vector
    public void Cross_entropy_split_over_threads_matches_naive_and_one_thread_bit_for_bit(int threads, int V)
    {
        int N = (1 << 15) / V + 37; // above the parallel threshold
        var logits = Random(N * V, 61, 8f);
        int[] targets = Enumerable.Range(0, N).Select(n => (n * 7 + 3) % V).ToArray();
        float[] weights = Enumerable.Range(0, N).Select(n => n % 5 == 0 ? 0f : 1f / N).ToArray();
        float[] lN = new float[N], pN = new float[N * V], lOne = new float[N], pOne = new float[N * V];
        float[] lMany = new float[N], pMany = new float[N * V];
        CrossEntropy.ForwardNaive(lN, pN, logits, targets, N, V);
        CrossEntropy.Forward(lOne, pOne, logits, targets, N, V);
        CrossEntropy.Forward(lMany, pMany, logits, targets, N, V, threads);
        Near(pN, pMany, "probs");
        Near(lN, lMany, "losses");
        Assert.Equal(pOne, pMany);
        Assert.Equal(lOne, lMany);
        float[] dN = Random(N * V, 62), dOne = (float[])dN.Clone(), dMany = (float[])dN.Clone();
        CrossEntropy.BackwardNaive(dN, pN, targets, weights, N, V);
        CrossEntropy.Backward(dOne, pN, targets, weights, N, V);
        CrossEntropy.Backward(dMany, pN, targets, weights, N, V, threads);
        Near(dN, dMany, "dlogits");
        Assert.Equal(dOne, dMany);
    }

    [Theory]
    [InlineData(2, 64, true)]
    [InlineData(3, 40, false)]  // rows not a multiple of the thread count, C not a multiple of 16, masked positions
    public void Embedding_forward_split_over_threads_matches_naive_and_one_thread_bit_for_bit(int threads, int C, bool shifted)
    {
        const int T = 49, V = 16;
        int B = (1 << 15) / (T * C) + 3; // above the parallel threshold
        var wte = Random(V * C, 71);
        var wpe = Random(T * C, 72);
        var sos = Random(C, 73);
        int[] tokens = Enumerable.Range(0, B * T).Select(i => (i * 5 + 1) % V).ToArray();
        byte[] mask = shifted ? [] : Enumerable.Range(0, B * T).Select(i => (byte)(i % 3 == 1 ? 1 : 0)).ToArray();
        float[] yN = new float[B * T * C], yOne = new float[B * T * C], yMany = new float[B * T * C];
        Embedding.ForwardNaive(yN, tokens, mask, wte, wpe, sos, B, T, C, shifted);
        Embedding.Forward(yOne, tokens, mask, wte, wpe, sos, B, T, C, shifted);
        Embedding.Forward(yMany, tokens, mask, wte, wpe, sos, B, T, C, shifted, threads);
        Near(yN, yMany, "out");
        Assert.Equal(yOne, yMany);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Cross_entropy_simd_matches_naive_forward_and_backward(int V)
    {
        const int N = 4;
        var logits = Random(N * V, V, 8f);
        int[] targets = Enumerable.Range(0, N).Select(n => (n * 7 + V) % V).ToArray();
        float[] weights = [0.25f, 0f, 0.5f, 0.125f];
        float[] l1 = new float[N], l2 = new float[N], p1 = new float[N * V], p2 = new float[N * V];
        CrossEntropy.ForwardNaive(l1, p1, logits, targets, N, V);
        CrossEntropy.Forward(l2, p2, logits, targets, N, V);
        Near(p1, p2, "probs");
        Near(l1, l2, "losses");
        float[] d1 = Random(N * V, 9), d2 = (float[])d1.Clone();
        CrossEntropy.BackwardNaive(d1, p1, targets, weights, N, V);
        CrossEntropy.Backward(d2, p1, targets, weights, N, V);
        Near(d1, d2, "dlogits");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Mean_pool_simd_matches_naive_forward_and_backward(int C)
    {
        const int B = 2, T = 5;
        var x = Random(B * T * C, C);
        var dy = Random(B * C, C + 1);
        float[] y1 = new float[B * C], y2 = new float[B * C];
        MeanPool.ForwardNaive(y1, x, B, T, C);
        MeanPool.Forward(y2, x, B, T, C);
        Near(y1, y2, "out");
        float[] d1 = Random(B * T * C, 2), d2 = (float[])d1.Clone();
        MeanPool.BackwardNaive(d1, dy, B, T, C);
        MeanPool.Backward(d2, dy, B, T, C);
        Near(d1, d2, "dinp");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Embedding_simd_matches_naive_for_shifted_and_masked_inputs(int C)
    {
        const int B = 2, T = 6, V = 5;
        var wte = Random(V * C, 1);
        var wpe = Random(T * C, 2);
        var sos = Random(C, 3);
        int[] tokens = Enumerable.Range(0, B * T).Select(i => (i * 3 + C) % V).ToArray();
        byte[] mask = Enumerable.Range(0, B * T).Select(i => (byte)(i % 4 == 1 ? 1 : 0)).ToArray();
        var dy = Random(B * T * C, 4);
        foreach (bool shifted in new[] { true, false })
        {
            byte[] m = shifted ? [] : mask;
            float[] y1 = new float[B * T * C], y2 = new float[B * T * C];
            Embedding.ForwardNaive(y1, tokens, m, wte, wpe, sos, B, T, C, shifted);
            Embedding.Forward(y2, tokens, m, wte, wpe, sos, B, T, C, shifted);
            Near(y1, y2, $"out shifted={shifted}");
            float[] dwte1 = Random(V * C, 5), dwpe1 = Random(T * C, 6), dsos1 = Random(C, 7);
            float[] dwte2 = (float[])dwte1.Clone(), dwpe2 = (float[])dwpe1.Clone(), dsos2 = (float[])dsos1.Clone();
            Embedding.BackwardNaive(dwte1, dwpe1, dsos1, dy, tokens, m, B, T, C, shifted);
            Embedding.Backward(dwte2, dwpe2, dsos2, dy, tokens, m, B, T, C, shifted);
            Near(dwte1, dwte2, "dwte");
            Near(dwpe1, dwpe2, "dwpe");
            Near(dsos1, dsos2, "dsos");
        }
    }

    [Fact]
    public void Autoregressive_embedding_puts_sos_first_and_shifts_tokens_right()
    {
        const int T = 3, C = 2;
        float[] wte = [10, 11, 20, 21, 30, 31];
        float[] wpe = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f];
        float[] sos = [-1, -2];
        var y = new float[T * C];
        Embedding.Forward(y, [2, 0, 1], [], wte, wpe, sos, 1, T, C, shifted: true);
        Assert.Equal([-0.9f, -1.8f, 30.3f, 31.4f, 10.5f, 11.6f], y);
    }

    [Fact]
    public void Masked_embedding_zeroes_masked_tokens_and_keeps_their_positions()
    {
        const int T = 3, C = 2;
        float[] wte = [10, 11, 20, 21, 30, 31];
        float[] wpe = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f];
        var y = new float[T * C];
        Embedding.Forward(y, [2, 0, 1], [0, 1, 0], wte, wpe, [9, 9], 1, T, C, shifted: false);
        Assert.Equal([30.1f, 31.2f, 0.3f, 0.4f, 20.5f, 21.6f], y);
    }
}
