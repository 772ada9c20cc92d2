using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// The fp32 FMA throughput one core delivers right now: a loop of nothing but FMAs on 12 independent
/// register chains (no loads). The JIT compiles it to 12 vfmadd213ps zmm per iteration, and it reads what
/// the C loop of tools/fma_ceiling.c reads when that one keeps its 12 chains, and 64 FLOPs per cycle (2 FMA
/// pipes x 16 lanes x 2) times the clock. The "331 GFLOP/s" once taken for this core's ceiling came from a C
/// loop whose 12 chains all started at zero: gcc proved them equal and kept one, so it ran one FMA per
/// iteration and counted twelve (tools/fma_ceiling.sh shows both). The ceiling moves with the clock, which
/// the cloud host sets (205-229 GFLOP/s seen on Zen 5 machines, 131-163 on Xeon ones), so benchmarks measure it
/// beside the kernel, and <see cref="Model.Mfu.CoreCeilingGflops"/> measures it once per process.
/// </summary>
public static class FmaCeiling
{
    /// <summary>Best GFLOP/s of `repeats` runs of `iterations` loop trips (12 vector FMAs each), after one warm-up run.</summary>
    public static double MeasureGflops(int repeats = 5, long iterations = 2_000_000)
    {
        double best = 0;
        for (int r = 0; r <= repeats; r++)
        {
            double g = OnceGflops(iterations);
            if (r > 0) best = Math.Max(best, g);
        }
        return best;
    }

    /// <summary>GFLOP/s of one run (about 2.5 ms at 200 GFLOP/s with the default count).</summary>
    public static double OnceGflops(long iterations = 2_000_000)
    {
        int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
        long t0 = Stopwatch.GetTimestamp();
        float sink = lanes == 16 ? Loop512(iterations) : Loop256(iterations);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        GC.KeepAlive(sink);
        return iterations * 12.0 * lanes * 2 / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long n)
    {
        var x = Vector512.Create(0.999999f);
        var y = Vector512.Create(1e-7f);
        // Distinct starts: chains that start equal stay equal, and a compiler that proves it may keep one (the C loop's trap).
        Vector512<float> a0 = Vector512.Create(0f), a1 = Vector512.Create(1f), a2 = Vector512.Create(2f), a3 = Vector512.Create(3f);
        Vector512<float> a4 = Vector512.Create(4f), a5 = Vector512.Create(5f), a6 = Vector512.Create(6f), a7 = Vector512.Create(7f);
        Vector512<float> a8 = Vector512.Create(8f), a9 = Vector512.Create(9f), a10 = Vector512.Create(10f), a11 = Vector512.Create(11f);
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long n)
    {
        var x = Vector256.Create(0.999999f);
        var y = Vector256.Create(1e-7f);
        // Distinct starts: chains that start equal stay equal, and a compiler that proves it may keep one (the C loop's trap).
        Vector256<float> a0 = Vector256.Create(0f), a1 = Vector256.Create(1f), a2 = Vector256.Create(2f), a3 = Vector256.Create(3f);
        Vector256<float> a4 = Vector256.Create(4f), a5 = Vector256.Create(5f), a6 = Vector256.Create(6f), a7 = Vector256.Create(7f);
        Vector256<float> a8 = Vector256.Create(8f), a9 = Vector256.Create(9f), a10 = Vector256.Create(10f), a11 = Vector256.Create(11f);
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
