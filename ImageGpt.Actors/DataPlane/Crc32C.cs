using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as iSCSI and ext4 use it), chainable:
/// <c>Append(Append(0, a), b) == Append(0, a ++ b)</c>, so a stream checks each chunk and the whole with one pass.
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> is the SSE4.2 / ARMv8 instruction where the CPU has one
/// (System.IO.Hashing has no CRC-32C); <see cref="AppendNaive"/> is the bitwise twin the tests compare it with.
/// </summary>
public static class Crc32C
{
    /// <summary>Bytes per lane of the three-lane loop: 3 × 4 KiB stays in L1 while the lanes run.</summary>
    private const int Lane = 4096;

    /// <summary>[k][b]: the register b &lt;&lt; 8k advanced over <see cref="Lane"/> zero bytes (shifting a lane's CRC past the next lane).</summary>
    private static readonly uint[][] ShiftTables = BuildShiftTables();

    /// <summary>The CRC of <paramref name="crc"/>'s bytes followed by <paramref name="data"/> (0 is the CRC of nothing).</summary>
    // Optimized from the first call: it is called rarely, on megabytes, so tier-0 code would hash a whole first tensor.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        // The instruction takes 3 cycles and can start one per cycle: three independent lanes keep it busy. CRC is linear,
        // so the register after lanes a, b, c is shift(shift(a) ^ b) ^ c, with b and c started from 0.
        if (BitConverter.IsLittleEndian)
        {
            while (data.Length >= 3 * Lane)
            {
                var a = MemoryMarshal.Cast<byte, ulong>(data[..Lane]);
                var b = MemoryMarshal.Cast<byte, ulong>(data.Slice(Lane, Lane));
                var d = MemoryMarshal.Cast<byte, ulong>(data.Slice(2 * Lane, Lane));
                uint cb = 0, cd = 0;
                for (int i = 0; i < a.Length; i++)
                {
                    c = BitOperations.Crc32C(c, a[i]);
                    cb = BitOperations.Crc32C(cb, b[i]);
                    cd = BitOperations.Crc32C(cd, d[i]);
                }
                c = Shift(Shift(c) ^ cb) ^ cd;
                data = data[(3 * Lane)..];
            }
        }
        while (data.Length >= 8)
        {
            c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte x in data) c = BitOperations.Crc32C(c, x);
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

    private static uint Shift(uint c) =>
        ShiftTables[0][c & 0xFF] ^ ShiftTables[1][(c >> 8) & 0xFF] ^ ShiftTables[2][(c >> 16) & 0xFF] ^ ShiftTables[3][c >> 24];

    private static uint[][] BuildShiftTables()
    {
        // Advancing the register over zero bytes is linear in its bits: shift each single bit once, then combine.
        var bit = new uint[32];
        for (int j = 0; j < 32; j++)
        {
            uint c = 1u << j;
            for (int i = 0; i < Lane / 8; i++) c = BitOperations.Crc32C(c, 0UL);
            bit[j] = c;
        }
        var tables = new uint[4][];
        for (int k = 0; k < 4; k++)
        {
            tables[k] = new uint[256];
            for (int v = 0; v < 256; v++)
                for (int j = 0; j < 8; j++)
                    if ((v & (1 << j)) != 0) tables[k][v] ^= bit[8 * k + j];
        }
        return tables;
    }
}
