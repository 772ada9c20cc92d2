using System.Security.Cryptography;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Host;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Host.Tests;

/// <summary>Reads a run directory's SQLite store the way `imagegpt status` does: its history through the read journal, its checkpoints' payloads.</summary>
internal static class RunFiles
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static Config Reference => ConfigCommand.Load(null, []);

    public static async Task<T> WithStoreAsync<T>(string runDir, Func<ActorSystem, RunStore, Task<T>> use)
    {
        await using var store = RunStore.Open(new CheckpointSettings(1, 0, "sqlite", "", false), runDir, mustExist: true);
        using var system = ActorSystem.Create("test-reader", AkkaSettings.Build(Reference, store, readOnly: true));
        try { return await use(system, store); }
        finally { await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Patience); }
    }

    /// <summary>
    /// Every file's SHA-256 by its path under `dir` (the WAL and shared-memory files and the names in `except` left out),
    /// to prove a refused command wrote nothing. The store's pooled SQLite connections are closed first: the last one to
    /// close checkpoints the WAL into run.db, which otherwise happens whenever the pool prunes an idle connection, between
    /// two snapshots on a slow machine (CI saw run.db's hash change with nothing written). A write after this snapshot
    /// still shows: the next one checkpoints its WAL.
    /// </summary>
    public static Dictionary<string, string> Snapshot(string dir, bool recursive = false, params string[] except)
    {
        SqliteConnection.ClearAllPools();
        return Directory.GetFiles(dir, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(f => !f.EndsWith("-wal", StringComparison.Ordinal) && !f.EndsWith("-shm", StringComparison.Ordinal) && !except.Contains(Path.GetFileName(f)))
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
    }

    /// <summary>The run's history (run id = the directory's name, the default).</summary>
    public static Task<RunHistory> HistoryAsync(string runDir) =>
        WithStoreAsync(runDir, (system, _) => RunJournal.ReadAsync(system, Path.GetFileName(runDir)).WaitAsync(Patience));

    /// <summary>The newest checkpoint whose payload verifies.</summary>
    public static Task<Checkpoint> LatestAsync(string runDir) =>
        WithStoreAsync(runDir, async (system, store) =>
        {
            var history = await RunJournal.ReadAsync(system, Path.GetFileName(runDir)).WaitAsync(Patience);
            return ((ICheckpointStore)store.Blobs).LoadLatest(history, w => throw new InvalidOperationException(w))
                ?? throw new InvalidOperationException($"no checkpoint in {runDir}");
        });

    /// <summary>Journals <paramref name="events"/> as run <paramref name="runId"/> in the run directory's store (a hand-made history).</summary>
    public static async Task RecordAsync(string runDir, string runId, params IRunEvent[] events)
    {
        await using var store = RunStore.Open(new CheckpointSettings(1, 0, "sqlite", "", false), runDir);
        using var system = ActorSystem.Create("test-writer", AkkaSettings.Build(Reference, store));
        try
        {
            var history = system.ActorOf(Props.Create(() => new RunHistoryActor(runId)));
            foreach (var e in events) await history.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(e), Patience);
        }
        finally { await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Patience); }
    }
}
