using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Sweep;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt status [--run-dir DIR] [--config FILE]</c>: what a run is doing, read from the outside while it trains:
/// status.json (phase, progress, the actor tree with its health) and the run's history from its store through
/// Akka.Persistence.Query (checkpoints, the latest evaluation), which never waits for or disturbs the training process.
/// </summary>
public static class StatusCommand
{
    /// <summary>A status older than this, from a process that no longer exists, is called stale.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(30);

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal static Option<string?> RunDirOption() => Cli.Optional("--run-dir", "the run directory (default: run.dir of the config, runs/fashion-mnist for the default run)", "DIR");

    private static readonly Option<string?> RunDir = RunDirOption();
    private static readonly Option<string?> ConfigPath = ConfigCommand.ConfigFile("the default run; its store settings and run.id are used only when given");

    public static Command Definition { get; } = Cli.Command("status", "a run's phase, progress, actor tree with health, checkpoints and latest probe table", RunDir, ConfigPath);

    static StatusCommand() => Definition.SetAction(r => Run(r, Console.Out));

    public static int Run(string[] rest, TextWriter output) => Run(Cli.Parse(Definition, rest), output);

    private static int Run(ParseResult args, TextWriter output)
    {
        string? runDirOption = args.GetValue(RunDir);
        string? file = args.GetValue(ConfigPath);

        RunLocation run = RunLocation.Find(runDirOption, file);
        output.WriteLine($"run {run.RunDir}");
        WriteProcess(output, RunStatus.TryRead(run.RunDir));
        WriteHistory(output, run);
        return 0;
    }

