using System.Text;
using System.Text.Json;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// The committed PyTorch fixtures are complete and shaped as tools/make_fixtures.py writes them, and the reader rejects
/// damaged files with a message that names them.
/// </summary>
public sealed class FixtureFileTests
{
    public static TheoryData<string> Fixtures => new() { "ar", "bert", "clf" };

    private static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name + ".bin");

    private static readonly string[] ConfigFields =
    [
        "layers", "width", "heads", "vocab", "side", "classes", "batch", "objective", "lr", "warmup",
        "total_steps", "beta1", "beta2", "eps", "clip", "torch_version", "generator", "format_version",
    ];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ACommittedFixtureParsesAndItsConfigHasEveryField(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));

        foreach (string field in ConfigFields)
        {
            Assert.True(fx.Config.TryGetProperty(field, out _), $"{name}.bin config lacks '{field}'");
        }
        Assert.Equal("tools/make_fixtures.py", fx.Config.GetProperty("generator").GetString());
        Assert.Equal(1, fx.Config.GetProperty("format_version").GetInt32());
        Assert.Equal(name == "bert" ? "bert" : "ar", fx.Config.GetProperty("objective").GetString());
        Assert.Equal(0, fx.Config.GetProperty("width").GetInt32() % fx.Config.GetProperty("heads").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryParameterItsGradientAndItsFinalValueHaveTheSpecShapeAndNothingElseIsThere(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));
        Dims d = Dims.Of(fx.Config);
        var expected = new Dictionary<string, int[]>
        {
            ["wte"] = [d.V, d.C], ["wpe"] = [d.T, d.C], ["sos"] = [d.C], ["ln_f.g"] = [d.C], ["head"] = [d.V, d.C],
        };
        for (int l = 0; l < d.L; l++)
        {
            expected[$"h.{l}.ln_1.g"] = [d.C];
            expected[$"h.{l}.attn.q"] = [d.C, d.C];
            expected[$"h.{l}.attn.k"] = [d.C, d.C];
            expected[$"h.{l}.attn.v"] = [d.C, d.C];
            expected[$"h.{l}.attn.c_proj"] = [d.C, d.C];
            expected[$"h.{l}.ln_2.g"] = [d.C];
            expected[$"h.{l}.mlp.c_fc"] = [4 * d.C, d.C];
            expected[$"h.{l}.mlp.c_proj"] = [d.C, 4 * d.C];
        }
        if (name == "clf")
        {
            expected["clf"] = [d.K, d.C];
        }

        foreach ((string param, int[] shape) in expected)
        {
            foreach (string prefix in new[] { "", "grad.", "final." })
            {
                Assert.True(fx.Has(prefix + param), $"{name}.bin lacks '{prefix + param}'");
                Assert.Equal(shape, fx.Shape(prefix + param));
            }
        }
        Assert.Equal(name == "clf", fx.Has("clf"));
        var everything = expected.Keys.SelectMany(p => new[] { p, "grad." + p, "final." + p })
            .Concat(DataTensors(name)).Order().ToList();
        Assert.Equal(everything, fx.Names.Order().ToList());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void InputsAndOutputsHaveTheSpecShapes(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));
        Dims d = Dims.Of(fx.Config);

        Assert.Equal([d.B, d.T], fx.Shape("tokens"));
        Assert.Equal([d.B], fx.Shape("labels"));
        Assert.Equal([d.B, d.T, d.V], fx.Shape("logits"));
        Assert.Equal([1], fx.Shape("loss"));
        Assert.Equal([fx.Config.GetProperty("total_steps").GetInt32()], fx.Shape("step_loss"));
        Assert.Equal(name == "bert", fx.Has("mask"));
        Assert.Equal(name == "ar", fx.Has("features"));
        Assert.Equal(name == "clf", fx.Has("clf_logits"));
        if (name == "bert")
        {
            Assert.Equal([d.B, d.T], fx.Shape("mask"));
        }
        if (name == "ar")
        {
            Assert.Equal([d.L + 1, d.B, d.C], fx.Shape("features"));
        }
        if (name == "clf")
        {
            Assert.Equal([d.B, d.K], fx.Shape("clf_logits"));
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void TokensLabelsAndMaskHoldValidIntegers(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));
        Dims d = Dims.Of(fx.Config);

        Assert.All(fx.Get("tokens"), t => Assert.True(t == MathF.Floor(t) && t >= 0 && t < d.V, $"token {t}"));
        Assert.All(fx.Get("labels"), y => Assert.True(y == MathF.Floor(y) && y >= 0 && y < d.K, $"label {y}"));
        if (fx.Has("mask"))
        {
            float[] mask = fx.Get("mask");
            Assert.All(mask, m => Assert.True(m is 0f or 1f, $"mask value {m}"));
            for (int b = 0; b < d.B; b++)
            {
                Assert.True(mask.AsSpan(b * d.T, d.T).IndexOf(1f) >= 0, $"image {b} has no masked position");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void TheFirstStepLossIsTheLossAndEveryValueIsFinite(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));

        Assert.Equal(fx.Get("loss")[0], fx.Get("step_loss")[0]);
        foreach (string tensor in fx.Names)
        {
            Assert.All(fx.Get(tensor), x => Assert.True(float.IsFinite(x), $"{name}.bin {tensor} has {x}"));
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void TrainingMovesEveryParameterTheLossTouches(string name)
    {
        Fixture fx = Fixture.Load(PathOf(name));

        foreach (string grad in fx.Names.Where(n => n.StartsWith("grad.")).ToList())
        {
            string param = grad["grad.".Length..];
            // BERT has no SOS: the loss never reads sos, so its gradient is zero and Adam leaves it alone.
            bool untouched = name == "bert" && param == "sos";
            Assert.Equal(untouched, fx.Get(grad).All(g => g == 0f));
            Assert.Equal(untouched, fx.Get(param).SequenceEqual(fx.Get("final." + param)));
        }
    }

    [Fact]
    public void AHandWrittenFileReadsBackItsValuesShapesAndConfig()
    {
        string path = TempPath("handmade");
        byte[] bytes = Write("{\"format_version\":1,\"width\":2}",
            ("a", [2, 3], [1f, -2f, 3.5f, 0f, float.Epsilon, -1e30f]), ("scalar", [], [7f]), ("empty", [0], []));
        File.WriteAllBytes(path, bytes);

        Fixture fx = Fixture.Load(path);

        Assert.Equal(["a", "scalar", "empty"], fx.Names);
        Assert.Equal(2, fx.Config.GetProperty("width").GetInt32());
        Assert.Equal([2, 3], fx.Shape("a"));
        Assert.Equal([1f, -2f, 3.5f, 0f, float.Epsilon, -1e30f], fx.Get("a"));
        Assert.Equal([7f], fx.Get("scalar"));
        Assert.Empty(fx.Get("empty"));
        Assert.False(fx.Has("b"));
        ArgumentException missing = Assert.Throws<ArgumentException>(() => fx.Get("b"));
        Assert.Contains("'b'", missing.Message);
        Assert.Contains(path, missing.Message);
    }

    [Fact]
    public void GetReturnsACopySoATestCannotCorruptTheFixture()
    {
        Fixture fx = Fixture.Load(PathOf("ar"));
        float first = fx.Get("wte")[0];

        fx.Get("wte")[0] = first + 1f;

        Assert.Equal(first, fx.Get("wte")[0]);
    }

    [Fact]
    public void ATruncatedFixtureFailsWithAMessageNamingTheFile()
    {
        byte[] whole = File.ReadAllBytes(PathOf("ar"));
        string path = TempPath("truncated");
        foreach (int length in new[] { 0, 5, 10, 14, 200, whole.Length / 2, whole.Length - 1 })
        {
            File.WriteAllBytes(path, whole[..length]);

            UserError e = Assert.Throws<UserError>(() => Fixture.Load(path));

            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
            Assert.Contains("HINT", e.Message);
        }
    }

    [Fact]
    public void AFileWithTheWrongMagicOrTrailingBytesIsRejected()
    {
        byte[] whole = File.ReadAllBytes(PathOf("ar"));
        string path = TempPath("damaged");

        byte[] wrongMagic = (byte[])whole.Clone();
        wrongMagic[7] = (byte)'2';
        File.WriteAllBytes(path, wrongMagic);
        Assert.Contains("magic", Assert.Throws<UserError>(() => Fixture.Load(path)).Message);

        File.WriteAllBytes(path, [.. whole, 0, 0, 0, 0]);
        Assert.Contains("4 bytes after the last tensor", Assert.Throws<UserError>(() => Fixture.Load(path)).Message);

        File.WriteAllBytes(path, Write("{\"format_version\":1}", ("a", [1], [1f]), ("a", [1], [2f])));
        Assert.Contains("'a' twice", Assert.Throws<UserError>(() => Fixture.Load(path)).Message);

        File.WriteAllBytes(path, Write("{\"format_version\":2}"));
        Assert.Contains("format_version 1", Assert.Throws<UserError>(() => Fixture.Load(path)).Message);
    }

    [Fact]
    public void AMissingFixtureNamesThePathAndHowToRegenerate()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "no-such.bin");

        UserError e = Assert.Throws<UserError>(() => Fixture.Load(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("tools/make_fixtures.py", e.Message);
    }

    private static string[] DataTensors(string name) => name switch
    {
        "ar" => ["tokens", "labels", "logits", "loss", "features", "step_loss"],
        "bert" => ["tokens", "labels", "mask", "logits", "loss", "step_loss"],
        _ => ["tokens", "labels", "logits", "loss", "clf_logits", "step_loss"],
    };

    private static string TempPath(string stem) =>
        Path.Combine(Path.GetTempPath(), $"igpt-fixture-{stem}-{Environment.ProcessId}.bin");

    /// <summary>Writes the fixture format (make_fixtures.py's write_fixture) directly, independently of the Python
    /// writer. BinaryWriter is little-endian on every platform.</summary>
    private static byte[] Write(string json, params (string Name, int[] Dims, float[] Data)[] tensors)
    {
        var s = new MemoryStream();
        using (var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Encoding.ASCII.GetBytes("IGPTFX01"));
            byte[] js = Encoding.UTF8.GetBytes(json);
            w.Write(js.Length);
            w.Write(js);
            w.Write(tensors.Length);
            foreach ((string name, int[] dims, float[] data) in tensors)
            {
                byte[] nb = Encoding.UTF8.GetBytes(name);
                w.Write(nb.Length);
                w.Write(nb);
                w.Write(dims.Length);
                foreach (int dim in dims)
                {
                    w.Write(dim);
                }
                foreach (float x in data)
                {
                    w.Write(x);
                }
            }
        }
        return s.ToArray();
    }

    private readonly record struct Dims(int L, int C, int V, int T, int K, int B)
    {
        public static Dims Of(JsonElement c) => new(
            c.GetProperty("layers").GetInt32(), c.GetProperty("width").GetInt32(), c.GetProperty("vocab").GetInt32(),
            c.GetProperty("side").GetInt32() * c.GetProperty("side").GetInt32(), c.GetProperty("classes").GetInt32(),
            c.GetProperty("batch").GetInt32());
    }
}
