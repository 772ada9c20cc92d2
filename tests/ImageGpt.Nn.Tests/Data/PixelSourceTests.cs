using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests.Data;

public sealed class PixelSourceTests
{
    private static DataSet Random(int count, int side, int channels, ulong seed)
    {
        var rng = new SeededRandom(seed);
        var images = new byte[count * side * side * channels];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)rng.NextInt(256);
        var labels = Enumerable.Range(0, count).Select(i => i % 10).ToArray();
        return new DataSet("random", images, labels, side, channels, Enumerable.Range(0, 10).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    [Theory]
    [InlineData(28, 14, 1, 16)]
    [InlineData(28, 9, 1, 16)]
    [InlineData(28, 28, 1, 8)]
    [InlineData(32, 12, 3, 64)]
    public void Tokens_made_per_batch_equal_resizing_and_encoding_the_whole_set_first(int side, int outSide, int channels, int clusters)
    {
        var set = Random(23, side, channels, 5);
        var resized = set.Resize(outSide);
        var palette = Nn.Palette.Palette.Train(resized.Images, channels, new Nn.Palette.PaletteOptions(clusters, MaxIterations: 10));
        var expected = TokenSet.Encode(resized, palette);
        var source = new PixelSource(set, outSide, palette);
        Assert.Equal(expected.T, source.T);
        Assert.Equal(expected.Count, source.Count);
        var tokens = new ushort[source.T];
        for (int i = 0; i < source.Count; i++)
        {
            Assert.Equal(expected.Labels[i], source.Read(i, tokens));
            Assert.Equal(expected.Sequence(i).ToArray(), tokens);
        }
    }

    [Fact]
    public void A_sampler_over_pixels_builds_the_same_shards_as_one_over_tokens()
    {
        var set = Random(40, 28, 1, 9);
        var palette = Nn.Palette.Palette.Train(set.Resize(14).Images, 1, Nn.Palette.PaletteOptions.Gray);
        var overTokens = new BatchSampler(TokenSet.Encode(set.Resize(14), palette), 8, 3, 11);
        var overPixels = new BatchSampler(new PixelSource(set, 14, palette), 8, 3, 11);
        foreach (var id in overTokens.ShardsOf(2, 3))
        {
            var a = overTokens.Shard(id);
            var b = overPixels.Shard(id);
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.Labels, b.Labels);
            Assert.Equal(a.SampleIndices, b.SampleIndices);
        }
    }
}
