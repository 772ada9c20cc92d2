using System.Text.Json;
using ImageGpt.Host;
using ImageGpt.Nn;

namespace ImageGpt.Host.Tests;

/// <summary>`imagegpt config` run in-process: reference.conf under the user's file under --set, resolved, as JSON.</summary>
public sealed class ConfigCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("config-command-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonElement Run(params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(0, ConfigCommand.Run(args, output));
        return JsonDocument.Parse(output.ToString()).RootElement.Clone();
    }

    [Fact]
    public void TheReferenceConfIsCopiedBesideTheExecutableAndParses()
    {
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf")));
        JsonElement json = Run();
        Assert.Equal(8, json.GetProperty("model").GetProperty("layers").GetInt32());
        Assert.Equal(64, json.GetProperty("model").GetProperty("width").GetInt32());
        Assert.Equal(32, json.GetProperty("train").GetProperty("batch").GetInt32());
        Assert.Equal(3e-3, json.GetProperty("train").GetProperty("lr").GetDouble());
    }

    [Fact]
    public void TheUserFileOverridesTheReferenceAndSubstitutionsFollowTheOverride()
    {
        string user = Write("run.conf", "model { layers = 12, seed = 7 }\ntrain.lr = 1e-3");
        JsonElement json = Run("--config", user);
        JsonElement model = json.GetProperty("model");
        Assert.Equal(12, model.GetProperty("layers").GetInt32());
        Assert.Equal(4, model.GetProperty("heads").GetInt32());
        Assert.Equal(1e-3, json.GetProperty("train").GetProperty("lr").GetDouble());
        // reference.conf says train.seed = ${model.seed}; resolution happens after layering.
        Assert.Equal(7, json.GetProperty("train").GetProperty("seed").GetInt32());
    }

    [Fact]
    public void SetOverridesAreHoconValuesAppliedOnTopInOrder()
    {
        string user = Write("run.conf", "model.layers = 12\nrun.dir = runs/a");
        JsonElement json = Run("--config", user, "--set", "model.layers=2", "--set", "run.dir=${run.dir}-b",
            "--set=model.width = 32", "--set", "model.seed=${model.layers}");
        Assert.Equal(2, json.GetProperty("model").GetProperty("layers").GetInt32());
        Assert.Equal(32, json.GetProperty("model").GetProperty("width").GetInt32());
        Assert.Equal(2, json.GetProperty("train").GetProperty("seed").GetInt32());
        Assert.Equal("runs/a-b", json.GetProperty("run").GetProperty("dir").GetString());
    }

    [Fact]
    public void AKeyThatReferenceConfDoesNotListIsAnErrorSuggestingTheClosestKnownKey()
    {
        string user = Write("run.conf", "model.layers = 12\nextra.tags = [a]");
        var e = Assert.Throws<UserError>(() => ConfigCommand.Run(["--config", user], new StringWriter()));
        Assert.Equal($"unknown setting 'extra.tags' at {user}:2. HINT: every setting is listed in hocon/reference.conf", e.Message);
        e = Assert.Throws<UserError>(() => ConfigCommand.Run(["--set", "train.step=20"], new StringWriter()));
        Assert.Equal("unknown setting 'train.step' at --set 'train.step=20'. HINT: did you mean 'train.steps'? every setting is listed in hocon/reference.conf", e.Message);
        Assert.Equal(2, Program.Main(["config", "--set", "train.step=20"]));
    }

    [Fact]
    public void OutputIsIndentedJsonWithKeysInFileOrder()
    {
        var output = new StringWriter();
        ConfigCommand.Run([], output);
        string text = output.ToString();
        Assert.StartsWith("{\n  \"model\": {\n    \"layers\": 8,\n    \"width\": 64,", text);
        Assert.True(text.IndexOf("\"train\"", StringComparison.Ordinal) < text.IndexOf("\"checkpoint\"", StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingConfigFileIsAOneLineErrorNamingItWithExitCode2()
    {
        string missing = Path.Combine(_dir, "nope.conf");
        var e = Assert.Throws<UserError>(() => ConfigCommand.Run(["--config", missing], new StringWriter()));
        Assert.Contains(missing, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(2, Program.Main(["config", "--config", missing]));
    }

    [Fact]
    public void ParseErrorsAndBadSetsAreUserErrors()
    {
        string broken = Write("broken.conf", "model {\n  layers = [1,\n}");
        var e = Assert.Throws<UserError>(() => ConfigCommand.Run(["--config", broken], new StringWriter()));
        Assert.StartsWith($"{broken}:3:1: expected ", e.Message);
        e = Assert.Throws<UserError>(() => ConfigCommand.Run(["--set", "model.layers"], new StringWriter()));
        Assert.Contains("is not path=value", e.Message);
        Assert.Throws<UserError>(() => ConfigCommand.Run(["--bogus", "1"], new StringWriter()));
    }
}
