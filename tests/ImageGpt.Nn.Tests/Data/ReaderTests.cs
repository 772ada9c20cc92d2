using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Tests.Data;

public class IdxReaderTests
{
    private static void AssertOneLineNaming(UserError e, string path, string problem)
    {
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Images_and_labels_read_back_from_gzip_and_plain_files(bool gzip)
    {
        using var t = new TempDir();
        var pixels = DataFiles.Pixels(3, 4);
        var img = DataFiles.IdxImages(pixels, 3, 4, 4);
        var lab = DataFiles.IdxLabels([7, 0, 9]);
        File.WriteAllBytes(t.File("i"), gzip ? DataFiles.Gzip(img) : img);
        File.WriteAllBytes(t.File("l"), gzip ? DataFiles.Gzip(lab) : lab);
        var (read, n, rows, cols) = IdxReader.ReadImages(t.File("i"));
        Assert.Equal((3, 4, 4), (n, rows, cols));
        Assert.Equal(pixels, read);
        Assert.Equal([7, 0, 9], IdxReader.ReadLabels(t.File("l"), 10));
    }

    [Fact]
    public void Bad_magic_names_the_file_and_the_expected_magic()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("x"), DataFiles.IdxLabels([1, 2]));
        var e = Assert.Throws<UserError>(() => IdxReader.ReadImages(t.File("x")));
        AssertOneLineNaming(e, t.File("x"), "bad magic 0x00000801, expected 0x00000803");
    }

    [Fact]
    public void Truncated_pixels_are_reported_with_both_sizes()
    {
        using var t = new TempDir();
        var img = DataFiles.IdxImages(DataFiles.Pixels(3, 4), 3, 4, 4);
        File.WriteAllBytes(t.File("i"), img.AsSpan(0, img.Length - 5).ToArray());
        var e = Assert.Throws<UserError>(() => IdxReader.ReadImages(t.File("i")));
        AssertOneLineNaming(e, t.File("i"), "truncated: header says 3 images of 4x4 = 48 bytes, file has 43");
    }

    [Fact]
    public void Truncated_gzip_stream_is_a_user_error()
    {
        using var t = new TempDir();
        var gz = DataFiles.Gzip(DataFiles.IdxImages(DataFiles.Pixels(50, 28), 50, 28, 28));
        File.WriteAllBytes(t.File("i.gz"), gz.AsSpan(0, gz.Length / 2).ToArray());
        var e = Assert.Throws<UserError>(() => IdxReader.ReadImages(t.File("i.gz")));
        Assert.Contains(t.File("i.gz"), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Header_too_short_is_truncated()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("i"), DataFiles.IdxImages([], 0, 28, 28).AsSpan(0, 10).ToArray());
        AssertOneLineNaming(Assert.Throws<UserError>(() => IdxReader.ReadImages(t.File("i"))), t.File("i"), "truncated");
    }

    [Fact]
    public void Labels_outside_the_classes_are_rejected()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("l"), DataFiles.IdxLabels([1, 12]));
        AssertOneLineNaming(Assert.Throws<UserError>(() => IdxReader.ReadLabels(t.File("l"), 10)), t.File("l"), "label 12 at index 1");
    }

    [Fact]
    public void Label_count_in_header_must_match_the_bytes()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("l"), DataFiles.IdxLabels([1, 2, 3], count: 5));
        AssertOneLineNaming(Assert.Throws<UserError>(() => IdxReader.ReadLabels(t.File("l"), 10)), t.File("l"), "header says 5 labels, file has 3");
    }
}

public class CifarReaderTests
{
    [Fact]
    public void Cifar10_planes_become_channels_last_pixels()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("b.bin"), DataFiles.CifarRecords(3, 1, i => i + 4));
        var (images, labels) = CifarReader.Read([t.File("b.bin")], 1, 10);
        Assert.Equal([4, 5, 6], labels);
        for (var i = 0; i < 3; i++)
            foreach (var p in new[] { 0, 1, 31, 32, 500, 1023 })
                for (var c = 0; c < 3; c++)
                    Assert.Equal(DataFiles.CifarValue(i, c, p), images[i * 3072 + 3 * p + c]);
    }

    [Fact]
    public void Cifar100_uses_the_fine_label()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("train.bin"), DataFiles.CifarRecords(2, 2, i => 57 + i));
        var (_, labels) = CifarReader.Read([t.File("train.bin")], 2, 100);
        Assert.Equal([57, 58], labels);
    }

    [Fact]
    public void A_partial_record_is_reported_as_truncated()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("b.bin"), DataFiles.CifarRecords(2, 1, _ => 1).AsSpan(0, 5000).ToArray());
        var e = Assert.Throws<UserError>(() => CifarReader.Read([t.File("b.bin")], 1, 10));
        Assert.Contains(t.File("b.bin"), e.Message);
        Assert.Contains("not a whole number of 3073-byte CIFAR records", e.Message);
    }

    [Fact]
    public void A_cifar100_file_read_as_cifar10_fails_on_size()
    {
        using var t = new TempDir();
        File.WriteAllBytes(t.File("b.bin"), DataFiles.CifarRecords(1, 2, _ => 3));
        Assert.Throws<UserError>(() => CifarReader.Read([t.File("b.bin")], 1, 10));
    }
}
