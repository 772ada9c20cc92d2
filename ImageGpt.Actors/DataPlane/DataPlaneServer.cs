using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ImageGpt.Nn;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A node's data-plane server: serves the tensors offered on it (parameters, gradients) to any peer that knows the
/// run's secret, and, on a data node, streams shard batches to trainer nodes. One port per node for both.
/// <para>The conversation on a connection, after the <see cref="Handshake"/> (frames in <see cref="FrameKind"/>):</para>
/// <code>
/// tensor:  client → Fetch(id, length, checksum)        the ticket's fields; the server checks them against its offer
///          server → TensorHeader(length, checksum, chunk bytes) | Error
///          server → Chunk(CRC of the prefix so far), then the chunk's bytes raw; once per chunk, or Error in between
///          (the connection then takes the next request: clients pool it)
/// batches: client → Subscribe(shards per step, lane shards, first ordinal, end ordinal, prefetch, limit)
///          server → Batch(ordinal, id, sizes, CRC), then tokens, labels, sample indices raw   only while ordinal &lt; limit
///          client → Credit(limit)     limit = batches read + prefetch; again at least every third of the I/O timeout
///          server → Heartbeat         while it waits for credit, at least every third of the I/O timeout
///          server → End | Error       and the stream's connection closes
/// </code>
/// Thread-safe. Offers are served from the owner's memory: it must not change until <see cref="WithdrawAsync"/> completes.
/// </summary>
public sealed class DataPlaneServer : IAsyncDisposable
{
    private const int MaxBatchTokens = 1 << 28;

    private readonly DataPlaneOptions _options;
    private readonly byte[] _key;
    private readonly Socket _listener;
    private readonly ConcurrentDictionary<string, TensorOffer> _offers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<DataPlaneConnection, Task> _live = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private volatile IBatchSource? _batches;
    private long _maxUnacknowledged;
    private int _streams;

