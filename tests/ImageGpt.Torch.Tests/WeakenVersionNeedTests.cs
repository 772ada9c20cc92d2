using System.Collections;
using System.Text.Json;
using ImageGpt.Build;
using Microsoft.Build.Framework;

namespace ImageGpt.Torch.Tests;

/// <summary>
/// The build step that lets libtorch load on Debian 12 (tools/libtorch): reading ELF version sections,
/// marking one need weak, and deciding from the system's libstdc++ whether to; on synthetic libraries and
/// on the real ones.
/// </summary>
public sealed class WeakenVersionNeedTests : IDisposable
{
    private const string Wanted = "GLIBCXX_3.4.32";
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-elf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] TorchSharpLike() => SyntheticElf.Build(
        [("libc.so.6", ["GLIBC_2.34", "GLIBC_2.2.5"]), ("libstdc++.so.6", ["GLIBCXX_3.4.30", Wanted, "CXXABI_1.3"])], []);

    private static byte[] Libstdcxx(params string[] defines) => SyntheticElf.Build([], ["libstdc++.so.6", .. defines]);

    private string Put(string relative, byte[] bytes)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Needs_and_definitions_are_read_as_the_sections_chain_them()
    {
        var needs = ElfVersions.Needs(TorchSharpLike());
        Assert.Equal(["libc.so.6/GLIBC_2.34", "libc.so.6/GLIBC_2.2.5", "libstdc++.so.6/GLIBCXX_3.4.30", $"libstdc++.so.6/{Wanted}", "libstdc++.so.6/CXXABI_1.3"],
            needs.Select(n => $"{n.File}/{n.Version}"));
        Assert.DoesNotContain(needs, n => n.Weak);
        Assert.Equal(["libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.30"], ElfVersions.Definitions(Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.30")));
    }

    [Fact]
    public void Marking_a_need_weak_changes_its_flags_and_no_other_byte()
    {
        var original = TorchSharpLike();
        var patched = (byte[])original.Clone();
        Assert.True(ElfVersions.MarkWeak(patched, Wanted));
        var needs = ElfVersions.Needs(patched);
        Assert.Equal([Wanted], needs.Where(n => n.Weak).Select(n => n.Version));
        Assert.Equal(ElfVersions.VerFlgWeak, needs.Single(n => n.Weak).Flags);
        int[] changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        long at = needs.Single(n => n.Weak).FlagsOffset;
        Assert.Equal([(int)at], changed);
        Assert.False(ElfVersions.MarkWeak(patched, Wanted), "a second pass has nothing to do");
        Assert.False(ElfVersions.MarkWeak(patched, "GLIBCXX_9.9"), "a version the library does not need is left alone");
    }

    [Fact]
    public void The_step_weakens_the_need_only_where_the_system_libstdcxx_lacks_the_version()
    {
        string lib = Put("out/libLibTorchSharp.so", TorchSharpLike());
        Put("old/libstdc++.so.6", Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.9", "GLIBCXX_3.4.30"));
        Put("new/libstdc++.so.6", Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.30", Wanted));

        Assert.False(WeakenVersionNeed.Run(lib, Wanted, [Path.Combine(_dir, "none"), Path.Combine(_dir, "new")], out string report));
        Assert.Contains("defines GLIBCXX_3.4.32; left as it is", report);
        Assert.Equal(TorchSharpLike(), File.ReadAllBytes(lib));

        Assert.True(WeakenVersionNeed.Run(lib, Wanted, [Path.Combine(_dir, "old"), Path.Combine(_dir, "new")], out report));
        Assert.Contains("defines up to GLIBCXX_3.4.30", report);
        Assert.True(ElfVersions.Needs(File.ReadAllBytes(lib)).Single(n => n.Version == Wanted).Weak);

        Assert.False(WeakenVersionNeed.Run(lib, Wanted, [Path.Combine(_dir, "old")], out report));
        Assert.Contains("already weak", report);
        Assert.False(File.Exists(lib + ".weaken"), "no temporary file is left behind");
    }

    [Fact]
    public void The_step_replaces_the_file_so_a_hard_link_into_the_package_cache_keeps_the_original()
    {
        string cache = Put("cache/libLibTorchSharp.so", TorchSharpLike());
        string lib = Path.Combine(_dir, "out", "libLibTorchSharp.so");
        Directory.CreateDirectory(Path.GetDirectoryName(lib)!);
        Assert.Equal(0, Link(cache, lib));
        Put("old/libstdc++.so.6", Libstdcxx("GLIBCXX_3.4.30"));
        Assert.True(WeakenVersionNeed.Run(lib, Wanted, [Path.Combine(_dir, "old")], out _));
        Assert.Equal(TorchSharpLike(), File.ReadAllBytes(cache));
        Assert.NotEqual(TorchSharpLike(), File.ReadAllBytes(lib));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);

    [Fact]
    public void A_file_that_is_not_an_ELF64_library_is_refused_with_the_reason()
    {
        Assert.Contains("not an ELF file", Assert.Throws<InvalidDataException>(() => ElfVersions.Needs("#!/bin/sh\n"u8.ToArray())).Message);
        var elf = TorchSharpLike();
        elf[4] = 1; // ELFCLASS32
        Assert.Contains("64-bit", Assert.Throws<InvalidDataException>(() => ElfVersions.Needs(elf)).Message);
        Assert.Throws<InvalidDataException>(() => ElfVersions.Needs(TorchSharpLike()[..80]));
    }

    [Fact]
    public void The_msbuild_task_logs_what_it_did_and_reports_it()
    {
        string lib = Put("out/libLibTorchSharp.so", TorchSharpLike());
        Put("old/libstdc++.so.6", Libstdcxx("GLIBCXX_3.4.30"));
        var engine = new RecordingEngine();
        var task = new WeakenVersionNeed { BuildEngine = engine, Library = lib, Version = Wanted, SearchDirectories = [Path.Combine(_dir, "old")] };
        Assert.True(task.Execute());
        Assert.True(task.Patched);
        Assert.Contains(engine.Messages, m => m.Contains("marked weak", StringComparison.Ordinal));

        File.WriteAllText(lib, "not a library");
        var failing = new WeakenVersionNeed { BuildEngine = engine, Library = lib, Version = Wanted, SearchDirectories = [Path.Combine(_dir, "old")] };
        Assert.False(failing.Execute());
        Assert.Contains(engine.Errors, m => m.Contains("not an ELF file", StringComparison.Ordinal));
    }

    /// <summary>The real libraries: the package's copy needs the version strictly, this project's output copy is patched exactly when this system needs it.</summary>
    [Fact]
    public void The_output_copy_of_libLibTorchSharp_is_weakened_exactly_when_this_system_needs_it_and_the_package_copy_is_untouched()
    {
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        string package = Path.Combine(PackagesFolder(), "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var packageNeed = ElfVersions.Needs(File.ReadAllBytes(package)).Single(n => n.Version == Wanted);
        Assert.Equal("libstdc++.so.6", packageNeed.File);
        Assert.False(packageNeed.Weak);

        string system = new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" }
            .Select(d => Path.Combine(d, "libstdc++.so.6")).First(File.Exists);
        var defined = ElfVersions.Definitions(File.ReadAllBytes(system));
        Assert.Contains("GLIBCXX_3.4", defined);
        bool weak = ElfVersions.Needs(File.ReadAllBytes(output)).Single(n => n.Version == Wanted).Weak;
        Assert.Equal(!defined.Contains(Wanted), weak);
    }

    /// <summary>The NuGet packages folder this project restored from, as its assets file records it.</summary>
    private static string PackagesFolder()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string assets = Path.Combine(d.FullName, "obj", "project.assets.json");
            if (!File.Exists(assets)) continue;
            using var json = JsonDocument.Parse(File.ReadAllText(assets));
            return json.RootElement.GetProperty("packageFolders").EnumerateObject().First().Name;
        }
        throw new InvalidOperationException("obj/project.assets.json not found above the test's folder");
    }

    private sealed class RecordingEngine : IBuildEngine
    {
        public List<string> Messages { get; } = [];
        public List<string> Errors { get; } = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test";
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e.Message ?? "");
        public void LogWarningEvent(BuildWarningEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogMessageEvent(BuildMessageEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogCustomEvent(CustomBuildEventArgs e) => Messages.Add(e.Message ?? "");
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
    }
}
