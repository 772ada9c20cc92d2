using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageGpt.Nn;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Sampling;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt bench-sample`: tokens/s of KV-cached sampling against the naive baseline that re-runs
/// the full forward pass for every token, on one model. Prints one line per method, then one JSON
/// object as the last line.
/// </summary>
public static class BenchSampleCommand
{
    private static readonly BenchCommand.ModelOptions Model = BenchCommand.ModelOptions.Create();
    private static readonly Option<int> Batch = Cli.Int("--batch", 8, "images sampled at once");
    private static readonly Option<int> Repeats = Cli.Int("--repeats", 3, "timed repeats (the best counts)");
    private static readonly Option<int> NaivePositions = Cli.Int("--naive-positions", 8, "tokens the full-forward baseline samples");
    private static readonly Option<int> Threads = Cli.Int("--threads", 1, "compute threads");
    private static readonly Option<double> Temperature = Cli.Number("--temperature", 1.0, "sampling temperature");

    public static Command Definition { get; } = Cli.Command("bench-sample", "KV-cached sampling vs re-running the full forward per token: tokens/s",
        [.. Model.All, Batch, Repeats, NaivePositions, Threads, Temperature]);

    static BenchSampleCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult a)
    {
        var config = Model.Read(a, Objective.Autoregressive);
        int batch = a.GetValue(Batch), repeats = a.GetValue(Repeats), naivePositions = a.GetValue(NaivePositions), threads = a.GetValue(Threads);
        double temperature = a.GetValue(Temperature);
        config.Validate();
        Categorical.ValidateTemperature(temperature);
        if (batch < 1 || repeats < 1 || naivePositions < 1)
            throw new UserError("--batch, --repeats and --naive-positions must be >= 1. HINT: e.g. --batch 8 --repeats 3 --naive-positions 8");
        if (threads < 1 || threads > Environment.ProcessorCount)
            throw new UserError($"--threads {threads} is outside 1..{Environment.ProcessorCount} (this machine's cores)");

        int T = config.Seq;
        var model = new Gpt(config, batch) { Threads = threads };
        model.Init();
        // The paper's zero head makes every draw uniform; a small random head gives real distributions.
        new SeededRandom(config.Seed + 1).FillNormal(model.Parameters["head"], 0.02);
        var sampler = new Sampler(model, batch) { Threads = threads };
        var output = new int[batch * T];
        Console.WriteLine($"bench-sample: {config.Describe()}; batch {batch}, temperature {temperature}, threads {threads}");

        // Cached: whole images from SOS, B·T tokens per run; the first run warms the JIT.
        sampler.Complete(ReadOnlySpan<int>.Empty, batch, output, seed: 0, temperature);
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < repeats; r++)
            sampler.Complete(ReadOnlySpan<int>.Empty, batch, output, seed: (ulong)r + 1, temperature);
        double cachedS = sw.Elapsed.TotalSeconds;
        double cached = (double)repeats * batch * T / cachedS;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cached  {cached,10:F0} tokens/s  ({repeats} runs of {batch}x{T} tokens in {cachedS:F2} s)"));

        // Naive: every token costs one full (B,T) forward pass whatever its position, so timing the
        // first few positions measures the rate of a whole image.
        int positions = Math.Min(naivePositions, T);
        FullForwardSampler.Complete(model, ReadOnlySpan<int>.Empty, batch, output, seed: 0, temperature, maxPositions: 1);
        sw.Restart();
        FullForwardSampler.Complete(model, ReadOnlySpan<int>.Empty, batch, output, seed: 1, temperature, maxPositions: positions);
        double naiveS = sw.Elapsed.TotalSeconds;
        double naive = (double)positions * batch / naiveS;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"naive   {naive,10:F0} tokens/s  ({positions} positions x {batch} images, one full forward each, in {naiveS:F2} s)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"speedup {cached / naive:F1}x"));

        var result = new
        {
            cached_tokens_per_s = Math.Round(cached, 1),
            naive_tokens_per_s = Math.Round(naive, 1),
            speedup = Math.Round(cached / naive, 2),
            threads,
            config = new { layers = config.Layers, width = config.Width, heads = config.Heads, side = config.Side, vocab = config.Vocab, batch },
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }
}
