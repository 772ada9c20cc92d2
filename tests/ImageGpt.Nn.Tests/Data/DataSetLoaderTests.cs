using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Tests.Data;

public class DataSetLoaderTests
{
    /// <summary>Records calls; optionally "installs" or "downloads" by writing a valid set.</summary>
    private sealed class FakeProvisioner(Action<string>? apt = null, Action<string>? download = null) : IDataProvisioner
    {
        public List<string> Calls { get; } = [];

        public bool TryAptInstall(string package, TextWriter log)
        {
            Calls.Add("apt " + package);
            if (apt is null) return false;
            apt(package);
            return true;
        }

        public bool TryDownload(DataSetInfo info, string directory, TextWriter log)
        {
            Calls.Add("download " + directory);
            if (download is null) return false;
            download(directory);
            return true;
        }
    }

    private static DataSources Sources(TempDir t, string? configured, FakeProvisioner p) =>
        new(configured, Path.Combine(t.Path, "cache"), p, TextWriter.Null, Path.Combine(t.Path, "system"));

    [Fact]
    public void The_configured_directory_is_used_first_and_nothing_is_installed()
    {
        using var t = new TempDir();
        DataFiles.WriteFashion(t.File("mine"), nTrain: 20);
        DataFiles.WriteFashion(Path.Combine(t.Path, "cache", "fashion-mnist"), nTrain: 30);
        var p = new FakeProvisioner();
        var (train, test) = DataSetLoader.Load("fashion-mnist", Sources(t, t.File("mine"), p));
        Assert.Equal(20, train.Count);
        Assert.Equal(10, test.Count);
        Assert.Equal((28, 1), (train.Side, train.Channels));
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        Assert.Equal(DataFiles.Pixels(20, 28), train.Images);
        Assert.Empty(p.Calls);
    }

    [Fact]
    public void Plain_files_in_the_cache_are_found_when_no_directory_is_configured()
    {
        using var t = new TempDir();
        DataFiles.WriteFashion(Path.Combine(t.Path, "cache", "fashion-mnist"), nTrain: 30, gzip: false);
        var (train, _) = DataSetLoader.Load("fashion-mnist", Sources(t, null, new FakeProvisioner()));
        Assert.Equal(30, train.Count);
    }

    [Fact]
    public void The_system_directory_comes_after_the_cache()
    {
        using var t = new TempDir();
        DataFiles.WriteFashion(Path.Combine(t.Path, "system", "fashion-mnist"), nTrain: 40);
        var (train, _) = DataSetLoader.Load("fashion-mnist", Sources(t, t.File("empty"), new FakeProvisioner()));
        Assert.Equal(40, train.Count);
    }

