using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Palette;

/// <summary>
/// Brute-force nearest RGB center with SIMD: centers stored as three planes so one compare covers
/// 8 (Vector256) or 16 (Vector512) centers. Same arithmetic as <see cref="KMeans.Nearest"/>
/// ((dr² + dg²) + db² in float, no FMA), so both give the same token. Two independent accumulators
/// (even and odd blocks) halve the compare-select dependency chain; each keeps the first minimum of
/// its centers (strict less), and the final reduction breaks ties by index, which is the scalar
/// loop's first-minimum rule.
/// </summary>
internal sealed class RgbSearch
{
    private readonly float[] _planes; // [3, Kpad]
    private readonly int _kpad;
    private readonly bool _wide;

    // centers (K, 3); allowWide = false forces the Vector256 path (tests cover both on AVX-512 machines).
    public RgbSearch(ReadOnlySpan<float> centers, bool allowWide = true)
    {
        _wide = allowWide && Vector512.IsHardwareAccelerated;
        var k = centers.Length / 3;
        var block = 2 * (_wide ? Vector512<float>.Count : Vector256<float>.Count);
        _kpad = (k + block - 1) / block * block;
        _planes = new float[3 * _kpad];
        // Padding centers sit far outside [-1,1]^3 so they never win.
        _planes.AsSpan().Fill(1e6f);
        for (var i = 0; i < k; i++)
            for (var c = 0; c < 3; c++) _planes[c * _kpad + i] = centers[i * 3 + c];
    }

    public int Nearest(float r, float g, float b) => Nearest(r, g, b, out _);

    public int Nearest(float r, float g, float b, out float distance) =>
        _wide ? Nearest512(r, g, b, out distance) : Nearest256(r, g, b, out distance);

    private int Nearest256(float r, float g, float b, out float distance)
    {
        const int W = 8;
        var vr = Vector256.Create(r);
        var vg = Vector256.Create(g);
        var vb = Vector256.Create(b);
        var bestA = Vector256.Create(float.PositiveInfinity);
        var bestB = bestA;
        var idxA = Vector256<int>.Zero;
        var idxB = Vector256<int>.Zero;
        var ia = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var ib = ia + Vector256.Create(W);
        var step = Vector256.Create(2 * W);
        ref var R = ref _planes[0];
        ref var G = ref _planes[_kpad];
        ref var B = ref _planes[2 * _kpad];
        for (var k = 0; k < _kpad; k += 2 * W)
        {
            var dr = Vector256.LoadUnsafe(ref R, (nuint)k) - vr;
            var dg = Vector256.LoadUnsafe(ref G, (nuint)k) - vg;
            var db = Vector256.LoadUnsafe(ref B, (nuint)k) - vb;
            var d = dr * dr + dg * dg + db * db;
            var er = Vector256.LoadUnsafe(ref R, (nuint)(k + W)) - vr;
            var eg = Vector256.LoadUnsafe(ref G, (nuint)(k + W)) - vg;
            var eb = Vector256.LoadUnsafe(ref B, (nuint)(k + W)) - vb;
            var e = er * er + eg * eg + eb * eb;
            var lessA = Vector256.LessThan(d, bestA);
            var lessB = Vector256.LessThan(e, bestB);
            bestA = Vector256.ConditionalSelect(lessA, d, bestA);
            idxA = Vector256.ConditionalSelect(lessA.AsInt32(), ia, idxA);
            bestB = Vector256.ConditionalSelect(lessB, e, bestB);
            idxB = Vector256.ConditionalSelect(lessB.AsInt32(), ib, idxB);
            ia += step;
            ib += step;
        }
        var best = int.MaxValue;
        var bd = float.PositiveInfinity;
        for (var l = 0; l < W; l++)
        {
            Pick(bestA.GetElement(l), idxA.GetElement(l), ref bd, ref best);
            Pick(bestB.GetElement(l), idxB.GetElement(l), ref bd, ref best);
        }
        distance = bd;
        return best;
    }

    private int Nearest512(float r, float g, float b, out float distance)
    {
        const int W = 16;
        var vr = Vector512.Create(r);
        var vg = Vector512.Create(g);
        var vb = Vector512.Create(b);
        var bestA = Vector512.Create(float.PositiveInfinity);
        var bestB = bestA;
        var idxA = Vector512<int>.Zero;
        var idxB = Vector512<int>.Zero;
        var ia = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var ib = ia + Vector512.Create(W);
        var step = Vector512.Create(2 * W);
        ref var R = ref _planes[0];
        ref var G = ref _planes[_kpad];
        ref var B = ref _planes[2 * _kpad];
        for (var k = 0; k < _kpad; k += 2 * W)
        {
            var dr = Vector512.LoadUnsafe(ref R, (nuint)k) - vr;
            var dg = Vector512.LoadUnsafe(ref G, (nuint)k) - vg;
            var db = Vector512.LoadUnsafe(ref B, (nuint)k) - vb;
            var d = dr * dr + dg * dg + db * db;
            var er = Vector512.LoadUnsafe(ref R, (nuint)(k + W)) - vr;
            var eg = Vector512.LoadUnsafe(ref G, (nuint)(k + W)) - vg;
            var eb = Vector512.LoadUnsafe(ref B, (nuint)(k + W)) - vb;
            var e = er * er + eg * eg + eb * eb;
            var lessA = Vector512.LessThan(d, bestA);
            var lessB = Vector512.LessThan(e, bestB);
            bestA = Vector512.ConditionalSelect(lessA, d, bestA);
            idxA = Vector512.ConditionalSelect(lessA.AsInt32(), ia, idxA);
            bestB = Vector512.ConditionalSelect(lessB, e, bestB);
            idxB = Vector512.ConditionalSelect(lessB.AsInt32(), ib, idxB);
            ia += step;
            ib += step;
        }
        var best = int.MaxValue;
        var bd = float.PositiveInfinity;
        for (var l = 0; l < W; l++)
        {
            Pick(bestA.GetElement(l), idxA.GetElement(l), ref bd, ref best);
            Pick(bestB.GetElement(l), idxB.GetElement(l), ref bd, ref best);
        }
        distance = bd;
        return best;
    }

    private static void Pick(float d, int i, ref float bestD, ref int best)
    {
        if (d < bestD || (d == bestD && i < best)) { bestD = d; best = i; }
    }
}
