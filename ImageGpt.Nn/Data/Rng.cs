namespace ImageGpt.Nn.Data;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Portable (same stream on every machine and runtime,
/// unlike System.Random, whose algorithm is not a contract), small, and cheap to derive sub-streams
/// from, so that every sample, split and shard is a pure function of its seed.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix64(ref sm);
        _s1 = SplitMix64(ref sm);
        _s2 = SplitMix64(ref sm);
        _s3 = SplitMix64(ref sm);
    }

    /// <summary>A stream for (seed, a, b): mixes the parts so that nearby tuples give unrelated streams.</summary>
    public static Rng Derive(ulong seed, params ReadOnlySpan<ulong> parts)
    {
        var h = seed;
        foreach (var p in parts)
        {
            var x = h ^ (p + 0x9E3779B97F4A7C15UL);
            h = SplitMix64(ref x);
        }
        return new Rng(h);
    }

    public static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong()
    {
        var result = BitRotate(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitRotate(_s3, 45);
        return result;
    }

    private static ulong BitRotate(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        var range = (ulong)n;
        var x = NextULong() >> 32;
        var m = x * range;
        var low = m & 0xFFFFFFFFUL;
        if (low < range)
        {
            var threshold = (0x1_0000_0000UL - range) % range;
            while (low < threshold)
            {
                x = NextULong() >> 32;
                m = x * range;
                low = m & 0xFFFFFFFFUL;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Standard normal (Box-Muller; the second value is discarded to keep the stream simple).</summary>
    public double NextNormal()
    {
        double u1;
        do u1 = NextDouble(); while (u1 <= 0.0);
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A permutation of 0..n-1.</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (var i = 0; i < n; i++) p[i] = i;
        Shuffle(p.AsSpan());
        return p;
    }
}
