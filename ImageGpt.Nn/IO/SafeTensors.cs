using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.IO;

/// <summary>
/// Weights in the safetensors format (what PyTorch and Hugging Face load): 8-byte little-endian
/// header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__":
/// {string: string}}, then the raw little-endian data; offsets count from the end of the header.
/// Tensors are F32 with the PyTorch names of IGPT.md; the model config travels in __metadata__ as strings
/// (the format allows only string values there).
/// </summary>
public static class SafeTensors
{
    private const long MaxHeader = 100_000_000;

    /// <summary>Writes to a temporary file then renames, so a crash never leaves a half-written file under <paramref name="path"/>.</summary>
    public static void Save(string path, ParameterSlab parameters, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>());
        foreach (var (k, v) in ConfigToMetadata(parameters.Config)) meta[k] = v;

        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (k, v) in meta.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
            json.WriteEndObject();
            foreach (var slot in parameters.Slots)
            {
                json.WriteStartObject(slot.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in slot.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(4L * slot.Offset);
                json.WriteNumberValue(4L * (slot.Offset + slot.Length));
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // The format recommends padding the header with spaces to 8 bytes so the data is aligned.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> len = stackalloc byte[8];
            BitConverter.TryWriteBytes(len, (ulong)header.Length);
            if (!BitConverter.IsLittleEndian) len.Reverse();
            f.Write(len);
            header.Position = 0;
            header.CopyTo(f);
            f.Write(AsLittleEndianBytes(parameters.Data));
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads the config from the file's metadata and loads the weights into a new slab.</summary>
    public static ParameterSlab Load(string path)
    {
        using var f = Open(path);
        var (root, dataStart) = ReadHeader(path, f);
        var slab = new ParameterSlab(ConfigFromMetadata(path, root));
        ReadTensors(path, f, root, dataStart, slab);
        return slab;
    }

    /// <summary>Loads into an existing slab; the file's tensors must have exactly the slab's names and shapes.</summary>
    public static void LoadInto(string path, ParameterSlab dest)
    {
        using var f = Open(path);
        var (root, dataStart) = ReadHeader(path, f);
        ReadTensors(path, f, root, dataStart, dest);
    }

    public static GptConfig ReadConfig(string path)
    {
        using var f = Open(path);
        return ConfigFromMetadata(path, ReadHeader(path, f).Root);
    }

    /// <summary>The names of the tensors the file holds (the header's keys, without `__metadata__`).</summary>
    public static IReadOnlySet<string> TensorNames(string path)
    {
        using var f = Open(path);
        return ReadHeader(path, f).Root.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToHashSet();
    }

    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var f = Open(path);
        return Metadata(path, ReadHeader(path, f).Root);
    }

    private static Dictionary<string, string> ConfigToMetadata(GptConfig c) => new()
    {
        ["layers"] = Str(c.Layers), ["width"] = Str(c.Width), ["heads"] = Str(c.Heads), ["vocab"] = Str(c.Vocab),
        ["side"] = Str(c.Side), ["classes"] = Str(c.Classes), ["seed"] = c.Seed.ToString(CultureInfo.InvariantCulture),
        ["objective"] = c.Objective == Objective.Autoregressive ? "ar" : "bert", ["format"] = "imagegpt-igpt-f32",
    };

    private static string Str(int x) => x.ToString(CultureInfo.InvariantCulture);

    private static GptConfig ConfigFromMetadata(string path, JsonElement root)
    {
        var m = Metadata(path, root);
        int Int(string key)
        {
            if (!m.TryGetValue(key, out var s))
                throw Bad(path, $"__metadata__ lacks '{key}'", "the model config (layers, width, heads, vocab, side, classes, objective) must be in the metadata; re-export the weights with imagegpt");
            if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
                throw Bad(path, $"__metadata__ '{key}' = '{s}' is not an integer", "re-export the weights with imagegpt");
            return v;
        }
        string objective = m.GetValueOrDefault("objective", "ar");
        var obj = objective switch
        {
            "ar" => Objective.Autoregressive,
            "bert" => Objective.Bert,
            _ => throw Bad(path, $"__metadata__ objective = '{objective}'", "use 'ar' or 'bert'"),
        };
        ulong seed = m.TryGetValue("seed", out var ss) && ulong.TryParse(ss, CultureInfo.InvariantCulture, out var sv) ? sv : 0;
        var config = new GptConfig(Int("layers"), Int("width"), Int("heads"), Int("vocab"), Int("side"),
            m.ContainsKey("classes") ? Int("classes") : 0, obj, seed);
        try { config.Validate(); }
        catch (UserError e) { throw Bad(path, $"config in __metadata__ is invalid ({e.Message})", "re-export the weights with imagegpt"); }
        return config;
    }

    private static Dictionary<string, string> Metadata(string path, JsonElement root)
    {
        var result = new Dictionary<string, string>();
        if (!root.TryGetProperty("__metadata__", out var meta)) return result;
        if (meta.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object", "it must map strings to strings");
        foreach (var p in meta.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"__metadata__ '{p.Name}' is not a string", "safetensors metadata values must be strings");
            result[p.Name] = p.Value.GetString()!;
        }
        return result;
    }

    private static FileStream Open(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot open safetensors file '{path}': {e.Message}. HINT: check the path");
        }
    }

