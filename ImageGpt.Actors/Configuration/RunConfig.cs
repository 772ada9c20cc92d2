using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Configuration;

/// <summary>Where the training images come from and how they become tokens.</summary>
/// <param name="Set">Data set name as DataSetCatalog spells it ("fashion-mnist", "mnist", "cifar-10", "cifar-100"); the loader matches case-insensitively and stores this spelling.</param>
/// <param name="Dir">Folder holding the data set files; null = cache, /usr/share/datasets, then provisioning.</param>
/// <param name="Limit">Use only the first N training images (after the validation hold-out); 0 = all. For smoke runs and tests.</param>
/// <param name="ValidationFraction">Share of the training files held out for validation (the paper's 10%).</param>
/// <param name="SplitSeed">Seed of the validation hold-out.</param>
/// <param name="PaletteClusters">k-means palette size; must equal model.vocab.</param>
/// <param name="PaletteSamplePixels">Pixels k-means trains on (a seeded subsample).</param>
/// <param name="PaletteIterations">Lloyd iterations cap.</param>
/// <param name="PaletteSeed">Seed of the k-means++ initialisation and subsample.</param>
public sealed record DataSettings(
    string Set, string? Dir, int Limit, double ValidationFraction, ulong SplitSeed,
    int PaletteClusters, int PaletteSamplePixels, int PaletteIterations, ulong PaletteSeed);

/// <summary>Optimisation. Everything here changes the weights, so a checkpoint records it and resume compares it.</summary>
/// <param name="Batch">Images per step, summed over all shards.</param>
/// <param name="Shards">Fixed number of shards a step's batch is split into (independent of the number of trainers).</param>
/// <param name="Steps">Total optimizer steps (the cosine schedule reaches 0 here).</param>
/// <param name="Seed">Seed of the data order.</param>
public sealed record TrainSettings(
    int Batch, int Shards, double Lr, int Warmup, int Steps,
    double Beta1, double Beta2, double WeightDecay, double Clip, ulong Seed);

/// <summary>How the work is spread over actors and cores. Nothing here changes the weights.</summary>
/// <param name="Trainers">Trainer actors (one per device; on CPU a device is a set of cores).</param>
/// <param name="ThreadsPerTrainer">Kernel threads of each trainer.</param>
/// <param name="Prefetch">Capacity of each loader-to-trainer channel, in shard batches (backpressure bound).</param>
/// <param name="StepDeadline">A shard not delivered within this time is recomputed by another trainer.</param>
/// <param name="RestartMinBackoff">First restart delay of a failed loader/trainer/evaluator.</param>
/// <param name="RestartMaxBackoff">Cap of the doubling restart delay.</param>
/// <param name="MaxRestarts">Restarts allowed per child within <c>RestartWindow</c> before the run stops with an error.</param>
/// <param name="RestartWindow">The window of the restart budget (counted from a child's first failure in it).</param>
/// <param name="Backend">Engine of the trainers: nn (ours, bit-identical across thread counts) or torch (libtorch, within a stated tolerance).</param>
/// <param name="Device">Where the trainers compute: cpu, cuda (one trainer per GPU) or cuda:N; cuda needs the torch backend.</param>
public sealed record RuntimeSettings(
    int Trainers, int ThreadsPerTrainer, int Prefetch, TimeSpan StepDeadline,
    TimeSpan RestartMinBackoff, TimeSpan RestartMaxBackoff, int MaxRestarts, TimeSpan RestartWindow,
    ComputeBackend Backend = ComputeBackend.Nn, ComputeDevice Device = default);

/// <summary>Checkpoints and the run's SQL store.</summary>
/// <param name="Every">Steps between checkpoints (also one at step 0 and one at the end).</param>
/// <param name="Keep">Complete checkpoints kept in the store (older ones deleted after a newer one is complete); 0 = all.</param>
/// <param name="Store">"sqlite" (file run.db in the run directory) or "postgres".</param>
/// <param name="Postgres">Npgsql connection string when Store is "postgres".</param>
/// <param name="ExportSafetensors">Also write step-N.safetensors (weights only) into the run directory.</param>
public sealed record CheckpointSettings(int Every, int Keep, string Store, string Postgres, bool ExportSafetensors);

/// <summary>What the evaluator does after each checkpoint.</summary>
/// <param name="Enabled">Run evaluations at all.</param>
/// <param name="ValidationImages">Images of the validation split for the validation loss.</param>
/// <param name="ProbeTrain">Probe training images (from the training split).</param>
/// <param name="ProbeValidation">Probe images for choosing C.</param>
/// <param name="ProbeTest">Probe test images (from the test split).</param>
/// <param name="Completions">Test images whose lower half is sampled (0 = no PNG).</param>
/// <param name="CompletionsPerImage">Samples per image.</param>
/// <param name="Threads">Kernel threads of the evaluator.</param>
/// <param name="Seed">Seed of the subsets and sampling.</param>
/// <param name="ProbeGrid">Inverse regularization strengths C the probe tries per layer (best on validation wins).</param>
public sealed record EvalSettings(
    bool Enabled, int ValidationImages, int ProbeTrain, int ProbeValidation, int ProbeTest,
    int Completions, int CompletionsPerImage, int Threads, ulong Seed, IReadOnlyList<double> ProbeGrid)
{
    public Nn.Eval.RunEvalOptions ToOptions() =>
        new(ValidationImages, ProbeTrain, ProbeValidation, ProbeTest, Completions, CompletionsPerImage, Threads, Seed, ProbeGrid);
}

/// <summary>The run's cluster (Akka's own settings, roles, seeds, host and port, are in the akka section).</summary>
/// <param name="LeaseTtl">How long the aggregator's lease lasts without renewal (the failover time of a dead aggregator node).</param>
/// <param name="JoinTimeout">How long a member waits for its seeds to answer before it gives up.</param>
/// <param name="DataPlanePort">The port of this member's data plane (tensors and batches); 0 = any free port.</param>
/// <param name="MinTrainers">Trainers a new run waits for before its first step (so that nodes started together all train from step 0).</param>
public sealed record ClusterSettings(TimeSpan LeaseTtl, TimeSpan JoinTimeout, int DataPlanePort, int MinTrainers = 1);

/// <summary>Console progress and metrics files.</summary>
/// <param name="Every">Steps between progress lines (plain output) and metrics rows.</param>
public sealed record LogSettings(int Every);

/// <summary>
/// The one immutable description of a training run, read from HOCON (hocon/reference.conf under the
/// user's file under --set overrides). Model, Data and Train decide the weights bit for bit; Runtime,
/// Checkpoint, Eval and Log do not. <c>RunId</c> is the run's persistence id in its store (run.id, or the
/// run directory's name); <c>Secret</c> is run.secret as configured (empty: see <see cref="RunSecret"/>).
/// </summary>
public sealed record RunConfig(
    GptConfig Model, DataSettings Data, TrainSettings Train, RuntimeSettings Runtime,
    CheckpointSettings Checkpoint, EvalSettings Eval, LogSettings Log, string RunDir, string RunId, string Secret = "",
    ClusterSettings? Cluster = null);
