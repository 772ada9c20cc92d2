using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ImageGpt.Nn;
using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Model;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt bench-gemm`: GFLOP/s of the fast Matmul on the iGPT linear-layer shapes at one width
/// (forward, and both backward products) and of causal attention, each against two ceilings: the FMA-only
/// loop (<see cref="FmaCeiling"/>) measured between the product's own runs, i.e. what this core delivers
/// at its clock of that moment, and the ceiling measured at start (<see cref="Mfu.CoreCeilingGflops"/>, what
/// `train` reports MFU against) or one given with --peak. The cloud host moves the clock, so the first ratio
/// is the one that compares runs made at different times; plus the speed-up over the naive twin on one small shape.
/// </summary>
public static class BenchGemmCommand
{
    private static readonly Option<int> Width = Cli.Int("--width", 512, "model width C");
    private static readonly Option<int> Batch = Cli.Int("--batch", 32, "images B");
    private static readonly Option<int> Seq = Cli.Int("--seq", 196, "sequence length T");
    private static readonly Option<int> Threads = Cli.Int("--threads", 1, "compute threads");
    private static readonly Option<int> Repeats = Cli.Int("--repeats", 7, "timed calls (the best counts)");
    private static readonly Option<int?> Heads = Cli.OptionalInt("--heads", "attention heads (default: width / 64)");
    private static readonly Option<double?> Peak = Cli.OptionalNumber("--peak", "per-core ceiling GFLOP/s for the '% peak' column (default: this core's FMA ceiling, measured at start)");
    private static readonly Option<bool> CeilingOnly = Cli.Flag("--ceiling-only", "only the FMA-only loop's GFLOP/s (the measured ceiling)");

    public static Command Definition { get; } = Cli.Command("bench-gemm", "GFLOP/s of the matmul and attention kernels on the iGPT shapes against the FMA ceiling",
        Width, Batch, Seq, Threads, Repeats, Heads, Peak, CeilingOnly);

    static BenchGemmCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult args)
    {
        int width = args.GetValue(Width);
        int batch = args.GetValue(Batch);
        int seq = args.GetValue(Seq);
        int threads = args.GetValue(Threads);
        int repeats = args.GetValue(Repeats);
        int heads = args.GetValue(Heads) ?? Math.Max(1, width / 64);
        double? givenPeak = args.GetValue(Peak);
        bool ceilingOnly = args.GetValue(CeilingOnly);
        if (width < 1 || batch < 1 || seq < 1 || threads < 1 || repeats < 1 || givenPeak <= 0 || heads < 1 || width % heads != 0)
            throw new UserError("bench-gemm: --width, --batch, --seq, --threads, --repeats, --heads and --peak must be positive and --heads must divide --width. HINT: e.g. --width 512 --heads 8");

        if (ceilingOnly)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"managed loop (FmaCeiling, 12 zmm FMA chains): {FmaCeiling.MeasureGflops(repeats):F1} GFLOP/s (best of {repeats})"));
            return 0;
        }
        double peak = givenPeak ?? Mfu.CoreCeilingGflops;
        int BT = batch * seq, C = width;
        Console.WriteLine($"bench-gemm: BT={BT} (B={batch} T={seq}) C={C} threads={threads} isa={Matmul.InstructionSet}; best of {repeats}");
        Console.WriteLine($"now: the FMA-only loop (12 register chains, no loads) run between the product's runs, best of them: " +
            $"this core's ceiling at its current clock (x threads); peak: {peak:F1} GFLOP/s per core, " +
            (givenPeak is null ? "the same loop measured at start (what train's MFU is of)" : "given with --peak"));
        Console.WriteLine("cpu: GFLOP/s per second of process CPU time, i.e. per core actually held; % cpu/now is that rate over the " +
            "ceiling now, the kernel's efficiency even when other processes share the cores (wall and cpu agree on a quiet machine)");
        Console.WriteLine($"{"product",-34} {"shape (M x N x K)",-20} {"wall ms",9} {"GFLOP/s",8} {"now",7} {"% now",6} {"% peak",9} {"cpu",7} {"% cpu/now",9}");
        // The model's products: q, k, v fused into one (C->3C), the attention projection, the MLP's two.
        (string Name, int C, int OC)[] layers =
            [("attn q/k/v fused (C->3C)", C, 3 * C), ("attn proj (C->C)", C, C), ("mlp fc (C->4C)", C, 4 * C), ("mlp proj (4C->C)", 4 * C, C)];
        foreach (var (name, c, oc) in layers)
        {
            float[] inp = Fill(BT * c, 1), weight = Fill(oc * c, 2), dout = Fill(BT * oc, 3);
            float[] outp = new float[BT * oc], dinp = new float[BT * c], dweight = new float[oc * c];
            double flops = 2.0 * BT * c * oc;
            Report($"fwd  {name}", $"{BT}x{oc}x{c}", flops, peak, threads, repeats,
                () => Matmul.Forward(outp, inp, weight, BT, c, oc, threads));
            Report($"dinp {name}", $"{BT}x{c}x{oc}", flops, peak, threads, repeats,
                () => Matmul.BackwardInput(dinp, dout, weight, BT, c, oc, threads));
            Report($"dW   {name}", $"{oc}x{c}x{BT}", flops, peak, threads, repeats,
                () => Matmul.BackwardWeight(dweight, dout, inp, BT, c, oc, threads));
            // The model's backward: dinp and dW's two halves at once (at two threads each computes half of dinp and one half of dW).
            Report($"bwd  {name}", "dinp + dW", 2 * flops, peak, threads, repeats,
                () => Matmul.Backward(dinp, dweight, dout, inp, weight, BT, c, oc, threads));
        }

        {
            // Causal attention: only the T(T+1)/2 visible (query, key) pairs count as work;
            // forward is 2 products (q.k, att.v), backward 4 (datt, dv, dq, dk), each 2*HS flops per pair.
            int NH = heads, HS = C / NH;
            float[] q = Fill(BT * C, 6), k = Fill(BT * C, 7), v = Fill(BT * C, 8), dout = Fill(BT * C, 9);
            float[] outp = new float[BT * C];
            float[] dq = new float[BT * C], dk = new float[BT * C], dv = new float[BT * C];
            double pairs = (double)batch * NH * seq * (seq + 1) / 2;
            // The model's path: row statistics and recomputed probabilities where the blocked kernels run, else att.
            if (Attention.Recomputes(C, NH))
            {
                float[] stats = new float[batch * NH * seq * 2];
                Report($"attn fwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 2, peak, threads, repeats,
                    () => Attention.ForwardStats(outp, stats, q, k, v, batch, seq, C, NH, causal: true, threads));
                Report($"attn bwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 4, peak, threads, repeats,
                    () => Attention.BackwardRecompute(dq, dk, dv, dout, stats, q, k, v, batch, seq, C, NH, causal: true, threads));
            }
            else
            {
                float[] att = new float[batch * NH * seq * seq], scratch = new float[att.Length];
                Report($"attn fwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 2, peak, threads, repeats,
                    () => Attention.Forward(outp, att, q, k, v, batch, seq, C, NH, causal: true, threads));
                Report($"attn bwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 4, peak, threads, repeats,
                    () => Attention.Backward(dq, dk, dv, scratch, dout, att, q, k, v, batch, seq, C, NH, causal: true, threads));
            }
        }

        // The naive twin on one small shape, for the ratio only (it is far too slow for the big ones).
        int sBT = seq, sC = Math.Min(width, 64), sOC = 4 * sC;
        {
            float[] inp = Fill(sBT * sC, 4), weight = Fill(sOC * sC, 5), outp = new float[sBT * sOC];
            double flops = 2.0 * sBT * sC * sOC;
            double naive = BestSeconds(repeats, () => MatmulNaive.Forward(outp, inp, weight, sBT, sC, sOC)).Wall;
            double fast = BestSeconds(repeats, () => Matmul.Forward(outp, inp, weight, sBT, sC, sOC, 1)).Wall;
            Console.WriteLine($"naive fwd {sBT}x{sOC}x{sC}: {naive * 1e3:F3} ms ({flops / naive / 1e9:F1} GFLOP/s); " +
                $"fast: {fast * 1e3:F3} ms ({flops / fast / 1e9:F1} GFLOP/s); speed-up x{naive / fast:F1}");
        }
        return 0;
    }

    /// <param name="peak">FMA ceiling of one core (measured at start, or --peak); wall-time figures compare with it (and the measured one) x threads.</param>
    private static void Report(string name, string shape, double flops, double peak, int threads, int repeats, Action run)
    {
        var (wall, cpu, now) = BestSeconds(repeats, run);
        double wallRate = flops / wall / 1e9, cpuRate = flops / cpu / 1e9;
        // CPU time sums all threads, so the cpu rate is per core held.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-34} {shape,-20} {wall * 1e3,9:F3} {wallRate,8:F1} {now * threads,7:F1} {100 * wallRate / (now * threads),5:F1}% " +
            $"{100 * wallRate / (peak * threads),8:F1}% {cpuRate,7:F1} {100 * cpuRate / now,8:F1}%"));
    }

    /// <summary>
    /// Best wall and best CPU time of one call after a warm-up, and the best FMA-loop GFLOP/s measured right
    /// before each call: the machine is shared and its clock moves, so minima, and a ceiling of the same moments.
    /// </summary>
    private static (double Wall, double Cpu, double Ceiling) BestSeconds(int repeats, Action run)
    {
        // Warm up for a quarter second: the runtime recompiles hot methods optimized only after they have
        // run 30 times and a 100 ms delay, and a small product finishes its repeats before that.
        long warm = Stopwatch.GetTimestamp();
        do run(); while (Stopwatch.GetElapsedTime(warm).TotalSeconds < 0.25);
        double bestWall = double.MaxValue, bestCpu = double.MaxValue, ceiling = 0;
        for (int r = 0; r < repeats; r++)
        {
            ceiling = Math.Max(ceiling, FmaCeiling.OnceGflops());
            double c0 = CpuSeconds();
            long t0 = Stopwatch.GetTimestamp();
            run();
            bestWall = Math.Min(bestWall, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            bestCpu = Math.Min(bestCpu, CpuSeconds() - c0);
        }
        return (bestWall, Math.Max(bestCpu, 1e-9), ceiling);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the whole process: CLOCK_PROCESS_CPUTIME_ID (ns) on Linux, else the coarser .NET figure.</summary>
    private static double CpuSeconds()
    {
        const int ClockProcessCpuTimeId = 2;
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockProcessCpuTimeId, out var t) == 0)
            return t.Seconds + t.Nanoseconds * 1e-9;
        return Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    }

    private static float[] Fill(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() - 0.5);
        return x;
    }
}
