using Akka.Actor;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

// Messages of the training actors in one process. Immutable records; large buffers (gradients, parameter copies)
// move by ownership: the sender hands the array over and never touches it again.

/// <summary>
/// Aggregator → trainer: compute these shards of global step <c>Step</c> with the step's parameters. A trainer in another
/// process fetches them over the data plane with <c>Parameters</c> (null when every trainer shares the aggregator's process).
/// </summary>
public sealed record ComputeShards(long Step, int[] Shards, DataPlane.TensorTicket? Parameters = null);

/// <summary>Trainer → aggregator: one shard's gradient (buffer from the <see cref="GradientPool"/>, now the aggregator's).</summary>
public sealed record ShardDone(long Step, int Shard, ShardGradient Gradient, string Trainer, double ComputeSeconds, double WaitSeconds);

/// <summary>
/// Trainer in another process → aggregator: a shard's gradient, offered on the trainer's data plane; the aggregator
/// fetches it and answers <see cref="GradientFetched"/>, after which the trainer reuses the buffer.
/// </summary>
public sealed record ShardOffered(long Step, int Shard, DataPlane.TensorTicket Gradient, float Loss, int Images, string Trainer, double ComputeSeconds, double WaitSeconds);

/// <summary>Aggregator → trainer: the offered gradient is fetched (or no longer wanted); withdraw it.</summary>
public sealed record GradientFetched(string Id);

/// <summary>Trainer → aggregator when an incarnation starts (first start and every restart).</summary>
public sealed record TrainerReady(string Trainer);

/// <summary>
/// Node → aggregator: a trainer of this node (<c>Trainer</c> is its supervisor, which outlives its incarnations) joins
/// the run; it gets shards from the next step on. <c>Name</c> is unique in the run.
/// </summary>
public sealed record RegisterTrainer(string Name, IActorRef Trainer, IActorRef Node);

/// <summary>This process's shutdown → its <c>/user/node</c> (Ask, answers <see cref="Akka.Done"/>): tell the run's root that the node leaves.</summary>
public sealed record LeaveRun
{
    public static readonly LeaveRun Instance = new();
}

/// <summary>Node → the run's root, then the aggregator: this node leaves the run (Ctrl-C, SIGTERM); its trainers' shards go to the others now.</summary>
public sealed record NodeLeaving(IActorRef Node);

/// <summary>
/// Aggregator → nodes: from step <c>FromStep</c> on, the run's trainers are <c>Trainers</c> in this order (shard k's home
/// is trainer k mod N), so each node points its loaders at its trainers' home shards.
/// </summary>
public sealed record PlanChanged(long FromStep, IReadOnlyList<string> Trainers);

/// <summary>Aggregator's timer: the shards of <c>Step</c> still missing are recomputed elsewhere.</summary>
public sealed record StepDeadline(long Step, int Attempt);

/// <summary>Parent → aggregator: the checkpoint writer; training starts once a trainer has registered.</summary>
public sealed record StartTraining(IActorRef Writer);

/// <summary>Aggregator → checkpoint writer; the writer answers <c>ReplyTo</c>.</summary>
public sealed record SaveCheckpoint(Checkpoint Checkpoint, bool Final, IActorRef ReplyTo);

/// <summary>
/// Checkpoint writer → aggregator, and on the event stream (the evaluator's trigger): the checkpoint of <c>Step</c> is
/// durable and its event journaled. <c>Parameters</c> is a copy receivers may keep and must not change.
/// </summary>
public sealed record CheckpointSaved(long Step, float[] Parameters, bool Final, CheckpointCommitted Event);

/// <summary>Checkpoint writer → aggregator: the write failed; the previous checkpoint is intact.</summary>
public sealed record CheckpointFailed(long Step, bool Final, string Error);

/// <summary>To the run, then the aggregator: stop after the current step and write a final checkpoint.</summary>
public sealed record StopTraining(string Reason);

/// <summary>Aggregator → run: the last step (or the stop) is reached and the final checkpoint is durable.</summary>
public sealed record TrainingFinished(long Step, bool Stopped);

/// <summary>Aggregator → run: the run cannot go on.</summary>
public sealed record TrainingFailed(string Error);

/// <summary>To the evaluator (Ask): replies <see cref="Drained"/> once it has nothing in progress or waiting.</summary>
public sealed record Drain;

public sealed record Drained;

/// <summary>
/// The cluster singleton's termination message: this node leaves, so the run's root writes a checkpoint of the step
/// reached and stops, and the next oldest aggregator node takes the run up from it.
/// </summary>
public sealed record HandOver
{
    public static readonly HandOver Instance = new();
}

/// <summary>
/// The run's root → every member's <c>/user/run-watch</c>: the run is over (or stopped) and each process may exit.
/// <c>Refused</c>: from this node's own NodeActor, the run did not admit it (<c>Error</c> says why).
/// </summary>
public sealed record RunEnded(long Step, bool Stopped, string? Error, bool Refused = false);

/// <summary>A new run root → every member's <c>/user/node</c>: register your trainers with me (the aggregator moved).</summary>
public sealed record RegisterAgain
{
    public static readonly RegisterAgain Instance = new();
}