    private static (JsonElement Root, long DataStart) ReadHeader(string path, FileStream f)
    {
        if (f.Length < 8)
            throw Bad(path, $"truncated: {f.Length} bytes, the 8-byte header length is missing", "the file is damaged; export it again");
        Span<byte> len = stackalloc byte[8];
        f.ReadExactly(len);
        if (!BitConverter.IsLittleEndian) len.Reverse();
        ulong n = BitConverter.ToUInt64(len);
        if (n > (ulong)(f.Length - 8))
            throw Bad(path, $"header length {n} exceeds the {f.Length - 8} bytes after it (truncated or not safetensors)", "the file is damaged; export it again");
        if (n > MaxHeader)
            throw Bad(path, $"header length {n} is over the {MaxHeader} byte limit", "this is not a weights file written by imagegpt");
        var bytes = new byte[n];
        f.ReadExactly(bytes);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, "header JSON is not an object", "the file is damaged; export it again");
            return (doc.RootElement.Clone(), 8 + (long)n);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"header is not valid JSON ({e.Message.Split('\n')[0]})", "the file is damaged; export it again");
        }
    }

    private static void ReadTensors(string path, FileStream f, JsonElement root, long dataStart, ParameterSlab dest)
    {
        long dataLength = f.Length - dataStart;
        foreach (var p in root.EnumerateObject())
            if (p.Name != "__metadata__" && !dest.Contains(p.Name))
                throw Bad(path, $"unexpected tensor '{p.Name}' for a model {Describe(dest.Config)}", "check that the file belongs to this model config");
        foreach (var slot in dest.Slots)
        {
            if (!root.TryGetProperty(slot.Name, out var t) || t.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"missing tensor '{slot.Name}' for a model {Describe(dest.Config)}", "check that the file belongs to this model config");
            if (!t.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String || dtype.GetString() != "F32")
                throw Bad(path, $"tensor '{slot.Name}' has dtype {(t.TryGetProperty("dtype", out var dt) ? dt.ToString() : "(none)")}, expected F32", "convert the weights to float32 before loading");
            long[] shape = Longs(path, slot.Name, t, "shape");
            if (!shape.SequenceEqual(slot.Shape.Select(d => (long)d)))
                throw Bad(path, $"tensor '{slot.Name}' has shape [{string.Join(",", shape)}], the config {Describe(dest.Config)} needs [{string.Join(",", slot.Shape)}]", "use the model config the weights were trained with");
            long[] off = Longs(path, slot.Name, t, "data_offsets");
            if (off.Length != 2 || off[0] < 0 || off[1] < off[0] || off[1] > dataLength)
                throw Bad(path, $"tensor '{slot.Name}' data_offsets [{string.Join(",", off)}] fall outside the {dataLength} data bytes", "the file is truncated or damaged; export it again");
            if (off[1] - off[0] != 4L * slot.Length)
                throw Bad(path, $"tensor '{slot.Name}' spans {off[1] - off[0]} bytes, its shape needs {4L * slot.Length}", "the file is damaged; export it again");
            f.Position = dataStart + off[0];
            var span = dest.Span(slot);
            f.ReadExactly(MemoryMarshal.AsBytes(span));
            if (!BitConverter.IsLittleEndian) ReverseEach(span);
        }
    }

    private static long[] Longs(string path, string name, JsonElement t, string key)
    {
        if (!t.TryGetProperty(key, out var a) || a.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}' lacks the '{key}' array", "the file is damaged; export it again");
        var result = new long[a.GetArrayLength()];
        int i = 0;
        foreach (var e in a.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out result[i++]))
                throw Bad(path, $"tensor '{name}' {key} holds '{e}', not an integer", "the file is damaged; export it again");
        }
        return result;
    }

    private static string Describe(GptConfig c) => $"L={c.Layers} C={c.Width} V={c.Vocab} T={c.Seq} K={c.Classes}";

    private static UserError Bad(string path, string what, string hint) =>
        new($"safetensors file '{path}': {what}. HINT: {hint}");

    private static ReadOnlySpan<byte> AsLittleEndianBytes(float[] data)
    {
        if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(data.AsSpan());
        var copy = (float[])data.Clone();
        ReverseEach(copy);
        return MemoryMarshal.AsBytes(copy.AsSpan());
    }

    private static void ReverseEach(Span<float> span)
    {
        var ints = MemoryMarshal.Cast<float, int>(span);
        for (int i = 0; i < ints.Length; i++) ints[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(ints[i]);
    }
}
