using System.Buffers.Binary;
using System.Text;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// The kinds of control frame. Every frame is <c>[u32 payload length][u8 kind][payload]</c>, little-endian, at most
/// <see cref="Frames.MaxPayload"/> bytes of payload; bulk bytes (a tensor chunk, a batch's arrays) follow their frame
/// raw, their length known from it. See DataPlaneServer for the conversation.
/// </summary>
internal enum FrameKind : byte
{
    Hello = 1,
    Challenge = 2,
    Proof = 3,
    Welcome = 4,
    Error = 5,
    Fetch = 10,
    TensorHeader = 11,
    Chunk = 12,
    Subscribe = 20,
    Batch = 21,
    Credit = 22,
    Heartbeat = 23,
    End = 24,
}

internal static class Frames
{
    public const int HeaderBytes = 5;
    public const int MaxPayload = 16 << 10;
    public const int MaxErrorBytes = 1024;

    /// <summary>"IGDP" read as a little-endian u32: the first bytes of every client connection.</summary>
    public const uint Magic = 0x50444749;
    public const ushort Version = 1;
}

/// <summary>A frame's payload from the peer was shorter than its kind needs, or held a value out of range.</summary>
internal sealed class ProtocolException(string message) : Exception(message);

/// <summary>Writes a payload into a buffer, little-endian.</summary>
internal ref struct PayloadWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;

    public int Length { get; private set; }

    public void Int32(int v) { BinaryPrimitives.WriteInt32LittleEndian(Take(4), v); }

    public void UInt32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v); }

    public void Int64(long v) { BinaryPrimitives.WriteInt64LittleEndian(Take(8), v); }

    public void UInt16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(Take(2), v); }

    public void Bytes(ReadOnlySpan<byte> v) => v.CopyTo(Take(v.Length));

    /// <summary>A u16 byte count, then UTF-8.</summary>
    public void String(string v)
    {
        int n = Encoding.UTF8.GetByteCount(v);
        if (n > ushort.MaxValue) throw new ArgumentException($"string of {n} bytes is too long for a frame");
        UInt16((ushort)n);
        Encoding.UTF8.GetBytes(v, Take(n));
    }

    private Span<byte> Take(int n)
    {
        if (Length + n > _buffer.Length) throw new InvalidOperationException($"frame payload over {_buffer.Length} bytes");
        var s = _buffer.Slice(Length, n);
        Length += n;
        return s;
    }
}

/// <summary>Reads a payload written by <see cref="PayloadWriter"/>; a short or malformed payload is a <see cref="ProtocolException"/>.</summary>
internal ref struct PayloadReader(ReadOnlySpan<byte> payload)
{
    private ReadOnlySpan<byte> _rest = payload;

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public ReadOnlySpan<byte> Bytes(int n) => Take(n);

    public string String() => Encoding.UTF8.GetString(Take(UInt16()));

    /// <summary>A count that must lie in 0..<paramref name="max"/>.</summary>
    public int Count(int max, string what)
    {
        int n = Int32();
        return n >= 0 && n <= max ? n : throw new ProtocolException($"{what} {n} outside 0..{max}");
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _rest.Length) throw new ProtocolException($"frame payload ends early (needs {n} more bytes, has {_rest.Length})");
        var s = _rest[..n];
        _rest = _rest[n..];
        return s;
    }
}
