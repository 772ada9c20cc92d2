using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ImageGpt.Nn.Imaging;

namespace ImageGpt.Nn.Tests.Imaging;

public class PngTests
{
    // Minimal reader for what the writer produces: checks every CRC, inflates IDAT, undoes filter 0.
    private static Image Decode(byte[] png)
    {
        Assert.Equal([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], png.AsSpan(0, 8).ToArray());
        var pos = 8;
        int w = 0, h = 0, ch = 0;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            var len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            var type = Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.Equal(Png.Crc32(png.AsSpan(pos + 4, 4 + len)), crc);
            types.Add(type);
            if (type == "IHDR")
            {
                w = BinaryPrimitives.ReadInt32BigEndian(data);
                h = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);
                ch = data[9] switch { 0 => 1, 2 => 3, _ => throw new InvalidDataException("colour type") };
            }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + len;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], types);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = w * ch;
        Assert.Equal(h * (stride + 1), bytes.Length);
        var pixels = new byte[h * stride];
        for (var y = 0; y < h; y++)
        {
            Assert.Equal(0, bytes[y * (stride + 1)]);
            bytes.AsSpan(y * (stride + 1) + 1, stride).CopyTo(pixels.AsSpan(y * stride));
        }
        return new Image(pixels, w, h, ch);
    }

    [Fact]
    public void Crc32_of_the_IEND_type_is_the_known_value()
    {
        Assert.Equal(0xAE426082u, Png.Crc32("IEND"u8));
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8)); // the CRC-32 check value
    }

    [Theory]
    [InlineData(1, 7, 5)]
    [InlineData(3, 13, 4)]
    [InlineData(1, 1, 1)]
    public void Written_images_decode_to_the_same_pixels(int channels, int w, int h)
    {
        var px = Enumerable.Range(0, w * h * channels).Select(i => (byte)(i * 53 % 256)).ToArray();
        var back = Decode(Png.Encode(new Image(px, w, h, channels)));
        Assert.Equal((w, h, channels), (back.Width, back.Height, back.Channels));
        Assert.Equal(px, back.Pixels);
    }

    [Fact]
    public void Grid_scales_cells_and_draws_separators()
    {
        var a = Image.Square([0, 50, 100, 150], 2, 1);
        var b = Image.Square([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120], 2, 3);
        var grid = ImageGrid.Compose([[a, b], [b]], scale: 3, separator: 1, separatorValue: 7);
        Assert.Equal((2 * 6 + 3, 2 * 6 + 3, 3), (grid.Width, grid.Height, grid.Channels));
        byte At(int x, int y, int c) => grid.Pixels[(y * grid.Width + x) * 3 + c];
        Assert.Equal(7, At(0, 0, 0));
        Assert.Equal(7, At(7, 3, 1)); // column separator
        // a's pixel (1, 0) = 50 covers x 4..6, y 1..3, replicated to RGB.
        for (var c = 0; c < 3; c++) Assert.Equal(50, At(4, 1, c));
        Assert.Equal(50, At(6, 3, 2));
        // b's pixel (1, 1) = (100, 110, 120) at cell (0, 1): x 4..6, y 8+3..
        Assert.Equal(110, At(1 + 3 + 2, 8 + 3, 1));
        // Missing cell (row 1, column 1) stays separator-coloured.
        Assert.Equal(7, At(10, 10, 0));
        var decoded = Decode(Png.Encode(grid));
        Assert.Equal(grid.Pixels, decoded.Pixels);
    }

    [Fact]
    public void Smaller_images_are_centred_in_their_cell()
    {
        var big = Image.Square(new byte[16], 4, 1);
        var small = Image.Square([200, 200, 200, 200], 2, 1);
        var grid = ImageGrid.Compose([[big, small]], scale: 1, separator: 1, separatorValue: 9);
        // Second cell spans x 6..9, y 1..4; the 2x2 image lands at x 7..8, y 2..3.
        byte At(int x, int y) => grid.Pixels[y * grid.Width + x];
        Assert.Equal(200, At(7, 2));
        Assert.Equal(200, At(8, 3));
        Assert.Equal(9, At(6, 1));
        Assert.Equal(9, At(9, 4));
    }
}
