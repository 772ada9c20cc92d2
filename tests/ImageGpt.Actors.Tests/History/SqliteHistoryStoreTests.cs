using System.Data.Common;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Actors.Tests.History;

/// <summary>run.db in a fresh run directory per test (created by the store itself), deleted afterwards.</summary>
public sealed class SqliteHistoryStoreTests : HistoryStoreContract
{
    private readonly string _temp = Directory.CreateTempSubdirectory("imagegpt-store-").FullName;

    private string Dir => Path.Combine(_temp, "run");
    private string DbPath => Path.Combine(Dir, RunStore.SqliteFileName);

    protected override (string Provider, string Target) Child => ("sqlite", Dir);

    protected override async Task<DbConnection> OpenRawAsync()
    {
        var c = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await c.OpenAsync();
        return c;
    }

    protected override async Task AssertStoreIntactAsync()
    {
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_temp, recursive: true);
    }

    private CheckpointSettings Settings => RunStoreKillChild.Settings("sqlite", Dir);

    [Fact]
    public async Task Opening_creates_the_run_directory_and_run_db_in_wal_mode()
    {
        Assert.False(Directory.Exists(Dir));
        Store();
        Assert.True(File.Exists(DbPath));
        await AssertStoreIntactAsync();
    }

    [Fact]
    public void A_run_directory_that_cannot_be_created_is_a_user_error_naming_it()
    {
        // A path below a regular file cannot become a directory, not even for root (which ignores permissions).
        string file = Path.Combine(_temp, "a-file");
        File.WriteAllText(file, "not a directory");
        string runDir = Path.Combine(file, "run");

        var e = Assert.Throws<UserError>(() => RunStore.Open(Settings, runDir));

        Assert.Contains(runDir, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_run_db_that_is_not_a_database_is_a_user_error_naming_it_and_is_left_as_it_was()
    {
        Directory.CreateDirectory(Dir);
        byte[] garbage = global::System.Text.Encoding.ASCII.GetBytes(new string('x', 8192));
        File.WriteAllBytes(DbPath, garbage);

        var e = Assert.Throws<UserError>(() => RunStore.Open(Settings, Dir));

        Assert.Contains(DbPath, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(garbage, File.ReadAllBytes(DbPath));
    }

    [Fact]
    public void Opening_for_reading_never_creates_a_store()
    {
        var e = Assert.Throws<UserError>(() => RunStore.Open(Settings, Dir, mustExist: true));
        Assert.Contains(DbPath, e.Message);
        Assert.False(Directory.Exists(Dir));
    }

    [Fact]
    public void An_unknown_store_kind_is_a_user_error()
    {
        var e = Assert.Throws<UserError>(() => RunStore.Open(Settings with { Store = "mysql" }, Dir));
        Assert.Contains("'mysql'", e.Message);
        Assert.Contains("HINT", e.Message);
    }
}
