using ImageGpt.Nn.Model;
namespace ImageGpt.Nn.Data;

/// <summary>
/// Square images as bytes laid out [N, H, W, Ch] (row-major, channels last), one label per image,
/// and the class names. Immutable by convention: transformations return new sets.
/// </summary>
public sealed class DataSet
{
    public string Name { get; }
    public byte[] Images { get; }
    public int[] Labels { get; }
    public int Count { get; }
    public int Side { get; }
    public int Channels { get; }
    public IReadOnlyList<string> ClassNames { get; }

    public int PixelsPerImage => Side * Side;
    public int BytesPerImage => Side * Side * Channels;
    public int ClassCount => ClassNames.Count;

    public DataSet(string name, byte[] images, int[] labels, int side, int channels, IReadOnlyList<string> classNames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (gray) or 3 (RGB)");
        if (images.Length != labels.Length * side * side * channels)
            throw new ArgumentException($"{images.Length} image bytes for {labels.Length} labels of {side}x{side}x{channels}");
        foreach (var y in labels)
            if ((uint)y >= (uint)classNames.Count) throw new ArgumentException($"label {y} outside 0..{classNames.Count - 1}");
        Name = name;
        Images = images;
        Labels = labels;
        Count = labels.Length;
        Side = side;
        Channels = channels;
        ClassNames = classNames;
    }

    public ReadOnlySpan<byte> Image(int i) => Images.AsSpan(i * BytesPerImage, BytesPerImage);

    /// <summary>The images at the given indices, in that order.</summary>
    public DataSet Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        var bpi = BytesPerImage;
        var images = new byte[indices.Length * bpi];
        var labels = new int[indices.Length];
        for (var j = 0; j < indices.Length; j++)
        {
            Image(indices[j]).CopyTo(images.AsSpan(j * bpi, bpi));
            labels[j] = Labels[indices[j]];
        }
        return new DataSet(name ?? Name, images, labels, Side, Channels, ClassNames);
    }

    /// <summary>Every image resized to side x side by exact area averaging (see <see cref="AreaResize"/>).</summary>
    public DataSet Resize(int side)
    {
        if (side == Side) return this;
        var resizer = new AreaResize(Side, Side, side, side);
        var outBytes = side * side * Channels;
        var images = new byte[Count * outBytes];
        for (var i = 0; i < Count; i++)
            resizer.Apply(Image(i), images.AsSpan(i * outBytes, outBytes), Channels);
        return new DataSet(Name, images, (int[])Labels.Clone(), side, Channels, ClassNames);
    }
}

/// <summary>Train / validation / test, with validation held out of the training files.</summary>
public sealed record DataSplits(DataSet Train, DataSet Validation, DataSet Test)
{
    /// <summary>
    /// Holds out round(fraction * N) training images as validation, chosen by a permutation seeded
    /// with <paramref name="seed"/> (fixed, so every run and every node sees the same split). Both parts
    /// keep the original file order. The test set is untouched.
    /// </summary>
    public static DataSplits HoldOut(DataSet trainFiles, DataSet test, double fraction = 0.1, ulong seed = 20200612)
    {
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "in (0, 1)");
        var n = trainFiles.Count;
        var nVal = (int)Math.Round(fraction * n, MidpointRounding.AwayFromZero);
        var perm = new SeededRandom(seed).Permutation(n);
        var val = perm.AsSpan(0, nVal).ToArray();
        var train = perm.AsSpan(nVal).ToArray();
        Array.Sort(val);
        Array.Sort(train);
        return new DataSplits(trainFiles.Subset(train), trainFiles.Subset(val, trainFiles.Name + "/validation"), test);
    }

    public DataSplits Resize(int side) => new(Train.Resize(side), Validation.Resize(side), Test.Resize(side));
}
