using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A lane of batches streamed from a data node, read through <see cref="Reader"/> as a local lane's bounded channel
/// is. Flow control is by credit: the data node sends a batch only while fewer than <c>Prefetch</c> are sent and not
/// yet read from <see cref="Reader"/>, so a trainer that falls behind holds the data node back exactly as a full
/// channel holds a local loader back. A dropped connection is reopened and the stream resumes at the first batch not
/// received (batches received and not yet read stay readable); after <c>ReconnectAttempts</c> failures in a row, or a
/// refusal, the reader fails with a one-line <see cref="DataPlaneException"/>. Reader: one consumer at a time.
/// </summary>
public sealed class BatchSubscription : IAsyncDisposable
{
    private const int MaxTokens = 1 << 28;

    private readonly DataPlaneClient _client;
    private readonly DataPlaneEndpoint _from;
    private readonly BatchStreamRequest _lane;
    private readonly DataPlaneOptions _options;
    private readonly Channel<(ShardBatch Batch, long Ordinal)> _received =
        Channel.CreateUnbounded<(ShardBatch, long)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _consumed = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;
    private long _readEnd;
    private int _reconnects;
    // The first batch not yet received: where a new connection resumes. Only the receiving loop touches it.
    private long _next;

    internal BatchSubscription(DataPlaneClient client, DataPlaneEndpoint from, BatchStreamRequest lane)
    {
        _client = client;
        _from = from;
        _lane = lane;
        _options = client.Options;
        _readEnd = lane.FirstOrdinal;
        _next = lane.FirstOrdinal;
        Reader = new CreditReader(this);
        _running = Task.Run(RunAsync);
    }

    /// <summary>The lane's batches in (step, shard) order; completes after the last one, or fails with the stream's error.</summary>
    public ChannelReader<ShardBatch> Reader { get; }

    /// <summary>The data node it streams from.</summary>
    public DataPlaneEndpoint From => _from;

    /// <summary>Connections reopened after a drop so far.</summary>
    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>What the data node may send: batches up to this ordinal (exclusive) = read so far + prefetch.</summary>
    private long Limit => Volatile.Read(ref _readEnd) + _lane.Prefetch;

    private string Describe(long ordinal)
    {
        int n = _lane.Shards.Length;
        return $"batch stream of shards [{string.Join(",", _lane.Shards)}], steps {_lane.FromStep}..{_lane.ToStep}, from {_from} (at shard {_lane.Shards[ordinal % n]} of step {ordinal / n})";
    }

    private async Task RunAsync()
    {
        int failures = 0;
        try
        {
            while (_next < _lane.EndOrdinal)
            {
                long before = _next;
                try
                {
                    await using var c = await _client.ConnectAsync(_from, _stop.Token).ConfigureAwait(false);
                    await StreamAsync(c).ConfigureAwait(false);
                }
                catch (Exception e) when (e is ConnectionLostException or CorruptDataException && !_stop.IsCancellationRequested)
                {
                    if (_next > before) failures = 0;
                    if (++failures > _options.ReconnectAttempts)
                        throw new DataPlaneException($"{Describe(_next)} failed after {failures - 1} reconnects: {e.Message}", inner: e);
                    Interlocked.Increment(ref _reconnects);
                    await Task.Delay(_options.ReconnectDelay * (1 << Math.Min(failures - 1, 10)), _stop.Token).ConfigureAwait(false);
                }
            }
            _received.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _received.Writer.TryComplete();
        }
        catch (RefusedException e)
        {
            _received.Writer.TryComplete(new DataPlaneException($"{Describe(_next)}: refused: {e.Message}", refused: true, e));
        }
        catch (DataPlaneException e)
        {
            _received.Writer.TryComplete(e.Message.StartsWith("batch stream", StringComparison.Ordinal) ? e : new DataPlaneException($"{Describe(_next)}: {e.Message}", e.Refused, e));
        }
        catch (Exception e)
        {
            _received.Writer.TryComplete(new DataPlaneException($"{Describe(_next)}: {e.Message}", inner: e));
        }
    }

