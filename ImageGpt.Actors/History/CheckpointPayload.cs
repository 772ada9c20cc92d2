using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ImageGpt.Actors.History;

/// <summary>
/// The bytes of a checkpoint, written to and read from a stream so that no payload is ever one array (iGPT-M with
/// Adam's moments is 5.4 GB): a header (magic, step, epoch, step in epoch, Adam step, data seed and the three array
/// lengths, little-endian), then the parameters, m and v as little-endian floats, bit for bit (NaN payloads and -0
/// included). The blob store hashes the bytes as they pass. Synchronous: it runs on the checkpoint writer's own thread.
/// </summary>
public static class CheckpointPayload
{
    // "IGPTCKP2": format 2 (the cursor and seeds moved into the header).
    private const ulong Magic = 0x32504B4354504749;
    public const int HeaderBytes = 8 + 8 + 8 + 4 + 4 + 8 + 3 * 8;

    // Floats go to the stream in slices of this many, so that a big-endian copy stays small.
    private const int Slice = 1 << 18;

    public static long Length(Checkpoint c) => HeaderBytes + 4L * ((long)c.Parameters.Length + c.AdamM.Length + c.AdamV.Length);

    public static void Write(Checkpoint c, Stream destination)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(h, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(h[8..], c.Step);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], c.Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], c.StepInEpoch);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], c.AdamStep);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], c.DataSeed);
        BinaryPrimitives.WriteInt64LittleEndian(h[40..], c.Parameters.Length);
        BinaryPrimitives.WriteInt64LittleEndian(h[48..], c.AdamM.Length);
        BinaryPrimitives.WriteInt64LittleEndian(h[56..], c.AdamV.Length);
        destination.Write(h);
        foreach (float[] a in (float[][])[c.Parameters, c.AdamM, c.AdamV])
            for (int at = 0; at < a.Length; at += Slice)
            {
                ReadOnlySpan<float> slice = a.AsSpan(at, Math.Min(Slice, a.Length - at));
                if (BitConverter.IsLittleEndian) destination.Write(MemoryMarshal.AsBytes(slice));
                else destination.Write(Swapped(slice));
            }
    }

    /// <summary>Reads a checkpoint; null with the reason when the bytes are not one.</summary>
    public static (Checkpoint? Checkpoint, string? Problem) Read(Stream source)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        if (source.ReadAtLeast(h, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes) return (null, "payload shorter than its header");
        if (BinaryPrimitives.ReadUInt64LittleEndian(h) != Magic) return (null, "not a checkpoint payload (bad magic)");
        long[] lengths = [BinaryPrimitives.ReadInt64LittleEndian(h[40..]), BinaryPrimitives.ReadInt64LittleEndian(h[48..]), BinaryPrimitives.ReadInt64LittleEndian(h[56..])];
        if (lengths.Any(n => n is < 0 or > int.MaxValue)) return (null, "bad array lengths in the payload header");
        var arrays = new float[3][];
        for (int i = 0; i < 3; i++)
        {
            arrays[i] = new float[lengths[i]];
            Span<byte> bytes = MemoryMarshal.AsBytes(arrays[i].AsSpan());
            if (source.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length) return (null, "payload shorter than its header says");
            if (!BitConverter.IsLittleEndian) Swap(arrays[i]);
        }
        if (source.ReadByte() >= 0) return (null, "payload longer than its header says");
        var c = new Checkpoint(BinaryPrimitives.ReadInt64LittleEndian(h[8..]), BinaryPrimitives.ReadInt64LittleEndian(h[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(h[24..]), arrays[0], arrays[1], arrays[2],
            BinaryPrimitives.ReadInt32LittleEndian(h[28..]), BinaryPrimitives.ReadUInt64LittleEndian(h[32..]));
        return (c, null);
    }

    // Integer bits, not float values, so that no NaN is canonicalised on the way.
    private static byte[] Swapped(ReadOnlySpan<float> slice)
    {
        byte[] copy = new byte[4 * slice.Length];
        for (int i = 0; i < slice.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(4 * i), BitConverter.SingleToInt32Bits(slice[i]));
        return copy;
    }

    private static void Swap(float[] a)
    {
        Span<int> bits = MemoryMarshal.Cast<float, int>(a.AsSpan());
        for (int i = 0; i < bits.Length; i++) bits[i] = BinaryPrimitives.ReverseEndianness(bits[i]);
    }
}
