using System.Collections.Concurrent;
using Akka.Actor;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Recycles gradient buffers: a trainer rents one per shard and hands it to the aggregator in <see cref="ShardDone"/>;
/// the aggregator returns it after the step. Trainers and the aggregator of a process must share one pool
/// (<see cref="GradientPools"/>): buffers returned to a pool nobody rents from are never reused, and every step's
/// gradients stayed alive in its queue (1.6 MB per shard of the default model, an out-of-memory kill within an hour).
/// Steady state allocates nothing; at most <see cref="MaxFree"/> buffers wait, so the pool cannot grow without bound.
/// </summary>
public sealed class GradientPool(int length)
{
    /// <summary>Free buffers kept at most; more than any step has in flight at the shard counts runs use.</summary>
    public const int MaxFree = 64;

    private readonly ConcurrentQueue<float[]> _free = new();
    private long _allocated;

    public int Length { get; } = length;

    /// <summary>Buffers this pool has made so far (for tests: it stops growing once every shard in flight has one).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    /// <summary>Buffers waiting to be rented.</summary>
    public int Free => _free.Count;

    public float[] Rent()
    {
        if (_free.TryDequeue(out var b)) return b;
        Interlocked.Increment(ref _allocated);
        return new float[Length];
    }

    public void Return(float[] buffer)
    {
        if (buffer.Length == Length && _free.Count < MaxFree) _free.Enqueue(buffer);
    }
}

/// <summary>The gradient pools of one actor system, one per parameter count, shared by its trainers and its aggregator.</summary>
public sealed class GradientPools : IExtension
{
    private readonly ConcurrentDictionary<int, GradientPool> _pools = new();

    public static GradientPools Get(ActorSystem system) => system.WithExtension<GradientPools, GradientPoolsProvider>();

    public GradientPool For(int length) => _pools.GetOrAdd(length, l => new GradientPool(l));
}

public sealed class GradientPoolsProvider : ExtensionIdProvider<GradientPools>
{
    public override GradientPools CreateExtension(ExtendedActorSystem system) => new();
}
