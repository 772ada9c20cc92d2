using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>A checkpoint store double for the actor tests: keeps deep copies, so nothing a run does later changes what was saved.</summary>
public sealed class InMemoryCheckpointStore : ICheckpointStore
{
    private readonly Dictionary<string, (string RunId, Checkpoint Checkpoint)> _blobs = [];
    private readonly Lock _lock = new();
    private int _next;

    public IReadOnlyList<long> Steps
    {
        get { lock (_lock) return _blobs.Values.Select(b => b.Checkpoint.Step).Order().ToList(); }
    }

    public BlobInfo Write(string runId, Checkpoint c)
    {
        lock (_lock)
        {
            string id = $"{c.Step}-{_next++}";
            _blobs[id] = (runId, c with { Parameters = (float[])c.Parameters.Clone(), AdamM = (float[])c.AdamM.Clone(), AdamV = (float[])c.AdamV.Clone() });
            return new BlobInfo(id, CheckpointPayload.Length(c), $"sha-of-{id}");
        }
    }

    public (Checkpoint? Checkpoint, string? Problem) Read(CheckpointCommitted committed)
    {
        lock (_lock)
            return _blobs.TryGetValue(committed.BlobId, out var b)
                ? (b.Checkpoint with { Parameters = (float[])b.Checkpoint.Parameters.Clone(), AdamM = (float[])b.Checkpoint.AdamM.Clone(), AdamV = (float[])b.Checkpoint.AdamV.Clone() }, null)
                : (null, $"its payload {committed.BlobId} is missing");
    }

    public void Delete(IEnumerable<string> blobIds)
    {
        lock (_lock) foreach (string id in blobIds) _blobs.Remove(id);
    }

    public int Sweep(string runId, IReadOnlySet<string> named)
    {
        lock (_lock)
        {
            var orphans = _blobs.Where(b => b.Value.RunId == runId && !named.Contains(b.Key)).Select(b => b.Key).ToList();
            foreach (string id in orphans) _blobs.Remove(id);
            return orphans.Count;
        }
    }
}
