namespace ImageGpt.Nn.Data;

/// <summary>
/// Images kept as decoded pixels at their file resolution and turned into tokens when a batch is
/// built: area-resized to side x side, then quantized with the palette. This is the data loaders' work;
/// it gives exactly the tokens of <c>TokenSet.Encode(set.Resize(side), palette)</c>.
/// </summary>
public sealed class PixelSource : ISampleSource
{
    private readonly DataSet _images;
    private readonly Palette.Palette _palette;
    private readonly AreaResize? _resize;
    private readonly int _side;

    public PixelSource(DataSet images, int side, Palette.Palette palette)
    {
        if (side > images.Side) throw new ArgumentException($"side {side} exceeds the images' {images.Side}", nameof(side));
        if (palette.Channels != images.Channels) throw new ArgumentException($"palette has {palette.Channels} channels, the images {images.Channels}", nameof(palette));
        (_images, _palette, _side) = (images, palette, side);
        _resize = side == images.Side ? null : new AreaResize(images.Side, images.Side, side, side);
    }

    public int Count => _images.Count;
    public int T => _side * _side;

    public int Read(int index, Span<ushort> tokens)
    {
        if (_resize is null)
        {
            _palette.Encode(_images.Image(index), tokens);
        }
        else
        {
            Span<byte> pixels = stackalloc byte[T * _images.Channels];
            _resize.Apply(_images.Image(index), pixels, _images.Channels);
            _palette.Encode(pixels, tokens);
        }
        return _images.Labels[index];
    }
}
