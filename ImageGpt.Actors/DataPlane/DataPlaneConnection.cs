using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace ImageGpt.Actors.DataPlane;

/// <summary>The connection failed under a transfer: closed, reset, no progress within the timeout, or garbled.</summary>
internal sealed class ConnectionLostException(string reason, Exception? inner = null) : IOException(reason, inner);

/// <summary>
/// One TCP connection of the data plane: framed control messages through its own two buffers, raw bulk bytes straight
/// from and into the caller's memory, and a bound on every wait. One reader and one writer may use it at once (a batch
/// stream reads batches while it writes credits); each direction has its own buffer and its own timer, and the
/// per-chunk async methods reuse pooled state machines, so a transfer allocates per fetch, not per chunk. A wait that
/// times out or is cancelled leaves the connection unusable: the owner disposes it.
/// </summary>
internal sealed class DataPlaneConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    // The connection's own, for its lifetime (connections are pooled and live long): a buffer lent from a shared pool
    // could be handed to someone else while a receive on a socket closed from another thread still writes into it.
    private readonly byte[] _readBuffer = new byte[Frames.HeaderBytes + Frames.MaxPayload];
    private readonly byte[] _writeBuffer = new byte[Frames.HeaderBytes + Frames.MaxPayload];
    // Never disposed: Cancel() closes their timers, and a late CancelAfter on a cancelled source does nothing,
    // whereas one on a disposed source would throw from an I/O path that is already failing.
    private readonly CancellationTokenSource _readTimer = new();
    private readonly CancellationTokenSource _writeTimer = new();
    private readonly TimeSpan _ioTimeout;
    private CancellationToken _cancelledBy;
    private int _disposed;

    public DataPlaneConnection(Socket socket, string peer, TimeSpan ioTimeout)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Peer = peer;
        _ioTimeout = ioTimeout;
    }

    /// <summary>The other end, for messages: the endpoint we dialled, or the address a server's client came from.</summary>
    public string Peer { get; }

    /// <summary>Reused byte view of the float tensor under transfer (one transfer at a time per connection).</summary>
    public ByteView<float> Floats { get; } = new();

    /// <summary><see cref="Environment.TickCount64"/> when the connection last finished a request (for the client's pool).</summary>
    public long IdleSince { get; set; } = Environment.TickCount64;

    public bool IsBroken => Volatile.Read(ref _disposed) != 0 || _readTimer.IsCancellationRequested || _writeTimer.IsCancellationRequested;

    /// <summary>Where the next outgoing frame's payload is written (see <see cref="SendFrameAsync"/>).</summary>
    public Span<byte> Payload => _writeBuffer.AsSpan(Frames.HeaderBytes, Frames.MaxPayload);

    /// <summary>Cancelling <paramref name="ct"/> aborts this connection's waits (and so the connection). Dispose the result when the operation ends.</summary>
    public CancellationTokenRegistration CancelWith(CancellationToken ct) => ct.Register(static state =>
    {
        var (c, token) = ((DataPlaneConnection, CancellationToken))state!;
        c._cancelledBy = token;
        c._readTimer.Cancel();
        c._writeTimer.Cancel();
    }, (this, ct));

    /// <summary>Reads the next frame; its payload is valid until the next read. <paramref name="firstByteWithin"/> bounds the wait for it to start (default: the I/O timeout).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(FrameKind Kind, ReadOnlyMemory<byte> Payload)> ReadFrameAsync(TimeSpan? firstByteWithin = null)
    {
        await ReadExactlyAsync(_readBuffer.AsMemory(0, Frames.HeaderBytes), firstByteWithin ?? _ioTimeout).ConfigureAwait(false);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(_readBuffer);
        if (length > Frames.MaxPayload) throw new ConnectionLostException($"the peer sent a frame of {length} bytes (at most {Frames.MaxPayload}): it does not speak this protocol");
        var kind = (FrameKind)_readBuffer[4];
        var payload = _readBuffer.AsMemory(Frames.HeaderBytes, (int)length);
        await ReadExactlyAsync(payload, _ioTimeout).ConfigureAwait(false);
        return (kind, payload);
    }

    /// <summary>Fills <paramref name="destination"/> from the connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadExactlyAsync(Memory<byte> destination, TimeSpan? timeout = null)
    {
        TimeSpan t = timeout ?? _ioTimeout;
        while (destination.Length > 0)
        {
            _readTimer.CancelAfter(t);
            int n;
            try { n = await _stream.ReadAsync(destination, _readTimer.Token).ConfigureAwait(false); }
            catch (Exception e) { throw Lost(e, t); }
            finally { _readTimer.CancelAfter(Timeout.InfiniteTimeSpan); }
            if (n == 0) throw new ConnectionLostException("the connection was closed by the peer");
            destination = destination[n..];
        }
    }

    /// <summary>Sends a frame whose payload (<paramref name="payloadLength"/> bytes) was written into <see cref="Payload"/>.</summary>
    public ValueTask SendFrameAsync(FrameKind kind, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_writeBuffer, (uint)payloadLength);
        _writeBuffer[4] = (byte)kind;
        return WriteAsync(_writeBuffer.AsMemory(0, Frames.HeaderBytes + payloadLength));
    }

    /// <summary>Sends an error frame (one line, at most <see cref="Frames.MaxErrorBytes"/>), if the connection still takes it.</summary>
    public async ValueTask SendErrorAsync(string message)
    {
        if (IsBroken) return;
        try
        {
            int n = Encoding.UTF8.GetBytes(message.Length > Frames.MaxErrorBytes / 4 ? message[..(Frames.MaxErrorBytes / 4)] : message, Payload);
            await SendFrameAsync(FrameKind.Error, n).ConfigureAwait(false);
        }
        catch (ConnectionLostException)
        {
            // The peer is gone already; the error had nobody to go to.
        }
    }

    /// <summary>Sends raw bytes (a chunk of a tensor, a batch's arrays) straight from the caller's memory.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        _writeTimer.CancelAfter(_ioTimeout);
        try { await _stream.WriteAsync(bytes, _writeTimer.Token).ConfigureAwait(false); }
        catch (Exception e) { throw Lost(e, _ioTimeout); }
        finally { _writeTimer.CancelAfter(Timeout.InfiniteTimeSpan); }
    }

    private Exception Lost(Exception e, TimeSpan timeout)
    {
        if (_cancelledBy.IsCancellationRequested) return new OperationCanceledException(_cancelledBy);
        if (Volatile.Read(ref _disposed) != 0) return new ConnectionLostException("the connection was closed here", e);
        if (e is OperationCanceledException) return new ConnectionLostException($"no progress for {timeout.TotalSeconds:0.###} s", e);
        return e is IOException or SocketException or ObjectDisposedException
            ? new ConnectionLostException($"the connection broke ({(e.InnerException ?? e).Message})", e)
            : e;
    }

    /// <summary>Closes at once with a reset, as a crashed process would: the tests' dead peer.</summary>
    public void Abort()
    {
        try { _socket.LingerState = new LingerOption(true, 0); }
        catch (ObjectDisposedException) { }
        catch (SocketException) { }
        _ = DisposeAsync();
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        _readTimer.Cancel();
        _writeTimer.Cancel();
        _stream.Dispose();
        return ValueTask.CompletedTask;
    }
}
