using Akka.Actor;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Produces its trainer's shard batches in order (gathering, resizing and quantizing the images of the step's slice
/// of the epoch permutation, or reading them from a data node's stream: <see cref="ILaneSource"/>) and writes them to
/// the lane's bounded channel: when the trainer falls behind, the write
/// waits, so at most <c>runtime.prefetch</c> batches are ever queued. One batch per message keeps the loader visible
/// in the health table and lets a restart resume from the lane's cursor.
/// </summary>
public sealed class DataLoaderActor : MonitoredActor
{
    private sealed record Produce;

    public DataLoaderActor(BatchLane lane, TrainingHooks? hooks)
    {
        ReceiveAsync<Produce>(async _ =>
        {
            var changed = lane.Changed;
            if (lane.Next() is not { } id)
            {
                // Nothing to stream (no plan yet, no home shard, or past the end) until the aggregator replans.
                try { await changed.WaitAsync(lane.Stopping); }
                catch (OperationCanceledException) { return; }
                Self.Tell(new Produce());
                return;
            }
            hooks?.BeforeLoad?.Invoke(lane.Trainer, id);
            try
            {
                var batch = await lane.Source.NextAsync(id, lane.Sampler.GlobalStep(id), lane.HomeShards, lane.Stopping);
                await lane.Channel.Writer.WriteAsync(batch, lane.Stopping);
            }
            catch (OperationCanceledException) when (lane.Stopping.IsCancellationRequested) { return; }
            lane.Written(id);
            Self.Tell(new Produce());
        });
    }

    protected override void PreStart() => Self.Tell(new Produce());
}
