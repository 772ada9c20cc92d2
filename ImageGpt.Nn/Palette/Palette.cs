using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Palette;

/// <summary>How to train a palette. Defaults follow the paper (512 RGB clusters) and IGPT.md (16 gray levels).</summary>
public sealed record PaletteOptions(
    int Clusters,
    // A subsample keeps RGB k-means affordable; 1M pixels is ~1000 CIFAR images, plenty for 512 centers.
    int SamplePixels = 1_000_000,
    // Lloyd stops earlier when no assignment changes.
    int MaxIterations = 300,
    ulong Seed = 1)
{
    public static PaletteOptions Gray => new(16);
    public static PaletteOptions Rgb => new(512);
}

/// <summary>
/// The colour palette of iGPT: K centers in [-1, 1] space (x/127.5 - 1); a pixel's token is the
/// nearest center by squared Euclidean distance; decode is rint(127.5 (c + 1)) clamped to [0, 255].
/// 1-D centers are sorted ascending so token order follows brightness.
/// </summary>
public sealed class Palette
{
    public int Channels { get; }
    public int Count { get; }
    /// <summary>Centers [K, Ch] in [-1, 1] space.</summary>
    public float[] Centers { get; }

    // Byte value to [-1, 1]; all encoders read this table so they agree bit for bit.
    private static readonly float[] Unit = Enumerable.Range(0, 256).Select(v => v / 127.5f - 1f).ToArray();

    private readonly byte[] _decoded;   // [K, Ch] bytes
    private readonly ushort[]? _grayLut; // byte value -> token, exact for 1-D
    private readonly float[]? _soa;      // RGB centers as three planes [3, Kpad], padded with +inf-far centers

