// Compiled by MSBuild's RoslynCodeTaskFactory (tools/libtorch/LibTorchNative.targets) and by
// tests/ImageGpt.Torch.Tests, so it uses only netstandard2.0's BCL and Microsoft.Build.Utilities.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ImageGpt.Build
{
    /// <summary>
    /// The symbol versions an ELF64 little-endian shared library needs (.gnu.version_r) and defines
    /// (.gnu.version_d), and the one edit the libtorch build needs: setting VER_FLG_WEAK on one needed
    /// version, which turns "version `X' not found" from a load failure into a warning the loader keeps quiet.
    /// </summary>
    public static class ElfVersions
    {
        public const ushort VerFlgWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe;

        /// <summary>One Vernaux entry: the library it is needed from, the version name, its flags and where the flags lie in the file.</summary>
        public readonly struct Need
        {
            public Need(string file, string version, ushort flags, long flagsOffset)
            {
                File = file; Version = version; Flags = flags; FlagsOffset = flagsOffset;
            }
            public string File { get; }
            public string Version { get; }
            public ushort Flags { get; }
            public long FlagsOffset { get; }
            public bool Weak => (Flags & VerFlgWeak) != 0;
        }

        public static List<Need> Needs(byte[] elf)
        {
            var needs = new List<Need>();
            foreach (var (offset, count, strings) in Sections(elf, ShtGnuVerneed))
            {
                long entry = offset;
                for (uint i = 0; i < count; i++)
                {
                    // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                    ushort auxCount = U16(elf, entry + 2);
                    string file = Str(elf, strings + U32(elf, entry + 4));
                    long aux = entry + U32(elf, entry + 8);
                    for (int j = 0; j < auxCount; j++)
                    {
                        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                        needs.Add(new Need(file, Str(elf, strings + U32(elf, aux + 8)), U16(elf, aux + 4), aux + 4));
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return needs;
        }

        /// <summary>The version names the library defines (its own soname entry included).</summary>
        public static List<string> Definitions(byte[] elf)
        {
            var names = new List<string>();
            foreach (var (offset, count, strings) in Sections(elf, ShtGnuVerdef))
            {
                long entry = offset;
                for (uint i = 0; i < count; i++)
                {
                    // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32;
                    // the first Elf64_Verdaux (vda_name u32, vda_next u32) names the version.
                    names.Add(Str(elf, strings + U32(elf, entry + U32(elf, entry + 12))));
                    uint next = U32(elf, entry + 16);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return names;
        }

        /// <summary>Sets VER_FLG_WEAK on every need of <paramref name="version"/>; false if the library does not need it or already weakly.</summary>
        public static bool MarkWeak(byte[] elf, string version)
        {
            bool changed = false;
            foreach (var need in Needs(elf).Where(n => n.Version == version && !n.Weak))
            {
                ushort flags = (ushort)(need.Flags | VerFlgWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                changed = true;
            }
            return changed;
        }

        /// <summary>(offset, entry count, offset of the linked string table) of each section of <paramref name="type"/>.</summary>
        private static IEnumerable<(long Offset, uint Count, long Strings)> Sections(byte[] elf, uint type)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            if (shoff == 0 || shentsize < 64 || shoff + (long)shnum * shentsize > elf.Length)
                throw new InvalidDataException("ELF section headers missing or truncated");
            for (int i = 0; i < shnum; i++)
            {
                // Elf64_Shdr: sh_name u32, sh_type u32, sh_flags u64, sh_addr u64, sh_offset u64, sh_size u64, sh_link u32, sh_info u32, ...
                long h = shoff + (long)i * shentsize;
                if (U32(elf, h + 4) != type) continue;
                uint link = U32(elf, h + 40);
                if (link >= shnum) throw new InvalidDataException("ELF version section links to no string table");
                long strings = (long)U64(elf, shoff + (long)link * shentsize + 24);
                yield return ((long)U64(elf, h + 24), U32(elf, h + 44), strings);
            }
        }

        private static ushort U16(byte[] b, long o) { Check(b, o, 2); return (ushort)(b[o] | b[o + 1] << 8); }
        private static uint U32(byte[] b, long o) { Check(b, o, 4); return (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24); }
        private static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;

        private static string Str(byte[] b, long o)
        {
            Check(b, o, 1);
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }

        private static void Check(byte[] b, long o, int n)
        {
            if (o < 0 || o + n > b.Length) throw new InvalidDataException($"ELF offset {o} lies outside the file");
        }
    }

    /// <summary>
    /// MSBuild task: where the system's <c>libstdc++.so.6</c> does not define <see cref="Version"/>, marks the
    /// <see cref="Library"/>'s need of it weak. The file is rewritten through a temporary file and a rename,
    /// so a hard link into the NuGet cache is never written through.
    /// </summary>
    public sealed class WeakenVersionNeed : Microsoft.Build.Utilities.Task
    {
        /// <summary>The library to patch (the output folder's copy of libLibTorchSharp.so).</summary>
        [Required] public string Library { get; set; } = "";

        /// <summary>The version need to weaken, e.g. GLIBCXX_3.4.32.</summary>
        [Required] public string Version { get; set; } = "";

        /// <summary>Folders searched, in order, for the library that should define <see cref="Version"/>.</summary>
        [Required] public string[] SearchDirectories { get; set; } = Array.Empty<string>();

        /// <summary>True when this run changed the file.</summary>
        [Output] public bool Patched { get; set; }

        public override bool Execute()
        {
            if (!File.Exists(Library))
            {
                Log.LogMessage(MessageImportance.Low, $"{Library}: not there, nothing to weaken");
                return true;
            }
            try
            {
                Patched = Run(Library, Version, SearchDirectories, out string report);
                Log.LogMessage(Patched ? MessageImportance.High : MessageImportance.Low, report);
                return true;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                Log.LogError($"{Library}: cannot weaken its need of {Version}: {e.Message}");
                return false;
            }
        }

        /// <summary>The task's work without MSBuild: true if <paramref name="library"/> was rewritten; <paramref name="report"/> says why or why not.</summary>
        public static bool Run(string library, string version, IEnumerable<string> searchDirectories, out string report)
        {
            byte[] elf = File.ReadAllBytes(library);
            var need = ElfVersions.Needs(elf).FirstOrDefault(n => n.Version == version);
            if (need.Version == null) { report = $"{library}: does not need {version}"; return false; }
            if (need.Weak) { report = $"{library}: its need of {version} is already weak"; return false; }
            string? system = searchDirectories.Select(d => Path.Combine(d, need.File)).FirstOrDefault(File.Exists);
            if (system == null) { report = $"{library}: {need.File} not found in {string.Join(", ", searchDirectories)}; left as it is"; return false; }
            var defined = ElfVersions.Definitions(File.ReadAllBytes(system));
            if (defined.Contains(version)) { report = $"{library}: {system} defines {version}; left as it is"; return false; }

            ElfVersions.MarkWeak(elf, version);
            string temporary = library + ".weaken";
            File.WriteAllBytes(temporary, elf);
            File.Replace(temporary, library, null);
            string newest = defined.Where(d => d.StartsWith(Prefix(version), StringComparison.Ordinal)).OrderBy(d => d, VersionOrder.Instance).LastOrDefault() ?? "none";
            report = $"{library}: need of {version} marked weak ({system} defines up to {newest})";
            return true;
        }

        private static string Prefix(string version)
        {
            int underscore = version.IndexOf('_');
            return underscore < 0 ? version : version.Substring(0, underscore + 1);
        }

        /// <summary>Orders GLIBCXX_3.4.9 before GLIBCXX_3.4.30: numeric parts compare as numbers.</summary>
        private sealed class VersionOrder : IComparer<string>
        {
            public static readonly VersionOrder Instance = new VersionOrder();

            public int Compare(string? a, string? b)
            {
                string[] x = (a ?? "").Split('.', '_'), y = (b ?? "").Split('.', '_');
                for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
                {
                    int c = int.TryParse(x[i], out int p) && int.TryParse(y[i], out int q) ? p.CompareTo(q) : string.CompareOrdinal(x[i], y[i]);
                    if (c != 0) return c;
                }
                return x.Length.CompareTo(y.Length);
            }
        }
    }
}
