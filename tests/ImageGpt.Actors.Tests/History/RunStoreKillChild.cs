using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;

namespace ImageGpt.Actors.Tests.History;

/// <summary>
/// The child process of the store's kill test: this test assembly again under <c>dotnet exec</c>, named as its own
/// startup hook (<see cref="StartupHook"/>). It does what the checkpoint writer does, on the store and journal the test
/// names: writes a checkpoint's payload, then journals the <see cref="CheckpointCommitted"/> that names it, for steps
/// 1, 2, ..., printing "committed N" after each. In the second save it parks after inserting chunk
/// <see cref="ParkVar"/> and prints "mid-write", so the test kills it inside a payload for certain.
/// </summary>
internal static class RunStoreKillChild
{
    public const string ProviderVar = "IMAGEGPT_RUNSTORE_CHILD";
    public const string TargetVar = "IMAGEGPT_RUNSTORE_CHILD_TARGET";
    public const string RunVar = "IMAGEGPT_RUNSTORE_CHILD_RUN";
    public const string ParkVar = "IMAGEGPT_RUNSTORE_CHILD_PARK";

    /// <summary>Floats per array: three arrays make 8.4 MB, nine chunks.</summary>
    public const int Floats = 700_000;

    public static CheckpointSettings Settings(string provider, string target) =>
        new(Every: 1, Keep: 0, Store: provider, Postgres: provider == "postgres" ? target : "", ExportSafetensors: false);

    /// <summary>The run directory for sqlite; unused (but must be a path) for postgres.</summary>
    public static string RunDir(string provider, string target) => provider == "sqlite" ? target : Path.GetTempPath();

    public static int Run()
    {
        string provider = Environment.GetEnvironmentVariable(ProviderVar)!;
        string target = Environment.GetEnvironmentVariable(TargetVar)!;
        string runId = Environment.GetEnvironmentVariable(RunVar)!;
        int park = int.Parse(Environment.GetEnvironmentVariable(ParkVar)!, CultureInfo.InvariantCulture);
        var store = RunStore.Open(Settings(provider, target), RunDir(provider, target));
        var system = TestRuns.System(store, "kill-child");
        var history = system.ActorOf(Props.Create(() => new RunHistoryActor(runId)), "history");
        for (long step = 1; ; step++)
        {
            if (step == 2)
                store.Blobs.AfterChunkForTests = idx =>
                {
                    if (idx != park) return;
                    Console.WriteLine("mid-write");
                    Thread.Sleep(Timeout.Infinite);
                };
            var checkpoint = TestRuns.Checkpoint(step, Floats);
            BlobInfo blob = store.Blobs.Write(runId, checkpoint);
            history.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(TestRuns.Committed(checkpoint, blob)), TestRuns.Patience).GetAwaiter().GetResult();
            Console.WriteLine($"committed {step}");
        }
    }
}
