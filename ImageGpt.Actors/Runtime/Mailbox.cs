using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace ImageGpt.Actors.Runtime;

/// <summary>
/// An actor's queues and its run loop. User messages live in a <see cref="Channel{T}"/> of
/// <see cref="Envelope"/> structs (unbounded, or bounded with a capacity); runtime messages in a
/// separate queue that is always drained first. The mailbox is itself the thread-pool work item: a
/// sender queues it only when the status flips from idle to scheduled, so a busy actor costs one
/// compare-and-swap per message at most, and each turn drains up to <c>throughput</c> messages.
/// </summary>
internal sealed class Mailbox : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Scheduled = 1;

    private readonly ActorCell _cell;
    private readonly ChannelReader<Envelope> _reader;
    private readonly ChannelWriter<Envelope> _writer;
    private readonly ConcurrentQueue<SystemMessage> _system = new();
    private readonly Lock _closeLock = new();
    private readonly int _throughput;
    private int _status;
    private bool _closed;
    // The single-reader unbounded channel cannot count; health reads the depth as posted - taken.
    // Padded so that senders incrementing it do not invalidate the reader's line on every message.
    private PaddedCounter _posted;
    private long _taken;

    public int? Capacity { get; }

    public Mailbox(ActorCell cell, int? capacity, int throughput)
    {
        Debug.Assert(throughput > 0);
        _cell = cell;
        _throughput = throughput;
        Capacity = capacity;
        Channel<Envelope> channel = capacity is int c
            ? Channel.CreateBounded<Envelope>(new BoundedChannelOptions(c)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            })
            : Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions
            {
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            });
        _reader = channel.Reader;
        _writer = channel.Writer;
    }

    /// <summary>Queued user messages (racy: a message being posted may or may not be counted yet).</summary>
    public int Depth => (int)Math.Max(0, Interlocked.Read(ref _posted.Value) - Volatile.Read(ref _taken));

    /// <summary>Never blocks: false when the mailbox is full (bounded) or closed; the caller dead-letters the message.</summary>
    public bool TryPost(in Envelope envelope)
    {
        if (!_writer.TryWrite(envelope)) return false;
        Interlocked.Increment(ref _posted.Value);
        TrySchedule();
        return true;
    }

    /// <summary>Waits for space in a bounded mailbox (backpressure); false when the mailbox closed meanwhile.</summary>
    public async ValueTask<bool> PostAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        try
        {
            await _writer.WriteAsync(envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return false;
        }
        Interlocked.Increment(ref _posted.Value);
        TrySchedule();
        return true;
    }

    public void PostSystem(SystemMessage message)
    {
        bool enqueued;
        lock (_closeLock)
        {
            enqueued = !_closed;
            if (enqueued) _system.Enqueue(message);
        }
        // Outside the lock: answering a late Watch posts to another actor.
        if (enqueued) TrySchedule();
        else _cell.SystemMessageAfterClose(message);
    }

    private void TrySchedule()
    {
        if (Volatile.Read(ref _status) == Idle && Interlocked.CompareExchange(ref _status, Scheduled, Idle) == Idle)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    public void Execute()
    {
        Debug.Assert(Volatile.Read(ref _status) == Scheduled, "a mailbox runs only when scheduled, so never twice at once");
        ActorCell? previous = ActorCell.EnterTurn(_cell);
        try
        {
            ProcessSystemMessages();
            int left = _throughput;
            int processed = 0;
            while (left-- > 0 && _cell.CanProcessUserMessages)
            {
                if (!_reader.TryRead(out Envelope envelope)) break;
                Volatile.Write(ref _taken, _taken + 1);
                _cell.Invoke(envelope);
                processed++;
                if (!_system.IsEmpty) ProcessSystemMessages();
            }
            _cell.EndTurn(processed);
        }
        finally
        {
            ActorCell.LeaveTurn(previous);
            Volatile.Write(ref _status, Idle);
        }
        // A message that arrived after our last TryRead saw Scheduled and did not schedule; look again.
        if (HasWork()) TrySchedule();
    }

    private bool HasWork() =>
        !_system.IsEmpty || (!_closed && _cell.CanProcessUserMessages && _reader.TryPeek(out _));

    private void ProcessSystemMessages()
    {
        while (_system.TryDequeue(out SystemMessage? m)) _cell.SystemInvoke(m);
    }

    /// <summary>Called once, on the actor's turn, when it has terminated: later posts fail fast.</summary>
    public void Close()
    {
        lock (_closeLock) _closed = true;
        _writer.TryComplete();
        while (_reader.TryRead(out Envelope e)) _cell.DeadLetter(e);
        while (_system.TryDequeue(out SystemMessage? m)) _cell.SystemMessageAfterClose(m);
    }
}

[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 192)]
internal struct PaddedCounter
{
    [System.Runtime.InteropServices.FieldOffset(64)] public long Value;
}
