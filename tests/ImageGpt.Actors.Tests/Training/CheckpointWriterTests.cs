using Akka.Actor;
using Akka.TestKit.Xunit2;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>The writer writes in order and announces only what is journaled; the evaluator keeps one checkpoint waiting, the newest.</summary>
public sealed class CheckpointWriterTests() : TestKit(AkkaConfig()), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-writer-").FullName;

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static Checkpoint C(long step) =>
        new(step, 0, (int)step, [step, 1f], [2f], [3f], (int)step, 5);

    private static RunHistoryActor.Recorded Recorded(RunHistoryActor.Record r) => new(1, r.Event);

    [Fact]
    public async Task Checkpoints_are_written_one_at_a_time_in_order_and_each_is_journaled_before_it_is_announced()
    {
        var history = CreateTestProbe();
        var replyTo = CreateTestProbe();
        var store = new InMemoryCheckpointStore();
        var setup = new WriterSetup("w", store, history.Ref, [], Model, _dir, 0, false, new Recorder());
        var writer = Sys.ActorOf(Props.Create(() => new CheckpointWriter(setup)));

        writer.Tell(new SaveCheckpoint(C(1), false, replyTo.Ref));
        // The writer waits for the journal: checkpoint 1 is in progress from here on, and not announced.
        var first = await history.ExpectMsgAsync<RunHistoryActor.Record>(TestRuns.Patience);
        Assert.Equal(1, ((CheckpointCommitted)first.Event).Step);
        writer.Tell(new SaveCheckpoint(C(2), false, replyTo.Ref));
        writer.Tell(new SaveCheckpoint(C(3), true, replyTo.Ref));
        await replyTo.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal([1L], store.Steps);
        history.Reply(Recorded(first));
        Assert.Equal(1, (await replyTo.ExpectMsgAsync<CheckpointSaved>(TestRuns.Patience)).Step);
        foreach (long step in (long[])[2, 3])
        {
            var next = await history.ExpectMsgAsync<RunHistoryActor.Record>(TestRuns.Patience);
            Assert.Equal(step, ((CheckpointCommitted)next.Event).Step);
            history.Reply(Recorded(next));
            var saved = await replyTo.ExpectMsgAsync<CheckpointSaved>(TestRuns.Patience);
            Assert.Equal((step, step == 3), (saved.Step, saved.Final));
        }
        Assert.Equal([1L, 2, 3], store.Steps);
    }

    [Fact]
    public async Task An_evaluator_that_falls_behind_evaluates_the_newest_checkpoint_and_reports_the_ones_it_skipped()
    {
        var history = CreateTestProbe();
        var recorder = new Recorder();
        var model = Model with { Layers = 1 };
        var all = Data();
        var data = new RunEvalData(new Nn.Data.TokenSet(all.Tokens[..(4 * all.T)], all.Labels[..4], all.T), null, null, null);
        var setup = new EvaluatorSetup(model, data, new RunEvalOptions(4, 0, 0, 0, 0, 0, 1, 1), new Nn.Palette.Palette(1, [-0.5f, 0.5f]), history.Ref, _dir, recorder);
        var evaluator = Sys.ActorOf(Props.Create(() => new EvaluatorActor(setup)));
        var parameters = new ParameterSlab(model);
        new Gpt(model, 1, parameters).Init();
        CheckpointSaved Saved(long step) => new(step, parameters.Data, false, new CheckpointCommitted(step, 0, 0, 0, 0, "b", 1, "s", 0, DateTimeOffset.UnixEpoch));

        evaluator.Tell(Saved(1));
        var first = await history.ExpectMsgAsync<RunHistoryActor.Record>(TestRuns.Patience);
        evaluator.Tell(Saved(2));
        evaluator.Tell(Saved(3));
        var drainer = CreateTestProbe();
        evaluator.Tell(new Drain(), drainer.Ref);
        await drainer.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        history.Reply(Recorded(first));

        var next = await history.ExpectMsgAsync<RunHistoryActor.Record>(TestRuns.Patience);
        var evaluation = Assert.IsType<EvaluationRecorded>(next.Event);
        Assert.Equal(3, evaluation.Step);
        Assert.Equal([2L], evaluation.Skipped);
        Assert.Equal(Math.Log(model.Vocab), evaluation.ValidationNats, 5);
        history.Reply(Recorded(next));
        await drainer.ExpectMsgAsync<Drained>(TestRuns.Patience);
        Assert.Contains(recorder.Warnings, w => w.Contains("skipping step(s) 2"));
        Assert.Equal([1L, 3], recorder.Evaluations.Select(e => e.Step));
    }
}