    [Fact]
    public void Missing_fashion_mnist_tries_apt_then_the_download_and_then_says_what_to_provide()
    {
        using var t = new TempDir();
        var p = new FakeProvisioner();
        var e = Assert.Throws<UserError>(() => DataSetLoader.Load("fashion-mnist", Sources(t, t.File("cfg"), p)));
        Assert.Equal(["apt dataset-fashion-mnist", "download " + Path.Combine(t.Path, "cache", "fashion-mnist")], p.Calls);
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        Assert.Contains(t.File("cfg"), e.Message);
        Assert.Contains("apt-get install -y dataset-fashion-mnist", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_successful_apt_install_is_read_from_the_system_directory()
    {
        using var t = new TempDir();
        var p = new FakeProvisioner(apt: _ => DataFiles.WriteFashion(Path.Combine(t.Path, "system", "fashion-mnist"), nTrain: 12));
        var (train, _) = DataSetLoader.Load("fashion-mnist", Sources(t, null, p));
        Assert.Equal(12, train.Count);
        Assert.Equal(["apt dataset-fashion-mnist"], p.Calls);
    }

    [Fact]
    public void A_successful_download_lands_in_the_cache()
    {
        using var t = new TempDir();
        var p = new FakeProvisioner(download: dir => DataFiles.WriteFashion(dir, nTrain: 15));
        var (train, _) = DataSetLoader.Load("fashion-mnist", Sources(t, null, p));
        Assert.Equal(15, train.Count);
    }

    [Fact]
    public void Missing_cifar10_asks_for_the_batch_files_and_never_calls_apt()
    {
        using var t = new TempDir();
        var p = new FakeProvisioner();
        var e = Assert.Throws<UserError>(() => DataSetLoader.Load("cifar-10", Sources(t, null, p)));
        Assert.Empty(p.Calls);
        Assert.Contains("data_batch_1.bin", e.Message);
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("cifar-10-batches-bin", e.Message);
    }

    [Fact]
    public void Cifar10_is_read_from_the_extracted_archive_folder_with_its_class_names()
    {
        using var t = new TempDir();
        var dir = Path.Combine(t.Path, "cfg", "cifar-10-batches-bin");
        Directory.CreateDirectory(dir);
        for (var b = 1; b <= 5; b++) File.WriteAllBytes(Path.Combine(dir, $"data_batch_{b}.bin"), DataFiles.CifarRecords(2, 1, i => b + i));
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), DataFiles.CifarRecords(3, 1, _ => 9));
        File.WriteAllLines(Path.Combine(dir, "batches.meta.txt"), ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", ""]);
        var (train, test) = DataSetLoader.Load("cifar-10", Sources(t, Path.Combine(t.Path, "cfg"), new FakeProvisioner()));
        Assert.Equal((10, 3, 32, 3), (train.Count, test.Count, train.Side, train.Channels));
        Assert.Equal([1, 2, 2, 3, 3, 4, 4, 5, 5, 6], train.Labels);
        Assert.Equal("a7", train.ClassNames[7]);
    }

    [Fact]
    public void Images_and_labels_that_disagree_in_count_name_both_files()
    {
        using var t = new TempDir();
        DataFiles.WriteFashion(t.Path, nTrain: 20, gzip: false);
        File.WriteAllBytes(t.File("train-labels-idx1-ubyte"), DataFiles.IdxLabels(new byte[19]));
        var e = Assert.Throws<UserError>(() => DataSetLoader.Load("fashion-mnist", Sources(t, t.Path, new FakeProvisioner())));
        Assert.Contains("19 labels but", e.Message);
        Assert.Contains(t.File("train-labels-idx1-ubyte"), e.Message);
        Assert.Contains(t.File("train-images-idx3-ubyte"), e.Message);
    }

    [Fact]
    public void Non_square_images_are_rejected()
    {
        using var t = new TempDir();
        DataFiles.WriteFashion(t.Path, nTrain: 20, gzip: false);
        File.WriteAllBytes(t.File("train-images-idx3-ubyte"), DataFiles.IdxImages(DataFiles.Pixels(20, 28), 20, 14, 56));
        var e = Assert.Throws<UserError>(() => DataSetLoader.Load("fashion-mnist", Sources(t, t.Path, new FakeProvisioner())));
        Assert.Contains("14x56", e.Message);
    }

    [Fact]
    public void Unknown_data_set_lists_the_known_ones()
    {
        var e = Assert.Throws<UserError>(() => DataSetCatalog.Get("imagenet"));
        Assert.Contains("fashion-mnist, mnist, cifar-10, cifar-100", e.Message);
    }

    [Fact]
    public void Content_hash_is_the_same_for_gzip_and_plain_copies()
    {
        using var t = new TempDir();
        var data = DataFiles.IdxLabels([1, 2, 3]);
        File.WriteAllBytes(t.File("a"), data);
        File.WriteAllBytes(t.File("b.gz"), DataFiles.Gzip(data));
        Assert.Equal(DataSetLoader.ContentSha256(t.File("a")), DataSetLoader.ContentSha256(t.File("b.gz")));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), DataSetLoader.ContentSha256(t.File("a")));
    }
}

/// <summary>apt-get's output is kept from the user unless it fails (a stand-in apt-get script; the tests run as root, as CI does).</summary>
public class AptInstallTests
{
    private static string FakeAptGet(TempDir t, int exitCode)
    {
        string script = t.File("apt-get");
        File.WriteAllText(script, $"#!/bin/sh\nfor i in $(seq 1 37); do echo \"Unpacking line $i\"; done\necho 'E: something broke' >&2\nexit {exitCode}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    [Fact]
    public void A_successful_install_prints_one_line_and_none_of_apts()
    {
        Assert.True(DataSetLoader.IsRoot(), "this test runs apt-get's stand-in as root, as CI does");
        using var t = new TempDir();
        var log = new StringWriter();
        Assert.True(new SystemProvisioner(FakeAptGet(t, 0)).TryAptInstall("dataset-fashion-mnist", log));
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\[data\] installed dataset-fashion-mnist \(\d+ s\)$", Assert.Single(lines));
    }

    [Fact]
    public void A_failed_install_prints_apts_output()
    {
        Assert.True(DataSetLoader.IsRoot(), "this test runs apt-get's stand-in as root, as CI does");
        using var t = new TempDir();
        var log = new StringWriter();
        Assert.False(new SystemProvisioner(FakeAptGet(t, 100)).TryAptInstall("dataset-fashion-mnist", log));
        string text = log.ToString();
        Assert.Contains("[data] apt-get install dataset-fashion-mnist failed (exit code 100); its output:", text);
        Assert.Contains("[apt] Unpacking line 37", text);
        Assert.Contains("[apt] E: something broke", text);
    }
}
