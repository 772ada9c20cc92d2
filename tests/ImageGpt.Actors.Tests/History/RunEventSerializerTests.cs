using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;

namespace ImageGpt.Actors.Tests.History;

/// <summary>The run's events through the serializer Akka picks for them (bound by AkkaSettings), and their folding.</summary>
public sealed class RunEventSerializerTests() : TestKit(AkkaSettings.Build(TestRuns.Reference, null))
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Named = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static TheoryData<IRunEvent, string> Events => new()
    {
        { new RunStarted("r", "{\"a\":1}", "[[0]]", 10, At), "run-started" },
        { new RunResumed(5, At), "run-resumed" },
        { new CheckpointCommitted(5, 1, 2, 5, ulong.MaxValue, "5-abc", 1234, new string('a', 64), 0.25, At), "checkpoint-committed" },
        { new CheckpointsPruned([1, 2], At), "checkpoints-pruned" },
        { new EvaluationRecorded(5, double.NaN, double.PositiveInfinity, [new ProbeRow("0", 1, 0.5, 0.5)], new ProbeRow("raw pixels", 10, 0.8, 0.8), "x.png", 3, [4], At), "evaluation-recorded" },
        { new RunStopped(5, "SIGTERM", At), "run-stopped" },
        { new RunFinished(10, At), "run-finished" },
        { new RunFailed(7, "boom", At), "run-failed" },
        { new ImageGpt.Actors.Sweep.SweepStarted("s", "train.lr", ["0.01", "3e-3"], ["s-lr-0.01", "s-lr-3e-3"], "{\"a\":1}", At), "sweep-started" },
        { new ImageGpt.Actors.Sweep.SweepValueFinished(1, "3e-3", "s-lr-3e-3", 40, double.NaN, double.NaN, "loss became NaN at step 3", At), "sweep-value-finished" },
        { new ImageGpt.Actors.Sweep.SweepChosen(null, null, At), "sweep-chosen" },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void Every_event_round_trips_as_readable_json_under_its_stable_manifest(IRunEvent e, string manifest)
    {
        var serializer = Sys.Serialization.FindSerializerFor(e);
        Assert.IsType<RunEventSerializer>(serializer);
        Assert.Equal(manifest, Serialization.ManifestFor(serializer, e));
        byte[] bytes = serializer.ToBinary(e);
        Assert.StartsWith("{", Encoding.UTF8.GetString(bytes));
        object back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(JsonSerializer.Serialize(e, e.GetType(), Named), JsonSerializer.Serialize(back, back.GetType(), Named));
    }

    [Fact]
    public void An_unknown_manifest_is_refused_with_its_name()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(RunStarted));
        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "run-exploded"));
        Assert.Contains("run-exploded", e.Message);
    }

    [Fact]
    public void The_history_folds_events_in_order_and_a_snapshot_holds_the_same_state()
    {
        var c1 = new CheckpointCommitted(1, 0, 1, 1, 1, "1-a", 10, "s", 0, At);
        var c2 = new CheckpointCommitted(2, 0, 2, 2, 1, "2-a", 10, "s", 0, At);
        var c2again = c2 with { BlobId = "2-b" };
        var h = RunHistory.Of([
            new RunStarted("r", "{}", "[]", 10, At), c1, c2, new EvaluationRecorded(1, 1, 1, [], null, null, 0, [], At),
            new RunStopped(2, "SIGTERM", At), new RunResumed(2, At), c2again, new CheckpointsPruned([1], At),
        ]);
        Assert.Equal(["2-b"], h.Checkpoints.Select(c => c.BlobId));
        Assert.Single(h.Evaluations);
        Assert.Null(h.Ended);
        Assert.Single(h.Resumes);
        Assert.Equal(8, h.Events);
        var again = RunHistory.FromSnapshot(h.ToSnapshot());
        Assert.Equal(JsonSerializer.Serialize(h.ToSnapshot(), Named), JsonSerializer.Serialize(again.ToSnapshot(), Named));
    }
}
