using System.Data.Common;
using Npgsql;

namespace ImageGpt.Actors.Persistence;

internal sealed class PostgresDialect : SqlDialect
{
    private readonly NpgsqlDataSource _source;

    public PostgresDialect(string connectionString, SqlStoreOptions options)
    {
        NpgsqlConnectionStringBuilder b;
        try { b = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"bad PostgreSQL connection string: {e.Message}. HINT: write it as Host=127.0.0.1;Port=5432;Username=u;Password=p;Database=d", nameof(connectionString), e);
        }
        CommandTimeoutSeconds = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        b.CommandTimeout = CommandTimeoutSeconds;
        // Connecting is bounded by the call timeout too: a host that accepts TCP but never answers must not
        // hold a caller longer than the breaker allows.
        b.Timeout = Math.Max(1, Math.Min(b.Timeout, (int)Math.Ceiling(options.CallTimeout.TotalSeconds)));
        _source = NpgsqlDataSource.Create(b);
    }

    public override string Name => "postgres";
    public override string Greatest => "GREATEST";
    public override string BlobType => "BYTEA";
    public override int CommandTimeoutSeconds { get; }

    // Akka.Persistence.Sql's PostgreSQL schema: an identity column for ordering, bytea payloads.
    public override string SchemaSql => """
        CREATE TABLE IF NOT EXISTS journal (
            ordering BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            persistence_id VARCHAR(255) NOT NULL,
            sequence_nr BIGINT NOT NULL,
            manifest VARCHAR(500) NOT NULL,
            payload BYTEA NOT NULL,
            created BIGINT NOT NULL,
            tags VARCHAR(100) NULL,
            CONSTRAINT journal_persistence_id_sequence_nr_key UNIQUE (persistence_id, sequence_nr));
        CREATE TABLE IF NOT EXISTS journal_metadata (
            persistence_id VARCHAR(255) NOT NULL PRIMARY KEY,
            sequence_nr BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id VARCHAR(255) NOT NULL,
            sequence_nr BIGINT NOT NULL,
            created BIGINT NOT NULL,
            manifest VARCHAR(500) NOT NULL,
            payload BYTEA NOT NULL,
            PRIMARY KEY (persistence_id, sequence_nr));
        """;

    // CREATE TABLE IF NOT EXISTS is not safe against a concurrent CREATE (it can fail on pg_type's unique
    // index), so schema creators queue on one transaction-scoped advisory lock.
    public override string? SchemaLockSql => "SELECT pg_advisory_xact_lock(7305166253717)";

    public override async Task<DbConnection> OpenAsync(CancellationToken ct) =>
        await _source.OpenConnectionAsync(ct).ConfigureAwait(false);

    public override bool IsUniqueViolation(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override ValueTask DisposeAsync() => _source.DisposeAsync();
}