    public Palette(int channels, float[] centers)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        if (centers.Length == 0 || centers.Length % channels != 0) throw new ArgumentException("centers length must be K * channels");
        if (centers.Length / channels > ushort.MaxValue + 1) throw new ArgumentException("at most 65536 centers");
        Channels = channels;
        Count = centers.Length / channels;
        Centers = (float[])centers.Clone();
        _decoded = new byte[centers.Length];
        for (var i = 0; i < centers.Length; i++) _decoded[i] = DecodeValue(Centers[i]);
        if (channels == 1)
        {
            _grayLut = new ushort[256];
            for (var v = 0; v < 256; v++) _grayLut[v] = (ushort)KMeans.Nearest([Unit[v]], Centers, 1, Count).Index;
        }
        else
        {
            var kpad = (Count + Vector256<float>.Count - 1) / Vector256<float>.Count * Vector256<float>.Count;
            _soa = new float[3 * kpad];
            // Padding centers sit far outside [-1,1]^3 so they never win.
            _soa.AsSpan().Fill(1e6f);
            for (var k = 0; k < Count; k++)
                for (var c = 0; c < 3; c++) _soa[c * kpad + k] = Centers[k * 3 + c];
        }
    }

    public static byte DecodeValue(float c) => (byte)Math.Clamp(Math.Round(127.5 * (c + 1.0), MidpointRounding.ToEven), 0, 255);

    /// <summary>
    /// k-means on a seeded subsample of the pixels [N, Ch] (all of them if fewer than SamplePixels).
    /// </summary>
    public static Palette Train(ReadOnlySpan<byte> pixels, int channels, PaletteOptions options)
    {
        if (pixels.Length % channels != 0) throw new ArgumentException("pixel bytes must be a multiple of channels");
        var total = pixels.Length / channels;
        var rng = new Rng(options.Seed);
        // Distinct values with counts: for gray the key is the byte, for RGB the packed 24-bit colour.
        var counts = new Dictionary<int, double>();
        var sample = Math.Min(options.SamplePixels, total);
        for (var s = 0; s < sample; s++)
        {
            var i = sample == total ? s : rng.NextInt(total);
            var key = channels == 1 ? pixels[i] : pixels[3 * i] << 16 | pixels[3 * i + 1] << 8 | pixels[3 * i + 2];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        var keys = counts.Keys.ToArray();
        Array.Sort(keys);
        var points = new float[keys.Length * channels];
        var weights = new double[keys.Length];
        for (var j = 0; j < keys.Length; j++)
        {
            weights[j] = counts[keys[j]];
            if (channels == 1) points[j] = Unit[keys[j]];
            else
            {
                points[3 * j] = Unit[(keys[j] >> 16) & 0xFF];
                points[3 * j + 1] = Unit[(keys[j] >> 8) & 0xFF];
                points[3 * j + 2] = Unit[keys[j] & 0xFF];
            }
        }
        var centers = KMeans.Fit(points, weights, channels, options.Clusters, rng, options.MaxIterations, out _);
        if (channels == 1) Array.Sort(centers);
        return new Palette(channels, centers);
    }

    /// <summary>Tokens for pixels [N, Ch] bytes; tokens has N entries.</summary>
    public void Encode(ReadOnlySpan<byte> pixels, Span<ushort> tokens)
    {
        if (pixels.Length != tokens.Length * Channels) throw new ArgumentException("pixels must hold tokens.Length * Channels bytes");
        if (_grayLut is { } lut)
        {
            for (var i = 0; i < tokens.Length; i++) tokens[i] = lut[pixels[i]];
            return;
        }
        // Neighbouring pixels often repeat a colour, and an image has few distinct ones; a small
        // direct-mapped cache per call skips most SIMD searches without shared mutable state.
        Span<int> keys = stackalloc int[CacheSize];
        Span<ushort> values = stackalloc ushort[CacheSize];
        keys.Fill(-1);
        for (var i = 0; i < tokens.Length; i++)
        {
            int r = pixels[3 * i], g = pixels[3 * i + 1], b = pixels[3 * i + 2];
            var key = r << 16 | g << 8 | b;
            var slot = (int)((uint)(key * -1640531535) >> (32 - CacheBits));
            if (keys[slot] == key) { tokens[i] = values[slot]; continue; }
            var t = NearestRgb(Unit[r], Unit[g], Unit[b]);
            keys[slot] = key;
            values[slot] = t;
            tokens[i] = t;
        }
    }

    private const int CacheBits = 10;
    private const int CacheSize = 1 << CacheBits;

    /// <summary>The exact nearest center by brute force in scalar code; the reference the fast paths must match.</summary>
    public ushort EncodeNaive(ReadOnlySpan<byte> pixel)
    {
        Span<float> x = stackalloc float[Channels];
        for (var c = 0; c < Channels; c++) x[c] = Unit[pixel[c]];
        return (ushort)KMeans.Nearest(x, Centers, Channels, Count).Index;
    }

    // Same arithmetic as KMeans.Nearest ((dr² + dg²) + db², no FMA) so results match it bit for bit;
    // per lane strict-less keeps the first index, and the lane reduction breaks ties by index.
    private ushort NearestRgb(float r, float g, float b)
    {
        var soa = _soa!;
        var kpad = soa.Length / 3;
        var W = Vector256<float>.Count;
        var vr = Vector256.Create(r);
        var vg = Vector256.Create(g);
        var vb = Vector256.Create(b);
        var bestD = Vector256.Create(float.PositiveInfinity);
        var bestI = Vector256<int>.Zero;
        var idx = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var step = Vector256.Create(W);
        ref var R = ref soa[0];
        ref var G = ref soa[kpad];
        ref var B = ref soa[2 * kpad];
        for (var k = 0; k < kpad; k += W)
        {
            var dr = Vector256.LoadUnsafe(ref R, (nuint)k) - vr;
            var dg = Vector256.LoadUnsafe(ref G, (nuint)k) - vg;
            var db = Vector256.LoadUnsafe(ref B, (nuint)k) - vb;
            var d = dr * dr + dg * dg + db * db;
            var less = Vector256.LessThan(d, bestD);
            bestD = Vector256.ConditionalSelect(less, d, bestD);
            bestI = Vector256.ConditionalSelect(less.AsInt32(), idx, bestI);
            idx += step;
        }
        var best = 0;
        var bd = float.PositiveInfinity;
        for (var l = 0; l < W; l++)
        {
            var dl = bestD.GetElement(l);
            var il = bestI.GetElement(l);
            if (dl < bd || (dl == bd && il < best)) { bd = dl; best = il; }
        }
        return (ushort)best;
    }

    /// <summary>Pixels [N, Ch] for tokens [N].</summary>
    public void Decode(ReadOnlySpan<ushort> tokens, Span<byte> pixels)
    {
        if (pixels.Length != tokens.Length * Channels) throw new ArgumentException("pixels must hold tokens.Length * Channels bytes");
        for (var i = 0; i < tokens.Length; i++)
        {
            var t = tokens[i];
            if (t >= Count) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token outside 0..{Count - 1}");
            for (var c = 0; c < Channels; c++) pixels[i * Channels + c] = _decoded[t * Channels + c];
        }
    }

    /// <summary>
    /// JSON: {"format": "imagegpt-palette", "version": 1, "channels": Ch, "centers": [...]}.
    /// Floats are written with the shortest round-trip form, so a reloaded palette decodes identically.
    /// </summary>
    public void Save(string path)
    {
        var centers = new JsonArray();
        foreach (var c in Centers) centers.Add(JsonValue.Create(c));
        var doc = new JsonObject
        {
            ["format"] = "imagegpt-palette",
            ["version"] = 1,
            ["channels"] = Channels,
            ["clusters"] = Count,
            ["centers"] = centers,
        };
        File.WriteAllText(path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
    }

    public static Palette Load(string path)
    {
        JsonNode? doc;
        try { doc = JsonNode.Parse(File.ReadAllText(path)); }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new UserError($"{path}: not a readable palette ({e.Message}). HINT: re-create it with the palette training step.");
        }
        if (doc?["format"]?.GetValue<string>() != "imagegpt-palette" || doc["version"]?.GetValue<int>() != 1)
            throw new UserError($"{path}: not an imagegpt-palette version 1 file. HINT: re-create it with the palette training step.");
        var channels = doc["channels"]!.GetValue<int>();
        var centers = doc["centers"]!.AsArray().Select(n => n!.GetValue<float>()).ToArray();
        if (channels is not (1 or 3) || centers.Length == 0 || centers.Length % channels != 0)
            throw new UserError($"{path}: {centers.Length} center values for {channels} channels. HINT: the file is damaged; re-create it.");
        return new Palette(channels, centers);
    }

    public override string ToString() =>
        $"palette {Count}x{Channels}: " + string.Join(" ", Centers.Take(Math.Min(Centers.Length, 16)).Select(c => c.ToString("0.###", CultureInfo.InvariantCulture)));
}
