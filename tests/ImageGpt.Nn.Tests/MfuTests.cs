using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>Model FLOPs utilization: the model's FLOPs per token times tokens/s over the cores' ceiling.</summary>
public sealed class MfuTests
{
    private static readonly GptConfig Default = new(8, 64, 4, 16, 14, 0, Objective.Autoregressive, 1);

    [Fact]
    public void Mfu_is_model_flops_per_second_over_cores_times_the_core_ceiling()
    {
        // L8 d64 H4 T196 V16: 72·8·64² + 12·8·196·64 + 6·64·16 = 3,569,664 FLOPs per token.
        Assert.Equal(3_569_664.0, Default.TrainingFlopsPerToken);
        // 40,000 tokens/s on one core: 142.8 GFLOP/s, of this core's measured ceiling when none is given.
        Assert.Equal(40_000 * 3_569_664.0 / (Mfu.CoreCeilingGflops * 1e9), Mfu.Of(Default, 40_000, cores: 1), 12);
        Assert.Equal(40_000 * 3_569_664.0 / 227e9, Mfu.Of(Default, 40_000, cores: 1, coreCeilingGflops: 227), 12);
        // Two cores double the denominator.
        Assert.Equal(Mfu.Of(Default, 40_000, 1, 200) / 2, Mfu.Of(Default, 40_000, cores: 2, coreCeilingGflops: 200), 12);
        Assert.Equal(0, Mfu.Of(Default, 0, 1));
    }

    [Fact]
    public void The_core_ceiling_is_measured_once_per_process()
    {
        // No timing assertion: the figure is this machine's. Measured once and kept, so every MFU of a process
        // has one denominator.
        double first = Mfu.Calibrate();
        Assert.True(first > 0 && double.IsFinite(first), $"{first}");
        Assert.Equal(first, Mfu.CoreCeilingGflops);
        Assert.Equal(first, Mfu.Calibrate());
    }

    [Theory]
    [InlineData(-1.0, 1, 227.0)]
    [InlineData(double.NaN, 1, 227.0)]
    [InlineData(double.PositiveInfinity, 1, 227.0)]
    [InlineData(1000.0, 0, 227.0)]
    [InlineData(1000.0, 1, 0.0)]
    [InlineData(1000.0, 1, double.NaN)]
    public void Impossible_inputs_are_refused(double tokensPerSecond, int cores, double ceiling)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Mfu.Of(Default, tokensPerSecond, cores, ceiling));
    }

    [Fact]
    public void The_measured_fma_ceiling_is_a_positive_finite_rate()
    {
        // No timing assertion: the figure depends on the machine; only that the loop runs and reports a rate.
        double g = FmaCeiling.MeasureGflops(repeats: 1, iterations: 10_000);
        Assert.True(g > 0 && double.IsFinite(g), $"{g}");
    }
}
