using System.Diagnostics;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Host.Tests;

/// <summary>`imagegpt status` on a hand-made run directory: status.json written as a training process writes it,
/// and a run.db written through the run store.</summary>
public sealed class StatusCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("status-command-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static string[] Run(params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(0, StatusCommand.Run(args, output));
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static RunStatus Status(int pid, DateTime updated) => new(
        pid, updated, "status-run", RunPhase.Training, Step: 230, Steps: 5000, Loss: 1.8765, TokensPerSecond: 12345, DataWaitFraction: 0.031, Error: null,
        new HealthSnapshot("imagegpt", updated,
        [
            new ActorHealth("akka://imagegpt/user/run", nameof(RunActor), ActorState.Running, 0, 57, 1.5, 0, null, updated),
            new ActorHealth("akka://imagegpt/user/run/aggregator", nameof(ParameterAggregator), ActorState.Running, 0, 900, 20.5, 0, null, updated),
            new ActorHealth("akka://imagegpt/user/run/trainer-0/trainer", nameof(TrainerActor), ActorState.Running, 3, 1234, 40.2, 2,
                new FailureInfo("System.InvalidOperationException", "shard 3 diverged", new DateTime(2026, 11, 23, 12, 3, 4, DateTimeKind.Utc)), updated),
            new ActorHealth("akka://imagegpt/user/run/loader-0/loader", nameof(DataLoaderActor), ActorState.Restarting, 0, 999, 39.9, 1, null, updated),
        ], DeadLetters: 5));

    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static Task FillStoreAsync(string runDir) => RunFiles.RecordAsync(runDir, "status-run",
        new RunStarted("status-run", "{}", "[]", 5000, At),
        new CheckpointCommitted(100, 0, 100, 100, 1, "100-a", 12000, new string('a', 64), 0.1, At.AddMinutes(1)),
        new CheckpointCommitted(200, 0, 200, 200, 1, "200-b", 3 << 20, "0123456789abcdef" + new string('b', 48), 0.1, At.AddMinutes(2)),
        new EvaluationRecorded(100, 2.5, 2.5 / Math.Log(2), [new ProbeRow("layer 1", 1, 0.5, 0.5)], new ProbeRow("raw pixels", 0.1, 0.81, 0.8), null, 3, [], At),
        new EvaluationRecorded(200, 2.0, 2.0 / Math.Log(2), [new ProbeRow("layer 3", 10, 0.875, 0.8625)], null, Path.Combine(runDir, "step-200.png"), 12.5, [], At));

    [Fact]
    public async Task Status_prints_progress_the_actor_tree_with_restarts_and_failures_the_last_checkpoint_and_the_latest_probe_table()
    {
        Status(Environment.ProcessId, DateTime.UtcNow).Write(_dir);
        await FillStoreAsync(_dir);

        string[] lines = Run("--run-dir", _dir);

        Assert.Equal($"run {_dir}", lines[0]);
        Assert.Contains(lines, l => l.Contains("run id status-run, phase training") && l.Contains($"pid {Environment.ProcessId} (alive)") && !l.Contains("stale"));
        Assert.Contains(lines, l => l.Contains("step 230/5000") && l.Contains("loss 1.8765") && l.Contains("12345 tokens/s") && l.Contains("data wait 3.1%"));
        Assert.Contains(lines, l => l.Contains("dead letters 5"));
        // Indented by depth under the two-space margin: /user/run at 1, its children at 2, theirs at 3.
        Assert.Contains(lines, l => l.StartsWith("    /user/run ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("      /user/run/aggregator ", StringComparison.Ordinal));
        string trainer = Assert.Single(lines, l => l.StartsWith("        /user/run/trainer-0/trainer ", StringComparison.Ordinal));
        Assert.Matches(@"Running\s+3\s+40\.2\s+1234\s+2\s+System\.InvalidOperationException: shard 3 diverged \(2026-11-23 12:03:04Z\)$", trainer);
        string loader = Assert.Single(lines, l => l.Contains("/user/run/loader-0/loader"));
        Assert.Matches(@"Restarting\s+0\s+39\.9\s+999\s+1\s+-$", loader);
        Assert.Contains(lines, l => l.Contains("history of run 'status-run' in sqlite") && l.Contains("(5 events)"));
        Assert.Contains(lines, l => l.Contains("started 2026-11-23 12:00:00Z for 5000 steps"));
        Assert.Contains(lines, l => l.Contains("checkpoints: 2, last step 200 at 2026-11-23 12:02:00Z, 3.0 MiB, sha256 0123456789ab"));
        Assert.Contains(lines, l => l.Contains("evaluation of step 200 (12.5 s): validation loss 2.0000 nats, 2.8854 bits per token"));
        // The raw-pixel baseline is measured once; the latest evaluation is shown with it.
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+raw pixels\s+0\.1\s+81\.00\s+80\.00$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+layer 3\s+10\s+87\.50\s+86\.25$"));
        Assert.DoesNotContain(lines, l => l.Contains("layer 1"));
        Assert.Contains($"  completions: {Path.Combine(_dir, "step-200.png")}", lines);
    }

    [Fact]
    public void In_a_cluster_status_prints_each_members_actors_as_the_root_last_heard_them()
    {
        const string Root = "akka.tcp://igpt-run@127.0.0.1:4001", Node = "akka.tcp://igpt-run@127.0.0.1:4002", Silent = "akka.tcp://igpt-run@127.0.0.1:4003";
        DateTime now = DateTime.UtcNow;
        var node = new HealthSnapshot("igpt-run", now.AddSeconds(-3),
        [
            new ActorHealth($"{Node}/user/node", nameof(NodeActor), ActorState.Running, 0, 12, 0.5, 0, null, now),
            new ActorHealth($"{Node}/user/node/loader-0/loader", nameof(DataLoaderActor), ActorState.Running, 1, 80, 4.0, 0, null, now),
            new ActorHealth($"{Node}/user/node/trainer-0/trainer", nameof(TrainerActor), ActorState.Restarting, 0, 77, 3.5, 1,
                new FailureInfo("System.IO.IOException", "data plane closed", new DateTime(2026, 11, 23, 12, 3, 4, DateTimeKind.Utc)), now),
        ], DeadLetters: 2);
        string[] roles = ["aggregator", "data", "trainer"];
        var cluster = new Actors.Cluster.ClusterView(Root, Root,
            [new(Root, roles, "Up", true), new(Node, roles, "Up", true, node), new(Silent, ["trainer"], "Joining", true)], ["127.0.0.1:4001/trainer-0", "127.0.0.1:4002/trainer-0"]);
        (Status(Environment.ProcessId, now) with { Cluster = cluster }).Write(_dir);

        string[] lines = Run("--run-dir", _dir);

        // The root's member shows the root's own actors (written before members answered: status.json's health).
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^actors of {Root} \(the root's member\), as of \d+ s ago \(4, dead letters 5\):$"));
        int at = Array.FindIndex(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^actors of {Node}, as of \d+ s ago \(3, dead letters 2\):$"));
        Assert.True(at > 0, string.Join('\n', lines));
        Assert.Matches(@"^ +/user/node/trainer-0/trainer +Restarting +0 +3\.5 +77 +1 +System\.IO\.IOException: data plane closed \(2026-11-23 12:03:04Z\)$", lines[at + 4]);
        Assert.Matches(@"^ +/user/node/loader-0/loader +Running +1 +4\.0 +80 +0 +-$", lines[at + 3]);
        Assert.Contains($"actors of {Silent}: not known (the member has not answered the root yet)", lines);
    }

    [Fact]
    public void An_old_status_of_a_process_that_is_gone_is_called_stale()
    {
        using Process gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        Status(gone.Id, DateTime.UtcNow.AddMinutes(-5)).Write(_dir);

        string[] lines = Run("--run-dir", _dir);

        Assert.Contains(lines, l => l.Contains($"pid {gone.Id} (not running)") && l.Contains("updated 5 min ago") && l.EndsWith(", stale", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("store: no run.db in ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_directory_without_status_still_shows_its_store_and_the_config_can_name_the_directory()
    {
        await FillStoreAsync(_dir);
        string conf = Path.Combine(_dir, "run.conf");
        File.WriteAllText(conf, $"run.dir = \"{_dir}\"\nrun.id = status-run\n");

        string[] lines = Run("--config", conf);

        Assert.Equal($"run {_dir}", lines[0]);
        Assert.Contains(lines, l => l.Contains("no readable status.json"));
        Assert.Contains(lines, l => l.Contains("checkpoints: 2, last step 200"));
    }

    [Fact]
    public void A_missing_run_directory_is_a_user_error_with_a_hint()
    {
        string missing = Path.Combine(_dir, "nope");
        var e = Assert.Throws<UserError>(() => StatusCommand.Run(["--run-dir", missing], new StringWriter()));
        Assert.Equal($"run directory {missing} not found. HINT: start a run with imagegpt train or pass --run-dir", e.Message);
    }
}
