using System.Buffers.Binary;
using System.IO.Compression;

namespace ImageGpt.Nn.Data;

/// <summary>
/// IDX files (MNIST, Fashion-MNIST): big-endian header {0, 0, type 0x08 = ubyte, ndims}, then ndims
/// big-endian int32 sizes, then the bytes. Gzip is recognised by its magic bytes, not the file name.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an images file: returns the pixels [N, rows, cols] and the shape.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        var bytes = ReadAllMaybeGzip(path);
        var dims = Header(path, bytes, ImagesMagic, "images");
        var (n, rows, cols) = (dims[0], dims[1], dims[2]);
        if (rows < 1 || cols < 1)
            throw new UserError($"{path}: image size {rows}x{cols} is empty. HINT: the file is damaged; replace it with the original download.");
        var expected = (long)n * rows * cols;
        var body = bytes.Length - 16L;
        if (body != expected)
            throw new UserError($"{path}: {(body < expected ? "truncated" : "trailing data")}: header says {n} images of {rows}x{cols} = {expected} bytes, file has {body} after the header. HINT: download the file again or take it from the dataset-fashion-mnist package.");
        return (bytes.AsSpan(16).ToArray(), n, rows, cols);
    }

    /// <summary>Reads a labels file; every label must be below <paramref name="classCount"/>.</summary>
    public static int[] ReadLabels(string path, int classCount)
    {
        var bytes = ReadAllMaybeGzip(path);
        var n = Header(path, bytes, LabelsMagic, "labels")[0];
        var body = bytes.Length - 8L;
        if (body != n)
            throw new UserError($"{path}: {(body < n ? "truncated" : "trailing data")}: header says {n} labels, file has {body} bytes after the header. HINT: download the file again or take it from the dataset-fashion-mnist package.");
        var labels = new int[n];
        for (var i = 0; i < n; i++)
        {
            labels[i] = bytes[8 + i];
            if (labels[i] >= classCount)
                throw new UserError($"{path}: label {labels[i]} at index {i} is not a class (0..{classCount - 1}). HINT: this is not a labels file of this data set; check the file names.");
        }
        return labels;
    }

    private static int[] Header(string path, byte[] bytes, int magic, string kind)
    {
        var ndims = magic & 0xFF;
        var headerLength = 4 + 4 * ndims;
        if (bytes.Length < 4)
            throw new UserError($"{path}: truncated: {bytes.Length} bytes, too short for an IDX header. HINT: download the file again.");
        var found = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (found != magic)
            throw new UserError($"{path}: bad magic 0x{found:X8}, expected 0x{magic:X8} (IDX {kind}). HINT: is this the {kind} file of MNIST/Fashion-MNIST (e.g. *-{kind}-idx{ndims}-ubyte[.gz])?");
        if (bytes.Length < headerLength)
            throw new UserError($"{path}: truncated: {bytes.Length} bytes, the IDX header needs {headerLength}. HINT: download the file again.");
        var dims = new int[ndims];
        for (var d = 0; d < ndims; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (dims[d] < 0)
                throw new UserError($"{path}: negative size {dims[d]} in the IDX header. HINT: the file is damaged; download it again.");
        }
        return dims;
    }

    internal static byte[] ReadAllMaybeGzip(string path)
    {
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (IOException e) { throw new UserError($"{path}: cannot read: {e.Message}. HINT: check the path and permissions."); }
        catch (UnauthorizedAccessException e) { throw new UserError($"{path}: cannot read: {e.Message}. HINT: check the permissions."); }
        if (raw.Length < 2 || raw[0] != 0x1F || raw[1] != 0x8B) return raw;
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var outStream = new MemoryStream(raw.Length * 4);
            gz.CopyTo(outStream);
            return outStream.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new UserError($"{path}: corrupt or truncated gzip data ({e.Message}). HINT: download the file again or gunzip it to check.");
        }
    }
}
