using System.Text;

namespace ImageGpt.Torch.Tests;

/// <summary>
/// Minimal ELF64 little-endian shared objects for the version-section tests: a .dynstr, an optional
/// .gnu.version_r (what the library needs, per library file) and an optional .gnu.version_d (what it defines),
/// laid out as GNU ld lays them out (Elf64_Verneed/Vernaux and Elf64_Verdef/Verdaux records chained by offsets).
/// </summary>
internal static class SyntheticElf
{
    public static byte[] Build(IReadOnlyList<(string File, string[] Versions)> needs, IReadOnlyList<string> defines)
    {
        var strings = new MemoryStream();
        strings.WriteByte(0);
        var offsets = new Dictionary<string, uint>();
        uint Str(string s)
        {
            if (offsets.TryGetValue(s, out uint o)) return o;
            o = (uint)strings.Length;
            strings.Write(Encoding.ASCII.GetBytes(s));
            strings.WriteByte(0);
            return offsets[s] = o;
        }

        var verneed = new MemoryStream();
        for (int i = 0; i < needs.Count; i++)
        {
            var (library, versions) = needs[i];
            const int VerneedSize = 16, VernauxSize = 16;
            int size = VerneedSize + versions.Length * VernauxSize;
            W16(verneed, 1); W16(verneed, (ushort)versions.Length); W32(verneed, Str(library)); W32(verneed, VerneedSize);
            W32(verneed, i == needs.Count - 1 ? 0u : (uint)size);
            for (int j = 0; j < versions.Length; j++)
            {
                W32(verneed, (uint)(0x1000 + j)); W16(verneed, 0); W16(verneed, (ushort)(2 + j)); W32(verneed, Str(versions[j]));
                W32(verneed, j == versions.Length - 1 ? 0u : VernauxSize);
            }
        }

        var verdef = new MemoryStream();
        for (int i = 0; i < defines.Count; i++)
        {
            const int VerdefSize = 20, VerdauxSize = 8;
            W16(verdef, 1); W16(verdef, 0); W16(verdef, (ushort)(i + 1)); W16(verdef, 1); W32(verdef, (uint)(0x2000 + i)); W32(verdef, VerdefSize);
            W32(verdef, i == defines.Count - 1 ? 0u : VerdefSize + VerdauxSize);
            W32(verdef, Str(defines[i])); W32(verdef, 0);
        }

        // Layout: header (64), .dynstr, .gnu.version_r, .gnu.version_d, then the section headers.
        var sections = new List<(uint Type, byte[] Data, uint Link, uint Info)> { (3, strings.ToArray(), 0, 0) };
        if (needs.Count > 0) sections.Add((0x6ffffffe, verneed.ToArray(), 1, (uint)needs.Count));
        if (defines.Count > 0) sections.Add((0x6ffffffd, verdef.ToArray(), 1, (uint)defines.Count));
        var file = new MemoryStream();
        file.Write(new byte[64]);
        var placed = new List<long>();
        foreach (var s in sections)
        {
            while (file.Length % 8 != 0) file.WriteByte(0);
            placed.Add(file.Length);
            file.Write(s.Data);
        }
        while (file.Length % 8 != 0) file.WriteByte(0);
        long shoff = file.Length;
        file.Write(new byte[64]); // the null section
        for (int i = 0; i < sections.Count; i++)
        {
            W32(file, 0); W32(file, sections[i].Type); W64(file, 0); W64(file, 0);
            W64(file, (ulong)placed[i]); W64(file, (ulong)sections[i].Data.Length);
            W32(file, sections[i].Link); W32(file, sections[i].Info); W64(file, 8); W64(file, 0);
        }
        var elf = file.ToArray();
        byte[] ident = [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1];
        ident.CopyTo(elf, 0);
        BitConverter.GetBytes((ushort)3).CopyTo(elf, 0x10);      // ET_DYN
        BitConverter.GetBytes((ushort)62).CopyTo(elf, 0x12);     // EM_X86_64
        BitConverter.GetBytes((ulong)shoff).CopyTo(elf, 0x28);
        BitConverter.GetBytes((ushort)64).CopyTo(elf, 0x34);     // e_ehsize
        BitConverter.GetBytes((ushort)64).CopyTo(elf, 0x3A);     // e_shentsize
        BitConverter.GetBytes((ushort)(sections.Count + 1)).CopyTo(elf, 0x3C);
        return elf;
    }

    private static void W16(Stream s, ushort v) => s.Write(BitConverter.GetBytes(v));
    private static void W32(Stream s, uint v) => s.Write(BitConverter.GetBytes(v));
    private static void W64(Stream s, ulong v) => s.Write(BitConverter.GetBytes(v));
}
