using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// The run a reader from the outside (<c>imagegpt status</c>, <c>imagegpt dashboard</c>) looks at. Without --config: the
/// run `imagegpt train` starts by default, unless --run-dir names another; the store settings and the run id of a config
/// are used only when the user points at one, and a bare reader reads the run.db it finds.
/// </summary>
public sealed record RunLocation(string RunDir, CheckpointSettings Store, string? RunId, Config Resolved, bool ConfigGiven)
{
    /// <exception cref="UserError">The run directory does not exist (and the store is not PostgreSQL, which needs none).</exception>
    public static RunLocation Find(string? runDirOption, string? file, bool directoryOptional = false)
    {
        Config resolved = ConfigCommand.Load(file ?? TrainCommand.DefaultRun(ConfigCommand.FindReference()), []);
        string runDir = runDirOption ?? resolved.GetString("run.dir");
        var store = file is not null
            ? new CheckpointSettings(0, 0, resolved.GetString("checkpoint.store"), resolved.GetString("checkpoint.postgres"), false)
            : new CheckpointSettings(0, 0, "sqlite", "", false);
        if (!Directory.Exists(runDir) && !(directoryOptional && store.Store == "postgres"))
            throw new UserError($"run directory {runDir} not found. HINT: start a run with imagegpt train or pass --run-dir");
        string? runId = file is not null && resolved.GetString("run.id") is { Length: > 0 } id ? id : RunStatus.TryRead(runDir)?.RunId;
        return new RunLocation(runDir, store, runId, resolved, file is not null);
    }

    /// <summary>
    /// The folder of the run's SQLite store: the run directory, or, for the run of one value of a sweep (a folder inside
    /// the sweep's directory, which holds the sweep's one store and its sweep.json), the sweep's directory.
    /// </summary>
    public string StoreDir
    {
        get
        {
            if (File.Exists(Path.Combine(RunDir, RunStore.SqliteFileName))) return RunDir;
            return SweepFiles.SweepDirectoryOf(RunDir) is { } sweep && File.Exists(Path.Combine(sweep, RunStore.SqliteFileName)) ? sweep : RunDir;
        }
    }

    /// <summary>
    /// The run id: the one known, else the only run of the store, else the one named after the run directory; otherwise
    /// null with what the store holds in <paramref name="why"/>.
    /// </summary>
    public async Task<(string? RunId, string Why)> RunIdAsync(ActorSystem system, RunStore store)
    {
        if (RunId is not null) return (RunId, "");
        var ids = await RunJournal.RunIdsAsync(system).ConfigureAwait(false);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(RunDir)));
        string? runId = ids.Count == 1 ? ids[0] : ids.Contains(name) ? name : null;
        return (runId, ids.Count == 0 ? $"store {store.Where}: no run has journaled anything yet"
            : $"store {store.Where} holds runs {string.Join(", ", ids)}. HINT: pass --config with the run's run.id");
    }
}
