namespace ImageGpt.Nn.Data;

public enum DataFormat { Idx, Cifar10, Cifar100 }

/// <summary>A file the loader needs, with the SHA-256 of its uncompressed content when known.</summary>
/// <remarks>
/// The hash is of the decompressed bytes so that the official .gz and a recompressed copy (Debian
/// ships Fashion-MNIST recompressed) verify alike.
/// </remarks>
public sealed record DataFile(string Name, string? ContentSha256 = null);

/// <summary>What a data set is and where it can come from.</summary>
public sealed record DataSetInfo(
    string Name,
    DataFormat Format,
    int Side,
    int Channels,
    IReadOnlyList<string> ClassNames,
    IReadOnlyList<DataFile> TrainFiles,
    IReadOnlyList<DataFile> TestFiles,
    string? NamesFile,
    string? SubDirectory,
    string? AptPackage,
    string? DownloadBaseUrl)
{
    public IEnumerable<DataFile> AllFiles => TrainFiles.Concat(TestFiles);
}

public static class DataSetCatalog
{
    private static readonly string[] FashionNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly string[] Cifar10Names =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    // SHA-256 of the decompressed IDX files, computed from Debian's dataset-fashion-mnist
    // (which decompresses to the official files; the .gz bytes differ because Debian recompressed them).
    public static readonly DataSetInfo FashionMnist = new(
        "fashion-mnist", DataFormat.Idx, 28, 1, FashionNames,
        [
            new("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            new("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ],
        [
            new("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            new("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ],
        NamesFile: null, SubDirectory: null,
        AptPackage: "dataset-fashion-mnist",
        DownloadBaseUrl: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/");

    public static readonly DataSetInfo Mnist = new(
        "mnist", DataFormat.Idx, 28, 1, Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray(),
        [new("train-images-idx3-ubyte"), new("train-labels-idx1-ubyte")],
        [new("t10k-images-idx3-ubyte"), new("t10k-labels-idx1-ubyte")],
        null, null, null, null);

    public static readonly DataSetInfo Cifar10 = new(
        "cifar-10", DataFormat.Cifar10, 32, 3, Cifar10Names,
        Enumerable.Range(1, 5).Select(i => new DataFile($"data_batch_{i}.bin")).ToArray(),
        [new("test_batch.bin")],
        "batches.meta.txt", "cifar-10-batches-bin", null, null);

    public static readonly DataSetInfo Cifar100 = new(
        "cifar-100", DataFormat.Cifar100, 32, 3, Enumerable.Range(0, 100).Select(i => $"class{i}").ToArray(),
        [new("train.bin")],
        [new("test.bin")],
        "fine_label_names.txt", "cifar-100-binary", null, null);

    public static IReadOnlyList<DataSetInfo> All { get; } = [FashionMnist, Mnist, Cifar10, Cifar100];

    public static DataSetInfo Get(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new UserError($"unknown data set '{name}'. HINT: use one of {string.Join(", ", All.Select(d => d.Name))}.");
}
