using Akka.Actor;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Produces its trainer's shard batches in order (gathering, resizing and quantizing the images of the step's slice
/// of the epoch permutation) and writes them to the lane's bounded channel: when the trainer falls behind, the write
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
            if (lane.Next() is not { } id) return;
            hooks?.BeforeLoad?.Invoke(lane.Trainer, id);
            var batch = lane.Sampler.Shard(id);
            try { await lane.Channel.Writer.WriteAsync(batch, lane.Stopping); }
            catch (OperationCanceledException) { return; }
            lane.Written(id);
            Self.Tell(new Produce());
        });
    }

    protected override void PreStart() => Self.Tell(new Produce());
}