    /// <summary>Subscribes from the first batch not yet received, on a fresh connection, and receives until the lane ends or the connection fails.</summary>
    private async Task StreamAsync(DataPlaneConnection c)
    {
        using var cancel = c.CancelWith(_stop.Token);
        var w = new PayloadWriter(c.Payload);
        w.Int32(_lane.ShardsPerStep);
        w.Int32(_lane.Shards.Length);
        foreach (int s in _lane.Shards) w.Int32(s);
        w.Int64(_next);
        w.Int64(_lane.EndOrdinal);
        w.Int32(_lane.Prefetch);
        w.Int64(Limit);
        await c.SendFrameAsync(FrameKind.Subscribe, w.Length).ConfigureAwait(false);

        using var pumpStop = new CancellationTokenSource();
        var pump = PumpCreditsAsync(c, pumpStop.Token);
        try
        {
            while (true)
            {
                var (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
                switch (kind)
                {
                    case FrameKind.Heartbeat:
                        break;
                    case FrameKind.Error:
                        throw RefusedException.From(payload.Span);
                    case FrameKind.Batch:
                        if (_next >= _lane.EndOrdinal) throw new ConnectionLostException("the data node sent a batch past the end of the lane");
                        var batch = await ReceiveBatchAsync(c, payload, _next).ConfigureAwait(false);
                        _received.Writer.TryWrite((batch, _next));
                        _next++;
                        break;
                    case FrameKind.End:
                        if (_next != _lane.EndOrdinal) throw new ConnectionLostException($"the data node ended the lane {_lane.EndOrdinal - _next} batches early");
                        return;
                    default:
                        throw new ConnectionLostException($"unexpected {kind} frame in a batch stream");
                }
            }
        }
        finally
        {
            pumpStop.Cancel();
            await pump.ConfigureAwait(false);
        }
    }

    private async Task<ShardBatch> ReceiveBatchAsync(DataPlaneConnection c, ReadOnlyMemory<byte> header, long expected)
    {
        var (ordinal, id, t, b, samples, crc) = ReadBatchHeader(header.Span);
        int want = _lane.Shards[expected % _lane.Shards.Length];
        if (ordinal != expected || id.Shard != want)
            throw new ConnectionLostException($"the data node sent batch {ordinal} (shard {id.Shard}) where batch {expected} (shard {want}) was due");
        if (t < 1 || b < 0 || samples < 0 || (long)b * t > MaxTokens || samples > MaxTokens)
            throw new ConnectionLostException($"the data node sent a batch of {b} samples of {t} tokens and {samples} indices");
        var tokens = new ushort[b * t];
        var labels = new int[b];
        var indices = new int[samples];
        await c.ReadExactlyAsync(new ByteView<ushort>().Over(tokens)).ConfigureAwait(false);
        await c.ReadExactlyAsync(new ByteView<int>().Over(labels)).ConfigureAwait(false);
        await c.ReadExactlyAsync(new ByteView<int>().Over(indices)).ConfigureAwait(false);
        uint got = Crc32C.Append(Crc32C.Append(Crc32C.Append(0, MemoryMarshal.AsBytes(tokens.AsSpan())), MemoryMarshal.AsBytes(labels.AsSpan())), MemoryMarshal.AsBytes(indices.AsSpan()));
        if (got != crc) throw new CorruptDataException($"batch {id} fails its CRC-32C ({got:x8}, sent as {crc:x8})");
        return new ShardBatch(id, tokens, labels, indices, t);
    }

    private static (long Ordinal, ShardId Id, int T, int B, int Samples, uint Crc) ReadBatchHeader(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        long ordinal = r.Int64();
        var id = new ShardId(r.Int64(), r.Int32(), r.Int32());
        return (ordinal, id, r.Int32(), r.Int32(), r.Int32(), r.UInt32());
    }

    /// <summary>
    /// Tells the data node how far it may send: when the reader takes a batch, and at least every third of the I/O
    /// timeout (the data node's proof that this end is alive). If it cannot, it breaks the connection, so the receiving
    /// side fails and reconnects instead of waiting on a stream that will never get credit.
    /// </summary>
    private async Task PumpCreditsAsync(DataPlaneConnection c, CancellationToken stop)
    {
        long sent = -1;
        TimeSpan every = _options.IoTimeout / 3;
        try
        {
            while (true)
            {
                bool woken = await _consumed.WaitAsync(every, stop).ConfigureAwait(false);
                long limit = Limit;
                if (woken && limit == sent) continue;
                var w = new PayloadWriter(c.Payload);
                w.Int64(limit);
                await c.SendFrameAsync(FrameKind.Credit, w.Length).ConfigureAwait(false);
                sent = limit;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is ConnectionLostException or OperationCanceledException)
        {
            c.Abort();
        }
    }

    private void Consumed(long ordinal)
    {
        Volatile.Write(ref _readEnd, ordinal + 1);
        _consumed.Release();
    }

    /// <summary>Stops the stream (the data node sees the connection close); batches already received stay readable.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        await _running.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The lane's reader: taking a batch returns its credit to the data node.</summary>
    private sealed class CreditReader(BatchSubscription s) : ChannelReader<ShardBatch>
    {
        private ChannelReader<(ShardBatch Batch, long Ordinal)> Inner => s._received.Reader;

        public override Task Completion => Inner.Completion;

        public override bool CanCount => true;

        public override int Count => Inner.Count;

        public override bool CanPeek => true;

        public override bool TryRead([MaybeNullWhen(false)] out ShardBatch item)
        {
            if (Inner.TryRead(out var entry))
            {
                s.Consumed(entry.Ordinal);
                item = entry.Batch;
                return true;
            }
            item = null;
            return false;
        }

        public override bool TryPeek([MaybeNullWhen(false)] out ShardBatch item)
        {
            bool ok = Inner.TryPeek(out var entry);
            item = entry.Batch;
            return ok;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => Inner.WaitToReadAsync(cancellationToken);
    }
}
