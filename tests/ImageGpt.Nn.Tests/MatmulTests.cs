using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// The packed GEMM against the plain-loop <see cref="MatmulNaive"/> at awkward sizes. Tolerance per element:
/// |fast - naive| &lt;= 2·K·ε·Σ|a·b| (+ the accumulated start value), the textbook bound on two different
/// float summation orders of the same K products (ε = 2^-24 ≈ 6e-8); Σ|a·b| comes from the naive kernel
/// run on absolute values.
/// </summary>
public sealed class MatmulTests
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static float[] Abs(float[] x) => x.Select(MathF.Abs).ToArray();

    private static void AssertClose(float[] expected, float[] actual, float[] magnitude, int terms, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double bound = 2.0 * (terms + 1) * Math.Pow(2, -24);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = bound * magnitude[i] + 1e-30;
            if (!(Math.Abs(expected[i] - actual[i]) <= tol))
                Assert.Fail($"{what}[{i}]: naive {expected[i]} fast {actual[i]} (tolerance {tol:g3})");
        }
    }

    private static void CheckForward(int BT, int C, int OC, int threads, Gemm.Isa isa)
    {
        float[] inp = Random(BT * C, 1 + BT + 7 * C), weight = Random(OC * C, 2 + OC);
        var expected = new float[BT * OC];
        var magnitude = new float[BT * OC];
        MatmulNaive.Forward(expected, inp, weight, BT, C, OC);
        MatmulNaive.Forward(magnitude, Abs(inp), Abs(weight), BT, C, OC);
        // Garbage in the output proves it is overwritten, not accumulated.
        float[] actual = Random(BT * OC, 3);
        Matmul.Forward(actual, inp, weight, BT, C, OC, threads, isa);
        AssertClose(expected, actual, magnitude, C, $"out BT={BT} C={C} OC={OC} threads={threads} {isa}");
    }

    private static void CheckBackward(int BT, int C, int OC, int threads, Gemm.Isa isa)
    {
        float[] dout = Random(BT * OC, 4 + BT), inp = Random(BT * C, 5 + C), weight = Random(OC * C, 6 + OC);
        float[] dinp0 = Random(BT * C, 7), dweight0 = Random(OC * C, 8);
        float[] expectedDinp = (float[])dinp0.Clone(), expectedDweight = (float[])dweight0.Clone();
        MatmulNaive.Backward(expectedDinp, expectedDweight, dout, inp, weight, BT, C, OC);
        float[] magDinp = Abs(dinp0), magDweight = Abs(dweight0);
        MatmulNaive.Backward(magDinp, magDweight, Abs(dout), Abs(inp), Abs(weight), BT, C, OC);
        float[] dinp = (float[])dinp0.Clone(), dweight = (float[])dweight0.Clone();
        Matmul.Backward(dinp, dweight, dout, inp, weight, BT, C, OC, threads, isa);
        string shape = $"BT={BT} C={C} OC={OC} threads={threads} {isa}";
        AssertClose(expectedDinp, dinp, magDinp, OC, "dinp " + shape);
        AssertClose(expectedDweight, dweight, magDweight, BT, "dweight " + shape);
    }

    public static TheoryData<int> Isas => new() { (int)Gemm.Isa.V512, (int)Gemm.Isa.V256, (int)Gemm.Isa.Scalar };

    private static bool Runs(Gemm.Isa isa) => isa <= Gemm.Best;

    [Theory]
    [MemberData(nameof(Isas))]
    public void ForwardMatchesNaiveForEveryWidthFrom1To67(int isaValue)
    {
        var isa = (Gemm.Isa)isaValue;
        if (!Runs(isa)) return;
        for (int n = 1; n <= 67; n++)
        {
            CheckForward(19, n, 37, 1, isa);
            CheckForward(13, 29, n, 1, isa);
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void BackwardAccumulatesLikeNaiveForEveryWidthFrom1To67(int isaValue)
    {
        var isa = (Gemm.Isa)isaValue;
        if (!Runs(isa)) return;
        for (int n = 1; n <= 67; n++)
        {
            CheckBackward(19, n, 37, 1, isa);
            CheckBackward(13, 29, n, 1, isa);
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 3, 5)]
    [InlineData(300, 520, 70)]   // C crosses the 512-column block, BT is no multiple of the row tile
    [InlineData(301, 64, 270)]   // OC crosses the 256-deep K block for dinp
    [InlineData(611, 33, 17)]    // BT crosses two K blocks for dweight
    [InlineData(1000, 64, 256)]  // the small-model MLP shape, shorter (dweight reads inp in place)
    [InlineData(1100, 40, 24)]   // over 1024 rows: dinp packs a short-row weight, with a partial strip
    public void LargeAndBlockCrossingShapesMatchNaive(int BT, int C, int OC)
    {
        foreach (var isa in new[] { Gemm.Isa.V512, Gemm.Isa.V256 })
        {
            if (!Runs(isa)) continue;
            foreach (int threads in new[] { 1, 2 })
            {
                CheckForward(BT, C, OC, threads, isa);
                CheckBackward(BT, C, OC, threads, isa);
            }
        }
    }

    [Theory]
    [InlineData(19, 37, 29)]
    [InlineData(1100, 64, 256)]  // over 1024 rows: packed weight; OC crosses a K block
    [InlineData(301, 64, 270)]
    public void BackwardOverwriteWritesDinpAndAccumulatesDweightBitForBitLikeBackwardIntoZeros(int BT, int C, int OC)
    {
        float[] dout = Random(BT * OC, 21), inp = Random(BT * C, 22), weight = Random(OC * C, 23), dweight0 = Random(OC * C, 24);
        foreach (int threads in new[] { 1, 2 })
        {
            float[] dinpZero = new float[BT * C], dweightAcc = (float[])dweight0.Clone();
            Matmul.Backward(dinpZero, dweightAcc, dout, inp, weight, BT, C, OC, threads);
            // Garbage in dinp proves it is written, not read.
            float[] dinp = Random(BT * C, 25), dweight = (float[])dweight0.Clone();
            Matmul.BackwardOverwrite(dinp, dweight, dout, inp, weight, BT, C, OC, threads);
            Assert.Equal(dinpZero, dinp);
            Assert.Equal(dweightAcc, dweight);
        }
    }

    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(403, 96, 384)]
    [InlineData(6272 / 8, 64, 256)]
    public void BackwardIsBackwardInputThenBackwardWeightBitForBit(int BT, int C, int OC)
    {
        // Backward runs dinp and dweight's two halves of BT side by side; the standalone halves run one after
        // the other. Both must be the same products, whatever the threads (BT = 1: an empty first half).
        float[] dout = Random(BT * OC, 31), inp = Random(BT * C, 32), weight = Random(OC * C, 33);
        float[] dinp0 = Random(BT * C, 34), dweight0 = Random(OC * C, 35);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            float[] dinp = (float[])dinp0.Clone(), dweight = (float[])dweight0.Clone();
            Matmul.Backward(dinp, dweight, dout, inp, weight, BT, C, OC, threads);
            float[] dinpApart = (float[])dinp0.Clone(), dweightApart = (float[])dweight0.Clone();
            Matmul.BackwardInput(dinpApart, dout, weight, BT, C, OC, threads);
            Matmul.BackwardWeight(dweightApart, dout, inp, BT, C, OC, threads);
            Assert.Equal(dinpApart, dinp);
            Assert.Equal(dweightApart, dweight);
        }
    }

    [Theory]
    [InlineData(6272 / 8, 64, 64)]
    [InlineData(403, 96, 384)]
    [InlineData(250, 300, 41)]
    public void TwoThreadsGiveBitIdenticalResultsToOne(int BT, int C, int OC)
    {
        float[] inp = Random(BT * C, 11), weight = Random(OC * C, 12), dout = Random(BT * OC, 13);
        float[] dinp0 = Random(BT * C, 14), dweight0 = Random(OC * C, 15);
        var results = new List<float[]>();
        // Backward runs dinp over all the threads and dweight's two halves over half of them each (2: 2 + 1 + 1, 3: 3 + 1 + 1, 4: 4 + 2 + 2).
        foreach (int threads in new[] { 1, 2, 3, 4 })
        {
            var @out = new float[BT * OC];
            float[] dinp = (float[])dinp0.Clone(), dweight = (float[])dweight0.Clone();
            Matmul.Forward(@out, inp, weight, BT, C, OC, threads);
            Matmul.Backward(dinp, dweight, dout, inp, weight, BT, C, OC, threads);
            results.Add([.. @out, .. dinp, .. dweight]);
        }
        for (int i = 1; i < results.Count; i++) Assert.Equal(results[0], results[i]);
    }

    [Fact]
    public void ZeroDimensionsLeaveAccumulatorsAlone()
    {
        float[] dweight = [1f, 2f, 3f, 4f];
        var dinp = Array.Empty<float>();
        foreach (int threads in new[] { 1, 2 })
        {
            Matmul.Backward(dinp, dweight, [], [], [1f, 1f, 1f, 1f], 0, 2, 2, threads);
            Assert.Equal([1f, 2f, 3f, 4f], dweight);
        }
        float[] @out = [5f, 6f];
        Matmul.Forward(@out, [], [], 2, 0, 1);
        Assert.Equal([0f, 0f], @out);
    }

    [Theory]
    [InlineData(37, 24, 64)]
    [InlineData(1100, 256, 64)]  // the small model's MLP projection, over 1024 rows, K crossing a block
    [InlineData(19, 29, 37)]     // tails everywhere
    public void ForwardWithTheResidualInItsEpilogueGivesTheBitsOfForwardThenResidual(int BT, int C, int OC)
    {
        float[] inp = Random(BT * C, 71), weight = Random(OC * C, 72), residual = Random(BT * OC, 73);
        foreach (var isa in new[] { Gemm.Isa.V512, Gemm.Isa.V256, Gemm.Isa.Scalar })
        {
            if (!Runs(isa)) continue;
            foreach (int threads in new[] { 1, 2 })
            {
                float[] product = new float[BT * OC], expected = new float[BT * OC];
                Matmul.Forward(product, inp, weight, BT, C, OC, threads, isa);
                Residual.Forward(expected, residual, product, BT * OC);
                // Garbage in out proves it is written, not accumulated.
                float[] @out = Random(BT * OC, 74);
                Matmul.ForwardResidual(@out, residual, inp, weight, BT, C, OC, threads, isa);
                Assert.Equal(expected, @out);
            }
        }
    }
}
