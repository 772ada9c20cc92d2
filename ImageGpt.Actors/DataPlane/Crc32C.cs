using System.Buffers.Binary;
using System.Numerics;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as iSCSI and ext4 use it), chainable:
/// <c>Append(Append(0, a), b) == Append(0, a ++ b)</c>, so a stream checks each chunk and the whole with one pass.
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> is the SSE4.2 / ARMv8 instruction where the CPU has one
/// (System.IO.Hashing has no CRC-32C); <see cref="AppendNaive"/> is the bitwise twin the tests compare it with.
/// </summary>
public static class Crc32C
{
    /// <summary>The CRC of <paramref name="crc"/>'s bytes followed by <paramref name="data"/> (0 is the CRC of nothing).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        // Three independent streams over thirds of the block would hide the instruction's 3-cycle latency, but
        // joining them needs carry-less multiplies; one stream already outruns a loopback socket.
        while (data.Length >= 8)
        {
            c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) c = BitOperations.Crc32C(c, b);
        return ~c;
    }

    /// <summary>Bit by bit, straight from the definition: the oracle for <see cref="Append"/>.</summary>
    public static uint AppendNaive(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        return ~c;
    }
}
