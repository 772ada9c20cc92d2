using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// The actor system against its oracle, the plain loop (ReferenceTraining): whatever the number of
/// trainers, failures, deadlines and interruptions, the final weights must be the same bits.
/// </summary>
public sealed class TrainingRunTests : IDisposable
{
    private const int Images = 64, Batch = 8, Shards = 4;
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly GptConfig Model = new(2, 16, 2, 8, 6, 0, Objective.Autoregressive, 7);

    private static TokenSet Data()
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

    private RunConfig Config(int trainers, int steps = 12, int every = 5, Objective objective = Objective.Autoregressive, TimeSpan? deadline = null) => new(
        Model with { Objective = objective },
        new DataSettings("fashion-mnist", null, 0, 0.1, 1, 8, 1000, 10, 1),
        new TrainSettings(Batch, Shards, 3e-3, 3, steps, 0.9, 0.95, 0, 1.0, 5),
        new RuntimeSettings(trainers, 1, 2, deadline ?? TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), 10),
        new CheckpointSettings(every, 0, "sqlite", "", ExportSafetensors: false),
        new EvalSettings(false, 0, 0, 0, 0, 0, 0, 1, 1, [1.0]),
        new LogSettings(1),
        _dir);

    private static float[] Reference(RunConfig c, long steps)
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

    private sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingObserver
    {
        public List<string> Warnings { get; } = [];
        public List<StepReport> Steps { get; } = [];
        public List<long> Checkpoints { get; } = [];
        public void Step(StepReport report) { lock (Steps) Steps.Add(report); onStep?.Invoke(report); }
        public void CheckpointSaved(long step, double seconds, bool final) { lock (Checkpoints) Checkpoints.Add(step); }
        public void Evaluation(EvalResult result, string table) { }
        public void Warning(string message) { lock (Warnings) Warnings.Add(message); }
    }

    private static Task<TrainingOutcome> Run(RunConfig c, IRunStore store, ITrainingObserver observer, Checkpoint? resume = null,
        TrainingHooks? hooks = null, CancellationToken stop = default) =>
        TrainingRun.RunAsync(c, new TrainingInputs(Data(), new Nn.Palette.Palette(1, [-0.9f, -0.6f, -0.3f, 0f, 0.2f, 0.4f, 0.6f, 0.9f]), null),
            store, resume, "{\"identity\":1}", observer, hooks, stop);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Any_number_of_trainers_gives_the_plain_loops_weights_bit_for_bit(int trainers)
    {
        var c = Config(trainers);
        var outcome = await Run(c, new InMemoryRunStore(), new Recorder());
        Assert.Null(outcome.Error);
        Assert.Equal(12, outcome.Step);
        Assert.Equal(Reference(c, 12), outcome.Parameters.Data);
    }

    [Fact]
    public async Task Bert_runs_are_also_independent_of_the_trainer_count()
    {
        var one = await Run(Config(1, objective: Objective.Bert), new InMemoryRunStore(), new Recorder());
        var two = await Run(Config(2, objective: Objective.Bert), new InMemoryRunStore(), new Recorder());
        Assert.Equal(one.Parameters.Data, two.Parameters.Data);
        Assert.NotEqual(Reference(Config(1), 12), one.Parameters.Data);
    }

    [Fact]
    public async Task Checkpoints_are_written_at_the_start_every_N_steps_and_at_the_end()
    {
        var store = new InMemoryRunStore();
        var recorder = new Recorder();
        await Run(Config(2), store, recorder);
        Assert.Equal([0L, 5, 10, 12], (await store.ListCheckpointsAsync()).Select(i => i.Step));
        var last = (await store.LoadLatestCheckpointAsync(_ => { }))!;
        Assert.Equal(12, last.AdamStep);
        Assert.Equal(Reference(Config(1), 12), last.Parameters);
        Assert.Equal(12, recorder.Steps.Count);
        Assert.True(File.Exists(Path.Combine(_dir, RunStatus.FileName)));
        Assert.Equal("finished", RunStatus.TryRead(_dir)!.Phase);
    }

    [Fact]
    public async Task A_trainer_that_throws_mid_step_is_restarted_and_the_weights_are_unchanged()
    {
        int thrown = 0;
        var hooks = new TrainingHooks
        {
            BeforeShard = (trainer, step, shard) =>
            {
                if (trainer == 1 && step == 4 && Interlocked.Exchange(ref thrown, 1) == 0) throw new InvalidOperationException("injected trainer fault");
            },
        };
        var recorder = new Recorder();
        var outcome = await Run(Config(2), new InMemoryRunStore(), recorder, hooks: hooks);
        Assert.Equal(1, thrown);
        Assert.Null(outcome.Error);
        Assert.Contains(recorder.Warnings, w => w.Contains("injected trainer fault") && w.Contains("trainer-1"));
        Assert.Equal(Reference(Config(1), 12), outcome.Parameters.Data);
    }

    [Fact]
    public async Task A_loader_that_throws_is_restarted_without_losing_or_repeating_a_batch()
    {
        int thrown = 0;
        var ledger = new BatchLedger();
        var hooks = new TrainingHooks
        {
            Ledger = ledger,
            BeforeLoad = (trainer, id) =>
            {
                if (trainer == 0 && id.Step == 6 && Interlocked.Exchange(ref thrown, 1) == 0) throw new IOException("injected loader fault");
            },
        };
        var outcome = await Run(Config(2, steps: 16), new InMemoryRunStore(), new Recorder(), hooks: hooks);
        Assert.Equal(1, thrown);
        Assert.Equal(Reference(Config(1, steps: 16), 16), outcome.Parameters.Data);
        // 64 images / batch 8 = 8 steps per epoch: 16 steps are two full epochs, each image once in each.
        Assert.All(ledger.UseCounts(0, Images), n => Assert.Equal(1, n));
        Assert.All(ledger.UseCounts(1, Images), n => Assert.Equal(1, n));
        for (int s = 0; s < 8; s++) Assert.True(ledger.IsComplete(1, s, Shards));
    }

    [Fact]
    public async Task A_hung_trainers_shards_are_recomputed_by_another_trainer_after_one_deadline()
    {
        using var release = new ManualResetEventSlim();
        var hooks = new TrainingHooks
        {
            BeforeShard = (trainer, step, shard) =>
            {
                if (trainer == 1 && step == 3) release.Wait(TimeSpan.FromSeconds(20));
            },
        };
        // Trainer 1 hangs from step 3 until the last step is reduced: its shards must move to trainer 0
        // once, not cost a deadline at every step.
        var recorder = new Recorder(r => { if (r.Step >= 12) release.Set(); });
        var outcome = await Run(Config(2, deadline: TimeSpan.FromSeconds(1)), new InMemoryRunStore(), recorder, hooks: hooks);
        release.Set();
        Assert.Contains(recorder.Warnings, w => w.Contains("step 3") && w.Contains("recomputing it on trainer-0"));
        Assert.Contains(recorder.Warnings, w => w.Contains("trainer-1 is suspect"));
        Assert.True(recorder.Warnings.Count(w => w.Contains("missed its")) == 2, string.Join("\n", recorder.Warnings));
        Assert.Equal(Reference(Config(1), 12), outcome.Parameters.Data);
    }

    [Fact]
    public async Task A_stopped_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_weights()
    {
        var store = new InMemoryRunStore();
        using var stop = new CancellationTokenSource();
        var first = await Run(Config(2), store, new Recorder(r => { if (r.Step == 7) stop.Cancel(); }), stop: stop.Token);
        Assert.True(first.Stopped);
        Assert.InRange(first.Step, 7, 11);
        var checkpoint = (await store.LoadLatestCheckpointAsync(_ => { }))!;
        Assert.Equal(first.Step, checkpoint.Step);
        var second = await Run(Config(1), store, new Recorder(), resume: checkpoint);
        Assert.False(second.Stopped);
        Assert.Equal(12, second.Step);
        Assert.Equal(Reference(Config(1), 12), second.Parameters.Data);
    }
}
