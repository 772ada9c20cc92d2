using ImageGpt.Nn.Model;
using ImageGpt.Nn.Probe;

namespace ImageGpt.Nn.Tests.Probe;

/// <summary>The blocked probe objective against its naive twin, <see cref="LogisticRegression.ObjectiveAndGradient"/>.</summary>
public sealed class ProbeObjectiveTests
{
    [Theory]
    // Awkward sizes: a partial chunk (n not a multiple of 256), one chunk short of a row, odd and single
    // features (the 2-feature tile's tail), classes that leave the 4-class tile partly padding.
    [InlineData(1, 1, 2)]
    [InlineData(17, 4, 3)]
    [InlineData(255, 3, 5)]
    [InlineData(256, 64, 10)]
    [InlineData(1000, 65, 10)]
    [InlineData(700, 196, 4)]
    [InlineData(513, 7, 11)]
    public void Matches_the_naive_objective_and_gradient(int n, int d, int k)
    {
        var rng = new SeededRandom((ulong)(n * 1000 + d * 10 + k));
        var x = Enumerable.Range(0, n * d).Select(_ => rng.NextGaussian()).ToArray();
        var y = Enumerable.Range(0, n).Select(_ => (int)(rng.NextUInt64() % (ulong)k)).ToArray();
        var w = Enumerable.Range(0, k * (d + 1)).Select(_ => 0.3 * rng.NextGaussian()).ToArray();
        // Large logits too, where an unshifted softmax would overflow.
        w[0] = 40;
        var gNaive = new double[w.Length];
        var gBlocked = new double[w.Length];
        double fNaive = LogisticRegression.ObjectiveAndGradient(x, y, d, k, 0.7, w, gNaive);
        double fBlocked = new ProbeObjective(x, y, d, k).Evaluate(0.7, w, gBlocked);
        Assert.True(Math.Abs(fBlocked - fNaive) <= 1e-12 * Math.Abs(fNaive), $"f {fBlocked} vs naive {fNaive}");
        double scale = gNaive.Max(Math.Abs);
        for (int i = 0; i < w.Length; i++)
            Assert.True(Math.Abs(gBlocked[i] - gNaive[i]) <= 1e-11 * scale, $"g[{i}] {gBlocked[i]} vs naive {gNaive[i]}");
    }

    [Fact]
    public void Repeated_evaluations_give_the_same_bits()
    {
        var rng = new SeededRandom(5);
        int n = 5000, d = 33, k = 10;
        var x = Enumerable.Range(0, n * d).Select(_ => rng.NextGaussian()).ToArray();
        var y = Enumerable.Range(0, n).Select(i => i % k).ToArray();
        var w = Enumerable.Range(0, k * (d + 1)).Select(_ => 0.1 * rng.NextGaussian()).ToArray();
        var objective = new ProbeObjective(x, y, d, k);
        var g1 = new double[w.Length];
        var g2 = new double[w.Length];
        double f1 = objective.Evaluate(2.0, w, g1);
        double f2 = objective.Evaluate(2.0, w, g2);
        Assert.Equal(BitConverter.DoubleToInt64Bits(f1), BitConverter.DoubleToInt64Bits(f2));
        Assert.Equal(g1, g2);
    }

    [Fact]
    public void A_label_outside_the_classes_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new ProbeObjective(new double[3], [0, 3, 1], 1, 3));
        Assert.Contains("label 3 outside 0..2", e.Message);
    }
}
