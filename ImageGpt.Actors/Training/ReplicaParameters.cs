using Akka.Actor;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>
/// A node's copy of the run's parameters, brought to a step's version once for all its trainers. When the run's
/// aggregator lives in this process (<see cref="LocalAggregators"/>) the copy is a memory copy of its slab; otherwise the
/// bytes come over the data plane (<paramref name="client"/>) with the step's ticket.
/// </summary>
public sealed class ReplicaParameters(LocalAggregators local, string runId, ParameterSlab replica, DataPlane.DataPlaneClient? client) : IParameterSource
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private long _version = -1;

    public ParameterSlab Slab => replica;

    public async ValueTask ReadyAsync(long step, DataPlane.TensorTicket? ticket, CancellationToken ct)
    {
        if (Volatile.Read(ref _version) == step) return;
        await _one.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_version == step) return;
            if (local.Find(runId) is { } slab) slab.Data.AsSpan().CopyTo(replica.Data);
            else if (client is not null && ticket is not null) await client.FetchAsync(ticket, replica.Data, ct).ConfigureAwait(false);
            else throw new InvalidOperationException($"the aggregator of run {runId} is in another process and step {step} came without a parameters ticket");
            Volatile.Write(ref _version, step);
        }
        finally
        {
            _one.Release();
        }
    }
}

/// <summary>The aggregators running in this actor system, by run id: a node next to one copies its slab instead of fetching it.</summary>
public sealed class LocalAggregators : IExtension
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ParameterSlab> _running = new(StringComparer.Ordinal);

    public static LocalAggregators Get(ActorSystem system) => system.WithExtension<LocalAggregators, LocalAggregatorsProvider>();

    public void Add(string runId, ParameterSlab parameters) => _running[runId] = parameters;

    public void Remove(string runId, ParameterSlab parameters) => _running.TryRemove(new KeyValuePair<string, ParameterSlab>(runId, parameters));

    public ParameterSlab? Find(string runId) => _running.GetValueOrDefault(runId);
}

public sealed class LocalAggregatorsProvider : ExtensionIdProvider<LocalAggregators>
{
    public override LocalAggregators CreateExtension(ExtendedActorSystem system) => new();
}
