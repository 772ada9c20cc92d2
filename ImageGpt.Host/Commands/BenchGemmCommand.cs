using System.Diagnostics;
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
    public static int Run(string[] argv)
    {
        var args = Args.Parse("bench-gemm", argv, new HashSet<string>());
        int width = args.Int("width", 512);
        int batch = args.Int("batch", 32);
        int seq = args.Int("seq", 196);
        int threads = args.Int("threads", 1);
        int repeats = args.Int("repeats", 5);
        int heads = args.Int("heads", Math.Max(1, width / 64));
        // 2 FMA pipes x 16 fp32 lanes x 2 flops x ~5.3 GHz: the per-core figure the targets are set against.
        double peak = args.Double("peak", 340);
        args.RejectUnknown();
        if (width < 1 || batch < 1 || seq < 1 || threads < 1 || repeats < 1 || peak <= 0 || heads < 1 || width % heads != 0)
            throw new UserError("bench-gemm: --width, --batch, --seq, --threads, --repeats, --heads and --peak must be positive and --heads must divide --width. HINT: e.g. --width 512 --heads 8");

        int BT = batch * seq, C = width;
        Console.WriteLine($"bench-gemm: BT={BT} (B={batch} T={seq}) C={C} threads={threads} isa={Matmul.InstructionSet} peak={peak} GFLOP/s/core; best of {repeats}");
        Console.WriteLine($"{"product",-34} {"shape (M x N x K)",-22} {"ms",9} {"GFLOP/s",9} {"% peak",7}");
        (string Name, int C, int OC)[] layers = [("attn q/k/v/proj (C->C)", C, C), ("mlp fc (C->4C)", C, 4 * C), ("mlp proj (4C->C)", 4 * C, C)];
        foreach (var (name, c, oc) in layers)
        {
            float[] inp = Fill(BT * c, 1), weight = Fill(oc * c, 2), dout = Fill(BT * oc, 3);
            float[] outp = new float[BT * oc], dinp = new float[BT * c], dweight = new float[oc * c];
            double flops = 2.0 * BT * c * oc;
            Report($"fwd  {name}", $"{BT}x{oc}x{c}", flops, peak * threads, repeats,
                () => Matmul.Forward(outp, inp, weight, BT, c, oc, threads));
            Report($"dinp {name}", $"{BT}x{c}x{oc}", flops, peak * threads, repeats,
                () => Matmul.BackwardInput(dinp, dout, weight, BT, c, oc, threads));
            Report($"dW   {name}", $"{oc}x{c}x{BT}", flops, peak * threads, repeats,
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
            Report($"attn fwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 2, peak * threads, repeats,
                () => Attention.Forward(outp, att, q, k, v, batch, seq, C, NH, causal: true, threads));
            Report($"attn bwd causal NH={NH} HS={HS}", $"B={batch} T={seq}", pairs * HS * 2 * 4, peak * threads, repeats,
                () => Attention.Backward(dq, dk, dv, scratch, dout, att, q, k, v, batch, seq, C, NH, causal: true, threads));
        }

        // The naive twin on one small shape, for the ratio only (it is far too slow for the big ones).
        int sBT = seq, sC = Math.Min(width, 64), sOC = 4 * sC;
        {
            float[] inp = Fill(sBT * sC, 4), weight = Fill(sOC * sC, 5), outp = new float[sBT * sOC];
            double flops = 2.0 * sBT * sC * sOC;
            double naive = BestSeconds(repeats, () => MatmulNaive.Forward(outp, inp, weight, sBT, sC, sOC));
            double fast = BestSeconds(repeats, () => Matmul.Forward(outp, inp, weight, sBT, sC, sOC, 1));
            Console.WriteLine($"naive fwd {sBT}x{sOC}x{sC}: {naive * 1e3:F3} ms ({flops / naive / 1e9:F1} GFLOP/s); " +
                $"fast: {fast * 1e3:F3} ms ({flops / fast / 1e9:F1} GFLOP/s); speed-up x{naive / fast:F1}");
        }
        return 0;
    }

    private static void Report(string name, string shape, double flops, double peak, int repeats, Action run)
    {
        double s = BestSeconds(repeats, run);
        double gflops = flops / s / 1e9;
        Console.WriteLine($"{name,-34} {shape,-22} {s * 1e3,9:F3} {gflops,9:F1} {100 * gflops / peak,6:F1}%");
    }

    /// <summary>Best wall time of one call: the machine is shared, so the minimum is the honest kernel cost.</summary>
    private static double BestSeconds(int repeats, Action run)
    {
        run();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return best;
    }

    private static float[] Fill(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() - 0.5);
        return x;
    }
}
