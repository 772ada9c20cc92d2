using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>A tiny run the actor tests train, and its oracle: the plain loop (ReferenceTraining).</summary>
internal static class TrainingFixture
{
    public const int Images = 64, Batch = 8, Shards = 4;
    public const string RunId = "test-run";

    public static readonly GptConfig Model = new(2, 16, 2, 8, 6, 0, Objective.Autoregressive, 7);

    /// <summary>Akka with the in-memory journal and snapshot store, the run's serializer and logger; optionally Akka.TestKit's virtual clock.</summary>
    public static Akka.Configuration.Config AkkaConfig(bool virtualTime = false) =>
        global::Akka.Configuration.ConfigurationFactory.ParseString($"""
            akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
            {(virtualTime ? "akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"" : "")}
            """).WithFallback(AkkaSettings.Build(TestRuns.Reference, null));

    public static TokenSet Data()
    {
        var rng = new SeededRandom(99);
        int T = Model.Seq;
        var tokens = new ushort[Images * T];
        var labels = new int[Images];
        for (int i = 0; i < Images; i++)
        {
            labels[i] = i % 3;
            // Images with structure (a ramp per class plus noise) so the loss can fall.
            for (int t = 0; t < T; t++) tokens[i * T + t] = (ushort)Math.Clamp((t * (labels[i] + 1) / 6 + rng.NextInt(2)) % Model.Vocab, 0, Model.Vocab - 1);
        }
        return new TokenSet(tokens, labels, T);
    }

    public static RunConfig Config(string dir, int trainers, int steps = 12, int every = 5, Objective objective = Objective.Autoregressive,
        TimeSpan? deadline = null, int maxRestarts = 10, int keep = 0) => new(
        Model with { Objective = objective },
        new DataSettings("fashion-mnist", null, 0, 0.1, 1, 8, 1000, 10, 1),
        new TrainSettings(Batch, Shards, 3e-3, 3, steps, 0.9, 0.95, 0, 1.0, 5),
        new RuntimeSettings(trainers, 1, 2, deadline ?? TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), maxRestarts, TimeSpan.FromMinutes(1)),
        new CheckpointSettings(every, keep, "sqlite", "", ExportSafetensors: false),
        new EvalSettings(false, 0, 0, 0, 0, 0, 0, 1, 1, [1.0]),
        new LogSettings(1),
        dir, RunId);

    public static float[] Reference(RunConfig c, long steps)
    {
        var parameters = new ParameterSlab(c.Model);
        new Gpt(c.Model, 1, parameters).Init();
        var t = c.Train;
        var optimizer = new OptimizerStep(parameters, new LrSchedule(t.Lr, t.Warmup, t.Steps), (float)t.Beta1, (float)t.Beta2, (float)t.WeightDecay, (float)t.Clip);
        var sampler = new BatchSampler(Data(), t.Batch, t.Shards, t.Seed);
        var worker = new ShardWorker(parameters, t.Batch, 1, c.Model.Seed);
        ReferenceTraining.Run(optimizer, sampler, worker, 0, steps);
        return parameters.Data;
    }

    /// <summary>Runs <paramref name="c"/> to its end from what the system's journal and <paramref name="store"/> hold of it.</summary>
    public static Task<TrainingOutcome> Run(ActorSystem system, RunConfig c, ICheckpointStore store, ITrainingObserver observer,
        TrainingHooks? hooks = null, CancellationToken stop = default) =>
        TrainingRun.RunAsync(system, c, new TrainingInputs(Data(), new Nn.Palette.Palette(1, [-0.9f, -0.6f, -0.3f, 0f, 0.2f, 0.4f, 0.6f, 0.9f]), null),
            store, "{\"identity\":1}", observer, hooks, stop);

    /// <summary>The run's history as its actor has it (the in-memory journal has no query side).</summary>
    public static async Task<RunHistory> HistoryOf(ActorSystem system)
    {
        var actor = system.ActorOf(Props.Create(() => new RunHistoryActor(RunId)));
        var snapshot = await actor.Ask<RunHistorySnapshot>(new RunHistoryActor.GetHistory(), TestRuns.Patience);
        await actor.GracefulStop(TestRuns.Patience);
        return RunHistory.FromSnapshot(snapshot);
    }
}

/// <summary>Records what a run reports.</summary>
internal sealed class Recorder(Action<StepReport>? onStep = null, Action<string>? onWarning = null) : ITrainingObserver
{
    public List<string> Warnings { get; } = [];
    public List<StepReport> Steps { get; } = [];
    public List<long> Checkpoints { get; } = [];
    public List<EvaluationRecorded> Evaluations { get; } = [];
    public void Step(StepReport report) { lock (Steps) Steps.Add(report); onStep?.Invoke(report); }
    public void CheckpointSaved(long step, double seconds, bool final) { lock (Checkpoints) Checkpoints.Add(step); }
    public void Evaluation(EvaluationRecorded result, string table) { lock (Evaluations) Evaluations.Add(result); }
    public void Warning(string message) { lock (Warnings) Warnings.Add(message); onWarning?.Invoke(message); }
    public string AllWarnings { get { lock (Warnings) return string.Join("\n", Warnings); } }
}
