using System.Diagnostics;
using System.Security.Cryptography;

namespace ImageGpt.Nn.Data;

/// <summary>The steps that change the machine (apt) or reach the network; tests inject fakes.</summary>
public interface IDataProvisioner
{
    /// <summary>Installs an apt package; returns false when apt is unavailable or the install failed.</summary>
    bool TryAptInstall(string package, TextWriter log);

    /// <summary>Downloads every file of <paramref name="info"/> into <paramref name="directory"/>, verified; false on failure.</summary>
    bool TryDownload(DataSetInfo info, string directory, TextWriter log);
}

/// <summary>
/// Where to look, in order: the configured directory, the per-user cache, the system directory
/// (&lt;SystemRoot&gt;/&lt;name&gt;, where Debian's dataset-* packages install; tests point it elsewhere).
/// </summary>
public sealed record DataSources(string? Directory, string CacheRoot, IDataProvisioner Provisioner, TextWriter Log, string SystemRoot = "/usr/share/datasets")
{
    /// <summary>$XDG_CACHE_HOME/imagegpt or ~/.cache/imagegpt.</summary>
    public static string DefaultCacheRoot()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
            : xdg;
        return Path.Combine(root, "imagegpt");
    }

    public static DataSources Default(string? directory) =>
        new(directory, DefaultCacheRoot(), new SystemProvisioner(), Console.Error);
}

public static class DataSetLoader
{
    /// <summary>
    /// Loads the training and test files of a data set. Looks in the configured directory (and its
    /// subfolder named after the set), the cache, then the system directory; for Fashion-MNIST it
    /// then tries apt (as root) and the official download into the cache. If all fail, the error
    /// says which files to put where.
    /// </summary>
    public static (DataSet Train, DataSet Test) Load(string name, DataSources sources)
    {
        var info = DataSetCatalog.Get(name);
        var dir = Locate(info, sources);
        if (dir is null && info.AptPackage is not null)
        {
            sources.Log.WriteLine($"[data] {info.Name}: not found; installing the Debian package {info.AptPackage}");
            if (sources.Provisioner.TryAptInstall(info.AptPackage, sources.Log)) dir = Locate(info, sources);
        }
        if (dir is null && info.DownloadBaseUrl is not null)
        {
            var target = Path.Combine(sources.CacheRoot, info.Name);
            sources.Log.WriteLine($"[data] {info.Name}: downloading from {info.DownloadBaseUrl} into {target}");
            if (sources.Provisioner.TryDownload(info, target, sources.Log)) dir = Locate(info, sources);
        }
        if (dir is null) throw new UserError(MissingMessage(info, sources));
        sources.Log.WriteLine($"[data] {info.Name}: reading {dir}");
        return Read(info, dir);
    }

    /// <summary>Loads, holds out validation (seeded, fixed), and resizes to <paramref name="side"/> by area averaging.</summary>
    public static DataSplits LoadSplits(string name, DataSources sources, int? side = null, double validationFraction = 0.1, ulong splitSeed = 20200612)
    {
        var (train, test) = Load(name, sources);
        var splits = DataSplits.HoldOut(train, test, validationFraction, splitSeed);
        return side is { } s ? splits.Resize(s) : splits;
    }

    /// <summary>Reads a data set from one directory (files may be plain or .gz).</summary>
    public static (DataSet Train, DataSet Test) Read(DataSetInfo info, string directory)
    {
        string P(DataFile f) => FindFile(directory, info, f.Name)
            ?? throw new UserError($"{Path.Combine(directory, f.Name)}: missing. HINT: {FileList(info)} must all be in {directory}.");
        switch (info.Format)
        {
            case DataFormat.Idx:
            {
                DataSet ReadPair(DataFile images, DataFile labels, string part)
                {
                    var (ip, lp) = (P(images), P(labels));
                    var (pixels, n, rows, cols) = IdxReader.ReadImages(ip);
                    if (rows != cols)
                        throw new UserError($"{ip}: images are {rows}x{cols}, expected square {info.Side}x{info.Side}. HINT: this is not the {info.Name} images file.");
                    var y = IdxReader.ReadLabels(lp, info.ClassNames.Count);
                    if (y.Length != n)
                        throw new UserError($"{lp}: {y.Length} labels but {ip} has {n} images. HINT: the files come from different sets or one is damaged; take both from the same download.");
                    return new DataSet($"{info.Name}/{part}", pixels, y, rows, 1, info.ClassNames);
                }
                return (ReadPair(info.TrainFiles[0], info.TrainFiles[1], "train"), ReadPair(info.TestFiles[0], info.TestFiles[1], "test"));
            }
            case DataFormat.Cifar10:
            case DataFormat.Cifar100:
            {
                var labelBytes = info.Format == DataFormat.Cifar10 ? 1 : 2;
                var k = info.ClassNames.Count;
                var names = info.NamesFile is null ? null : FindFile(directory, info, info.NamesFile) is { } np ? CifarReader.ReadNames(np, k) : null;
                names ??= info.ClassNames;
                var (trI, trY) = CifarReader.Read(info.TrainFiles.Select(P).ToArray(), labelBytes, k);
                var (teI, teY) = CifarReader.Read(info.TestFiles.Select(P).ToArray(), labelBytes, k);
                return (new DataSet($"{info.Name}/train", trI, trY, CifarReader.Side, 3, names),
                        new DataSet($"{info.Name}/test", teI, teY, CifarReader.Side, 3, names));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(info));
        }
    }

    /// <summary>The directories searched, in order.</summary>
    public static IEnumerable<string> CandidateDirectories(DataSetInfo info, DataSources sources)
    {
        if (!string.IsNullOrEmpty(sources.Directory))
        {
            yield return sources.Directory;
            yield return Path.Combine(sources.Directory, info.Name);
        }
        yield return Path.Combine(sources.CacheRoot, info.Name);
        yield return Path.Combine(sources.SystemRoot, info.Name);
    }