    /// <summary>Binds <c>Host:Port</c> and starts accepting; a port in use is a <see cref="UserError"/>.</summary>
    public DataPlaneServer(DataPlaneOptions options)
    {
        options.Validate();
        _options = options;
        _key = Handshake.Key(options.Secret);
        IPAddress address = IPAddress.TryParse(options.Host, out var a) ? a : Resolve(options.Host);
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(new IPEndPoint(address, options.Port));
            _listener.Listen(128);
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            throw new UserError($"data plane cannot listen on {new DataPlaneEndpoint(options.Host, options.Port)}: {e.Message}. HINT: choose a free port for the data plane (0: any free one)");
        }
        Endpoint = new DataPlaneEndpoint(options.AdvertisedHost, ((IPEndPoint)_listener.LocalEndPoint!).Port);
        _accepting = Task.Run(AcceptAsync);
    }

    private static IPAddress Resolve(string host)
    {
        try { return Dns.GetHostAddresses(host)[0]; }
        catch (SocketException e) { throw new UserError($"data plane cannot listen on host '{host}': {e.Message}. HINT: give an address of this machine (127.0.0.1 for one machine)"); }
    }

    /// <summary>Where peers reach this server (the port actually bound when <c>Port</c> was 0).</summary>
    public DataPlaneEndpoint Endpoint { get; }

    /// <summary>Test hooks: faults injected into what the server sends.</summary>
    internal ServerTestHooks Hooks { get; } = new();

    /// <summary>Open connections (tests watch a stopped subscriber's go away).</summary>
    internal int LiveConnections => _live.Count;

    /// <summary>Batch streams in progress.</summary>
    internal int ActiveStreams => Volatile.Read(ref _streams);

    /// <summary>The most batches any stream has had sent and not acknowledged (never above its prefetch).</summary>
    internal long MaxUnacknowledged => Interlocked.Read(ref _maxUnacknowledged);

    /// <summary>
    /// Serves <paramref name="data"/> as <paramref name="id"/> to every authenticated peer until withdrawn, and returns
    /// its ticket. Hashes the data once (CRC-32C, several GB/s), on the calling thread. The memory stays the caller's,
    /// and must not change until <see cref="WithdrawAsync"/> completes.
    /// </summary>
    public TensorTicket Offer(string id, ReadOnlyMemory<float> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        if (System.Text.Encoding.UTF8.GetByteCount(id) > 1024) throw new ArgumentException($"offer id of {id.Length} characters: keep ids short (at most 1 KiB)", nameof(id));
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var offer = new TensorOffer(id, data, _options.ChunkBytes);
        if (!_offers.TryAdd(id, offer)) throw new InvalidOperationException($"tensor '{id}' is already offered: withdraw it first, or offer under a new id (e.g. with the step in it)");
        return new TensorTicket(Endpoint.Host, Endpoint.Port, id, data.Length, offer.Checksum);
    }

    /// <summary>
    /// Stops serving <paramref name="id"/>: fetches not yet started are refused, those under way stop at their next chunk
    /// with an error frame. Completes when no transfer reads the memory any more: it is then the owner's to change.
    /// </summary>
    public Task WithdrawAsync(string id) => _offers.TryRemove(id, out var offer) ? offer.WithdrawAsync() : Task.CompletedTask;

    /// <summary>Makes this a data node: batch streams are served from <paramref name="source"/>.</summary>
    public void ServeBatches(IBatchSource source) => _batches = source;

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stopping.IsCancellationRequested) { return; }
            catch (SocketException e)
            {
                _options.Log?.Invoke($"data plane at {Endpoint}: accept failed: {e.Message}");
                continue;
            }
            var c = new DataPlaneConnection(socket, socket.RemoteEndPoint?.ToString() ?? "an unknown peer", _options.IoTimeout);
            var serving = Task.Run(() => ServeAsync(c));
            _live[c] = serving;
            _ = serving.ContinueWith(_ => _live.TryRemove(c, out Task? _), TaskScheduler.Default);
            if (_stopping.IsCancellationRequested) c.Abort();
        }
    }

    private async Task ServeAsync(DataPlaneConnection c)
    {
        try
        {
            if (await Handshake.ServerAsync(c, _key).ConfigureAwait(false) is { } refusal)
            {
                _options.Log?.Invoke($"data plane at {Endpoint} refused {c.Peer}: {refusal}");
                return;
            }
            while (true)
            {
                FrameKind kind;
                ReadOnlyMemory<byte> payload;
                // Between requests the client may close its connection or leave it idle: the normal end of one.
                try { (kind, payload) = await c.ReadFrameAsync(_options.IdleTimeout).ConfigureAwait(false); }
                catch (ConnectionLostException) { return; }
                switch (kind)
                {
                    case FrameKind.Fetch:
                        await SendTensorAsync(c, payload).ConfigureAwait(false);
                        break;
                    case FrameKind.Subscribe:
                        await StreamBatchesAsync(c, payload).ConfigureAwait(false);
                        return;
                    default:
                        await c.SendErrorAsync($"unexpected {kind} frame").ConfigureAwait(false);
                        return;
                }
            }
        }
        catch (ConnectionLostException e)
        {
            if (!_stopping.IsCancellationRequested)
                _options.Log?.Invoke($"data plane at {Endpoint}: connection from {c.Peer} lost: {e.Message}");
        }
        catch (ProtocolException e)
        {
            await c.SendErrorAsync(e.Message).ConfigureAwait(false);
            _options.Log?.Invoke($"data plane at {Endpoint}: {c.Peer} sent a malformed frame: {e.Message}");
        }
        catch (Exception e)
        {
            // A fault of this node (a bug, a failing batch source): the peer gets a line, the operator the details.
            await c.SendErrorAsync($"the data node failed: {e.Message}").ConfigureAwait(false);
            _options.Log?.Invoke($"data plane at {Endpoint}: serving {c.Peer} failed: {e}");
        }
        finally
        {
            await c.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task SendTensorAsync(DataPlaneConnection c, ReadOnlyMemory<byte> request)
    {
        var (id, length, checksum) = ReadFetch(request.Span);
        if (!_offers.TryGetValue(id, out var offer) || !offer.TryAcquire())
        {
            await c.SendErrorAsync($"no tensor '{id}' is offered here (withdrawn, or never offered)").ConfigureAwait(false);
            return;
        }
        try
        {
            if (offer.Data.Length != length || offer.Checksum != checksum)
            {
                await c.SendErrorAsync($"tensor '{id}' here has {offer.Data.Length} floats with CRC {offer.Checksum:x8}, the ticket says {length} with {checksum:x8}: a stale ticket").ConfigureAwait(false);
                return;
            }
            var w = new PayloadWriter(c.Payload);
            w.Int64(length);
            w.UInt32(offer.Checksum);
            w.Int32(offer.ChunkFloats * sizeof(float));
            await c.SendFrameAsync(FrameKind.TensorHeader, w.Length).ConfigureAwait(false);
            for (int i = 0; i < offer.PrefixCrcs.Length; i++)
            {
                if (Hooks.BeforeChunk is { } before) await before(i).ConfigureAwait(false);
                if (offer.Withdrawn)
                {
                    await c.SendErrorAsync($"tensor '{id}' was withdrawn during the transfer").ConfigureAwait(false);
                    return;
                }
                w = new PayloadWriter(c.Payload);
                w.UInt32(offer.PrefixCrcs[i]);
                await c.SendFrameAsync(FrameKind.Chunk, w.Length).ConfigureAwait(false);
                Memory<byte> bytes = c.Floats.Over(MemoryMarshal.AsMemory(offer.Chunk(i)));
                if (Hooks.Corrupt is { } corrupt) await SendCorruptedAsync(c, bytes, i, corrupt).ConfigureAwait(false);
                else await c.WriteAsync(bytes).ConfigureAwait(false);
            }
        }
        finally
        {
            offer.Release();
        }
    }

    private static (string Id, long Length, uint Checksum) ReadFetch(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        return (r.String(), r.Int64(), r.UInt32());
    }

    /// <summary>Test path only: sends a copy of the chunk that the hook has damaged; the offer itself stays intact.</summary>
    private static async Task SendCorruptedAsync(DataPlaneConnection c, Memory<byte> bytes, int chunk, Action<int, Span<byte>> corrupt)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(bytes.Length);
        try
        {
            bytes.CopyTo(copy);
            corrupt(chunk, copy.AsSpan(0, bytes.Length));
            await c.WriteAsync(copy.AsMemory(0, bytes.Length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private async Task StreamBatchesAsync(DataPlaneConnection c, ReadOnlyMemory<byte> request)
    {
        var sub = ReadSubscribe(request.Span);
        if (_batches is not { } source)
        {
            await c.SendErrorAsync("this node serves no batches (it has no data set). HINT: subscribe to a node with the data role").ConfigureAwait(false);
            return;
        }
        if (sub.ShardsPerStep != source.ShardsPerStep)
        {
            await c.SendErrorAsync($"the lane counts {sub.ShardsPerStep} shards per step, this data node's run has {source.ShardsPerStep}. HINT: every node must run the same config").ConfigureAwait(false);
            return;
        }
        var lane = new BatchStreamRequest(sub.ShardsPerStep, sub.Shards, 0, 0, sub.Prefetch);
        int n = sub.Shards.Length;
        if (!IsLane(lane) || sub.First < 0 || sub.End < sub.First || sub.Limit < sub.First)
        {
            await c.SendErrorAsync($"malformed lane (shards [{string.Join(",", sub.Shards)}], ordinals {sub.First}..{sub.End}, prefetch {sub.Prefetch}, limit {sub.Limit})").ConfigureAwait(false);
            return;
        }

        Interlocked.Increment(ref _streams);
        var credit = new SemaphoreSlim(0);
        long limit = sub.Limit;
        var closed = new CancellationTokenSource();
        // Credits come in on the reading side while batches go out on the writing side of the same connection.
        var reading = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
                    if (kind != FrameKind.Credit) return;
                    long l = new PayloadReader(payload.Span).Int64();
                    if (l > Volatile.Read(ref limit)) Volatile.Write(ref limit, l);
                    credit.Release();
                }
            }
            catch (Exception e) when (e is ConnectionLostException or ProtocolException) { }
            finally
            {
                closed.Cancel();
                credit.Release();
            }
        });
        try
        {
            TimeSpan heartbeat = _options.IoTimeout / 3;
            for (long o = sub.First; o < sub.End; o++)
            {
                while (o >= Volatile.Read(ref limit))
                {
                    if (closed.IsCancellationRequested) return;
                    Hooks.WaitingForCredit?.Invoke(o, o - (Volatile.Read(ref limit) - sub.Prefetch));
                    if (!await credit.WaitAsync(heartbeat).ConfigureAwait(false))
                        await c.SendFrameAsync(FrameKind.Heartbeat, 0).ConfigureAwait(false);
                }
                if (closed.IsCancellationRequested) return;
                ShardBatch batch;
                try { batch = source.Make(o / n, sub.Shards[o % n]); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await c.SendErrorAsync($"the data node cannot make shard {sub.Shards[o % n]} of step {o / n}: {e.Message}").ConfigureAwait(false);
                    _options.Log?.Invoke($"data plane at {Endpoint}: making shard {sub.Shards[o % n]} of step {o / n} for {c.Peer} failed: {e}");
                    return;
                }
                long unacknowledged = o + 1 - (Volatile.Read(ref limit) - sub.Prefetch);
                InterlockedMax(ref _maxUnacknowledged, unacknowledged);
                await SendBatchAsync(c, o, batch).ConfigureAwait(false);
            }
            await c.SendFrameAsync(FrameKind.End, 0).ConfigureAwait(false);
            // The client hangs up once it has read End; hanging up first could reset the connection under it.
            await Task.WhenAny(reading, Task.Delay(_options.IoTimeout)).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _streams);
            await c.DisposeAsync().ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            closed.Dispose();
            credit.Dispose();
        }
    }

    private static bool IsLane(BatchStreamRequest lane)
    {
        try { lane.Validate(); return true; }
        catch (ArgumentException) { return false; }
    }

    private static (int ShardsPerStep, int[] Shards, long First, long End, int Prefetch, long Limit) ReadSubscribe(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        int s = r.Int32();
        var shards = new int[r.Count(Frames.MaxPayload / 4, "lane shard count")];
        for (int i = 0; i < shards.Length; i++) shards[i] = r.Int32();
        return (s, shards, r.Int64(), r.Int64(), r.Int32(), r.Int64());
    }

    private static async Task SendBatchAsync(DataPlaneConnection c, long ordinal, ShardBatch b)
    {
        if (b.Tokens.Length != b.B * b.T || b.Tokens.Length > MaxBatchTokens)
            throw new InvalidOperationException($"batch {b.Id} has {b.Tokens.Length} tokens for {b.B} samples of {b.T}");
        var tokens = MemoryMarshal.AsBytes(b.Tokens.AsSpan());
        var labels = MemoryMarshal.AsBytes(b.Labels.AsSpan());
        var samples = MemoryMarshal.AsBytes(b.SampleIndices.AsSpan());
        uint crc = Crc32C.Append(Crc32C.Append(Crc32C.Append(0, tokens), labels), samples);
        var w = new PayloadWriter(c.Payload);
        w.Int64(ordinal);
        w.Int64(b.Id.Epoch);
        w.Int32(b.Id.Step);
        w.Int32(b.Id.Shard);
        w.Int32(b.T);
        w.Int32(b.B);
        w.Int32(b.SampleIndices.Length);
        w.UInt32(crc);
        await c.SendFrameAsync(FrameKind.Batch, w.Length).ConfigureAwait(false);
        await c.WriteAsync(new ByteView<ushort>().Over(b.Tokens)).ConfigureAwait(false);
        await c.WriteAsync(new ByteView<int>().Over(b.Labels)).ConfigureAwait(false);
        await c.WriteAsync(new ByteView<int>().Over(b.SampleIndices)).ConfigureAwait(false);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Interlocked.Read(ref target);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>Resets every open connection at once, as a crash or a network failure would (tests).</summary>
    internal void KillConnections()
    {
        foreach (var c in _live.Keys) c.Abort();
    }

    /// <summary>Stops listening, closes every connection (transfers under way fail on the client) and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _listener.Dispose();
        KillConnections();
        await _accepting.ConfigureAwait(false);
        foreach (var task in _live.Values)
            await task.ConfigureAwait(false);
        foreach (var offer in _offers.Values) await offer.WithdrawAsync().ConfigureAwait(false);
        _offers.Clear();
    }
}

/// <summary>Faults a test injects into what a <see cref="DataPlaneServer"/> sends; all null in the product.</summary>
internal sealed class ServerTestHooks
{
    /// <summary>Runs before chunk i of a tensor goes out: may wait (a hung server) or kill the server.</summary>
    public Func<int, Task>? BeforeChunk { get; set; }

    /// <summary>Damages the bytes of chunk i on their way out (a copy; the offer is untouched): corruption in transit.</summary>
    public Action<int, Span<byte>>? Corrupt { get; set; }

    /// <summary>A batch stream waits for credit: (the next batch's ordinal, batches sent and not acknowledged).</summary>
    public Action<long, long>? WaitingForCredit { get; set; }
}
