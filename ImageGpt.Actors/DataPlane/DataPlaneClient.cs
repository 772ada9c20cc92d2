using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A node's side of the data plane that fetches: tensors named by tickets, into arrays the caller owns and reuses,
/// and batch streams from data nodes. Keeps authenticated connections per endpoint for the next fetch. Thread-safe;
/// concurrent fetches use separate connections. Every wait is bounded by the options' timeouts; failures are
/// <see cref="DataPlaneException"/>s whose message is one line naming the peer.
/// </summary>
public sealed class DataPlaneClient : IAsyncDisposable
{
    private readonly DataPlaneOptions _options;
    private readonly byte[] _key;
    private readonly ConcurrentDictionary<DataPlaneEndpoint, ConcurrentStack<DataPlaneConnection>> _idle = new();
    private volatile bool _disposed;

    public DataPlaneClient(DataPlaneOptions options)
    {
        options.Validate();
        _options = options;
        _key = Handshake.Key(options.Secret);
    }

    internal DataPlaneOptions Options => _options;

    /// <summary>
    /// Fills <paramref name="destination"/> (exactly <c>ticket.Length</c> floats) with the tensor the ticket names,
    /// straight from the socket, checking every chunk's CRC-32C and the whole tensor's against the ticket. Allocates
    /// nothing per chunk. If it throws, the destination holds part of the tensor. Never blocks a thread.
    /// </summary>
    public async Task FetchAsync(TensorTicket ticket, Memory<float> destination, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        if (destination.Length != ticket.Length)
            throw new ArgumentException($"destination holds {destination.Length} floats, tensor '{ticket.Id}' has {ticket.Length}", nameof(destination));
        ObjectDisposedException.ThrowIf(_disposed, this);
        var endpoint = ticket.Endpoint;
        for (int attempt = 0; ; attempt++)
        {
            var (c, pooled) = await RentAsync(endpoint, ct).ConfigureAwait(false);
            var progress = new FetchProgress();
            try
            {
                using (c.CancelWith(ct)) await ReceiveTensorAsync(c, ticket, destination, progress).ConfigureAwait(false);
                Return(endpoint, c);
                return;
            }
            catch (RefusedException e)
            {
                // The server said no with an error frame, at a frame boundary: the connection is still good.
                Return(endpoint, c);
                throw new DataPlaneException($"data plane at {endpoint} refused tensor '{ticket.Id}': {e.Message}", refused: true, e);
            }
            catch (ConnectionLostException) when (pooled && attempt == 0 && !progress.Answered && !ct.IsCancellationRequested)
            {
                // The server closed this pooled connection while it sat idle (or restarted, and then closed all of
                // them): forget the endpoint's idle connections and try once on a fresh one.
                await c.DisposeAsync().ConfigureAwait(false);
                await DropIdleAsync(endpoint).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ConnectionLostException or CorruptDataException)
            {
                await c.DisposeAsync().ConfigureAwait(false);
                throw new DataPlaneException($"fetching tensor '{ticket.Id}' ({Mb(ticket.Length * 4L)}) from {endpoint} failed after {Mb(progress.Bytes)}: {e.Message}", inner: e);
            }
            catch
            {
                await c.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private sealed class FetchProgress
    {
        public bool Answered;
        public long Bytes;
    }

    private static async Task ReceiveTensorAsync(DataPlaneConnection c, TensorTicket ticket, Memory<float> destination, FetchProgress progress)
    {
        var w = new PayloadWriter(c.Payload);
        w.String(ticket.Id);
        w.Int64(ticket.Length);
        w.UInt32((uint)ticket.Checksum);
        await c.SendFrameAsync(FrameKind.Fetch, w.Length).ConfigureAwait(false);

        var (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
        progress.Answered = true;
        var (length, checksum, chunkBytes) = ReadTensorHeader(kind, payload.Span);
        if (length != ticket.Length || checksum != (uint)ticket.Checksum)
            throw new ConnectionLostException($"the server announced {length} floats with CRC {checksum:x8} for a ticket of {ticket.Length} with {(uint)ticket.Checksum:x8}");
        if (chunkBytes is < DataPlaneOptions.MinChunkBytes or > DataPlaneOptions.MaxChunkBytes || chunkBytes % DataPlaneOptions.MinChunkBytes != 0)
            throw new ConnectionLostException($"the server announced chunks of {chunkBytes} bytes");

        int chunkFloats = chunkBytes / sizeof(float);
        uint crc = 0;
        // long: a tensor within a chunk of int.MaxValue floats must not wrap the offset.
        for (long offset = 0, chunk = 0; offset < destination.Length; offset += chunkFloats, chunk++)
        {
            (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
            if (kind == FrameKind.Error) throw RefusedException.From(payload.Span);
            if (kind != FrameKind.Chunk || payload.Length != 4) throw new ConnectionLostException($"expected a chunk frame, got {kind}");
            uint expected = new PayloadReader(payload.Span).UInt32();
            Memory<float> part = destination.Slice((int)offset, (int)Math.Min(chunkFloats, destination.Length - offset));
            await c.ReadExactlyAsync(c.Floats.Over(part)).ConfigureAwait(false);
            crc = Crc32C.Append(crc, MemoryMarshal.AsBytes(part.Span));
            if (crc != expected)
                throw new CorruptDataException($"chunk {chunk} (bytes {offset * 4}..{(offset + part.Length) * 4}) fails its CRC-32C ({crc:x8}, sent as {expected:x8}): corrupted in transit, or changed by its owner while offered");
            progress.Bytes += part.Length * 4L;
        }
        if (crc != (uint)ticket.Checksum)
            throw new CorruptDataException($"the tensor's CRC-32C is {crc:x8}, its ticket says {(uint)ticket.Checksum:x8}");
    }

    private static (long Length, uint Checksum, int ChunkBytes) ReadTensorHeader(FrameKind kind, ReadOnlySpan<byte> payload)
    {
        if (kind == FrameKind.Error) throw RefusedException.From(payload);
        if (kind != FrameKind.TensorHeader) throw new ConnectionLostException($"expected a tensor header, got a {kind} frame");
        var r = new PayloadReader(payload);
        return (r.Int64(), r.UInt32(), r.Int32());
    }

    /// <summary>
    /// Streams a lane of batches from the data node at <paramref name="from"/>: read them from the subscription's
    /// <see cref="BatchSubscription.Reader"/> as from a local lane's channel. Reconnects and resumes after a dropped
    /// connection; dispose it to stop.
    /// </summary>
    public BatchSubscription Subscribe(DataPlaneEndpoint from, BatchStreamRequest lane)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(lane);
        lane.Validate();
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new BatchSubscription(this, from, lane);
    }

    /// <summary>One batch, shard <paramref name="shard"/> of global step <paramref name="step"/>, from a data node (a shard that moved to this node's trainer).</summary>
    public async Task<ShardBatch> FetchBatchAsync(DataPlaneEndpoint from, int shardsPerStep, long step, int shard, CancellationToken ct = default)
    {
        await using var one = Subscribe(from, new BatchStreamRequest(shardsPerStep, [shard], step, step + 1, Prefetch: 1));
        return await one.Reader.ReadAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A new authenticated connection to <paramref name="endpoint"/>, within the connect timeout.</summary>
    internal async Task<DataPlaneConnection> ConnectAsync(DataPlaneEndpoint endpoint, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new ConnectionLostException(e is SocketException s ? $"cannot connect ({s.Message})" : $"no answer within {_options.ConnectTimeout.TotalSeconds:0.###} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var c = new DataPlaneConnection(socket, endpoint.ToString(), _options.IoTimeout);
        try
        {
            using (c.CancelWith(deadline.Token)) await Handshake.ClientAsync(c, _key).ConfigureAwait(false);
            return c;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw new ConnectionLostException($"no handshake within {_options.ConnectTimeout.TotalSeconds:0.###} s");
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<(DataPlaneConnection Connection, bool Pooled)> RentAsync(DataPlaneEndpoint endpoint, CancellationToken ct)
    {
        if (_idle.TryGetValue(endpoint, out var stack))
        {
            long freshSince = Environment.TickCount64 - (long)(_options.IdleTimeout / 2).TotalMilliseconds;
            while (stack.TryPop(out var c))
            {
                if (!c.IsBroken && c.IdleSince >= freshSince) return (c, true);
                await c.DisposeAsync().ConfigureAwait(false);
            }
        }
        try
        {
            return (await ConnectAsync(endpoint, ct).ConfigureAwait(false), false);
        }
        catch (ConnectionLostException e)
        {
            throw new DataPlaneException($"data plane at {endpoint}: {e.Message}. HINT: is the node up, and is its data-plane port reachable from here?", inner: e);
        }
    }

    private void Return(DataPlaneEndpoint endpoint, DataPlaneConnection c)
    {
        var stack = _idle.GetOrAdd(endpoint, _ => new ConcurrentStack<DataPlaneConnection>());
        if (_disposed || c.IsBroken || stack.Count >= _options.MaxIdleConnectionsPerEndpoint)
        {
            _ = c.DisposeAsync();
            return;
        }
        c.IdleSince = Environment.TickCount64;
        stack.Push(c);
        if (_disposed && stack.TryPop(out var late)) _ = late.DisposeAsync();
    }

    private async Task DropIdleAsync(DataPlaneEndpoint endpoint)
    {
        if (!_idle.TryGetValue(endpoint, out var stack)) return;
        while (stack.TryPop(out var c)) await c.DisposeAsync().ConfigureAwait(false);
    }

    internal static string Mb(long bytes) => $"{bytes / 1e6:0.###} MB";

    /// <summary>Closes the idle connections; fetches and subscriptions under way finish or fail on their own.</summary>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (var endpoint in _idle.Keys) await DropIdleAsync(endpoint).ConfigureAwait(false);
    }
}

/// <summary>Bytes that arrived do not match their CRC-32C.</summary>
internal sealed class CorruptDataException(string message) : Exception(message);

/// <summary>The server answered a request with an error frame (the connection stays usable).</summary>
internal sealed class RefusedException(string reason) : Exception(reason)
{
    public static RefusedException From(ReadOnlySpan<byte> errorPayload) => new(System.Text.Encoding.UTF8.GetString(errorPayload));
}
