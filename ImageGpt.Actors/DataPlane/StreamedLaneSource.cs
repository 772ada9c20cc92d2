using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A lane of a node without the data set: its batches are made on a data node and streamed
/// here (<see cref="BatchSubscription"/>: chunked, checksummed, authenticated with the run's secret). The loader reads the
/// stream one batch at a time and writes it to the lane's bounded channel, so the lane keeps its backpressure: the
/// stream lets the data node send one batch that the loader has not taken (prefetch 1), and the lane's channel holds
/// one batch fewer than a local lane's (<see cref="Capacity"/>), so the data node is never further ahead of the trainer
/// than a local loader would be. When the lane's home shards change, the stream is opened again for the new ones.
/// <para>The data node is <paramref name="first"/>, and after it the one <paramref name="findDataNode"/> names. When it fails (its stream gives up after the
/// client's reconnects), the failure goes to the loader, whose supervisor restarts it, and the next batch is asked of the
/// data node found then: another one when it died (<see cref="Cluster.DataNodes.FindAsync"/> skips members that do not answer).</para>
/// </summary>
public sealed class StreamedLaneSource(DataPlaneClient client, DataPlaneEndpoint first, Func<Task<DataPlaneEndpoint>> findDataNode, BatchSampler sampler, long toStep)
    : ILaneSource, IAsyncDisposable
{
    private BatchSubscription? _stream;
    private int[] _streamed = [];
    private volatile DataPlaneEndpoint? _from = first;

    /// <summary>The lane channel's capacity for <paramref name="prefetch"/> (runtime.prefetch): the stream's own unread batch counts in.</summary>
    public static int Capacity(int prefetch) => Math.Max(1, prefetch - 1);

    public async ValueTask<ShardBatch> NextAsync(ShardId id, long step, int[] home, CancellationToken ct)
    {
        // The lane was replanned since the loader asked, and no longer streams this shard: it comes on its own.
        if (Array.IndexOf(home, id.Shard) < 0) return await OneAsync(id, step, ct).ConfigureAwait(false);
        long want = step * sampler.Shards + id.Shard;
        // A stream of other shards, or one that ended (failed: the loader restarted) and has nothing left to read, is replaced.
        if (_stream is null || !_streamed.AsSpan().SequenceEqual(home) || _stream.Reader.Completion.IsCompleted)
            await SubscribeAsync(home, step).ConfigureAwait(false);
        var reader = _stream!.Reader;
        while (await WaitAsync(reader, ct).ConfigureAwait(false))
        {
            if (!reader.TryPeek(out var head)) continue;
            long key = sampler.GlobalStep(head.Id) * sampler.Shards + head.Id.Shard;
            // Batches before the loader's position are of shards the lane skipped (it was replanned in mid-step).
            if (key < want)
            {
                reader.TryRead(out _);
                continue;
            }
            if (key > want) break;
            reader.TryRead(out _);
            return head;
        }
        return await OneAsync(id, step, ct).ConfigureAwait(false);
    }

    /// <summary>From the data node found last; when it fails, once more from the one found then.</summary>
    public async ValueTask<ShardBatch> OneAsync(ShardId id, long step, CancellationToken ct)
    {
        var from = await FromAsync().ConfigureAwait(false);
        try { return await client.FetchBatchAsync(from, sampler.Shards, step, id.Shard, ct).ConfigureAwait(false); }
        catch (DataPlaneException e) when (!e.Refused)
        {
            Lost(from);
            return await client.FetchBatchAsync(await FromAsync().ConfigureAwait(false), sampler.Shards, step, id.Shard, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask<bool> WaitAsync(System.Threading.Channels.ChannelReader<ShardBatch> reader, CancellationToken ct)
    {
        try { return await reader.WaitToReadAsync(ct).ConfigureAwait(false); }
        catch (DataPlaneException e) when (!e.Refused)
        {
            Lost(_stream!.From);
            throw;
        }
    }

    private async Task<DataPlaneEndpoint> FromAsync() => _from ?? (_from = await findDataNode().ConfigureAwait(false));

    /// <summary>The next batch is asked of the data node found then (unless another caller found one already).</summary>
    private void Lost(DataPlaneEndpoint from)
    {
        if (Equals(_from, from)) _from = null;
    }

    private async Task SubscribeAsync(int[] home, long step)
    {
        if (_stream is not null) await _stream.DisposeAsync().ConfigureAwait(false);
        _streamed = [.. home];
        _stream = client.Subscribe(await FromAsync().ConfigureAwait(false), new BatchStreamRequest(sampler.Shards, _streamed, step, toStep, Prefetch: 1));
    }

    public async ValueTask DisposeAsync()
    {
        if (_stream is { } stream) await stream.DisposeAsync().ConfigureAwait(false);
    }
}
