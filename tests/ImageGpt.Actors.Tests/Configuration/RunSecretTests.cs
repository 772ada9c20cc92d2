using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>run.secret, or one made once and kept in the run directory for its owner only.</summary>
public sealed class RunSecretTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-secret-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private RunConfig Config(params string[] sets) =>
        RunConfigLoader.Load(ConfigFactory.ParseFile(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf")), null, sets, _dir, _ => null);

    [Fact]
    public void Without_run_secret_one_is_made_once_kept_for_the_owner_and_read_back()
    {
        var config = Config();
        Assert.Equal("", config.Secret);
        string first = RunSecret.Resolve(config);
        Assert.Equal(64, first.Length);
        Assert.Equal(first, RunSecret.Resolve(config));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, RunSecret.FileName)));
    }

    [Fact]
    public void A_configured_secret_wins_and_a_short_one_is_refused_without_being_shown()
    {
        Assert.Equal("0123456789abcdef0123", RunSecret.Resolve(Config("run.secret=0123456789abcdef0123")));
        Assert.False(File.Exists(Path.Combine(_dir, RunSecret.FileName)));
        var e = Assert.Throws<UserError>(() => Config("run.secret=tooshort"));
        Assert.Contains("run.secret", e.Message);
        Assert.DoesNotContain("tooshort", e.Message);
    }
}
