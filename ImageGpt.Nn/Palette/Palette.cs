using ImageGpt.Nn.Model;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Palette;

/// <summary>How to train a palette. Defaults follow the paper (512 RGB clusters) and IGPT.md (16 gray levels).</summary>
public sealed record PaletteOptions(
    int Clusters,
    // A subsample keeps RGB k-means affordable; 1M pixels is ~1000 CIFAR images, plenty for 512 centers.
    int SamplePixels = 1_000_000,
    // Lloyd stops earlier when no assignment changes; with 512 RGB centers the last iterations move
    // a handful of pixels, so a cap keeps training in seconds.
    int MaxIterations = 100,
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
    private readonly RgbSearch? _rgb;

    public Palette(int channels, float[] centers)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        if (centers.Length == 0 || centers.Length % channels != 0) throw new ArgumentException("centers length must be K * channels");
        if (centers.Length / channels > ushort.MaxValue) throw new ArgumentException("at most 65535 centers (65535 marks an unfilled cache slot)");
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
            _rgb = new RgbSearch(Centers);
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
        var rng = new SeededRandom(options.Seed);
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
        // Colours repeat across a data set: a lazily filled table over all 2^24 colours (32 MiB)
        // turns each repeat into one load. Threads may race to fill a slot, but they all write the
        // same token, and a ushort write is atomic, so the race is harmless.
        var cache = _rgbCache ??= CreateRgbCache();
        for (var i = 0; i < tokens.Length; i++)
        {
            int r = pixels[3 * i], g = pixels[3 * i + 1], b = pixels[3 * i + 2];
            var key = r << 16 | g << 8 | b;
            var t = Volatile.Read(ref cache[key]);
            if (t == Unfilled)
            {
                t = (ushort)_rgb!.Nearest(Unit[r], Unit[g], Unit[b]);
                Volatile.Write(ref cache[key], t);
            }
            tokens[i] = t;
        }
    }

    private const ushort Unfilled = ushort.MaxValue;
    private ushort[]? _rgbCache;

    private static ushort[] CreateRgbCache()
    {
        var cache = new ushort[1 << 24];
        Array.Fill(cache, Unfilled);
        return cache;
    }

    /// <summary>The exact nearest center by brute force in scalar code; the reference the fast paths must match.</summary>
    public ushort EncodeNaive(ReadOnlySpan<byte> pixel)
    {
        Span<float> x = stackalloc float[Channels];
        for (var c = 0; c < Channels; c++) x[c] = Unit[pixel[c]];
        return (ushort)KMeans.Nearest(x, Centers, Channels, Count).Index;
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
    public void Save(string path) => File.WriteAllText(path, ToJson());

    public string ToJson()
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
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    public static Palette Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (IOException e)
        {
            throw new UserError($"{path}: not a readable palette ({e.Message}). HINT: re-create it with the palette training step.");
        }
        return FromJson(text, path);
    }

    /// <summary>Parses <see cref="ToJson"/>'s format; <paramref name="source"/> names the origin in errors.</summary>
    public static Palette FromJson(string json, string source)
    {
        JsonNode? doc;
        try { doc = JsonNode.Parse(json); }
        catch (JsonException e)
        {
            throw new UserError($"{source}: not a readable palette ({e.Message}). HINT: re-create it with the palette training step.");
        }
        if (doc?["format"]?.GetValue<string>() != "imagegpt-palette" || doc["version"]?.GetValue<int>() != 1)
            throw new UserError($"{source}: not an imagegpt-palette version 1 file. HINT: re-create it with the palette training step.");
        var channels = doc["channels"]!.GetValue<int>();
        var centers = doc["centers"]!.AsArray().Select(n => n!.GetValue<float>()).ToArray();
        if (channels is not (1 or 3) || centers.Length == 0 || centers.Length % channels != 0)
            throw new UserError($"{source}: {centers.Length} center values for {channels} channels. HINT: the file is damaged; re-create it.");
        return new Palette(channels, centers);
    }

    public override string ToString() =>
        $"palette {Count}x{Channels}: " + string.Join(" ", Centers.Take(Math.Min(Centers.Length, 16)).Select(c => c.ToString("0.###", CultureInfo.InvariantCulture)));
}
