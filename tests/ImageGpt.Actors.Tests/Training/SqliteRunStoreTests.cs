using System.Data.Common;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>run.db in a fresh run directory per test (created by the store itself), deleted afterwards.</summary>
public sealed class SqliteRunStoreTests : RunStoreContract
{
    private readonly string _temp = Directory.CreateTempSubdirectory("imagegpt-runstore-").FullName;

    private string Dir => Path.Combine(_temp, "run");
    private string DbPath => Path.Combine(Dir, SqlRunStore.SqliteFileName);

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

        var e = Assert.Throws<UserError>(() => SqlRunStore.Open(Settings, runDir));

        Assert.Contains(runDir, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_run_db_that_is_not_a_database_is_a_user_error_naming_it()
    {
        Directory.CreateDirectory(Path.Combine(Dir, SqlRunStore.SqliteFileName));

        var e = Assert.Throws<UserError>(() => SqlRunStore.Open(Settings, Dir));

        Assert.Contains(DbPath, e.Message);
        Assert.Contains("HINT", e.Message);
    }

    [Fact]
    public void Opening_read_only_never_creates_a_store()
    {
        var e = Assert.Throws<UserError>(() => SqlRunStore.OpenReadOnly(Settings, Dir));
        Assert.Contains(DbPath, e.Message);
        Assert.False(Directory.Exists(Dir));
    }

    [Fact]
    public void An_unknown_store_kind_is_a_user_error()
    {
        var e = Assert.Throws<UserError>(() => SqlRunStore.Open(Settings with { Store = "mysql" }, Dir));
        Assert.Contains("'mysql'", e.Message);
        Assert.Contains("HINT", e.Message);
    }
}
