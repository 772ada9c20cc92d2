using Akka.TestKit.Xunit2;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// The actor system on Akka.NET against its oracle, the plain loop (ReferenceTraining): whatever the number of
/// trainers, failures and interruptions, the final weights must be the same bits.
/// </summary>
public sealed class TrainingRunTests() : TestKit(AkkaConfig()), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-run-").FullName;

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Any_number_of_trainers_gives_the_plain_loops_weights_bit_for_bit(int trainers)
    {
        var c = Config(_dir, trainers);
        var outcome = await Run(Sys, c, new InMemoryCheckpointStore(), new Recorder()).Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(12, outcome.Step);
        Assert.Equal(Reference(c, 12), outcome.Parameters.Data);
    }

    [Fact]
    public async Task Trainers_and_the_aggregator_recycle_the_same_gradient_buffers_so_memory_does_not_grow_with_the_steps()
    {
        // 40 steps of 4 shards: a pool the aggregator returned into but the trainers never rented from (as before this
        // test) made 160 buffers and kept them all; the shared pool makes one per shard in flight.
        var c = Config(_dir, 2, steps: 40, every: 20);
        var outcome = await Run(Sys, c, new InMemoryCheckpointStore(), new Recorder()).Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(Reference(c, 40), outcome.Parameters.Data);
        var pool = GradientPools.Get(Sys).For(outcome.Parameters.Length);
        Assert.InRange(pool.Allocated, 1, 2 * Shards);
        Assert.InRange(pool.Free, 1, 2 * Shards);
    }

    [Fact]
    public async Task Bert_runs_are_also_independent_of_the_trainer_count()
    {
        var one = await Run(Sys, Config(_dir, 1, objective: Objective.Bert), new InMemoryCheckpointStore(), new Recorder()).Bounded();
        var two = await Run(Sys, Config(_dir, 2, objective: Objective.Bert), new InMemoryCheckpointStore(), new Recorder()).Bounded();
        Assert.Equal(one.Parameters.Data, two.Parameters.Data);
        Assert.NotEqual(Reference(Config(_dir, 1), 12), one.Parameters.Data);
    }

    [Fact]
    public async Task Checkpoints_are_written_at_the_start_every_N_steps_and_at_the_end_and_journaled_before_they_are_announced()
    {
        var store = new InMemoryCheckpointStore();
        var recorder = new Recorder();
        await Run(Sys, Config(_dir, 2), store, recorder).Bounded();
        Assert.Equal([0L, 5, 10, 12], store.Steps);
        Assert.Equal([0L, 5, 10, 12], recorder.Checkpoints);
        var history = await HistoryOf(Sys);
        Assert.Equal(RunId, history.Started!.RunId);
        Assert.Equal([0L, 5, 10, 12], history.Checkpoints.Select(c => c.Step));
        Assert.IsType<RunFinished>(history.Ended);
        var last = ((ICheckpointStore)store).LoadLatest(history, w => Assert.Fail(w))!;
        Assert.Equal(12, last.AdamStep);
        Assert.Equal(Reference(Config(_dir, 1), 12), last.Parameters);
        Assert.Equal(12, recorder.Steps.Count);
        Assert.Equal(RunPhase.Finished, RunStatus.TryRead(_dir)!.Phase);
    }

    [Fact]
    public async Task Old_checkpoints_are_pruned_event_first_and_their_payloads_deleted()
    {
        var store = new InMemoryCheckpointStore();
        await Run(Sys, Config(_dir, 2, keep: 2), store, new Recorder()).Bounded();
        Assert.Equal([10L, 12], store.Steps);
        Assert.Equal([10L, 12], (await HistoryOf(Sys)).Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task A_slow_store_holds_training_back_at_two_outstanding_checkpoints_and_every_checkpoint_is_written()
    {
        using var gate = new SemaphoreSlim(0);
        var store = new GatedCheckpointStore(gate);
        var recorder = new Recorder();
        var run = Run(Sys, Config(_dir, 2, every: 1), store, recorder);
        // Checkpoint 0 is being written, checkpoint 1 waits: the aggregator does not go past step 2 without the writer.
        await AwaitConditionAsync(() => Task.FromResult(recorder.Steps.Count >= 2), TestRuns.Patience);
        await Task.Delay(300);
        Assert.Equal(2, recorder.Steps.Count);
        gate.Release(1000);
        var outcome = await run.Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(Enumerable.Range(0, 13).Select(i => (long)i), store.Steps);
        Assert.Equal(Reference(Config(_dir, 1), 12), outcome.Parameters.Data);
    }

    /// <summary>A store whose writes wait for the test.</summary>
    private sealed class GatedCheckpointStore(SemaphoreSlim gate) : ICheckpointStore
    {
        private readonly InMemoryCheckpointStore _inner = new();
        public IReadOnlyList<long> Steps => _inner.Steps;

        public BlobInfo Write(string runId, Checkpoint checkpoint, Fence? fence = null)
        {
            Assert.True(gate.Wait(TestRuns.Patience));
            return _inner.Write(runId, checkpoint, fence);
        }

        public (Checkpoint? Checkpoint, string? Problem) Read(CheckpointCommitted committed) => _inner.Read(committed);
        public void Delete(IEnumerable<string> blobIds) => _inner.Delete(blobIds);
        public int Sweep(string runId, IReadOnlySet<string> named) => _inner.Sweep(runId, named);
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
        var outcome = await Run(Sys, Config(_dir, 2), new InMemoryCheckpointStore(), recorder, hooks: hooks).Bounded();
        Assert.Equal(1, thrown);
        Assert.Null(outcome.Error);
        Assert.Contains(recorder.Warnings, w => w.Contains("injected trainer fault") && w.Contains("trainer-1"));
        Assert.Equal(Reference(Config(_dir, 1), 12), outcome.Parameters.Data);
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
        var recorder = new Recorder();
        var outcome = await Run(Sys, Config(_dir, 2, steps: 16), new InMemoryCheckpointStore(), recorder, hooks: hooks).Bounded();
        Assert.Equal(1, thrown);
        Assert.Contains(recorder.Warnings, w => w.Contains("injected loader fault") && w.Contains("loader-0"));
        Assert.Equal(Reference(Config(_dir, 1, steps: 16), 16), outcome.Parameters.Data);
        // 64 images / batch 8 = 8 steps per epoch: 16 steps are two full epochs, each image once in each.
        Assert.All(ledger.UseCounts(0, Images), n => Assert.Equal(1, n));
        Assert.All(ledger.UseCounts(1, Images), n => Assert.Equal(1, n));
        for (int s = 0; s < 8; s++) Assert.True(ledger.IsComplete(1, s, Shards));
    }

    [Theory]
    [InlineData("trainer")]
    [InlineData("loader")]
    public async Task A_child_that_fails_past_its_restart_budget_stops_the_run_with_a_one_line_reason(string which)
    {
        var hooks = which == "trainer"
            ? new TrainingHooks { BeforeShard = (trainer, step, _) => { if (trainer == 1 && step >= 2) throw new InvalidOperationException("always failing"); } }
            : new TrainingHooks { BeforeLoad = (trainer, id) => { if (trainer == 1 && id.Step >= 2) throw new IOException("always failing"); } };
        var outcome = await Run(Sys, Config(_dir, 2, maxRestarts: 2), new InMemoryCheckpointStore(), new Recorder(), hooks: hooks).Bounded();
        Assert.NotNull(outcome.Error);
        Assert.Contains($"{which}-1 failed more than runtime.restart.max-restarts = 2 times", outcome.Error);
        Assert.Contains("always failing", outcome.Error);
        Assert.DoesNotContain('\n', outcome.Error);
        var history = await HistoryOf(Sys);
        Assert.Contains("runtime.restart.max-restarts", Assert.IsType<RunFailed>(history.Ended).Error);
        // The checkpoint at step 0 stays the one to resume from.
        Assert.Equal(0, history.Checkpoints[^1].Step);
    }

    [Fact]
    public async Task A_stopped_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_weights()
    {
        var store = new InMemoryCheckpointStore();
        using var stop = new CancellationTokenSource();
        var first = await Run(Sys, Config(_dir, 2), store, new Recorder(r => { if (r.Step == 7) stop.Cancel(); }), stop: stop.Token).Bounded();
        Assert.True(first.Stopped);
        Assert.InRange(first.Step, 7, 11);
        var history = await HistoryOf(Sys);
        Assert.IsType<RunStopped>(history.Ended);
        var checkpoint = ((ICheckpointStore)store).LoadLatest(history, w => Assert.Fail(w))!;
        Assert.Equal(first.Step, checkpoint.Step);

        // The run starts again from what the store and the journal hold: the checkpoint above.
        var second = await Run(Sys, Config(_dir, 1), store, new Recorder()).Bounded();
        Assert.False(second.Stopped);
        Assert.Equal(12, second.Step);
        Assert.Equal(Reference(Config(_dir, 1), 12), second.Parameters.Data);
        var after = await HistoryOf(Sys);
        Assert.Equal(first.Step, Assert.Single(after.Resumes).Step);
        Assert.IsType<RunFinished>(after.Ended);
    }
}
