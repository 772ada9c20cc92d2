using System.Buffers.Binary;
using System.IO.Compression;

namespace ImageGpt.Nn.Tests.Data;

/// <summary>Writes small IDX and CIFAR files, valid or deliberately broken.</summary>
internal static class DataFiles
{
    public static byte[] IdxImages(byte[] pixels, int n, int rows, int cols, int magic = 0x803)
    {
        var b = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        pixels.CopyTo(b, 16);
        return b;
    }

    public static byte[] IdxLabels(byte[] labels, int? count = null)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count ?? labels.Length);
        labels.CopyTo(b, 8);
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Deterministic images: pixel value depends on (image, position).</summary>
    public static byte[] Pixels(int n, int side, int channels = 1) =>
        Enumerable.Range(0, n * side * side * channels).Select(i => (byte)(i * 37 % 251)).ToArray();

    /// <summary>A complete Fashion-MNIST-shaped set (28x28) with n train and m test images in dir.</summary>
    public static void WriteFashion(string dir, int nTrain = 20, int nTest = 10, bool gzip = true)
    {
        Directory.CreateDirectory(dir);
        void Put(string name, byte[] data) =>
            File.WriteAllBytes(Path.Combine(dir, name + (gzip ? ".gz" : "")), gzip ? Gzip(data) : data);
        Put("train-images-idx3-ubyte", IdxImages(Pixels(nTrain, 28), nTrain, 28, 28));
        Put("train-labels-idx1-ubyte", IdxLabels(Enumerable.Range(0, nTrain).Select(i => (byte)(i % 10)).ToArray()));
        Put("t10k-images-idx3-ubyte", IdxImages(Pixels(nTest, 28), nTest, 28, 28));
        Put("t10k-labels-idx1-ubyte", IdxLabels(Enumerable.Range(0, nTest).Select(i => (byte)(9 - i % 10)).ToArray()));
    }

    /// <summary>CIFAR records: label byte(s) then R, G, B planes.</summary>
    public static byte[] CifarRecords(int n, int labelBytes, Func<int, int> label)
    {
        var rec = labelBytes + 3072;
        var b = new byte[n * rec];
        for (var i = 0; i < n; i++)
        {
            if (labelBytes == 2) b[i * rec] = (byte)(label(i) / 5);
            b[i * rec + labelBytes - 1] = (byte)label(i);
            for (var c = 0; c < 3; c++)
                for (var p = 0; p < 1024; p++) b[i * rec + labelBytes + c * 1024 + p] = CifarValue(i, c, p);
        }
        return b;
    }

    public static byte CifarValue(int image, int channel, int position) => (byte)((image * 31 + channel * 101 + position * 7) % 256);
}
