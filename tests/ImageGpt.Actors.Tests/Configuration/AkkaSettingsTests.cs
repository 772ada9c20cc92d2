using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>The akka section of a run's config: checked key by key against Akka's reference, then handed to Akka.</summary>
public sealed class AkkaSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-akka-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static Config With(string hocon) =>
        ConfigFactory.ParseString(hocon, "user.conf").WithFallback(ConfigFactory.ParseFile(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf"))).Resolve();

    [Fact]
    public void The_akka_section_of_reference_conf_is_valid()
    {
        AkkaSettings.Validate(TestRuns.Reference);
        Assert.Equal("off", TestRuns.Reference.GetString("akka.coordinated-shutdown.run-by-clr-shutdown-hook"));
    }

    [Theory]
    [InlineData("akka.loglevel = DEBUG")]
    [InlineData("akka.log-dead-letters = 5")]
    [InlineData("akka.log-dead-letters = on")]
    [InlineData("akka.scheduler.tick-duration = 5ms")]
    [InlineData("akka.persistence.journal.sql.parallelism = 4")]
    [InlineData("akka.actor.serializers.mine = \"My.Serializer, My\"")]
    [InlineData("akka.coordinated-shutdown.phases.my-phase { depends-on = [service-unbind] }")]
    public void Akka_settings_of_the_right_type_pass(string hocon) => AkkaSettings.Validate(With(hocon));

    [Theory]
    [InlineData("akka.logleve = DEBUG", "unknown Akka setting 'akka.logleve'", "akka.loglevel")]
    [InlineData("akka.persistence.journal.sql.batchsize = 10", "'akka.persistence.journal.sql.batchsize'", "batch-size")]
    [InlineData("akka.coordinated-shutdown.run-by-clr-shutdown-hook = 5", "is not on/off", "user.conf:1")]
    [InlineData("akka.persistence.journal.sql.batch-size = lots", "is not an integer", "'lots'")]
    [InlineData("akka.scheduler.tick-duration = fast", "is not a duration", "tick-duration")]
    [InlineData("akka.actor = 3", "is not a section", "akka.actor")]
    [InlineData("akka.persistence.journal.sql.connection-string = \"Data Source=x\"", "set by imagegpt", "checkpoint.store")]
    public void Unknown_and_wrong_typed_akka_settings_are_one_line_errors_naming_them(string hocon, string says, string names)
    {
        var e = Assert.Throws<UserError>(() => AkkaSettings.Validate(With(hocon)));
        Assert.Contains(says, e.Message);
        Assert.Contains(names, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_run_loader_refuses_a_bad_akka_setting_too()
    {
        var reference = ConfigFactory.ParseFile(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf"));
        var e = Assert.Throws<UserError>(() => RunConfigLoader.Load(reference, null, ["akka.loglevl=INFO"], _dir));
        Assert.Contains("akka.loglevl", e.Message);
    }

    [Fact]
    public async Task The_built_config_points_the_persistence_plugins_at_the_run_store_and_keeps_the_users_settings()
    {
        await using var store = RunStore.Open(new CheckpointSettings(1, 0, "sqlite", "", false), _dir);
        var built = AkkaSettings.Build(With("akka.persistence.journal.sql.batch-size = 7"), store);
        Assert.Equal("akka.persistence.journal.sql", built.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("SQLite.MS", built.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal(store.AkkaConnectionString, built.GetString("akka.persistence.query.journal.sql.connection-string"));
        Assert.Equal(1, built.GetInt("akka.persistence.journal.sql.parallelism"));
        Assert.Equal(7, built.GetInt("akka.persistence.journal.sql.batch-size"));
        Assert.False(built.GetBoolean("akka.coordinated-shutdown.run-by-clr-shutdown-hook"));
        Assert.Equal(TimeSpan.FromMinutes(10), built.GetTimeSpan("akka.coordinated-shutdown.phases.service-requests-done.timeout"));
        using var system = ActorSystem.Create("built", built);
        // The phase keeps Akka's own ordering under the user's timeout.
        Assert.Contains("service-unbind", system.Settings.Config.GetStringList("akka.coordinated-shutdown.phases.service-requests-done.depends-on"));
        Assert.IsType<RunEventSerializer>(system.Serialization.FindSerializerForType(typeof(RunFinished)));
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Bounded();
    }

    [Fact]
    public async Task A_user_parallelism_beats_the_sqlite_default()
    {
        await using var store = RunStore.Open(new CheckpointSettings(1, 0, "sqlite", "", false), _dir);
        var built = AkkaSettings.Build(With("akka.persistence.journal.sql.parallelism = 2"), store);
        Assert.Equal(2, built.GetInt("akka.persistence.journal.sql.parallelism"));
    }
}
