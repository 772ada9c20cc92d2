using ImageGpt.Nn.Model;
using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Palette;

/// <summary>
/// Weighted k-means (k-means++ seeding, Lloyd iterations) over points of dimension D. Pixels are
/// bytes, so a pixel sample collapses to its distinct values with counts as weights: exact, and for
/// gray data only 256 points however large the sample.
/// </summary>
public static class KMeans
{
    /// <summary>Returns K centers [K, D]. Ties in assignment go to the lower center index.</summary>
    // points (N, D), weights (N), centers (K, D)
    public static float[] Fit(ReadOnlySpan<float> points, ReadOnlySpan<double> weights, int D, int K, SeededRandom rng, int maxIterations, out int iterations)
    {
        var n = weights.Length;
        if (points.Length != n * D) throw new ArgumentException("points and weights disagree");
        if (n < K) throw new UserError($"palette: {n} distinct pixel values, fewer than the {K} clusters asked for. HINT: use fewer clusters or a larger pixel sample.");
        var centers = SeedPlusPlus(points, weights, D, K, rng);
        var pointsArr = points.ToArray();
        var assign = new int[n];
        Array.Fill(assign, -1);
        var dist = new float[n];
        var sums = new double[K * D];
        var mass = new double[K];
        iterations = 0;
        for (var it = 0; it < maxIterations; it++)
        {
            iterations = it + 1;
            var changed = Assign(pointsArr, D, K, centers, assign, dist);
            if (changed == 0) break;
            Array.Clear(sums);
            Array.Clear(mass);
            for (var i = 0; i < n; i++)
            {
                var c = assign[i];
                mass[c] += weights[i];
                for (var j = 0; j < D; j++) sums[c * D + j] += weights[i] * points[i * D + j];
            }
            for (var c = 0; c < K; c++)
            {
                if (mass[c] > 0)
                {
                    for (var j = 0; j < D; j++) centers[c * D + j] = (float)(sums[c * D + j] / mass[c]);
                    continue;
                }
                // An empty cluster restarts at the point worst served by its current center; that
                // point's distance is zeroed so a second empty cluster takes the next-worst one.
                var far = 0;
                for (var i = 1; i < n; i++) if (dist[i] > dist[far]) far = i;
                for (var j = 0; j < D; j++) centers[c * D + j] = points[far * D + j];
                dist[far] = 0;
                assign[far] = c;
            }
        }
        return centers;
    }

    // Each point's nearest center, in parallel over fixed chunks: every point's answer is independent,
    // so the result does not depend on threads. The SIMD search gives the same index and distance as
    // the scalar loop (see RgbSearch). Returns how many assignments changed.
    private static int Assign(float[] points, int D, int K, float[] centers, int[] assign, float[] dist)
    {
        var n = assign.Length;
        var rgb = D == 3 ? new RgbSearch(centers) : null;
        const int Chunk = 4096;
        var chunks = (n + Chunk - 1) / Chunk;
        var changedPerChunk = new int[chunks];
        Parallel.For(0, chunks, ch =>
        {
            var changed = 0;
            var end = Math.Min(n, (ch + 1) * Chunk);
            for (var i = ch * Chunk; i < end; i++)
            {
                int c;
                float d;
                if (rgb is not null) c = rgb.Nearest(points[3 * i], points[3 * i + 1], points[3 * i + 2], out d);
                else (c, d) = Nearest(points.AsSpan(i * D, D), centers, D, K);
                dist[i] = d;
                if (c != assign[i]) { assign[i] = c; changed++; }
            }
            changedPerChunk[ch] = changed;
        });
        return changedPerChunk.Sum();
    }

    // k-means++: the first center by weight, each next one with probability proportional to weight * D(x)^2.
    private static float[] SeedPlusPlus(ReadOnlySpan<float> points, ReadOnlySpan<double> weights, int D, int K, SeededRandom rng)
    {
        var n = weights.Length;
        var centers = new float[K * D];
        var d2 = new double[n];
        var first = Sample(weights, rng);
        points.Slice(first * D, D).CopyTo(centers);
        for (var i = 0; i < n; i++) d2[i] = weights[i] * Dist(points.Slice(i * D, D), centers.AsSpan(0, D));
        for (var c = 1; c < K; c++)
        {
            var pick = Sample(d2, rng);
            points.Slice(pick * D, D).CopyTo(centers.AsSpan(c * D, D));
            var center = centers.AsSpan(c * D, D);
            for (var i = 0; i < n; i++)
            {
                var d = weights[i] * Dist(points.Slice(i * D, D), center);
                if (d < d2[i]) d2[i] = d;
            }
        }
        return centers;
    }

    private static int Sample(ReadOnlySpan<double> w, SeededRandom rng)
    {
        double total = 0;
        foreach (var x in w) total += x;
        if (!(total > 0))
        {
            // Every remaining point coincides with a center: any choice is as good.
            return rng.NextInt(w.Length);
        }
        var u = rng.NextDouble() * total;
        double acc = 0;
        var last = 0;
        for (var i = 0; i < w.Length; i++)
        {
            if (w[i] <= 0) continue;
            acc += w[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    private static double Dist(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (var j = 0; j < a.Length; j++) { var d = (double)a[j] - b[j]; s += d * d; }
        return s;
    }

    /// <summary>Nearest center by squared Euclidean distance in float, first index on ties.</summary>
    internal static (int Index, float Distance) Nearest(ReadOnlySpan<float> x, ReadOnlySpan<float> centers, int D, int K)
    {
        var best = 0;
        var bestD = float.PositiveInfinity;
        for (var c = 0; c < K; c++)
        {
            var d = 0f;
            for (var j = 0; j < D; j++) { var t = x[j] - centers[c * D + j]; d += t * t; }
            if (d < bestD) { bestD = d; best = c; }
        }
        return (best, bestD);
    }
}
