using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageGpt.Nn;
using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt bench`: full training steps (forward, backward, clip, Adam) on synthetic tokens.
/// Prints one line per timed step, then one JSON object as the last line (read by tools/bench_compare.sh).
/// MFU is given against the nominal core ceiling (<see cref="Mfu.CoreCeilingGflops"/>) and against the
/// FMA-only loop measured before and after the timed steps (the host moves the clock; see <see cref="FmaCeiling"/>).
/// </summary>
public static class BenchCommand
{
    public static int Run(string[] argv)
    {
        var a = Args.Parse("bench", argv, new HashSet<string> { "bert", "profile" });
        var config = new GptConfig(
            Layers: a.Int("layers", 8), Width: a.Int("width", 64), Heads: a.Int("heads", 4),
            Vocab: a.Int("vocab", 16), Side: a.Int("side", 14), Classes: 0,
            Objective: a.Flag("bert") ? Objective.Bert : Objective.Autoregressive, Seed: (ulong)a.Int("seed", 1));
        int batch = a.Int("batch", 32), steps = a.Int("steps", 20), warmup = a.Int("warmup-steps", 3), threads = a.Int("threads", 1);
        bool profile = a.Flag("profile");
        a.RejectUnknown();
        config.Validate();
        if (batch < 1 || steps < 1 || warmup < 0) throw new UserError("--batch and --steps must be >= 1 and --warmup-steps >= 0");
        if (threads < 1 || threads > Environment.ProcessorCount)
            throw new UserError($"--threads {threads} is outside 1..{Environment.ProcessorCount} (this machine's cores)");

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
        double ceilingBefore = FmaCeiling.MeasureGflops();
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
                    $"step {step - warmup + 1}/{steps}  loss {loss:F4}  {s * 1e3:F1} ms  {batch * T / s:F0} tokens/s  {flopsPerStep / s / 1e9:F1} GFLOP/s  MFU {100 * Mfu.Of(config, batch * T / s, threads):F1}%"));
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
            mfu = Math.Round(Mfu.Of(config, tokensPerS, threads), 4),
            mfu_now = Math.Round(Mfu.Of(config, tokensPerS, threads, ceilingNow), 4),
            ceiling_now_gflops = Math.Round(ceilingNow, 1),
            @params = config.ParameterCount,
            threads,
            tokens_per_cpu_s = Math.Round((double)steps * batch * T / cpuSeconds, 1),
            final_loss = loss,
            config = new { layers = config.Layers, width = config.Width, heads = config.Heads, side = config.Side, vocab = config.Vocab, batch, steps },
        };
        if (profile) PrintProfile(sw.Elapsed.TotalMilliseconds, steps);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
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