    private static string? Locate(DataSetInfo info, DataSources sources) =>
        CandidateDirectories(info, sources).FirstOrDefault(d => info.AllFiles.All(f => FindFile(d, info, f.Name) is not null));

    // The file as named, gzipped, or inside the folder the official archive extracts to.
    private static string? FindFile(string directory, DataSetInfo info, string name)
    {
        foreach (var dir in info.SubDirectory is null ? [directory] : new[] { directory, Path.Combine(directory, info.SubDirectory) })
            foreach (var candidate in new[] { name, name + ".gz" })
            {
                var p = Path.Combine(dir, candidate);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    private static string FileList(DataSetInfo info) => string.Join(", ", info.AllFiles.Select(f => f.Name + (info.Format == DataFormat.Idx ? "[.gz]" : "")));

    private static string MissingMessage(DataSetInfo info, DataSources sources)
    {
        var where = string.Join(" or ", CandidateDirectories(info, sources));
        var apt = info.AptPackage is null ? "" : $", or install the Debian package ({(IsRoot() ? "" : "sudo ")}apt-get install -y {info.AptPackage}, files land in {Path.Combine(sources.SystemRoot, info.Name)})";
        var archive = info.SubDirectory is null ? "" : $" (the folder {info.SubDirectory} from the official binary archive also works)";
        return $"data set {info.Name} not found in {where}. HINT: put {FileList(info)} in one of those directories{archive}{apt}.";
    }

    internal static bool IsRoot() => Environment.IsPrivilegedProcess;

    /// <summary>SHA-256 (lowercase hex) of a file's content after gunzip if it is gzipped.</summary>
    public static string ContentSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(IdxReader.ReadAllMaybeGzip(path)));
}

/// <summary>The real provisioner: apt-get as root, HttpClient for the official files.</summary>
/// <param name="aptGet">the apt-get to run (tests pass a stand-in); by default /usr/bin/apt-get or /bin/apt-get</param>
public sealed class SystemProvisioner(string? aptGet = null) : IDataProvisioner
{
    public bool TryAptInstall(string package, TextWriter log)
    {
        if (!DataSetLoader.IsRoot())
        {
            log.WriteLine($"[data] not root: skipping apt-get install {package}");
            return false;
        }
        aptGet ??= new[] { "/usr/bin/apt-get", "/bin/apt-get" }.FirstOrDefault(File.Exists);
        if (aptGet is null)
        {
            log.WriteLine("[data] apt-get not found: skipping");
            return false;
        }
        // apt prints dozens of progress lines; the user sees what is installed and the outcome, and apt's own output
        // only when it fails. Another process may hold the dpkg lock for a while: retry instead of failing at once.
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; attempt <= 6; attempt++)
        {
            var psi = new ProcessStartInfo(aptGet, ["install", "-y", "-q", package])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            var output = stdoutTask.Result;
            if (p.ExitCode == 0)
            {
                log.WriteLine($"[data] installed {package} ({clock.Elapsed.TotalSeconds:F0} s)");
                return true;
            }
            bool locked = err.Contains("lock", StringComparison.OrdinalIgnoreCase);
            if (!locked || attempt == 6)
            {
                log.WriteLine($"[data] apt-get install {package} failed (exit code {p.ExitCode}); its output:");
                foreach (var l in (output + err).Split('\n', StringSplitOptions.RemoveEmptyEntries)) log.WriteLine("[apt] " + l);
                return false;
            }
            log.WriteLine($"[data] the dpkg lock is held by another process; trying again in 10 s (attempt {attempt} of 6)");
            Thread.Sleep(TimeSpan.FromSeconds(10));
        }
        return false;
    }

    public bool TryDownload(DataSetInfo info, string directory, TextWriter log)
    {
        if (info.DownloadBaseUrl is null || info.AllFiles.Any(f => f.ContentSha256 is null))
        {
            log.WriteLine($"[data] {info.Name}: no verified download source known");
            return false;
        }
        try
        {
            Directory.CreateDirectory(directory);
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
            foreach (var f in info.AllFiles)
            {
                var target = Path.Combine(directory, f.Name + ".gz");
                if (File.Exists(target) && DataSetLoader.ContentSha256(target) == f.ContentSha256) continue;
                var url = info.DownloadBaseUrl + f.Name + ".gz";
                var partial = target + ".part";
                using (var response = http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
                {
                    response.EnsureSuccessStatusCode();
                    var total = response.Content.Headers.ContentLength;
                    using var src = response.Content.ReadAsStream();
                    using var dst = File.Create(partial);
                    var buffer = new byte[1 << 16];
                    long done = 0, lastReport = 0;
                    int read;
                    while ((read = src.Read(buffer)) > 0)
                    {
                        dst.Write(buffer, 0, read);
                        done += read;
                        if (done - lastReport >= 1 << 20 || done == total)
                        {
                            lastReport = done;
                            log.Write(total is { } t ? $"\r[data] {f.Name}.gz {done >> 10} / {t >> 10} KiB" : $"\r[data] {f.Name}.gz {done >> 10} KiB");
                        }
                    }
                    log.WriteLine();
                }
                var sha = DataSetLoader.ContentSha256(partial);
                if (sha != f.ContentSha256)
                {
                    File.Delete(partial);
                    log.WriteLine($"[data] {url}: SHA-256 of content {sha} != expected {f.ContentSha256}; discarded");
                    return false;
                }
                File.Move(partial, target, overwrite: true);
            }
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or UserError)
        {
            log.WriteLine($"[data] download failed: {e.Message}");
            return false;
        }
    }
}
