using System.Data.Common;

namespace ImageGpt.Actors.Persistence;

/// <summary>
/// Everything that differs between the SQL databases the stores run on: how to open a connection, the DDL
/// (identity column and blob type), the name of the two-argument maximum, and how a unique-key violation looks.
/// All other SQL is shared (both accept <c>@name</c> parameters, <c>LIMIT</c> and <c>ON CONFLICT</c>).
/// </summary>
internal abstract class SqlDialect : IAsyncDisposable
{
    /// <summary>"sqlite" or "postgres", for messages.</summary>
    public abstract string Name { get; }

    /// <summary>The two-argument maximum: <c>max(a, b)</c> in SQLite, <c>GREATEST(a, b)</c> in PostgreSQL.</summary>
    public abstract string Greatest { get; }

    /// <summary>Column type of binary payloads: BLOB in SQLite, BYTEA in PostgreSQL.</summary>
    public abstract string BlobType { get; }

    /// <summary>CREATE TABLE IF NOT EXISTS for the journal, its metadata and the snapshot table.</summary>
    public abstract string SchemaSql { get; }

    /// <summary>Run before the schema transaction, outside any transaction.</summary>
    public virtual string? BeforeSchemaSql => null;

    /// <summary>Run first in the schema transaction so that processes creating the schema at once take turns.</summary>
    public virtual string? SchemaLockSql => null;

    public abstract int CommandTimeoutSeconds { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>Whether <paramref name="e"/> is a violation of a unique or primary key.</summary>
    public abstract bool IsUniqueViolation(Exception e);

    /// <summary>Whether <paramref name="e"/> says something about the database's health (and so counts for the
    /// circuit breaker), as opposed to a rejected write or a caller's mistake.</summary>
    public bool IsFailure(Exception e) => e is not (ConcurrentWriteException or ArgumentException or SerializationException);

    public abstract ValueTask DisposeAsync();

    public DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        DbCommand cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = transaction;
        cmd.CommandTimeout = CommandTimeoutSeconds;
        return cmd;
    }

    public static DbParameter Parameter(DbCommand cmd, string name, object? value)
    {
        DbParameter p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
        return p;
    }
}
