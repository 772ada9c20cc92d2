using System.Data.Common;

namespace ImageGpt.Actors.Persistence;

/// <summary>Creates the tables once per store object, the first time a call needs them.</summary>
/// <param name="schemaSql">The DDL to run; null = the dialect's journal and snapshot tables.</param>
internal sealed class SqlSchema(SqlDialect dialect, string? schemaSql = null)
{
    private readonly SemaphoreSlim _once = new(1, 1);
    private volatile bool _ready;

    public async Task EnsureAsync(CancellationToken ct)
    {
        if (_ready) return;
        await _once.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_ready) return;
            await using DbConnection conn = await dialect.OpenAsync(ct).ConfigureAwait(false);
            if (dialect.BeforeSchemaSql is { } before)
            {
                await using DbCommand pre = dialect.Command(conn, null, before);
                await pre.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
            if (dialect.SchemaLockSql is { } lockSql)
            {
                await using DbCommand lk = dialect.Command(conn, tx, lockSql);
                await lk.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using (DbCommand ddl = dialect.Command(conn, tx, schemaSql ?? dialect.SchemaSql))
                await ddl.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            _ready = true;
        }
        finally
        {
            _once.Release();
        }
    }
}
