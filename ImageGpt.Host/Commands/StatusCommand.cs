using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt status [--run-dir DIR] [--config FILE]</c>: what a run is doing, read from the outside while it
/// trains: status.json (phase, progress, the actor tree with its health) and the run's SQL store (checkpoints and
/// the latest evaluation), opened read-only so that it never waits for or disturbs the training process.
/// </summary>
public static class StatusCommand
{
    /// <summary>A status older than this, from a process that no longer exists, is called stale.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(30);

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] rest) => Run(rest, Console.Out);

    public static int Run(string[] rest, TextWriter output)
    {
        Args args = Args.Parse("status", rest, new HashSet<string>(StringComparer.Ordinal));
        string? runDirOption = args.String("run-dir");
        string? file = args.String("config");
        args.RejectUnknown();

        // The default config names the run directory only when --run-dir does not; its store settings are used
        // only when the user points at a config, since a bare status should read the run.db it finds.
        // Without --config that is the run `imagegpt train` starts by default.
        Config? config = file is not null || runDirOption is null
            ? ConfigCommand.Load(file ?? Commands.TrainCommand.DefaultRun(ConfigCommand.FindReference()), [])
            : null;
        string runDir = runDirOption ?? config!.GetString("run.dir");
        if (!Directory.Exists(runDir))
            throw new UserError($"run directory {runDir} not found. HINT: start a run with imagegpt train or pass --run-dir");

        output.WriteLine($"run {runDir}");
        WriteProcess(output, RunStatus.TryRead(runDir));
        WriteStore(output, runDir, StoreSettings(file is not null ? config : null));
        return 0;
    }

    private static CheckpointSettings StoreSettings(Config? config)
    {
        string store = config is not null && config.HasPath("checkpoint.store") ? config.GetString("checkpoint.store") : "sqlite";
        string postgres = config is not null && config.HasPath("checkpoint.postgres") ? config.GetString("checkpoint.postgres") : "";
        return new CheckpointSettings(Every: 0, Keep: 0, store, postgres, ExportSafetensors: false);
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
        o.WriteLine(string.Create(Inv, $"  phase {s.Phase}, pid {s.Pid} ({(alive ? "alive" : "not running")}), updated {Age(age)}{stale}"));
        o.WriteLine(string.Create(Inv,
            $"  step {s.Step}/{s.Steps}, loss {s.Loss:F4}, {s.TokensPerSecond:F0} tokens/s, data wait {100 * s.DataWaitFraction:F1}%"));
        if (s.Error is not null) o.WriteLine($"  error: {s.Error}");
        WriteActors(o, s.Health);
    }

    private static bool IsAlive(int pid)
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

    private static void WriteActors(TextWriter o, HealthSnapshot h)
    {
        o.WriteLine($"actors of {h.System} ({h.Actors.Count}, dead letters {h.DeadLetters}):");
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

    /// <summary>akka://system/user/trainer-0 → /user/trainer-0.</summary>
    private static string Local(string path)
    {
        int scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return path;
        int slash = path.IndexOf('/', scheme + 3);
        return slash < 0 ? "/" : path[slash..];
    }

    private static string Indent(string local) => new(' ', 2 * Math.Max(0, local.Count(c => c == '/') - 1));

    private static void WriteStore(TextWriter o, string runDir, CheckpointSettings settings)
    {
        if (settings.Store == "sqlite" && !File.Exists(Path.Combine(runDir, SqlRunStore.SqliteFileName)))
        {
            o.WriteLine($"store: no {SqlRunStore.SqliteFileName} in {runDir} yet (no checkpoint written)");
            return;
        }
        SqlRunStore store;
        try { store = SqlRunStore.OpenReadOnly(settings, runDir); }
        catch (UserError error)
        {
            // The process part above is still worth seeing when the database is away.
            o.WriteLine($"store: unavailable: {error.Message}");
            return;
        }
        IReadOnlyList<CheckpointInfo> checkpoints;
        IReadOnlyList<EvalResult> evals;
        try
        {
            checkpoints = store.ListCheckpointsAsync().GetAwaiter().GetResult();
            evals = store.ListEvalsAsync().GetAwaiter().GetResult();
        }
        finally
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        o.WriteLine($"store {settings.Store} {store.Where}:");
        if (checkpoints.Count == 0) o.WriteLine("  checkpoints: none yet");
        else
        {
            CheckpointInfo last = checkpoints[^1];
            o.WriteLine(string.Create(Inv,
                $"  checkpoints: {checkpoints.Count}, last step {last.Step} at {last.Created.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {Size(last.Bytes)}, sha256 {last.Sha256[..Math.Min(12, last.Sha256.Length)]}"));
        }
        if (evals.Count == 0)
        {
            o.WriteLine("  evaluations: none yet");
            return;
        }
        EvalResult e = evals[^1];
        o.WriteLine(string.Create(Inv,
            $"  evaluation of step {e.Step} ({e.Seconds:F1} s): validation loss {e.ValidationNats:F4} nats, {e.ValidationBits:F4} bits per token"));
        if (e.Probe.Count > 0)
        {
            int width = Math.Max("layer".Length, e.Probe.Max(r => r.Layer.Length));
            o.WriteLine($"    {"layer".PadRight(width)}  {"best C",9}  {"val %",7}  {"test %",7}");
            foreach (ProbeRow r in e.Probe)
                o.WriteLine(string.Create(Inv, $"    {r.Layer.PadRight(width)}  {r.BestC,9:G3}  {100 * r.ValidationAccuracy,7:F2}  {100 * r.TestAccuracy,7:F2}"));
        }
        if (e.CompletionsPng is not null) o.WriteLine($"  completions: {e.CompletionsPng}");
    }

    private static string Size(long bytes) =>
        bytes >= 1 << 20 ? string.Create(Inv, $"{bytes / (double)(1 << 20):F1} MiB") : string.Create(Inv, $"{bytes / 1024.0:F1} KiB");
}
