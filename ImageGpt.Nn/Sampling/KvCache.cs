using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Sampling;

/// <summary>
/// Keys and values of every position decoded so far, per layer: two (L, B, T, C) arrays allocated
/// once for a batch capacity, so decoding position t reads t+1 cached rows instead of recomputing
/// the whole prefix. Row (l, b, t) of the keys is Norm1(h)·Wk^T of layer l at position t of image b.
/// </summary>
public sealed class KvCache
{
    public int Layers { get; }
    public int BatchCapacity { get; }
    public int Seq { get; }
    public int Width { get; }

    /// <summary>Positions 0..Length-1 hold valid keys and values for the current batch.</summary>
    public int Length { get; internal set; }

    private readonly float[] _keys, _values;

    public KvCache(GptConfig config, int batchCapacity)
    {
        config.Validate();
        if (batchCapacity <= 0)
            throw new UserError($"batch = {batchCapacity} must be positive. HINT: sample at least 1 image");
        (Layers, BatchCapacity, Seq, Width) = (config.Layers, batchCapacity, config.Seq, config.Width);
        long size = (long)Layers * batchCapacity * Seq * Width;
        if (size > Array.MaxLength)
            throw new UserError($"a KV cache of {size:N0} floats per tensor does not fit one array. HINT: sample fewer images at once");
        _keys = new float[size];
        _values = new float[size];
    }

    /// <summary>Keys of layer l, image b: (T, C), of which the first <see cref="Length"/> rows are valid.</summary>
    public Span<float> Keys(int l, int b) => _keys.AsSpan(Offset(l, b), Seq * Width);

    /// <summary>Values of layer l, image b: (T, C), of which the first <see cref="Length"/> rows are valid.</summary>
    public Span<float> Values(int l, int b) => _values.AsSpan(Offset(l, b), Seq * Width);

    private int Offset(int l, int b)
    {
        if ((uint)l >= (uint)Layers) throw new ArgumentOutOfRangeException(nameof(l));
        if ((uint)b >= (uint)BatchCapacity) throw new ArgumentOutOfRangeException(nameof(b));
        return (l * BatchCapacity + b) * Seq * Width;
    }
}
