using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-st-").FullName;
    private static readonly GptConfig Config = new(2, 8, 2, 5, 3, 4, Objective.Bert, 77);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Saved()
    {
        var m = new Gpt(Config, 1);
        m.Init();
        new SeededRandom(1).FillNormal(m.Parameters["head"], 1.0);
        string path = Path.Combine(_dir, "w.safetensors");
        SafeTensors.Save(path, m.Parameters, new Dictionary<string, string> { ["step"] = "12" });
        return path;
    }

    [Fact]
    public void Round_trip_restores_every_bit_the_config_and_the_metadata()
    {
        string path = Saved();
        var loaded = SafeTensors.Load(path);
        var original = new Gpt(Config, 1);
        original.Init();
        new SeededRandom(1).FillNormal(original.Parameters["head"], 1.0);
        Assert.Equal(Config, loaded.Config);
        Assert.Equal(original.Parameters.Data, loaded.Data);
        Assert.Equal("12", SafeTensors.ReadMetadata(path)["step"]);
        Assert.Equal(Config, SafeTensors.ReadConfig(path));
    }

    [Fact]
    public void File_layout_follows_the_safetensors_format()
    {
        string path = Saved();
        byte[] bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        Assert.Equal("bert", (string?)header["__metadata__"]!["objective"]);
        Assert.Equal("8", (string?)header["__metadata__"]!["width"]);
        var q = header["h.1.attn.q"]!;
        Assert.Equal("F32", (string?)q["dtype"]);
        Assert.Equal([8, 8], q["shape"]!.AsArray().Select(x => (int)x!));
        var clf = header["clf"]!;
        long[] off = clf["data_offsets"]!.AsArray().Select(x => (long)x!).ToArray();
        Assert.Equal(bytes.Length - 8 - n, off[1]);
        Assert.Equal(4 * 4 * 8, off[1] - off[0]);
        // The last tensor's bytes are the slab's tail, little-endian.
        var slab = SafeTensors.Load(path);
        Assert.Equal(slab["clf"][^1], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(bytes.Length - 4)));
    }

    private string Rewrite(Func<JsonObject, JsonObject> edit, int truncateDataBy = 0)
    {
        byte[] bytes = File.ReadAllBytes(Saved());
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = edit(JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject());
        byte[] h = Encoding.UTF8.GetBytes(header.ToJsonString());
        var data = bytes.AsSpan(8 + n, bytes.Length - 8 - n - truncateDataBy);
        string path = Path.Combine(_dir, "broken.safetensors");
        using var f = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)h.Length);
        f.Write(len);
        f.Write(h);
        f.Write(data);
        return path;
    }

    private static void Broken(string path, params string[] fragments)
    {
        var e = Assert.Throws<UserError>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("HINT", e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void A_file_shorter_than_the_header_length_is_a_user_error()
    {
        string path = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Broken(path, "truncated");
    }

    [Fact]
    public void A_truncated_header_is_a_user_error()
    {
        string path = Path.Combine(_dir, "cut.safetensors");
        File.WriteAllBytes(path, File.ReadAllBytes(Saved())[..40]);
        Broken(path, "header length");
    }

    [Fact]
    public void A_header_that_is_not_json_is_a_user_error()
    {
        string path = Path.Combine(_dir, "json.safetensors");
        byte[] bytes = File.ReadAllBytes(Saved());
        bytes[9] = (byte)'!';
        File.WriteAllBytes(path, bytes);
        Broken(path, "not valid JSON");
    }

    [Fact]
    public void Data_offsets_beyond_the_file_are_a_user_error()
    {
        Broken(Rewrite(h => h, truncateDataBy: 4), "clf", "data_offsets");
    }

    [Fact]
    public void A_shape_that_disagrees_with_the_config_is_a_user_error()
    {
        Broken(Rewrite(h =>
        {
            h["wpe"]!["shape"] = new JsonArray(3, 24);
            return h;
        }), "wpe", "[3,24]", "[9,8]");
    }

    [Fact]
    public void A_missing_tensor_is_a_user_error()
    {
        Broken(Rewrite(h =>
        {
            h.Remove("h.1.mlp.c_fc");
            return h;
        }), "missing tensor 'h.1.mlp.c_fc'");
    }

    [Fact]
    public void A_non_f32_dtype_is_a_user_error()
    {
        Broken(Rewrite(h =>
        {
            h["sos"]!["dtype"] = "F16";
            return h;
        }), "sos", "F16");
    }

    [Fact]
    public void Loading_into_a_model_of_another_width_is_a_user_error()
    {
        string path = Saved();
        var other = new ParameterSlab(Config with { Width = 16 });
        var e = Assert.Throws<UserError>(() => SafeTensors.LoadInto(path, other));
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void A_file_without_the_model_config_is_a_user_error()
    {
        Broken(Rewrite(h =>
        {
            h.Remove("__metadata__");
            return h;
        }), "layers");
    }
}
