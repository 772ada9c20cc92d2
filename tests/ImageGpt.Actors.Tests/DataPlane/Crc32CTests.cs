using System.Text;
using ImageGpt.Actors.DataPlane;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>CRC-32C against published vectors (RFC 3720 B.4, the "123456789" check value) and its bitwise twin.</summary>
public sealed class Crc32CTests
{
    public static TheoryData<string, uint> Vectors => new()
    {
        { "", 0x00000000 },
        { "123456789", 0xE3069283 },
        { "a", 0xC1D04330 },
        { "The quick brown fox jumps over the lazy dog", 0x22620404 },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Known_strings_hash_to_their_published_values(string text, uint crc)
    {
        Assert.Equal(crc, Crc32C.Append(0, Encoding.ASCII.GetBytes(text)));
        Assert.Equal(crc, Crc32C.AppendNaive(0, Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void The_iscsi_test_patterns_of_rfc_3720_hash_to_their_published_values()
    {
        byte[] zeros = new byte[32], ones = Enumerable.Repeat((byte)0xFF, 32).ToArray();
        byte[] up = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), down = up.Reverse().ToArray();
        Assert.Equal(0x8A9136AAu, Crc32C.Append(0, zeros));
        Assert.Equal(0x62A8AB43u, Crc32C.Append(0, ones));
        Assert.Equal(0x46DD794Eu, Crc32C.Append(0, up));
        Assert.Equal(0x113FDB5Cu, Crc32C.Append(0, down));
    }

    /// <summary>The three-lane loop takes blocks of 12 KiB: lengths around one and several blocks, at odd offsets.</summary>
    [Theory]
    [InlineData(3 * 4096 - 1)]
    [InlineData(3 * 4096)]
    [InlineData(3 * 4096 + 1)]
    [InlineData(6 * 4096 + 13)]
    [InlineData((1 << 20) + 3)]
    public void The_fast_crc_equals_the_bitwise_one_across_its_three_lane_blocks(int length)
    {
        byte[] data = new byte[length + 5];
        new Random(length).NextBytes(data);
        for (int start = 0; start < 5; start += 3)
        {
            var span = data.AsSpan(start, length);
            uint whole = Crc32C.AppendNaive(0, span);
            Assert.Equal(whole, Crc32C.Append(0, span));
            Assert.Equal(whole, Crc32C.Append(Crc32C.Append(0, span[..7]), span[7..]));
        }
    }

    [Fact]
    public void The_fast_crc_equals_the_bitwise_one_at_every_length_and_alignment_and_chains()
    {
        var rng = new Random(7);
        byte[] data = new byte[300];
        rng.NextBytes(data);
        for (int start = 0; start < 8; start++)
            for (int length = 0; start + length <= data.Length; length++)
            {
                var span = data.AsSpan(start, length);
                uint whole = Crc32C.AppendNaive(0, span);
                Assert.Equal(whole, Crc32C.Append(0, span));
                int cut = length / 3;
                Assert.Equal(whole, Crc32C.Append(Crc32C.Append(0, span[..cut]), span[cut..]));
            }
    }
}
