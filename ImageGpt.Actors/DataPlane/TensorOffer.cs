using System.Runtime.InteropServices;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A tensor a server serves until it is withdrawn: the owner's memory (never copied), the CRC-32C of every prefix
/// that ends a chunk (taken once, when offered, so serving it to N nodes hashes it once), and the transfers reading it.
/// </summary>
internal sealed class TensorOffer
{
    private readonly Lock _lock = new();
    private int _readers;
    private bool _withdrawn;
    private TaskCompletionSource? _released;

    public TensorOffer(string id, ReadOnlyMemory<float> data, int chunkBytes)
    {
        Id = id;
        Data = data;
        ChunkFloats = chunkBytes / sizeof(float);
        int chunks = (data.Length + ChunkFloats - 1) / ChunkFloats;
        PrefixCrcs = new uint[chunks];
        uint crc = 0;
        for (int i = 0; i < chunks; i++)
        {
            crc = Crc32C.Append(crc, MemoryMarshal.AsBytes(Chunk(i).Span));
            PrefixCrcs[i] = crc;
        }
        Checksum = crc;
    }

    public string Id { get; }
    public ReadOnlyMemory<float> Data { get; }
    public int ChunkFloats { get; }

    /// <summary>[i] = CRC-32C of the tensor's bytes up to the end of chunk i.</summary>
    public uint[] PrefixCrcs { get; }

    /// <summary>CRC-32C of the whole tensor (0 for an empty one).</summary>
    public uint Checksum { get; }

    public ReadOnlyMemory<float> Chunk(int i) => Data.Slice(i * ChunkFloats, Math.Min(ChunkFloats, Data.Length - i * ChunkFloats));

    public bool Withdrawn { get { lock (_lock) return _withdrawn; } }

    /// <summary>A transfer starts reading the memory; false once the offer is withdrawn.</summary>
    public bool TryAcquire()
    {
        lock (_lock)
        {
            if (_withdrawn) return false;
            _readers++;
            return true;
        }
    }

    public void Release()
    {
        TaskCompletionSource? done = null;
        lock (_lock)
        {
            System.Diagnostics.Debug.Assert(_readers > 0);
            if (--_readers == 0) done = _released;
        }
        done?.TrySetResult();
    }

    /// <summary>No new transfer starts; completes when the last one stops reading (each stops at its next chunk).</summary>
    public Task WithdrawAsync()
    {
        lock (_lock)
        {
            _withdrawn = true;
            if (_readers == 0) return Task.CompletedTask;
            return (_released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }
}
