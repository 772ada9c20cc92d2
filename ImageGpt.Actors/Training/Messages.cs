using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

// Messages of the training actors. Immutable records; large buffers (batches, gradients, parameter
// copies) move by ownership: the sender hands the array over and never touches it again.

/// <summary>Aggregator → trainer: compute these shards of global step <c>Step</c> with the current parameters.</summary>
public sealed record ComputeShards(long Step, long Epoch, int StepInEpoch, int[] Shards);

/// <summary>Trainer → aggregator: one shard's gradient (buffer from the <see cref="GradientPool"/>, now owned by the aggregator).</summary>
public sealed record ShardDone(long Step, int Shard, ShardGradient Gradient, int Trainer, double ComputeSeconds, double WaitSeconds);

/// <summary>Trainer → aggregator when an incarnation starts (first start and every restart).</summary>
public sealed record TrainerReady(int Trainer);

/// <summary>Aggregator's timer: the shards of <c>Step</c> still missing are recomputed elsewhere.</summary>
public sealed record StepDeadline(long Step, int Attempt);

/// <summary>Aggregator → checkpoint writer.</summary>
public sealed record SaveCheckpoint(Checkpoint Checkpoint, bool Final);

/// <summary>Checkpoint writer → aggregator (and evaluator): durable and visible; <c>Parameters</c> is a copy the receiver may keep.</summary>
public sealed record CheckpointSaved(long Step, float[] Parameters, bool Final, double Seconds);

/// <summary>Checkpoint writer → aggregator: the write failed; the previous checkpoint is intact.</summary>
public sealed record CheckpointFailed(long Step, bool Final, string Error);

/// <summary>To the aggregator: stop after the current step (or abandon it) and write a final checkpoint.</summary>
public sealed record StopTraining(string Reason);

/// <summary>To the evaluator (Ask): replies <see cref="Drained"/> once every evaluation queued before it is done.</summary>
public sealed record Drain;
public sealed record Drained;
