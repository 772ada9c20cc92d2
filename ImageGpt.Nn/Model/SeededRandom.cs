namespace ImageGpt.Nn.Model;

/// <summary>
/// xoshiro256** seeded by SplitMix64, with normals by Marsaglia's polar method. Portable bit for bit:
/// only integer ops, IEEE-exact double +,-,*,/ and sqrt, and our own logarithm, so no result depends
/// on the platform's libm (Math.Log/Math.Cos may differ in the last bit between C runtimes).
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>
    /// An independent stream for (seed, parts...): each part is mixed in through SplitMix64, so that
    /// neighbouring tuples (epoch 3 and 4, shard 0 and 1) give unrelated streams.
    /// </summary>
    public static SeededRandom Derive(ulong seed, params ReadOnlySpan<ulong> parts)
    {
        ulong h = seed;
        foreach (ulong p in parts)
        {
            ulong x = h ^ (p + 0x9E3779B97F4A7C15UL);
            h = SplitMix64(ref x);
        }
        return new SeededRandom(h);
    }

    public static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n), without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        ulong range = (ulong)n;
        while (true)
        {
            UInt128 m = (UInt128)NextUInt64() * range;
            ulong low = (ulong)m;
            if (low >= range || low >= (0UL - range) % range)
                return (int)(ulong)(m >> 64);
        }
    }

    /// <summary>Standard normal N(0, 1).</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double u, v, s;
        do
        {
            u = 2.0 * NextDouble() - 1.0;
            v = 2.0 * NextDouble() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double f = Math.Sqrt(-2.0 * PortableLog(s) / s);
        _spare = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A uniformly random permutation of 0..n-1.</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Shuffle(p.AsSpan());
        return p;
    }

    /// <summary>Fills <paramref name="dest"/> with N(0, std²) samples rounded to float.</summary>
    public void FillNormal(Span<float> dest, double std)
    {
        for (int i = 0; i < dest.Length; i++)
            dest[i] = (float)(std * NextGaussian());
    }

    /// <summary>
    /// Natural log of a positive finite double from basic arithmetic only: x = m·2^e with m in
    /// [√½, √2), ln m = 2·atanh(z), z = (m−1)/(m+1), |z| ≤ 0.172, series to z^41 (error below 1e-17).
    /// </summary>
    internal static double PortableLog(double x)
    {
        if (!(x > 0) || double.IsInfinity(x)) throw new ArgumentOutOfRangeException(nameof(x));
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF);
        if (e == 0)
        {
            // Subnormal: scale into the normal range first.
            return PortableLog(x * 18014398509481984.0) - 54 * Ln2;
        }
        e -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e += 1;
        }
        double z = (m - 1.0) / (m + 1.0);
        double z2 = z * z;
        double sum = 0.0;
        for (int k = 41; k >= 1; k -= 2)
            sum = sum * z2 + 1.0 / k;
        return 2.0 * z * sum + e * Ln2;
    }

    private const double Ln2 = 0.69314718055994530942;
}
