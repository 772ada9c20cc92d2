using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Model;

/// <summary>
/// Model FLOPs utilization (PaLM's MFU, nanoGPT's estimate_mfu): the model FLOPs a run's throughput
/// implies (<see cref="GptConfig.TrainingFlopsPerToken"/> per token: forward and backward of every weight,
/// and attention over all T keys, whatever a kernel skips) over what the cores could do at their FMA ceiling.
/// </summary>
public static class Mfu
{
    /// <summary>
    /// fp32 FMA ceiling of one core of the machine this process runs on, in GFLOP/s: the FMA-only loop
    /// (<see cref="FmaCeiling"/>, 12 zmm chains, no loads; the C loop of tools/fma_ceiling.c reads the same),
    /// best of 20 runs of about a millisecond, measured the first time it is read and kept for the process.
    /// No constant is right: machines of this project's one kind have been an AMD Zen 5 at 3.2-3.57 GHz
    /// (205-229 GFLOP/s) and an Intel Xeon with AVX-512 at 2.5-2.9 GHz (131-163 GFLOP/s), and a constant of
    /// the first (227) made every MFU on the second read 30% low. Read it (<see cref="Calibrate"/>)
    /// before the work starts: the loop measured while trainers hold the cores would share a core with them.
    /// </summary>
    public static double CoreCeilingGflops => Ceiling.Value;

    private static readonly Lazy<double> Ceiling = new(() => FmaCeiling.MeasureGflops(repeats: 20, iterations: 500_000));

    /// <summary>Measures <see cref="CoreCeilingGflops"/> now if it has not been (a few tens of milliseconds, once per process).</summary>
    public static double Calibrate() => CoreCeilingGflops;

    /// <summary>MFU in [0, 1] (above 1 only if the ceiling given is wrong) of `tokensPerSecond` on `cores` cores.</summary>
    public static double Of(GptConfig config, double tokensPerSecond, int cores, double? coreCeilingGflops = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Of(config.TrainingFlopsPerToken, tokensPerSecond, cores, coreCeilingGflops);
    }

    /// <summary>The same from the model FLOPs per token (<see cref="GptConfig.TrainingFlopsPerToken"/>).</summary>
    public static double Of(double flopsPerToken, double tokensPerSecond, int cores, double? coreCeilingGflops = null)
    {
        if (!(tokensPerSecond >= 0) || double.IsInfinity(tokensPerSecond))
            throw new ArgumentOutOfRangeException(nameof(tokensPerSecond), tokensPerSecond, "must be finite and >= 0");
        if (cores < 1) throw new ArgumentOutOfRangeException(nameof(cores), cores, "must be >= 1");
        double ceiling = coreCeilingGflops ?? CoreCeilingGflops;
        if (!(ceiling > 0)) throw new ArgumentOutOfRangeException(nameof(coreCeilingGflops), coreCeilingGflops, "must be > 0");
        return tokensPerSecond * flopsPerToken / (cores * ceiling * 1e9);
    }
}
