using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// A PyTorch oracle file written by tools/make_fixtures.py (format: its write_fixture).
/// Little-endian: magic "IGPTFX01"; int32 jsonLen; UTF-8 JSON config; int32 tensorCount; then per
/// tensor int32 nameLen, UTF-8 name, int32 ndim, int32[ndim] dims, float32[prod(dims)] data.
/// Integer tensors (tokens, labels, mask) are stored as float32.
/// </summary>
public sealed class Fixture
{
    private const string Magic = "IGPTFX01";
    private const int MaxDims = 8;
    private const int FormatVersion = 1;
    private const string Hint = "HINT: regenerate it with '/usr/bin/python3 tools/make_fixtures.py' " +
                                "(the test csproj copies Fixtures/*.bin next to the test assembly)";

    private readonly string path;
    private readonly List<string> names;
    private readonly Dictionary<string, (int[] Shape, float[] Data)> tensors;

    private Fixture(string path, JsonElement config, List<string> names,
                    Dictionary<string, (int[] Shape, float[] Data)> tensors)
    {
        this.path = path;
        Config = config;
        this.names = names;
        this.tensors = tensors;
    }

    /// <summary>The JSON config: layers, width, heads, vocab, side, classes, batch, objective, lr, ...</summary>
    public JsonElement Config { get; }

    /// <summary>Tensor names in file order.</summary>
    public IEnumerable<string> Names => names;

    public bool Has(string name) => tensors.ContainsKey(name);

    /// <summary>A fresh copy of the tensor's data, row-major, so a test may modify it.</summary>
    public float[] Get(string name) => (float[])Lookup(name).Data.Clone();

    public int[] Shape(string name) => (int[])Lookup(name).Shape.Clone();

    public static Fixture Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new UserError($"fixture '{path}' not found. {Hint}");
        }
        var reader = new Reader(path, File.ReadAllBytes(path));
        string magic = Encoding.ASCII.GetString(reader.Bytes(Magic.Length, "the magic"));
        if (magic != Magic)
        {
            throw reader.Error($"starts with '{magic}', not the magic '{Magic}'");
        }
        JsonElement config = ParseConfig(reader);
        int count = reader.Int32("the tensor count");
        if (count < 0)
        {
            throw reader.Error($"has a negative tensor count {count}");
        }
        var names = new List<string>(count);
        var tensors = new Dictionary<string, (int[] Shape, float[] Data)>(count);
        for (int i = 0; i < count; i++)
        {
            string what = $"tensor {i} of {count}";
            string name = reader.Utf8(reader.Int32($"the name length of {what}"), $"the name of {what}");
            what = $"tensor '{name}'";
            int ndim = reader.Int32($"the rank of {what}");
            if (ndim is < 0 or > MaxDims)
            {
                throw reader.Error($"gives {what} rank {ndim}, outside 0..{MaxDims}");
            }
            var shape = new int[ndim];
            long size = 1;
            for (int d = 0; d < ndim; d++)
            {
                shape[d] = reader.Int32($"dimension {d} of {what}");
                if (shape[d] < 0)
                {
                    throw reader.Error($"gives {what} a negative dimension {shape[d]}");
                }
                size *= shape[d];
                if (size > Array.MaxLength)
                {
                    throw reader.Error($"gives {what} more elements than an array can hold");
                }
            }
            float[] data = reader.Floats((int)size, $"the {size} floats of {what}");
            if (!tensors.TryAdd(name, (shape, data)))
            {
                throw reader.Error($"holds {what} twice");
            }
            names.Add(name);
        }
        reader.ExpectEnd();
        return new Fixture(path, config, names, tensors);
    }

    private static JsonElement ParseConfig(Reader reader)
    {
        int length = reader.Int32("the JSON length");
        if (length < 0)
        {
            throw reader.Error($"has a negative JSON length {length}");
        }
        byte[] json = reader.Bytes(length, "the JSON config");
        JsonElement config;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            config = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw reader.Error($"has a config that is not JSON ({e.Message})");
        }
        if (config.ValueKind != JsonValueKind.Object ||
            !config.TryGetProperty("format_version", out JsonElement version) ||
            version.ValueKind != JsonValueKind.Number || version.GetInt32() != FormatVersion)
        {
            throw reader.Error($"has no config object with format_version {FormatVersion}");
        }
        return config;
    }

    private (int[] Shape, float[] Data) Lookup(string name) =>
        tensors.TryGetValue(name, out var tensor)
            ? tensor
            : throw new ArgumentException(
                $"fixture '{path}' has no tensor '{name}'; it has: {string.Join(", ", names)}", nameof(name));

    /// <summary>Bounds-checked little-endian cursor; every failure names the file and the byte offset.</summary>
    private sealed class Reader(string path, byte[] bytes)
    {
        private int position;

        public UserError Error(string problem) =>
            new($"fixture '{path}' {problem} (at byte {position} of {bytes.Length}). {Hint}");

        public byte[] Bytes(int count, string what) => Take(count, what).ToArray();

        public int Int32(string what) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));

        public string Utf8(int count, string what)
        {
            if (count < 0)
            {
                throw Error($"has a negative length {count} for {what}");
            }
            try
            {
                return new UTF8Encoding(false, true).GetString(Take(count, what));
            }
            catch (DecoderFallbackException)
            {
                throw Error($"has {what} that is not UTF-8");
            }
        }

        public float[] Floats(int count, string what)
        {
            if ((long)count * 4 > bytes.Length - position)
            {
                throw Truncated(what, (long)count * 4);
            }
            ReadOnlySpan<byte> span = Take(count * 4, what);
            var data = new float[count];
            for (int i = 0; i < count; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(4 * i, 4));
            }
            return data;
        }

        public void ExpectEnd()
        {
            if (position != bytes.Length)
            {
                throw Error($"has {bytes.Length - position} bytes after the last tensor");
            }
        }

        private ReadOnlySpan<byte> Take(int count, string what)
        {
            if (count > bytes.Length - position)
            {
                throw Truncated(what, count);
            }
            var span = new ReadOnlySpan<byte>(bytes, position, count);
            position += count;
            return span;
        }

        private UserError Truncated(string what, long needed) =>
            Error($"is truncated: {what} needs {needed} bytes but {bytes.Length - position} remain");
    }
}
