using System.Collections.Concurrent;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Recycles gradient buffers: a trainer rents one per shard and hands it to the aggregator in
/// <see cref="ShardDone"/>; the aggregator returns it after the step. Steady state allocates nothing.
/// </summary>
public sealed class GradientPool(int length)
{
    private readonly ConcurrentQueue<float[]> _free = new();

    public int Length { get; } = length;

    public float[] Rent() => _free.TryDequeue(out var b) ? b : new float[Length];

    public void Return(float[] buffer)
    {
        if (buffer.Length == Length) _free.Enqueue(buffer);
    }
}
