using ImageGpt.Nn.Model;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Palette;
using ImageGpt.Nn.Tests.Data;
using Pal = ImageGpt.Nn.Palette.Palette;

namespace ImageGpt.Nn.Tests.Palette;

public class PaletteTests
{
    private static byte[] RandomBytes(int n, ulong seed)
    {
        var rng = new SeededRandom(seed);
        var b = new byte[n];
        for (var i = 0; i < n; i++) b[i] = (byte)rng.NextInt(256);
        return b;
    }

    [Fact]
    public void Gray_kmeans_finds_well_separated_levels_in_ascending_order()
    {
        // Four levels with small spread: the centers must land on the level means.
        var rng = new SeededRandom(3);
        int[] levels = [200, 20, 120, 60];
        var px = new byte[4000];
        for (var i = 0; i < px.Length; i++) px[i] = (byte)(levels[i % 4] + rng.NextInt(5) - 2);
        var p = Pal.Train(px, 1, new PaletteOptions(4, Seed: 9));
        Assert.Equal(4, p.Count);
        Assert.Equal(p.Centers.Order(), p.Centers);
        var decoded = new byte[4];
        p.Decode([0, 1, 2, 3], decoded);
        Assert.Equal([20, 60, 120, 200], decoded);
    }

    [Fact]
    public void Trained_palette_is_a_lloyd_fixed_point()
    {
        // Each center is the mean of the pixels nearest to it (over the whole sample, which here is all pixels).
        var px = RandomBytes(3000 * 3, 4);
        for (var i = 0; i < px.Length; i++) px[i] = (byte)(px[i] / 32 * 32);
        var p = Pal.Train(px, 3, new PaletteOptions(12, Seed: 2));
        var tokens = new ushort[3000];
        p.Encode(px, tokens);
        var sums = new double[12 * 3];
        var counts = new int[12];
        for (var i = 0; i < 3000; i++)
        {
            counts[tokens[i]]++;
            for (var c = 0; c < 3; c++) sums[tokens[i] * 3 + c] += px[3 * i + c] / 127.5 - 1;
        }
        for (var k = 0; k < 12; k++)
        {
            Assert.True(counts[k] > 0);
            for (var c = 0; c < 3; c++) Assert.Equal(sums[k * 3 + c] / counts[k], p.Centers[k * 3 + c], 4);
        }
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed()
    {
        var px = RandomBytes(5000 * 3, 8);
        var a = Pal.Train(px, 3, new PaletteOptions(16, SamplePixels: 2000, Seed: 1));
        var b = Pal.Train(px, 3, new PaletteOptions(16, SamplePixels: 2000, Seed: 1));
        var c = Pal.Train(px, 3, new PaletteOptions(16, SamplePixels: 2000, Seed: 2));
        Assert.Equal(a.Centers, b.Centers);
        Assert.NotEqual(a.Centers, c.Centers);
    }

    [Fact]
    public void Gray_lookup_table_equals_brute_force_for_every_byte()
    {
        var p = new Pal(1, [-0.9f, -0.5f, -0.49f, 0f, 0.3f, 0.31f, 0.99f]);
        var all = Enumerable.Range(0, 256).Select(v => (byte)v).ToArray();
        var tokens = new ushort[256];
        p.Encode(all, tokens);
        for (var v = 0; v < 256; v++)
        {
            var x = v / 127.5 - 1;
            var best = Enumerable.Range(0, p.Count).MinBy(k => Math.Abs(x - p.Centers[k]));
            Assert.Equal(p.EncodeNaive([(byte)v]), tokens[v]);
            Assert.Equal(best, tokens[v]);
        }
    }

    [Fact]
    public void Rgb_simd_search_equals_the_scalar_reference_for_512_centers()
    {
        var rng = new SeededRandom(12);
        var centers = new float[511 * 3]; // 511: not a multiple of the vector width
        for (var i = 0; i < centers.Length; i++) centers[i] = (float)(rng.NextDouble() * 2 - 1);
        var p = new Pal(3, centers);
        var px = RandomBytes(4000 * 3, 13);
        // Repeat a block so the per-call cache serves some pixels.
        px.AsSpan(0, 3000).CopyTo(px.AsSpan(6000));
        var tokens = new ushort[4000];
        p.Encode(px, tokens);
        for (var i = 0; i < 4000; i++) Assert.Equal(p.EncodeNaive(px.AsSpan(3 * i, 3)), tokens[i]);
    }

    [Theory]
    [InlineData(true, 512)]
    [InlineData(false, 512)]
    [InlineData(true, 37)]
    [InlineData(false, 37)]
    [InlineData(false, 1)]
    public void Both_simd_widths_return_the_scalar_index_and_distance(bool wide, int k)
    {
        var rng = new SeededRandom((ulong)k);
        var centers = new float[k * 3];
        for (var i = 0; i < centers.Length; i++) centers[i] = (float)(rng.NextDouble() * 2 - 1);
        // Some exact duplicates so ties occur in different lanes and accumulators.
        if (k > 40) for (var c = 0; c < 3; c++) { centers[3 * 40 + c] = centers[3 * 7 + c]; centers[3 * 25 + c] = centers[3 * 7 + c]; }
        var search = new RgbSearch(centers, wide);
        for (var p = 0; p < 3000; p++)
        {
            float[] x = p % 10 == 0 && k > 40
                ? [centers[21], centers[22], centers[23]]
                : [(float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1)];
            var (i, d) = KMeans.Nearest(x, centers, 3, k);
            Assert.Equal(i, search.Nearest(x[0], x[1], x[2], out var sd));
            Assert.Equal(d, sd);
        }
    }

    [Fact]
    public void Equal_distances_go_to_the_lower_token_in_every_encoder()
    {
        // Duplicate centers across different SIMD lanes and blocks.
        var centers = new float[20 * 3];
        for (var k = 0; k < 20; k++) { centers[3 * k] = 0.5f; centers[3 * k + 1] = 0.5f; centers[3 * k + 2] = 0.5f; }
        centers[0] = -1f; // token 0 elsewhere; tokens 1..19 tie
        var p = new Pal(3, centers);
        var tokens = new ushort[1];
        p.Encode([200, 200, 200], tokens);
        Assert.Equal(1, tokens[0]);
        Assert.Equal(1, p.EncodeNaive([200, 200, 200]));
    }

    [Theory]
    [InlineData(-1f, 0)]
    [InlineData(1f, 255)]
    [InlineData(1.3f, 255)]
    [InlineData(-1.2f, 0)]
    [InlineData(0f, 128)] // 127.5 rounds to even
    [InlineData(-0.996f, 1)] // 0.51 -> 1
    [InlineData(-0.997f, 0)] // 0.3825 -> 0
    [InlineData(0.2f, 153)]
    public void Decode_is_rint_of_127_5_times_c_plus_1_clamped(float c, int expected)
    {
        Assert.Equal((byte)expected, Pal.DecodeValue(c));
    }

    [Fact]
    public void Encode_then_decode_of_a_center_value_is_that_value()
    {
        var px = RandomBytes(20000, 21);
        var p = Pal.Train(px, 1, PaletteOptions.Gray);
        Assert.Equal(16, p.Count);
        var decoded = new byte[16];
        p.Decode(Enumerable.Range(0, 16).Select(i => (ushort)i).ToArray(), decoded);
        var again = new ushort[16];
        p.Encode(decoded, again);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (ushort)i), again);
    }

    [Fact]
    public void Save_and_load_reproduce_centers_bit_for_bit()
    {
        using var t = new TempDir();
        var rng = new SeededRandom(5);
        var centers = Enumerable.Range(0, 512 * 3).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var p = new Pal(3, centers);
        p.Save(t.File("p.json"));
        var q = Pal.Load(t.File("p.json"));
        Assert.Equal(p.Centers.Select(BitConverter.SingleToInt32Bits), q.Centers.Select(BitConverter.SingleToInt32Bits));
        var tok = Enumerable.Range(0, 512).Select(i => (ushort)i).ToArray();
        var a = new byte[512 * 3];
        var b = new byte[512 * 3];
        p.Decode(tok, a);
        q.Decode(tok, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_damaged_palette_file_is_a_user_error_naming_it()
    {
        using var t = new TempDir();
        File.WriteAllText(t.File("p.json"), "{\"format\":\"something\"}");
        var e = Assert.Throws<UserError>(() => Pal.Load(t.File("p.json")));
        Assert.Contains(t.File("p.json"), e.Message);
        File.WriteAllText(t.File("q.json"), "{not json");
        Assert.Throws<UserError>(() => Pal.Load(t.File("q.json")));
    }

    [Fact]
    public void Fewer_distinct_pixels_than_clusters_is_a_user_error()
    {
        Assert.Throws<UserError>(() => Pal.Train(new byte[100], 1, new PaletteOptions(4)));
    }

    [Fact]
    public void Kmeans_reseeds_an_empty_cluster_at_the_farthest_point()
    {
        // Three tight groups and K = 3; even from a poor start every cluster ends non-empty and each group gets a center.
        float[] pts = [0f, 0.01f, 0.02f, 0.5f, 0.51f, 1f];
        double[] w = [10, 10, 10, 1, 1, 1];
        var centers = KMeans.Fit(pts, w, 1, 3, new SeededRandom(1), 100, out _);
        var sorted = centers.Order().ToArray();
        Assert.Equal(0.01f, sorted[0], 5);
        Assert.Equal(0.505f, sorted[1], 5);
        Assert.Equal(1f, sorted[2], 5);
    }
}
