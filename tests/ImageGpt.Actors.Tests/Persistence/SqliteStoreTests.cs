using ImageGpt.Actors.Persistence;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>A fresh SQLite file per test, deleted afterwards.</summary>
internal sealed class SqliteTempFile : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("imagegpt-sqlite-").FullName;
    public string Path => System.IO.Path.Combine(_dir, "store.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

public sealed class SqliteJournalTests : JournalContract
{
    private readonly SqliteTempFile _file = new();

    protected override SqlJournal OpenJournal(SqlStoreOptions? options = null) => new SqliteJournal(_file.Path, options);
    protected override (string Provider, string Store) ChildStore => ("sqlite", _file.Path);

    protected override async Task<IAsyncDisposable> HoldWriteLockAsync()
    {
        var c = new SqliteConnection($"Data Source={_file.Path};Pooling=False");
        await c.OpenAsync();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "BEGIN IMMEDIATE";
            await cmd.ExecuteNonQueryAsync();
        }
        return c;
    }

    protected override async Task AssertStoreIntactAsync()
    {
        await using var c = new SqliteConnection($"Data Source={_file.Path};Pooling=False");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", (string?)await cmd.ExecuteScalarAsync());
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}

public sealed class SqliteSnapshotStoreTests : SnapshotStoreContract
{
    private readonly SqliteTempFile _file = new();

    protected override SqlSnapshotStore OpenStore(SqlStoreOptions? options = null) => new SqliteSnapshotStore(_file.Path, options);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}
