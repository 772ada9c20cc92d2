namespace ImageGpt.Nn.Data;

/// <summary>
/// CIFAR binary versions. CIFAR-10 records: 1 label byte, then 3072 bytes as three 32x32 planes
/// (R, G, B). CIFAR-100 records: coarse label byte, fine label byte, then the same planes; we use
/// the fine label (100 classes), as the paper's CIFAR-100 numbers do. Planes are converted to the
/// [H, W, Ch] layout of <see cref="DataSet"/>.
/// </summary>
public static class CifarReader
{
    public const int Side = 32;
    public const int PlaneBytes = Side * Side;
    public const int ImageBytes = 3 * PlaneBytes;

    /// <summary>Reads one or more record files in order; <paramref name="labelBytes"/> is 1 (CIFAR-10) or 2 (CIFAR-100).</summary>
    public static (byte[] Images, int[] Labels) Read(IReadOnlyList<string> paths, int labelBytes, int classCount)
    {
        if (labelBytes is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(labelBytes));
        var record = labelBytes + ImageBytes;
        var images = new List<byte[]>();
        var labels = new List<int>();
        foreach (var path in paths)
        {
            byte[] bytes;
            try { bytes = IdxReader.ReadAllMaybeGzip(path); }
            catch (UserError) { throw; }
            if (bytes.Length == 0 || bytes.Length % record != 0)
                throw new UserError($"{path}: size {bytes.Length} is not a whole number of {record}-byte CIFAR records (truncated or wrong file). HINT: extract the binary version (cifar-{(labelBytes == 1 ? "10" : "100")}-binary.tar.gz) again.");
            var n = bytes.Length / record;
            var img = new byte[n * ImageBytes];
            for (var i = 0; i < n; i++)
            {
                var r = i * record;
                var label = bytes[r + labelBytes - 1];
                if (label >= classCount)
                    throw new UserError($"{path}: label {label} in record {i} is not a class (0..{classCount - 1}). HINT: this is not a CIFAR-{(labelBytes == 1 ? "10" : "100")} binary file; CIFAR-10 and CIFAR-100 records differ.");
                labels.Add(label);
                var src = bytes.AsSpan(r + labelBytes, ImageBytes);
                var dst = img.AsSpan(i * ImageBytes, ImageBytes);
                for (var p = 0; p < PlaneBytes; p++)
                {
                    dst[3 * p] = src[p];
                    dst[3 * p + 1] = src[PlaneBytes + p];
                    dst[3 * p + 2] = src[2 * PlaneBytes + p];
                }
            }
            images.Add(img);
        }
        var all = new byte[images.Sum(a => a.Length)];
        var offset = 0;
        foreach (var a in images) { a.CopyTo(all, offset); offset += a.Length; }
        return (all, labels.ToArray());
    }

    /// <summary>Class names from a text file with one name per line (batches.meta.txt, fine_label_names.txt).</summary>
    public static IReadOnlyList<string>? ReadNames(string path, int classCount)
    {
        if (!File.Exists(path)) return null;
        var names = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length == classCount ? names : null;
    }
}
