using ImageGpt.Nn.Model;
using ImageGpt.Nn.Sampling;

namespace ImageGpt.Nn.Tests.Sampling;

/// <summary>The categorical draw against known probabilities: frequencies, temperature, edge cases.</summary>
public sealed class CategoricalTests
{
    /// <summary>Pearson's statistic of observed counts against expected probabilities.</summary>
    private static double ChiSquare(int[] counts, double[] p, int n)
    {
        double chi = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double e = n * p[i];
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    private static int[] Draw(float[] logits, double temperature, int n, ulong seed)
    {
        var rng = new SeededRandom(seed);
        var counts = new int[logits.Length];
        for (int i = 0; i < n; i++) counts[Categorical.Sample(logits, temperature, rng)]++;
        return counts;
    }

    // 1e-6 upper quantiles of chi-square: df 4 -> 33.38, df 3 -> 30.66 (a wrong sampler lands in the thousands).
    [Theory]
    [InlineData(1.0, 33.38)]
    [InlineData(2.0, 33.38)]
    [InlineData(0.5, 33.38)]
    public void Draw_frequencies_match_softmax_of_logits_over_temperature(double temperature, double critical)
    {
        double[] p = [0.5, 0.25, 0.125, 0.0625, 0.0625];
        var logits = p.Select(x => (float)(Math.Log(x) + 3.0)).ToArray(); // a shift must not matter
        var expected = p.Select(x => Math.Pow(x, 1 / temperature)).ToArray();
        double z = expected.Sum();
        expected = expected.Select(x => x / z).ToArray();
        const int n = 200_000;
        var counts = Draw(logits, temperature, n, 11);
        Assert.InRange(ChiSquare(counts, expected, n), 0, critical);
    }

    [Fact]
    public void A_token_with_minus_infinity_logit_is_never_drawn_and_the_rest_keep_their_odds()
    {
        float[] logits = [0f, float.NegativeInfinity, MathF.Log(3f), 0f];
        const int n = 100_000;
        var counts = Draw(logits, 1.0, n, 12);
        Assert.Equal(0, counts[1]);
        Assert.InRange(ChiSquare([counts[0], counts[2], counts[3]], [0.2, 0.6, 0.2], n), 0, 30.66);
    }

    [Fact]
    public void A_tiny_temperature_always_draws_the_argmax()
    {
        float[] logits = [0.3f, 1.2f, 1.1f, -4f, 1.15f];
        var counts = Draw(logits, 1e-3, 10_000, 13);
        Assert.Equal(10_000, counts[1]);
    }

    [Fact]
    public void The_same_seed_gives_the_same_draws()
    {
        float[] logits = [0.1f, 0.2f, 0.3f, 0.4f];
        var a = new SeededRandom(5);
        var b = new SeededRandom(5);
        for (int i = 0; i < 1000; i++)
            Assert.Equal(Categorical.Sample(logits, 1.0, a), Categorical.Sample(logits, 1.0, b));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_temperature_that_is_not_a_positive_finite_number_is_a_user_error(double temperature)
    {
        var e = Assert.Throws<UserError>(() => Categorical.ValidateTemperature(temperature));
        Assert.Contains("HINT", e.Message);
        Assert.Throws<UserError>(() => Categorical.Sample([0f, 1f], temperature, new SeededRandom(1)));
    }

    [Fact]
    public void Nan_logits_are_rejected()
    {
        float[] logits = [0f, float.NaN];
        Assert.Throws<ArgumentException>(() => Categorical.Sample(logits, 1.0, new SeededRandom(1)));
    }
}