    private static void WriteProcess(TextWriter o, RunStatus? s)
    {
        if (s is null)
        {
            o.WriteLine($"  no readable {RunStatus.FileName}: no training process has reported here yet");
            return;
        }
        bool alive = IsAlive(s.Pid);
        TimeSpan age = DateTime.UtcNow - s.UpdatedUtc;
        string stale = age > StaleAfter && !alive ? ", stale" : "";
        o.WriteLine(string.Create(Inv, $"  run id {s.RunId}, phase {s.Phase.ToString().ToLowerInvariant()}, pid {s.Pid} ({(alive ? "alive" : "not running")}), updated {Age(age)}{stale}"));
        o.WriteLine(string.Create(Inv,
            $"  step {s.Step}/{s.Steps}, loss {s.Loss:F4}, {s.TokensPerSecond:F0} tokens/s, data wait {100 * s.DataWaitFraction:F1}%"));
        if (s.Error is not null) o.WriteLine($"  error: {s.Error}");
        if (s.Cluster is not { } cluster)
        {
            WriteActors(o, $"actors of {s.Health.System}", s.Health);
            return;
        }
        WriteCluster(o, cluster);
        // Each member's own actors, as it last answered the root (a status.json written before members answered has the root's only).
        foreach (ClusterMemberView m in cluster.Members)
        {
            if ((m.Actors ?? (m.Address == cluster.Root ? s.Health : null)) is { } actors)
                WriteActors(o, $"actors of {m.Address}{(m.Address == cluster.Root ? " (the root's member)" : "")}, as of {Age(s.UpdatedUtc - actors.AtUtc + age)}", actors);
            else o.WriteLine($"actors of {m.Address}: not known (the member has not answered the root yet)");
        }
    }

    internal static bool IsAlive(int pid)
    {
        try
        {
            using Process p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static string Age(TimeSpan age) =>
        age < TimeSpan.Zero ? "just now"
        : age.TotalSeconds < 120 ? string.Create(Inv, $"{age.TotalSeconds:F0} s ago")
        : age.TotalMinutes < 120 ? string.Create(Inv, $"{age.TotalMinutes:F0} min ago")
        : string.Create(Inv, $"{age.TotalHours:F1} h ago");

    /// <summary>Every member (address, roles, status, reachability), the leader, the member the run's root runs on, and each member's trainers.</summary>
    private static void WriteCluster(TextWriter o, ClusterView c)
    {
        o.WriteLine($"cluster of {c.Members.Count} member(s), as the run's root sees it (leader {c.Leader ?? "none"}; the root, the aggregator singleton, on {c.Root}):");
        if (c.Members.Count == 0) return;
        int width = Math.Max("address".Length, c.Members.Max(m => m.Address.Length));
        int roles = Math.Max("roles".Length, c.Members.Max(m => string.Join(", ", m.Roles).Length));
        o.WriteLine($"  {"address".PadRight(width)}  {"roles".PadRight(roles)}  {"status",-8}  {"reachable",-9}  {"leader",-6}  {"root",-4}  trainers");
        foreach (ClusterMemberView m in c.Members)
        {
            string node = m.Address[(m.Address.IndexOf('@') + 1)..] + "/";
            var trainers = c.Trainers.Where(t => t.StartsWith(node, StringComparison.Ordinal)).Select(t => t[node.Length..]).ToList();
            o.WriteLine($"  {m.Address.PadRight(width)}  {string.Join(", ", m.Roles).PadRight(roles)}  {m.Status,-8}  {(m.Reachable ? "yes" : "NO"),-9}  " +
                $"{(m.Address == c.Leader ? "yes" : "-"),-6}  {(m.Address == c.Root ? "yes" : "-"),-4}  {(trainers.Count == 0 ? "-" : string.Join(", ", trainers))}");
        }
    }

    private static void WriteActors(TextWriter o, string title, HealthSnapshot h)
    {
        o.WriteLine($"{title} ({h.Actors.Count}, dead letters {h.DeadLetters}):");
        if (h.Actors.Count == 0) return;
        // Paths without scheme and system, indented by depth, so the tree reads like the supervision hierarchy.
        var names = h.Actors.Select(a => Indent(Local(a.Path)) + Local(a.Path)).ToList();
        int width = Math.Max("path".Length, names.Max(n => n.Length));
        o.WriteLine($"  {"path".PadRight(width)}  {"state",-10}  {"mailbox",7}  {"msgs/s",9}  {"processed",10}  {"restarts",8}  last failure");
        for (int i = 0; i < h.Actors.Count; i++)
        {
            ActorHealth a = h.Actors[i];
            string failure = a.LastFailure is { } f ? $"{f.ExceptionType}: {f.Message} ({f.AtUtc.ToString("yyyy-MM-dd HH:mm:ss", Inv)}Z)" : "-";
            o.WriteLine(string.Create(Inv,
                $"  {names[i].PadRight(width)}  {a.State,-10}  {a.MailboxDepth,7}  {a.MessagesPerSecond,9:F1}  {a.MessagesProcessed,10}  {a.Restarts,8}  {failure}"));
        }
    }

    /// <summary>akka://system/user/node/trainer-0/trainer → /user/node/trainer-0/trainer.</summary>
    private static string Local(string path)
    {
        int scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return path;
        int slash = path.IndexOf('/', scheme + 3);
        return slash < 0 ? "/" : path[slash..];
    }

    private static string Indent(string local) => new(' ', 2 * Math.Max(0, local.Count(c => c == '/') - 1));

    private static void WriteHistory(TextWriter o, RunLocation run)
    {
        string runDir = run.StoreDir;
        if (run.Store.Store == "sqlite" && !File.Exists(Path.Combine(runDir, RunStore.SqliteFileName)))
        {
            o.WriteLine($"store: no {RunStore.SqliteFileName} in {runDir} yet");
            return;
        }
        RunStore store;
        try { store = RunStore.Open(run.Store, runDir, mustExist: true); }
        catch (UserError error)
        {
            // The process part above is still worth seeing when the database is away.
            o.WriteLine($"store: unavailable: {error.Message}");
            return;
        }
        using var system = ActorSystem.Create("imagegpt-status", AkkaSettings.Build(run.Resolved, store, readOnly: true));
        try
        {
            var (runId, why) = run.RunIdAsync(system, store).GetAwaiter().GetResult();
            if (runId is null)
            {
                o.WriteLine(why);
                return;
            }
            var events = RunJournal.EventsAsync(system, runId).GetAwaiter().GetResult();
            if (SweepHistory.IsSweep(events)) WriteSweep(o, store, runId, SweepHistory.Of(events), run.RunDir);
            else WriteRun(o, store, runId, RunHistory.Of(events));
        }
        finally
        {
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(30));
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void WriteRun(TextWriter o, RunStore store, string runId, RunHistory h)
    {
        o.WriteLine($"history of run '{runId}' in {store.Provider} {store.Where} ({h.Events} events):");
        if (h.Started is { } started)
            o.WriteLine(string.Create(Inv, $"  started {started.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z for {started.TotalSteps} steps; resumed {h.Resumes.Count} time(s); {Ending(h.Ended)}"));
        if (h.Checkpoints.Count == 0) o.WriteLine("  checkpoints: none yet");
        else
        {
            CheckpointCommitted last = h.Checkpoints[^1];
            o.WriteLine(string.Create(Inv,
                $"  checkpoints: {h.Checkpoints.Count}, last step {last.Step} at {last.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {Size(last.Bytes)}, sha256 {last.Sha256[..Math.Min(12, last.Sha256.Length)]}"));
        }
        if (h.Evaluations.Count == 0)
        {
            o.WriteLine("  evaluations: none yet");
            return;
        }
        EvaluationRecorded e = h.Evaluations[^1];
        o.WriteLine(string.Create(Inv,
            $"  evaluation of step {e.Step} ({e.Seconds:F1} s): validation loss {e.ValidationNats:F4} nats, {e.ValidationBits:F4} bits per token"));
        // The raw-pixel baseline does not depend on the weights, so the evaluator measures it once per process.
        ProbeRow? raw = e.RawPixels ?? h.Evaluations.LastOrDefault(x => x.RawPixels is not null)?.RawPixels;
        var rows = raw is not null ? [.. e.Probe, raw] : e.Probe;
        if (rows.Count > 0)
        {
            int width = Math.Max("layer".Length, rows.Max(r => r.Layer.Length));
            o.WriteLine($"    {"layer".PadRight(width)}  {"best C",9}  {"val %",7}  {"test %",7}   (in-run probe: eval.probe subsets)");
            foreach (ProbeRow r in rows)
                o.WriteLine(string.Create(Inv, $"    {r.Layer.PadRight(width)}  {r.BestC,9:G3}  {100 * r.ValidationAccuracy,7:F2}  {100 * r.TestAccuracy,7:F2}"));
        }
        if (e.CompletionsPng is not null) o.WriteLine($"  completions: {e.CompletionsPng}");
    }

    /// <summary>A sweep's directory: its values in order, each one's validation loss, the choice, where each value's run is.</summary>
    private static void WriteSweep(TextWriter o, RunStore store, string sweepId, SweepHistory h, string sweepDir)
    {
        SweepStarted s = h.Started!;
        o.WriteLine(string.Create(Inv, $"sweep '{sweepId}' in {store.Provider} {store.Where}, started {s.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z: {h.Finished.Count} of {s.Values.Count} value(s) done"));
        foreach (string line in SweepCommand.Table(h, h.Chosen?.Index).Split('\n')) o.WriteLine($"  {line}");
        if (h.Chosen is null) o.WriteLine("  not finished: imagegpt sweep with the same settings resumes it");
        o.WriteLine($"  a value's run: imagegpt status --run-dir {Path.Combine(sweepDir, SweepSpec.NameOf(s.Key, s.Values[0]))}");
    }

    private static string Ending(IRunEvent? e) => e switch
    {
        RunFinished f => string.Create(Inv, $"finished at step {f.Step}"),
        RunStopped s => string.Create(Inv, $"stopped at step {s.Step} ({s.Reason}); --resume continues it"),
        RunFailed f => string.Create(Inv, $"failed at step {f.Step}: {f.Error}"),
        _ => "running, or ended without a word (killed)",
    };

    private static string Size(long bytes) =>
        bytes >= 1 << 20 ? string.Create(Inv, $"{bytes / (double)(1 << 20):F1} MiB") : string.Create(Inv, $"{bytes / 1024.0:F1} KiB");
}
