using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>The spec's include section, with real files in a temporary directory.</summary>
public sealed class HoconIncludeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hocon-include-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relative, string text)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Json(Config c) => c.Resolve(_ => null).ToJson(indented: false, sortKeys: true);

    [Fact]
    public void IncludedKeysMergeWhereTheIncludeStandsAndLaterKeysOverrideThem()
    {
        Write("foo.conf", "a = 1\nb { x = 1, y = 1 }");
        string main = Write("main.conf", "a = 0\nb { x = 0, z = 0 }\ninclude \"foo.conf\"\nb.y = 2");
        Assert.Equal("""{"a":1,"b":{"x":1,"y":2,"z":0}}""", Json(ConfigFactory.ParseFile(main)));
    }

    [Fact]
    public void IncludesAreRelativeToTheIncludingFileNotTheWorkingDirectory()
    {
        Write("conf/sub/leaf.conf", "leaf = true");
        Write("conf/sub/mid.conf", "include \"leaf.conf\"\nmid = 1");
        string main = Write("conf/main.conf", "include required(file(\"sub/mid.conf\"))");
        Assert.Equal("""{"leaf":true,"mid":1}""", Json(ConfigFactory.ParseFile(main)));
    }

    [Fact]
    public void AMissingIncludeIsIgnoredButAMissingRequiredIncludeIsAnError()
    {
        string main = Write("main.conf", "include \"nope.conf\"\ninclude file(\"nope2.conf\")\na = 1");
        Assert.Equal("""{"a":1}""", Json(ConfigFactory.ParseFile(main)));
        string strict = Write("strict.conf", "a = 1\n include required( file( \"nope.conf\" ) )");
        var e = Assert.Throws<UserError>(() => ConfigFactory.ParseFile(strict));
        Assert.Contains("strict.conf:2:2: required include 'nope.conf' not found", e.Message);
        Assert.Contains(Path.Combine(_dir, "nope.conf"), e.Message);
    }

    [Fact]
    public void SubstitutionsInAnIncludedFileAreFixedUpToWhereItWasIncluded()
    {
        Write("foo.conf", "{ x : 10, y : ${x} }");
        Assert.Equal("""{"a":{"x":10,"y":10}}""", Json(ConfigFactory.ParseFile(Write("one.conf", "{ a : { include \"foo.conf\" } }"))));
        Assert.Equal("""{"a":{"x":42,"y":42}}""", Json(ConfigFactory.ParseFile(Write("two.conf", "{\n a : { include \"foo.conf\" }\n a : { x : 42 }\n}"))));
    }

    [Fact]
    public void AnIncludedFileMayStillReferToTheRootOfTheIncludingConfig()
    {
        Write("child.conf", "url = ${host}\"/api\"");
        Assert.Equal("""{"host":"h","svc":{"url":"h/api"}}""", Json(ConfigFactory.ParseFile(Write("main.conf", "host = h\nsvc { include \"child.conf\" }"))));
    }

    [Fact]
    public void ParsedTextFindsIncludesInTheDirectoryItIsGiven()
    {
        Write("part.conf", "p = 1");
        Assert.Equal("""{"p":1,"q":2}""", Json(ConfigFactory.ParseString("include \"part.conf\"\nq = 2", "inline", _dir)));
        Assert.Equal("""{"q":2}""", Json(ConfigFactory.ParseString("include \"part.conf\"\nq = 2", "inline")));
        Assert.Throws<UserError>(() => ConfigFactory.ParseString("include required(\"part.conf\")", "inline"));
    }

    [Fact]
    public void AnExtensionlessIncludeLoadsJsonThenConf()
    {
        Write("base.json", """{ "a" : 1, "b" : 1 }""");
        Write("base.conf", "b = 2");
        Assert.Equal("""{"a":1,"b":2}""", Json(ConfigFactory.ParseFile(Write("main.conf", "include \"base\""))));
    }

    [Fact]
    public void IncludeCyclesAndArrayRootsAreErrors()
    {
        Write("loop.conf", "include \"main.conf\"");
        var e = Assert.Throws<UserError>(() => ConfigFactory.ParseFile(Write("main.conf", "include \"loop.conf\"")));
        Assert.Contains("include cycle", e.Message);
        Write("list.conf", "[1, 2]");
        e = Assert.Throws<UserError>(() => ConfigFactory.ParseFile(Write("m2.conf", "include \"list.conf\"")));
        Assert.Contains("list.conf:1:1: expected an object at the root", e.Message);
    }

    [Fact]
    public void AParseErrorInAnIncludedFileNamesThatFile()
    {
        string bad = Write("bad.conf", "ok = 1\nbroken = [1, 2");
        var e = Assert.Throws<UserError>(() => ConfigFactory.ParseFile(Write("main.conf", "include \"bad.conf\"")));
        Assert.StartsWith($"{bad}:2:15: expected ']' to close the list opened at line 2", e.Message);
    }

    [Fact]
    public void IncludeFollowedByAnythingButAQuotedNameIsAnError()
    {
        var e = Assert.Throws<UserError>(() => ConfigFactory.ParseString("include foo", "s.conf"));
        Assert.StartsWith("s.conf:1:9: expected include \"file\"", e.Message);
    }

    [Fact]
    public void AMissingConfigFileIsAnErrorNamingIt()
    {
        string missing = Path.Combine(_dir, "absent.conf");
        var e = Assert.Throws<UserError>(() => ConfigFactory.ParseFile(missing));
        Assert.Contains($"'{missing}' not found", e.Message);
    }
}
