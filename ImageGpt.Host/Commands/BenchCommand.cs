using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageGpt.Nn;
using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Torch;
using ImageGpt.Nn.Training;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt bench`: full training steps (forward, backward, clip, Adam) on synthetic tokens.
/// Prints one line per timed step, then one JSON object as the last line (read by tools/bench_compare.sh).
/// MFU is given against this core's FMA ceiling measured at start (<see cref="Mfu.CoreCeilingGflops"/>, what
/// `train` reports against) and against the higher of that and the FMA-only loop measured again after the timed
/// steps (the host moves the clock; see <see cref="FmaCeiling"/>).
/// With --backend torch it times a trainer of each backend in the same process instead (see <see cref="RunBoth"/>).
/// </summary>
public static class BenchCommand
{
    /// <summary>The model options of the benchmarks (the default run's model).</summary>
    internal sealed record ModelOptions(Option<int> Layers, Option<int> Width, Option<int> Heads, Option<int> Vocab, Option<int> Side, Option<ulong> Seed)
    {
        public static ModelOptions Create() => new(
            Cli.Int("--layers", 8, "transformer blocks"), Cli.Int("--width", 64, "model width d"), Cli.Int("--heads", 4, "attention heads"),
            Cli.Int("--vocab", 16, "palette size"), Cli.Int("--side", 14, "image side (sequence = side x side)"), Cli.Seed("--seed", 1, "initialisation seed"));

        public Option[] All => [Layers, Width, Heads, Vocab, Side, Seed];

        public GptConfig Read(ParseResult a, Objective objective) => new(
            Layers: a.GetValue(Layers), Width: a.GetValue(Width), Heads: a.GetValue(Heads), Vocab: a.GetValue(Vocab), Side: a.GetValue(Side),
            Classes: 0, Objective: objective, Seed: a.GetValue(Seed));
    }

    private static readonly ModelOptions Model = ModelOptions.Create();
    private static readonly Option<bool> Bert = Cli.Flag("--bert", "the BERT objective instead of the autoregressive one");
    private static readonly Option<int> Batch = Cli.Int("--batch", 32, "images per step");
    private static readonly Option<int> Steps = Cli.Int("--steps", 20, "timed steps");
    private static readonly Option<int> WarmupSteps = Cli.Int("--warmup-steps", 20, "untimed steps first, while the JIT compiles in the background (fewer make two-thread figures read low)");
    private static readonly Option<int> Threads = Cli.Int("--threads", 1, "compute threads");
    private static readonly Option<bool> Profile = Cli.Flag("--profile", "time every kernel");
    private static readonly Option<string> Backend = Cli.Text("--backend", "nn", "nn (ours alone) or torch (a libtorch trainer beside ours, alternating rounds)", "B");
    private static readonly Option<int> Rounds = Cli.Int("--rounds", 3, "timed rounds per backend with --backend torch");

    public static Command Definition { get; } = Cli.Command("bench", "full training steps on synthetic tokens: tokens/s, GFLOP/s, MFU (against the FMA ceiling measured at start, and after), peak RSS",
        [.. Model.All, Bert, Batch, Steps, WarmupSteps, Threads, Profile, Backend, Rounds]);

    static BenchCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult a)
    {
        string backendText = a.GetValue(Backend)!;
        if (!ComputeBackends.TryParse(backendText, out var backend))
            throw new UserError($"--backend '{backendText}' is not a backend. HINT: use nn (ours alone) or torch (libtorch beside ours)");
        int rounds = a.GetValue(Rounds);
        var config = Model.Read(a, a.GetValue(Bert) ? Objective.Bert : Objective.Autoregressive);
        int batch = a.GetValue(Batch), steps = a.GetValue(Steps), warmup = a.GetValue(WarmupSteps), threads = a.GetValue(Threads);
        bool profile = a.GetValue(Profile);
        config.Validate();
        if (batch < 1 || steps < 1 || warmup < 0) throw new UserError("--batch and --steps must be >= 1 and --warmup-steps >= 0");
        if (threads < 1 || threads > Environment.ProcessorCount)
            throw new UserError($"--threads {threads} is outside 1..{Environment.ProcessorCount} (this machine's cores)");
        if (backend == ComputeBackend.Torch)
        {
            if (profile) throw new UserError("--profile times our kernels only. HINT: drop --profile with --backend torch");
            if (rounds < 1) throw new UserError($"--rounds {rounds} must be >= 1");
            return RunBoth(config, batch, steps, warmup, threads, rounds);
        }

        int T = config.Seq;
        var model = new Gpt(config, batch) { Threads = threads };
        model.Init();
        var adam = new Adam(model.Parameters);
        var schedule = new LrSchedule(3e-3, Math.Max(1, warmup), warmup + steps);
        var rng = new Random(1234);
        var tokens = new int[batch * T];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.Next(config.Vocab);
        var mask = new byte[config.Objective == Objective.Bert ? batch * T : 0];
        for (int i = 0; i < mask.Length; i++) mask[i] = (byte)(i % 7 == 0 ? 1 : 0);

        Console.WriteLine($"bench: {config.Describe()}; batch {batch}, {batch * T} tokens/step, threads {threads}");
        double flopsPerStep = config.TrainingFlopsPerToken * batch * T;
        double ceilingBefore = Mfu.Calibrate();
        var sw = new Stopwatch();
        var process = Process.GetCurrentProcess();
        TimeSpan cpuStart = default;
        float loss = 0;
        for (int step = 0; step < warmup + steps; step++)
        {
            if (step == warmup)
            {
                process.Refresh();
                cpuStart = process.TotalProcessorTime;
                sw.Start();
                KernelProfile.Reset();
                KernelProfile.Enabled = profile;
            }
            var t0 = sw.Elapsed;
            long t = KernelProfile.Start();
            model.ZeroGrad();
            KernelProfile.Lap(ref t, KernelKind.Other);
            loss = model.Forward(tokens, default, mask);
            model.Backward();
            t = KernelProfile.Start();
            Adam.ClipGradNorm(model.Gradients.Data, 1.0f);
            KernelProfile.Lap(ref t, KernelKind.Clip);
            adam.Update(model.Gradients.Data, schedule.At(step));
            KernelProfile.Lap(ref t, KernelKind.Adam);
            if (step >= warmup)
            {
                double s = (sw.Elapsed - t0).TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {step - warmup + 1}/{steps}  loss {loss:F4}  {s * 1e3:F1} ms  {batch * T / s:F0} tokens/s  {flopsPerStep / s / 1e9:F1} GFLOP/s  MFU {100 * Mfu.Of(config, batch * T / s, threads, ceilingBefore):F1}%"));
            }
        }
        sw.Stop();
        KernelProfile.Enabled = false;
        // The clock of the timed steps lies between the two measurements; the higher one is the fairer ceiling.
        double ceilingNow = Math.Max(ceilingBefore, FmaCeiling.MeasureGflops());
        process.Refresh();
        // CPU seconds beside wall seconds: on a shared machine the wall clock counts time the process waited for a core.
        double cpuSeconds = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        double seconds = sw.Elapsed.TotalSeconds;
        double tokensPerS = (double)steps * batch * T / seconds;
        double gflops = flopsPerStep * steps / seconds / 1e9;
        var result = new
        {
            tokens_per_s = Math.Round(tokensPerS, 1),
            gflops = Math.Round(gflops, 2),
            mfu = Math.Round(Mfu.Of(config, tokensPerS, threads, ceilingBefore), 4),
            mfu_now = Math.Round(Mfu.Of(config, tokensPerS, threads, ceilingNow), 4),
            ceiling_now_gflops = Math.Round(ceilingNow, 1),
            @params = config.ParameterCount,
            threads,
            tokens_per_cpu_s = Math.Round((double)steps * batch * T / cpuSeconds, 1),
            peak_rss_mb = PeakRssMb(),
            final_loss = loss,
            config = new { layers = config.Layers, width = config.Width, heads = config.Heads, side = config.Side, vocab = config.Vocab, batch, steps },
        };
        if (profile) PrintProfile(sw.Elapsed.TotalMilliseconds, steps);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>
    /// --backend torch: one trainer of each backend, as the actors run them (a shard's forward and backward through
    /// <see cref="IShardWorker"/>, then our clip and Adam), from the same weights on the same tokens, in the same
    /// process. Both warm up, then the timed rounds alternate (nn, torch, nn, torch, ...) so that a busy machine
    /// slows both alike; each backend's best round counts. Peak RSS is read after our first round (before libtorch
    /// is touched) and at the end. Prints libtorch's threads and the environment settings that change its speed.
    /// </summary>
    private static int RunBoth(GptConfig config, int batch, int steps, int warmup, int threads, int rounds)
    {
        int T = config.Seq;
        var rng = new Random(1234);
        var tokens = new ushort[batch * T];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (ushort)rng.Next(config.Vocab);
        var shard = new ShardBatch(new ShardId(0, 0, 0), tokens, new int[batch], Enumerable.Range(0, batch).ToArray(), T);
        Console.WriteLine($"bench: {config.Describe()}; batch {batch}, {batch * T} tokens/step, threads {threads}; {rounds} rounds of {steps} steps per backend");

        var nn = new Trainer(ComputeBackend.Nn, config, batch, threads, warmup + rounds * steps);
        nn.Steps(shard, warmup);
        double nnBest = double.MaxValue, torchBest = double.MaxValue;
        var nnRounds = new List<double>();
        var torchRounds = new List<double>();
        double nnPeak = 0;
        Trainer? torch = null;
        for (int r = 0; r < rounds; r++)
        {
            double s = nn.Steps(shard, steps);
            nnRounds.Add(Math.Round(steps * batch * T / s, 1));
            nnBest = Math.Min(nnBest, s);
            if (r == 0)
            {
                nnPeak = PeakRssMb();
                torch = new Trainer(ComputeBackend.Torch, config, batch, threads, warmup + rounds * steps);
                torch.Steps(shard, warmup);
            }
            double t = torch!.Steps(shard, steps);
            torchRounds.Add(Math.Round(steps * batch * T / t, 1));
            torchBest = Math.Min(torchBest, t);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {r + 1}/{rounds}  nn {nnRounds[^1]:F0} tokens/s (loss {nn.Loss:F4})  torch {torchRounds[^1]:F0} tokens/s (loss {torch.Loss:F4})"));
        }
        double nnTps = steps * batch * T / nnBest, torchTps = steps * batch * T / torchBest;
        var settings = TorchSettings();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"best round: nn {nnTps:F0} tokens/s, torch {torchTps:F0} tokens/s, torch/nn {torchTps / nnTps:F3}; peak RSS {nnPeak:F0} MB with nn alone, {PeakRssMb():F0} MB with both"));
        Console.WriteLine($"libtorch {LibTorch.Version}: {TorchSharp.torch.get_num_threads()} intra-op thread(s); " +
                          string.Join(", ", settings.Select(kv => $"{kv.Key}={kv.Value}")));
        var result = new
        {
            backend = "torch",
            threads,
            tokens_per_s = Math.Round(nnTps, 1),
            torch_tokens_per_s = Math.Round(torchTps, 1),
            torch_over_nn = Math.Round(torchTps / nnTps, 4),
            nn_rounds = nnRounds,
            torch_rounds = torchRounds,
            peak_rss_mb_nn = Math.Round(nnPeak, 1),
            peak_rss_mb_both = Math.Round(PeakRssMb(), 1),
            libtorch = LibTorch.Version,
            torch_threads = TorchSharp.torch.get_num_threads(),
            environment = settings,
            final_loss = new { nn = nn.Loss, torch = torch!.Loss },
            config = new { layers = config.Layers, width = config.Width, heads = config.Heads, side = config.Side, vocab = config.Vocab, batch, steps, rounds },
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>One trainer's replica with its own copy of the initial weights and our optimizer, as a run's aggregator applies it.</summary>
    private sealed class Trainer
    {
        private readonly ParameterSlab _parameters;
        private readonly IShardWorker _worker;
        private readonly Adam _adam;
        private readonly LrSchedule _schedule;
        private readonly float[] _gradient;
        private int _step;

        public float Loss { get; private set; }

        public Trainer(ComputeBackend backend, GptConfig config, int batch, int threads, int totalSteps)
        {
            _parameters = new ParameterSlab(config);
            new Gpt(config, 1, _parameters).Init();
            _worker = ShardWorkers.Create(backend, ComputeDevice.Cpu, 0, _parameters, batch, threads, config.Seed);
            _adam = new Adam(_parameters);
            _schedule = new LrSchedule(3e-3, 1, totalSteps + 1);
            _gradient = new float[_parameters.Length];
        }

        /// <summary>Runs <paramref name="n"/> training steps; returns their wall seconds.</summary>
        public double Steps(ShardBatch shard, int n)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                Loss = _worker.Compute(shard, _gradient).Loss;
                Adam.ClipGradNorm(_gradient, 1.0f);
                _adam.Update(_gradient, _schedule.At(_step++));
            }
            return clock.Elapsed.TotalSeconds;
        }
    }

    /// <summary>The environment settings that change libtorch's CPU speed (MKL's code path, OpenMP, glibc's malloc), as set for this process.</summary>
    private static SortedDictionary<string, string> TorchSettings()
    {
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            string key = (string)e.Key;
            if (key.StartsWith("MKL_", StringComparison.Ordinal) || key.StartsWith("OMP_", StringComparison.Ordinal) || key.StartsWith("KMP_", StringComparison.Ordinal))
                settings[key] = (string?)e.Value ?? "";
        }
        settings["GLIBC_TUNABLES"] = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "(unset)";
        settings["LD_PRELOAD"] = Environment.GetEnvironmentVariable("LD_PRELOAD") ?? "(unset)";
        return settings;
    }

    /// <summary>The process's peak resident set (VmHWM) so far, in MB.</summary>
    private static double PeakRssMb()
    {
        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64 / 1048576.0;
    }

    /// <summary>Time per kernel kind summed over the timed steps; "unaccounted" is the wall time outside every lap.</summary>
    private static void PrintProfile(double totalMs, int steps)
    {
        Console.WriteLine($"profile over {steps} steps ({totalMs / steps:F1} ms/step, wall clock):");
        Console.WriteLine($"  {"kernel",-20}{"ms",10}{"ms/step",10}{"%",8}");
        double sum = 0;
        foreach (var kind in Enum.GetValues<KernelKind>())
        {
            double ms = KernelProfile.Milliseconds(kind);
            sum += ms;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kind,-20}{ms,10:F1}{ms / steps,10:F2}{100 * ms / totalMs,8:F1}"));
        }
        double rest = totalMs - sum;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"unaccounted",-20}{rest,10:F1}{rest / steps,10:F2}{100 * rest / totalMs,8:F1}"));
    }
}
