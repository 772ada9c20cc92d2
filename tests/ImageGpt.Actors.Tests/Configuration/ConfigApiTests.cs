using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>Typed getters, the spec's automatic type conversions and unit formats, and overrides.</summary>
public class ConfigApiTests
{
    private static Config Parse(string text) => ConfigFactory.ParseString(text, "train.conf").Resolve(_ => null);

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("500 ms", 500)]
    [InlineData("2 minutes", 120_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("3 d", 259_200_000)]
    [InlineData("250", 250)]
    [InlineData("  7 seconds  ", 7_000)]
    [InlineData("20 millis", 20)]
    [InlineData("3000 micros", 3)]
    public void DurationsAcceptTheSpecsUnits(string text, long millis)
    {
        Config c = Parse($"t = \"{text}\"");
        Assert.Equal(TimeSpan.FromMilliseconds(millis), c.GetDuration("t"));
    }

    [Fact]
    public void DurationsWrittenUnquotedAndBareNumbersWork()
    {
        Config c = Parse("a = 10s\nb = 500 ms\nc = 42\nd = 1500 us\ne = 100ns");
        Assert.Equal(TimeSpan.FromSeconds(10), c.GetDuration("a"));
        Assert.Equal(TimeSpan.FromMilliseconds(500), c.GetDuration("b"));
        Assert.Equal(TimeSpan.FromMilliseconds(42), c.GetDuration("c"));
        Assert.Equal(TimeSpan.FromMicroseconds(1500), c.GetDuration("d"));
        Assert.Equal(TimeSpan.FromTicks(1), c.GetDuration("e"));
    }

    [Theory]
    [InlineData("10S")]
    [InlineData("10 sec")]
    [InlineData("ten seconds")]
    public void DurationUnitsAreExactAndLowercase(string text)
    {
        var e = Assert.Throws<UserError>(() => Parse($"t = \"{text}\"").GetDuration("t"));
        Assert.Contains("config 't' at train.conf:1 is a string", e.Message);
        Assert.Contains("expected a duration", e.Message);
    }

    [Theory]
    [InlineData("64 MiB", 64L << 20)]
    [InlineData("10K", 10_240)]
    [InlineData("10k", 10_240)]
    [InlineData("10kB", 10_000)]
    [InlineData("512", 512)]
    [InlineData("3 bytes", 3)]
    [InlineData("2G", 2L << 30)]
    [InlineData("2 GB", 2_000_000_000)]
    [InlineData("1 TiB", 1L << 40)]
    [InlineData("1.5 KiB", 1536)]
    [InlineData("1 kibibyte", 1024)]
    [InlineData("1 megabytes", 1_000_000)]
    public void SizesUsePowersOfTwoForSingleLettersAndPowersOfTenForKbMbGb(string text, long bytes)
    {
        Assert.Equal(bytes, Parse($"s = \"{text}\"").GetBytes("s"));
    }

    [Fact]
    public void SizesOutsideTheUnitListOrRangeAreErrors()
    {
        Assert.Throws<UserError>(() => Parse("s = 10 kb").GetBytes("s"));
        Assert.Throws<UserError>(() => Parse("s = 100 EiB").GetBytes("s"));
    }

    [Fact]
    public void TypedGettersConvertAsTheSpecRecommends()
    {
        Config c = Parse("i = 42\ns = \"17\"\nd = 3e-3\nb1 = yes\nb2 = off\nb3 = \"true\"\nn = 4.0\nstr = 12.50\nlist = [a, 1, true]\nbig = 10000000000");
        Assert.Equal(42, c.GetInt("i"));
        Assert.Equal(17, c.GetInt("s"));
        Assert.Equal(0.003, c.GetDouble("d"), 12);
        Assert.True(c.GetBoolean("b1"));
        Assert.False(c.GetBoolean("b2"));
        Assert.True(c.GetBoolean("b3"));
        Assert.Equal(4, c.GetInt("n"));
        Assert.Equal("12.50", c.GetString("str"));
        Assert.Equal(["a", "1", "true"], c.GetStringList("list"));
        Assert.Equal(["x", "y"], Parse("l.0 = x\nl.1 = y").GetStringList("l"));
        Assert.Equal(10_000_000_000L, c.GetLong("big"));
        Assert.Throws<UserError>(() => c.GetInt("big"));
    }

    [Fact]
    public void AWrongTypeNamesThePathTheFileLineAndWhatWasExpected()
    {
        Config c = Parse("train {\n  lr = fast\n  batch = null\n}");
        var e = Assert.Throws<UserError>(() => c.GetDouble("train.lr"));
        Assert.StartsWith("config 'train.lr' at train.conf:2 is a string \"fast\"; expected a number. HINT:", e.Message);
        e = Assert.Throws<UserError>(() => c.GetInt("train.batch"));
        Assert.StartsWith("config 'train.batch' at train.conf:3 is null; expected an integer", e.Message);
        e = Assert.Throws<UserError>(() => c.GetString("train"));
        Assert.StartsWith("config 'train' at train.conf:1 is an object; expected a string", e.Message);
        e = Assert.Throws<UserError>(() => c.GetInt("train.lr.x"));
        Assert.Contains("train.conf:2", e.Message);
    }

    [Fact]
    public void AMissingPathNamesThePathAndTheConfigFiles()
    {
        Config user = ConfigFactory.ParseString("a = 1", "user.conf");
        Config c = user.WithFallback(ConfigFactory.ParseString("b = 2", "reference.conf"));
        var e = Assert.Throws<UserError>(() => c.GetInt("model.width"));
        Assert.StartsWith("config 'model.width' is missing in user.conf, falling back to reference.conf; expected an integer. HINT:", e.Message);
        Assert.Equal(2, c.GetInt("b"));
    }

    [Fact]
    public void HasPathIsFalseForMissingAndNullValues()
    {
        Config c = Parse("a { b = 1, n = null }\n\"x.y\" = 2");
        Assert.True(c.HasPath("a.b"));
        Assert.True(c.HasPath("a"));
        Assert.False(c.HasPath("a.n"));
        Assert.False(c.HasPath("a.c"));
        Assert.False(c.HasPath("a.b.c"));
        Assert.True(c.HasPath("\"x.y\""));
        Assert.False(c.HasPath("x.y"));
    }

    [Fact]
    public void GetConfigReturnsTheSubtreeAndRootTheWholeTree()
    {
        Config c = Parse("model { layers = 8, width = 64 }\ntrain.batch = 32");
        Config model = c.GetConfig("model");
        Assert.Equal(8, model.GetInt("layers"));
        Assert.Equal("""{"layers":8,"width":64}""", model.ToJson(indented: false));
        Assert.Equal(["model", "train"], c.Root.Keys);
        Assert.Throws<UserError>(() => c.GetConfig("train.batch"));
    }

    [Fact]
    public void WithValueParsesTheValueAsHoconAndResolvesAfterLayering()
    {
        Config c = ConfigFactory.ParseString("model { width = 64, heads = 4 }\ntrain { tags = [a] }\nlabel = w${model.width}", "user.conf")
            .WithValue("model.width", "128")
            .WithValue("train.tags", "${train.tags} [b]")
            .WithValue("model.extra", "{ x = 1 }")
            .WithValue("\"odd.key\"", "hello world");
        Assert.Equal("""{"label":"w128","model":{"extra":{"x":1},"heads":4,"width":128},"odd.key":"hello world","train":{"tags":["a","b"]}}""",
            c.Resolve(_ => null).ToJson(false, sortKeys: true));
    }

    [Fact]
    public void WithValueRejectsTextThatIsNotOneValue()
    {
        var e = Assert.Throws<UserError>(() => ConfigFactory.Empty().WithValue("a", "1\nb = 2", "--set a"));
        Assert.StartsWith("--set a:2:1: expected the end of the value", e.Message);
        Assert.Throws<UserError>(() => ConfigFactory.Empty().WithValue("a..b", "1"));
    }

    [Fact]
    public void JsonOutputIsIndentedWithKeysInOrderAndEscapes()
    {
        Config c = Parse("z = 1\na { s = \"q\\\"\\n\", e = [], o = {} }\nm = [1, x]");
        Assert.Equal("{\n  \"z\": 1,\n  \"a\": {\n    \"s\": \"q\\\"\\n\",\n    \"e\": [],\n    \"o\": {}\n  },\n  \"m\": [\n    1,\n    \"x\"\n  ]\n}", c.ToJson());
    }
}
