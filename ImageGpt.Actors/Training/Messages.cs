using Akka.Actor;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

// Messages of the training actors in one process. Immutable records; large buffers (gradients, parameter copies)
// move by ownership: the sender hands the array over and never touches it again.

/// <summary>Aggregator → trainer: compute these shards of global step <c>Step</c> with the current parameters.</summary>
public sealed record ComputeShards(long Step, int[] Shards);

/// <summary>Trainer → aggregator: one shard's gradient (buffer from the <see cref="GradientPool"/>, now the aggregator's).</summary>
public sealed record ShardDone(long Step, int Shard, ShardGradient Gradient, int Trainer, double ComputeSeconds, double WaitSeconds);

/// <summary>Trainer → aggregator when an incarnation starts (first start and every restart).</summary>
public sealed record TrainerReady(int Trainer);

/// <summary>Aggregator's timer: the shards of <c>Step</c> still missing are recomputed elsewhere.</summary>
public sealed record StepDeadline(long Step, int Attempt);

/// <summary>Parent → aggregator: the trainers (index = trainer id) and the checkpoint writer; training starts.</summary>
public sealed record StartTraining(IActorRef[] Trainers, IActorRef Writer);

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
