namespace ImageGpt.Nn.Model;

/// <summary>
/// Model FLOPs utilization (PaLM's MFU, nanoGPT's estimate_mfu): the model FLOPs a run's throughput
/// implies (<see cref="GptConfig.TrainingFlopsPerToken"/> per token: forward and backward of every weight,
/// and attention over all T keys, whatever a kernel skips) over what the cores could do at their FMA ceiling.
/// </summary>
public static class Mfu
{
    /// <summary>
    /// fp32 FMA ceiling of one core of this project's machine (AMD Zen 5, AVX-512): 2 FMA pipes x 16 lanes
    /// x 2 FLOPs = 64 FLOPs per cycle at 3.55 GHz, the highest clock measured here. The FMA-only loop
    /// (<see cref="Kernels.FmaCeiling"/>, and its C twin in tools/fma_ceiling.c) reads 205-229 GFLOP/s as the
    /// host moves the clock; an MFU against this figure is the share of the best the core does.
    /// </summary>
    public const double CoreCeilingGflops = 227.0;

    /// <summary>MFU in [0, 1] (above 1 only if the ceiling given is wrong) of `tokensPerSecond` on `cores` cores.</summary>
    public static double Of(GptConfig config, double tokensPerSecond, int cores, double coreCeilingGflops = CoreCeilingGflops)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Of(config.TrainingFlopsPerToken, tokensPerSecond, cores, coreCeilingGflops);
    }

    /// <summary>The same from the model FLOPs per token (<see cref="GptConfig.TrainingFlopsPerToken"/>).</summary>
    public static double Of(double flopsPerToken, double tokensPerSecond, int cores, double coreCeilingGflops = CoreCeilingGflops)
    {
        if (!(tokensPerSecond >= 0) || double.IsInfinity(tokensPerSecond))
            throw new ArgumentOutOfRangeException(nameof(tokensPerSecond), tokensPerSecond, "must be finite and >= 0");
        if (cores < 1) throw new ArgumentOutOfRangeException(nameof(cores), cores, "must be >= 1");
        if (!(coreCeilingGflops > 0)) throw new ArgumentOutOfRangeException(nameof(coreCeilingGflops), coreCeilingGflops, "must be > 0");
        return tokensPerSecond * flopsPerToken / (cores * coreCeilingGflops * 1e9);
    }
}
