using ImageGpt.Nn.Model;
namespace ImageGpt.Nn.Data;

/// <summary>A data set turned into palette tokens once: [N, T] tokens in raster order and N labels.</summary>
public sealed class TokenSet : ISampleSource
{
    public ushort[] Tokens { get; }
    public int[] Labels { get; }
    public int Count { get; }
    public int T { get; }

    public TokenSet(ushort[] tokens, int[] labels, int t)
    {
        if (tokens.Length != labels.Length * t) throw new ArgumentException($"{tokens.Length} tokens for {labels.Length} labels of T={t}");
        (Tokens, Labels, Count, T) = (tokens, labels, labels.Length, t);
    }

    /// <summary>Encodes every image of <paramref name="set"/> with <paramref name="palette"/> (row-major, so raster order).</summary>
    public static TokenSet Encode(DataSet set, Palette.Palette palette)
    {
        if (palette.Channels != set.Channels) throw new ArgumentException($"palette has {palette.Channels} channels, data set {set.Channels}");
        var tokens = new ushort[set.Count * set.PixelsPerImage];
        palette.Encode(set.Images, tokens);
        return new TokenSet(tokens, set.Labels, set.PixelsPerImage);
    }

    public ReadOnlySpan<ushort> Sequence(int i) => Tokens.AsSpan(i * T, T);

    public int Read(int index, Span<ushort> tokens)
    {
        Sequence(index).CopyTo(tokens);
        return Labels[index];
    }
}
