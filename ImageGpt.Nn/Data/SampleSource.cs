namespace ImageGpt.Nn.Data;

/// <summary>Where shard batches read their samples: N sequences of T palette tokens with a label each.</summary>
public interface ISampleSource
{
    int Count { get; }
    int T { get; }

    /// <summary>Writes sample <paramref name="index"/>'s T tokens and returns its label.</summary>
    int Read(int index, Span<ushort> tokens);
}
