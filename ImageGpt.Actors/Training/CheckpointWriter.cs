using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>What the writer needs. <c>Live</c>: the run's checkpoints with payloads when this process started.</summary>
/// <param name="Fence">In a cluster, the aggregator's lease and epoch: a payload is committed only while they hold.</param>
public sealed record WriterSetup(
    string RunId, ICheckpointStore Store, IActorRef History, IReadOnlyList<CheckpointCommitted> Live, GptConfig Model,
    string RunDir, int Keep, bool ExportSafetensors, ITrainingObserver Observer, Fence? Fence = null);

/// <summary>
/// Writes each checkpoint: the payload into the store (streamed, hashed), then the <see cref="CheckpointCommitted"/>
/// event that names it, then prunes old checkpoints (event first, payload after) and exports step-N.safetensors. All
/// of it runs on the writer's own thread, so hashing and exporting never delay the aggregator's timers on the thread
/// pool. Then it answers the aggregator and publishes <see cref="CheckpointSaved"/> on the event stream (the
/// evaluator's trigger). Checkpoints are written one at a time in the order they come; the aggregator keeps at most
/// two outstanding. A failed write is reported, not thrown: the previous checkpoint stays the one a resume uses. At
/// start it deletes payloads that no event names (a killed write).
/// </summary>
public sealed class CheckpointWriter : MonitoredActor
{
    /// <summary>Journal writes wait in line behind a payload slice at most; this only guards against a stuck store.</summary>
    private static readonly TimeSpan HistoryTimeout = TimeSpan.FromMinutes(10);

    private sealed record Saved(SaveCheckpoint Request, CheckpointCommitted Event, IReadOnlyList<long> Pruned);
    private sealed record Failed(SaveCheckpoint Request, Exception Cause);

    private readonly WriterSetup _s;
    private readonly SortedDictionary<long, CheckpointCommitted> _live = [];
    private DeviceThread? _io;
    private readonly Queue<SaveCheckpoint> _waiting = new();
    private bool _busy;

    public CheckpointWriter(WriterSetup setup)
    {
        _s = setup;
        foreach (var c in setup.Live) _live[c.Step] = c;
        Receive<SaveCheckpoint>(m =>
        {
            if (_busy) _waiting.Enqueue(m);
            else Start(m);
        });
        Receive<Saved>(m =>
        {
            _live[m.Event.Step] = m.Event;
            foreach (long step in m.Pruned) _live.Remove(step);
            var saved = new CheckpointSaved(m.Event.Step, m.Request.Checkpoint.Parameters, m.Request.Final, m.Event);
            // Published first: the evaluator holds the checkpoint before the aggregator can end the run and drain it.
            Context.System.EventStream.Publish(saved);
            m.Request.ReplyTo.Tell(saved, Self);
            Next();
        });
        Receive<Failed>(m =>
        {
            m.Request.ReplyTo.Tell(new CheckpointFailed(m.Request.Checkpoint.Step, m.Request.Final, $"{m.Cause.GetType().Name}: {m.Cause.Message}"), Self);
            Next();
        });
    }

    protected override void PreStart()
    {
        _io = new DeviceThread("checkpoint-io");
        var named = _live.Values.Select(c => c.BlobId).ToHashSet(StringComparer.Ordinal);
        var (store, runId, observer) = (_s.Store, _s.RunId, _s.Observer);
        // First in the writer's queue, so no payload of this process can be taken for a leftover.
        _ = _io.Run(() =>
        {
            int swept = store.Sweep(runId, named);
            if (swept > 0) observer.Warning($"deleted {swept} checkpoint payload(s) of run {runId} that no event names (left by a write that did not finish)");
            return swept;
        });
    }

    protected override void PostStop() => _io?.Dispose();

    private void Next()
    {
        _busy = false;
        if (_waiting.TryDequeue(out var next)) Start(next);
    }

    /// <summary>Decides here, in the actor, what the write replaces and prunes; the write itself touches no actor state.</summary>
    private void Start(SaveCheckpoint m)
    {
        _busy = true;
        long step = m.Checkpoint.Step;
        string? replaced = _live.GetValueOrDefault(step)?.BlobId;
        var others = _live.Values.Where(c => c.Step != step).ToList();
        var pruned = _s.Keep > 0 ? others.Take(Math.Max(0, others.Count + 1 - _s.Keep)).ToList() : [];
        SaveAsync(m, replaced, pruned).PipeTo(Self, success: e => new Saved(m, e, pruned.Select(p => p.Step).ToList()), failure: e => new Failed(m, e));
    }

    private async Task<CheckpointCommitted> SaveAsync(SaveCheckpoint m, string? replacedBlob, IReadOnlyList<CheckpointCommitted> pruned)
    {
        var (c, s, io) = (m.Checkpoint, _s, _io!);
        var clock = Stopwatch.StartNew();
        BlobInfo blob = await io.Run(() => s.Store.Write(s.RunId, c, s.Fence)).ConfigureAwait(false);
        var committed = new CheckpointCommitted(c.Step, c.Epoch, c.StepInEpoch, c.AdamStep, c.DataSeed, blob.BlobId, blob.Bytes, blob.Sha256,
            clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow);
        await s.History.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(committed), HistoryTimeout).ConfigureAwait(false);
        // The event that forgets a payload is journaled before the payload goes, so no event ever names a missing one.
        if (pruned.Count > 0)
            await s.History.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(new CheckpointsPruned(pruned.Select(p => p.Step).ToList(), DateTimeOffset.UtcNow)),
                HistoryTimeout).ConfigureAwait(false);
        var doomed = pruned.Select(p => p.BlobId).Concat(replacedBlob is null ? [] : [replacedBlob]).ToList();
        await io.Run(() =>
        {
            s.Store.Delete(doomed);
            if (s.ExportSafetensors) Export(c, s);
            return 0;
        }).ConfigureAwait(false);
        return committed;
    }

    /// <summary>Where the weights of step <paramref name="step"/> are exported.</summary>
    public static string WeightsPath(string runDir, long step) =>
        Path.Combine(runDir, string.Create(CultureInfo.InvariantCulture, $"step-{step}.safetensors"));

    private static void Export(Checkpoint c, WriterSetup s)
    {
        var slab = new ParameterSlab(s.Model);
        c.Parameters.CopyTo(slab.Data, 0);
        string path = WeightsPath(s.RunDir, c.Step);
        string tmp = path + ".tmp";
        SafeTensors.Save(tmp, slab, new Dictionary<string, string> { ["step"] = c.Step.ToString(CultureInfo.InvariantCulture) });
        File.Move(tmp, path, overwrite: true);
        if (s.Keep <= 0) return;
        var old = Directory.GetFiles(s.RunDir, "step-*.safetensors")
            .Select(f => (File: f, Step: long.TryParse(Path.GetFileNameWithoutExtension(f)[5..], NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : -1))
            .Where(x => x.Step >= 0).OrderByDescending(x => x.Step).Skip(s.Keep);
        foreach (var (file, _) in old) File.Delete(file);
    }
}
