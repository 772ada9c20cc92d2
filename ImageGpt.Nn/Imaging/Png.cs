using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ImageGpt.Nn.Imaging;

/// <summary>An 8-bit image, pixels [H, W, Ch] row-major, Ch = 1 (gray) or 3 (RGB).</summary>
public sealed record Image(byte[] Pixels, int Width, int Height, int Channels)
{
    public Image Validate()
    {
        if (Width < 1 || Height < 1) throw new ArgumentException($"image size {Width}x{Height}");
        if (Channels is not (1 or 3)) throw new ArgumentException($"{Channels} channels: 1 or 3");
        if (Pixels.Length != Width * Height * Channels) throw new ArgumentException($"{Pixels.Length} bytes for {Width}x{Height}x{Channels}");
        return this;
    }

    public static Image Square(byte[] pixels, int side, int channels) => new Image(pixels, side, side, channels).Validate();
}

/// <summary>
/// Minimal PNG writer: 8-bit gray (colour type 0) or RGB (colour type 2), no interlace, every row
/// with filter type 0, zlib via ZLibStream, CRC-32 per chunk from a table (System.IO.Hashing is not
/// part of the shared framework).
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] CrcTable = BuildCrcTable();

    // The reflected CRC-32 of ISO 3309 / PNG (polynomial 0xEDB88320).
    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>Continues a CRC over more bytes; start with 0xFFFFFFFF and finish by inverting (see <see cref="Crc32(ReadOnlySpan{byte})"/>).</summary>
    public static uint UpdateCrc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    public static uint Crc32(ReadOnlySpan<byte> data) => UpdateCrc(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;

    public static byte[] Encode(Image image)
    {
        image.Validate();
        using var ms = new MemoryStream();
        ms.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], image.Height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = (byte)(image.Channels == 1 ? 0 : 2);
        ihdr[10] = 0; // deflate
        ihdr[11] = 0; // filter method
        ihdr[12] = 0; // no interlace
        WriteChunk(ms, "IHDR", ihdr);
        var stride = image.Width * image.Channels;
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (var y = 0; y < image.Height; y++)
                {
                    z.WriteByte(0);
                    z.Write(image.Pixels, y * stride, stride);
                }
            }
            WriteChunk(ms, "IDAT", raw.GetBuffer().AsSpan(0, (int)raw.Length));
        }
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    public static void Write(string path, Image image)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, Encode(image));
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(data);
        var crc = UpdateCrc(0xFFFFFFFFu, head[4..]);
        crc = UpdateCrc(crc, data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

/// <summary>
/// Lays out rows of images (e.g. original | masked | completions) as one picture: each image scaled
/// up by an integer factor (nearest neighbour, so pixels stay crisp), cells separated by a line.
/// Gray images are drawn as RGB when any image in the grid is RGB.
/// </summary>
public static class ImageGrid
{
    public static Image Compose(IReadOnlyList<IReadOnlyList<Image>> rows, int scale = 4, int separator = 2, byte separatorValue = 128)
    {
        if (rows.Count == 0 || rows.All(r => r.Count == 0)) throw new ArgumentException("no images to lay out");
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale));
        if (separator < 0) throw new ArgumentOutOfRangeException(nameof(separator));
        var all = rows.SelectMany(r => r).Select(i => i.Validate()).ToArray();
        var ch = all.Any(i => i.Channels == 3) ? 3 : 1;
        var cellW = all.Max(i => i.Width) * scale;
        var cellH = all.Max(i => i.Height) * scale;
        var cols = rows.Max(r => r.Count);
        var width = cols * cellW + (cols + 1) * separator;
        var height = rows.Count * cellH + (rows.Count + 1) * separator;
        var pixels = new byte[width * height * ch];
        Array.Fill(pixels, separatorValue);
        for (var r = 0; r < rows.Count; r++)
            for (var c = 0; c < rows[r].Count; c++)
            {
                var img = rows[r][c];
                // Smaller images sit centred in their cell.
                var x0 = separator + c * (cellW + separator) + (cellW - img.Width * scale) / 2;
                var y0 = separator + r * (cellH + separator) + (cellH - img.Height * scale) / 2;
                for (var y = 0; y < img.Height * scale; y++)
                    for (var x = 0; x < img.Width * scale; x++)
                    {
                        var src = ((y / scale) * img.Width + x / scale) * img.Channels;
                        var dst = ((y0 + y) * width + x0 + x) * ch;
                        for (var k = 0; k < ch; k++) pixels[dst + k] = img.Pixels[src + (img.Channels == 1 ? 0 : k)];
                    }
            }
        return new Image(pixels, width, height, ch);
    }

    public static void Write(string path, IReadOnlyList<IReadOnlyList<Image>> rows, int scale = 4, int separator = 2) =>
        Png.Write(path, Compose(rows, scale, separator));
}
