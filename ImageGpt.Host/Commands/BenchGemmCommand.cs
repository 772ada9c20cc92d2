using System.CommandLine;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ImageGpt.Nn;
using ImageGpt.Nn.Kernels;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt bench-gemm`: GFLOP/s of the fast Matmul on the iGPT linear-layer shapes at one width
/// (forward, and both backward products), as a fraction of the stated per-core FMA peak, plus the
/// speed-up over the naive twin on one small shape measured in the same process.
/// </summary>
public static class BenchGemmCommand
{
    private static readonly Option<int> Width = Cli.Int("--width", 512, "model width C");
    private static readonly Option<int> Batch = Cli.Int("--batch", 32, "images B");
    private static readonly Option<int> Seq = Cli.Int("--seq", 196, "sequence length T");
    private static readonly Option<int> Threads = Cli.Int("--threads", 1, "compute threads");
    private static readonly Option<int> Repeats = Cli.Int("--repeats", 5, "timed calls (the best counts)");
    private static readonly Option<int?> Heads = Cli.OptionalInt("--heads", "attention heads (default: width / 64)");
    // 2 FMA pipes x 16 fp32 lanes x 2 flops x ~5.3 GHz: the per-core figure the targets are set against.
    private static readonly Option<double> Peak = Cli.Number("--peak", 340, "the per-core peak GFLOP/s the percentages are of");

    public static Command Definition { get; } = Cli.Command("bench-gemm", "GFLOP/s of the matmul kernels on the iGPT shapes", Width, Batch, Seq, Threads, Repeats, Heads, Peak);

    static BenchGemmCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult args)
    {
        int width = args.GetValue(Width);
        int batch = args.GetValue(Batch);
        int seq = args.GetValue(Seq);
        int threads = args.GetValue(Threads);
        int repeats = args.GetValue(Repeats);
        int heads = args.GetValue(Heads) ?? Math.Max(1, width / 64);
        double peak = args.GetValue(Peak);
        if (width < 1 || batch < 1 || seq < 1 || threads < 1 || repeats < 1 || peak <= 0 || heads < 1 || width % heads != 0)
            throw new UserError("bench-gemm: --width, --batch, --seq, --threads, --repeats, --heads and --peak must be positive and --heads must divide --width. HINT: e.g. --width 512 --heads 8");

        int BT = batch * seq, C = width;
        Console.WriteLine($"bench-gemm: BT={BT} (B={batch} T={seq}) C={C} threads={threads} isa={Matmul.InstructionSet} peak={peak} GFLOP/s/core; best of {repeats}");
        Console.WriteLine("wall: best wall time of one call; cpu: best process CPU time, i.e. speed per core actually held (the machine is shared)");
        double ceiling = FmaCeilingGflops(repeats);
        Console.WriteLine($"FMA-only register loop (no loads, 16 independent chains): {ceiling:F1} GFLOP/s = {100 * ceiling / peak:F1}% of --peak {peak}; " +
            "no kernel can beat it on this core, so compare the GFLOP/s below with it too");
        Console.WriteLine($"{"product",-34} {"shape (M x N x K)",-22} {"wall ms",9} {"GFLOP/s",9} {"% peak",7} {"cpu ms",9} {"GFLOP/s",9} {"% peak",7}");
        (string Name, int C, int OC)[] layers = [("attn q/k/v/proj (C->C)", C, C), ("mlp fc (C->4C)", C, 4 * C), ("mlp proj (4C->C)", 4 * C, C)];
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
        }

        {
            // Causal attention: only the T(T+1)/2 visible (query, key) pairs count as work;
            // forward is 2 products (q.k, att.v), backward 4 (datt, dv, dq, dk), each 2*HS flops per pair.
            int NH = heads, HS = C / NH;
            float[] q = Fill(BT * C, 6), k = Fill(BT * C, 7), v = Fill(BT * C, 8), dout = Fill(BT * C, 9);
            float[] outp = new float[BT * C], att = new float[batch * NH * seq * seq], scratch = new float[att.Length];
            float[] dq = new float[BT * C], dk = new float[BT * C], dv = new float[BT * C];
            double pairs = (double)batch * NH * seq * (seq + 1) / 2;
            Report($"attn fwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 2, peak, threads, repeats,
                () => Attention.Forward(outp, att, q, k, v, batch, seq, C, NH, causal: true, threads));
            Report($"attn bwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 4, peak, threads, repeats,
                () => Attention.Backward(dq, dk, dv, scratch, dout, att, q, k, v, batch, seq, C, NH, causal: true, threads));
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

    /// <summary>
    /// GFLOP/s of a loop of nothing but FMAs on registers (16 independent accumulators, enough to cover
    /// the FMA latency on both pipes), best of `repeats` runs of about 20 ms: the ceiling this core really
    /// reaches at its current clock, which the nominal --peak may overstate (e.g. a VM below boost clock).
    /// </summary>
    private static double FmaCeilingGflops(int repeats)
    {
        const long Iterations = 5_000_000;
        int lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        double best = double.MaxValue;
        float sink = 0;
        for (int r = 0; r <= repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            sink += lanes == 16 ? FmaLoop512(Iterations) : FmaLoop256(Iterations);
            if (r > 0) best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        GC.KeepAlive(sink);
        return Iterations * 16.0 * lanes * 2 / best / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop512(long n)
    {
        var x = Vector512.Create(0.999999f);
        var y = Vector512.Create(1e-7f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y); a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y); a15 = Vector512.FusedMultiplyAdd(a15, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop256(long n)
    {
        var x = Vector256.Create(0.999999f);
        var y = Vector256.Create(1e-7f);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector256<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
            a12 = Vector256.FusedMultiplyAdd(a12, x, y); a13 = Vector256.FusedMultiplyAdd(a13, x, y);
            a14 = Vector256.FusedMultiplyAdd(a14, x, y); a15 = Vector256.FusedMultiplyAdd(a15, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15);
    }

    /// <param name="peak">FMA peak of one core; wall-time figures compare with peak x threads.</param>
    private static void Report(string name, string shape, double flops, double peak, int threads, int repeats, Action run)
    {
        var (wall, cpu) = BestSeconds(repeats, run);
        double wallRate = flops / wall / 1e9, cpuRate = flops / cpu / 1e9;
        // CPU time sums all threads, so the cpu rate is per core held and compares with the one-core peak.
        Console.WriteLine($"{name,-34} {shape,-22} {wall * 1e3,9:F3} {wallRate,9:F1} {100 * wallRate / (peak * threads),6:F1}% " +
            $"{cpu * 1e3,9:F3} {cpuRate,9:F1} {100 * cpuRate / peak,6:F1}%");
    }

    /// <summary>Best wall and best CPU time of one call: the machine is shared, so minima are the honest kernel cost.</summary>
    private static (double Wall, double Cpu) BestSeconds(int repeats, Action run)
    {
        run();
        double bestWall = double.MaxValue, bestCpu = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            double c0 = CpuSeconds();
            long t0 = Stopwatch.GetTimestamp();
            run();
            bestWall = Math.Min(bestWall, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            bestCpu = Math.Min(bestCpu, CpuSeconds() - c0);
        }
        return (bestWall, Math.Max(bestCpu, 1e-9));
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
