namespace ImageGpt.Actors.History;

/// <summary>Where checkpoint payloads live (<see cref="CheckpointBlobs"/> in the run's database; a double in tests). Synchronous: the writer calls it on its own thread.</summary>
public interface ICheckpointStore
{
    /// <summary>Writes and commits the payload; when it returns, the payload is complete and an event may name it.</summary>
    BlobInfo Write(string runId, Checkpoint checkpoint);

    /// <summary>The checkpoint an event names, verified; null with the reason when it is missing or damaged.</summary>
    (Checkpoint? Checkpoint, string? Problem) Read(CheckpointCommitted committed);

    /// <summary>Deletes payloads.</summary>
    void Delete(IEnumerable<string> blobIds);

    /// <summary>Deletes the run's payloads that no live event names; returns how many.</summary>
    int Sweep(string runId, IReadOnlySet<string> named);

    /// <summary>The newest checkpoint of <paramref name="history"/> whose payload verifies; each one skipped is reported through <paramref name="warn"/>.</summary>
    Checkpoint? LoadLatest(RunHistory history, Action<string> warn)
    {
        var committed = history.Checkpoints;
        for (int i = committed.Count - 1; i >= 0; i--)
        {
            var (checkpoint, problem) = Read(committed[i]);
            if (checkpoint is not null) return checkpoint;
            warn($"checkpoint step {committed[i].Step}: {problem}; " + (i > 0 ? "falling back to the previous one" : "no older checkpoint is left"));
        }
        return null;
    }
}
