namespace ImageGpt.Actors.Training;

/// <summary>
/// Where a node's trainers get the parameters of a step. On the aggregator's own process they read its slab, which only
/// changes between steps; elsewhere the node keeps a replica that must hold the step's parameters before a trainer
/// computes (<see cref="ReplicaParameters"/>).
/// </summary>
public interface IParameterSource
{
    /// <summary>Completes when the trainers' slab holds the parameters of <paramref name="step"/> (offered as <paramref name="ticket"/> when they are in another process).</summary>
    ValueTask ReadyAsync(long step, DataPlane.TensorTicket? ticket, CancellationToken ct);
}

/// <summary>The aggregator's own slab, in its process: always current.</summary>
public sealed class SharedParameters : IParameterSource
{
    public static readonly SharedParameters Instance = new();

    public ValueTask ReadyAsync(long step, DataPlane.TensorTicket? ticket, CancellationToken ct) => ValueTask.CompletedTask;
}
