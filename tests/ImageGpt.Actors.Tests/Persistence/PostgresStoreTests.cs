using ImageGpt.Actors.Persistence;
using ImageGpt.Actors.Tests.Postgres;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>On the shared throwaway server; tests keep apart by using fresh persistence ids.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresJournalTests(PostgresServer server) : JournalContract
{
    protected override SqlJournal OpenJournal(SqlStoreOptions? options = null) => new PostgresJournal(server.ConnectionString, options);
    protected override (string Provider, string Store) ChildStore => ("postgres", server.ConnectionString);

    protected override async Task<IAsyncDisposable> HoldWriteLockAsync()
    {
        var c = new Npgsql.NpgsqlConnection(server.ConnectionString);
        await c.OpenAsync();
        await using (var cmd = new Npgsql.NpgsqlCommand("BEGIN; LOCK TABLE journal IN EXCLUSIVE MODE", c))
            await cmd.ExecuteNonQueryAsync();
        return c;
    }

    protected override async Task AssertStoreIntactAsync()
    {
        // The killed child's backend must be gone and its transaction rolled back, not left idle in transaction.
        await using var c = new Npgsql.NpgsqlConnection(server.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'", c);
        for (int i = 0; i < 100 && (long)(await cmd.ExecuteScalarAsync())! != 0; i++) await Task.Delay(100);
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSnapshotStoreTests(PostgresServer server) : SnapshotStoreContract
{
    protected override SqlSnapshotStore OpenStore(SqlStoreOptions? options = null) => new PostgresSnapshotStore(server.ConnectionString, options);
}
