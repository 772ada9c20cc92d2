using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// Deadlines on Akka.TestKit's virtual clock: a test moves the clock past a deadline exactly when the situation it
/// tests has come about (a trainer is hung, a loader delivers nothing), so nothing depends on how fast the machine is.
/// </summary>
public sealed class TrainingDeadlineTests() : TestKit(AkkaConfig(virtualTime: true)), IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-deadline-").FullName;

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_hung_trainers_shards_are_recomputed_by_another_trainer_after_one_deadline()
    {
        using var release = new ManualResetEventSlim();
        // Released when trainer 1 hangs and when trainer 0 has delivered each of its two shards of step 3.
        using var ready = new SemaphoreSlim(0);
        var hooks = new TrainingHooks
        {
            BeforeShard = (trainer, step, shard) =>
            {
                if (trainer != 1 || step != 3) return;
                ready.Release();
                release.Wait(TestRuns.Patience);
            },
            AfterShard = (trainer, step, shard) => { if (trainer == 0 && step == 3) ready.Release(); },
        };
        // Trainer 1 hangs from step 3 until the last step is reduced: its shards must move to trainer 0 once,
        // not cost a deadline at every step.
        var recorder = new Recorder(r => { if (r.Step >= 12) release.Set(); });
        var run = Run(Sys, Config(_dir, 2, deadline: Deadline), new InMemoryCheckpointStore(), recorder, hooks: hooks);
        for (int i = 0; i < 3; i++) Assert.True(await ready.WaitAsync(TestRuns.Patience));
        Clock.Advance(Deadline);
        var outcome = await run.Bounded();
        release.Set();
        Assert.Contains(recorder.Warnings, w => w.Contains("step 3") && w.Contains("recomputing it on trainer-0"));
        Assert.Contains(recorder.Warnings, w => w.Contains("trainer-1 is suspect"));
        Assert.True(recorder.Warnings.Count(w => w.Contains("missed its")) == 2, recorder.AllWarnings);
        Assert.Equal(Reference(Config(_dir, 1), 12), outcome.Parameters.Data);
    }

    [Fact]
    public async Task With_one_trainer_a_loader_that_hangs_does_not_stall_the_run_the_trainer_builds_its_batches()
    {
        using var release = new ManualResetEventSlim();
        using var waiting = new SemaphoreSlim(0);
        var hooks = new TrainingHooks
        {
            BeforeLoad = (trainer, id) => { if (id.Step >= 3) release.Wait(TestRuns.Patience); },
            BeforeLaneWait = (trainer, step, shard) => { if (step >= 3) waiting.Release(); },
        };
        var recorder = new Recorder(r => { if (r.Step >= 12) release.Set(); });
        var run = Run(Sys, Config(_dir, 1, deadline: Deadline), new InMemoryCheckpointStore(), recorder, hooks: hooks);
        Assert.True(await waiting.WaitAsync(TestRuns.Patience));
        Clock.Advance(Deadline);
        var outcome = await run.Bounded();
        release.Set();
        Assert.Null(outcome.Error);
        // One deadline, then the trainer builds every batch itself without waiting again.
        Assert.Equal(0, waiting.CurrentCount);
        Assert.Single(recorder.Warnings, w => w.Contains("trainer-0: its loader delivered nothing within 1 s at step 3"));
        Assert.Equal(Reference(Config(_dir, 1), 12), outcome.Parameters.Data);
    }
}
