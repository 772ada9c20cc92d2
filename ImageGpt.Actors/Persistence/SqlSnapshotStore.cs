using System.Data.Common;

namespace ImageGpt.Actors.Persistence;

/// <summary>Snapshots of an actor's state keyed by persistence id and the sequence number they include (Akka's snapshot store contract).</summary>
public interface ISnapshotStore : IAsyncDisposable
{
    /// <summary>Stores <paramref name="snapshot"/>; a second save at the same persistence id and sequence number replaces the first.</summary>
    Task SaveAsync(SnapshotEntry snapshot, CancellationToken ct = default);

    /// <summary>The snapshot with the highest sequence number that <paramref name="criteria"/> selects, or null.</summary>
    Task<SnapshotEntry?> LoadLatestAsync(string persistenceId, SnapshotCriteria criteria, CancellationToken ct = default);

    /// <summary>Deletes every snapshot of <paramref name="persistenceId"/> that <paramref name="criteria"/> selects.</summary>
    Task DeleteAsync(string persistenceId, SnapshotCriteria criteria, CancellationToken ct = default);
}

/// <summary>The snapshot store over ADO.NET with Akka.Persistence.Sql's table layout; see <see cref="SqlJournal"/>.</summary>
public abstract class SqlSnapshotStore : ISnapshotStore
{
    private const string Selection =
        "persistence_id = @pid AND sequence_nr <= @maxSeq AND created <= @maxTs AND sequence_nr >= @minSeq AND created >= @minTs";

    private readonly SqlDialect _dialect;
    private readonly SqlSchema _schema;
    private readonly TimeProvider _clock;

    internal SqlSnapshotStore(SqlDialect dialect, SqlStoreOptions options)
    {
        _dialect = dialect;
        _schema = new SqlSchema(dialect);
        _clock = options.Clock;
        Breaker = options.NewBreaker($"{dialect.Name}-snapshot");
    }

    public CircuitBreaker Breaker { get; }

    public Task SaveAsync(SnapshotEntry snapshot, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        SqlJournal.ValidatePersistenceId(snapshot.PersistenceId);
        ArgumentNullException.ThrowIfNull(snapshot.Manifest);
        ArgumentNullException.ThrowIfNull(snapshot.Payload);
        long created = snapshot.Created != 0 ? snapshot.Created : _clock.GetUtcNow().ToUnixTimeMilliseconds();
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbCommand cmd = _dialect.Command(conn, null,
                "INSERT INTO snapshot (persistence_id, sequence_nr, created, manifest, payload) VALUES (@pid, @seq, @created, @manifest, @payload) " +
                "ON CONFLICT (persistence_id, sequence_nr) DO UPDATE SET created = excluded.created, manifest = excluded.manifest, payload = excluded.payload");
            SqlDialect.Parameter(cmd, "@pid", snapshot.PersistenceId);
            SqlDialect.Parameter(cmd, "@seq", snapshot.SequenceNr);
            SqlDialect.Parameter(cmd, "@created", created);
            SqlDialect.Parameter(cmd, "@manifest", snapshot.Manifest);
            SqlDialect.Parameter(cmd, "@payload", snapshot.Payload);
            await cmd.ExecuteNonQueryAsync(c).ConfigureAwait(false);
            return true;
        }, _dialect.IsFailure, ct);
    }

    public Task<SnapshotEntry?> LoadLatestAsync(string persistenceId, SnapshotCriteria criteria, CancellationToken ct = default)
    {
        SqlJournal.ValidatePersistenceId(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbCommand cmd = _dialect.Command(conn, null,
                $"SELECT sequence_nr, created, manifest, payload FROM snapshot WHERE {Selection} ORDER BY sequence_nr DESC LIMIT 1");
            Bind(cmd, persistenceId, criteria);
            await using DbDataReader r = await cmd.ExecuteReaderAsync(c).ConfigureAwait(false);
            if (!await r.ReadAsync(c).ConfigureAwait(false)) return null;
            return new SnapshotEntry(persistenceId, r.GetInt64(0), r.GetString(2), (byte[])r.GetValue(3), r.GetInt64(1));
        }, _dialect.IsFailure, ct);
    }

    public Task DeleteAsync(string persistenceId, SnapshotCriteria criteria, CancellationToken ct = default)
    {
        SqlJournal.ValidatePersistenceId(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbCommand cmd = _dialect.Command(conn, null, $"DELETE FROM snapshot WHERE {Selection}");
            Bind(cmd, persistenceId, criteria);
            await cmd.ExecuteNonQueryAsync(c).ConfigureAwait(false);
            return true;
        }, _dialect.IsFailure, ct);
    }

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _dialect.DisposeAsync();
    }

    private static void Bind(DbCommand cmd, string persistenceId, SnapshotCriteria criteria)
    {
        SqlDialect.Parameter(cmd, "@pid", persistenceId);
        SqlDialect.Parameter(cmd, "@maxSeq", criteria.MaxSequenceNr);
        SqlDialect.Parameter(cmd, "@maxTs", criteria.MaxTimestamp);
        SqlDialect.Parameter(cmd, "@minSeq", criteria.MinSequenceNr);
        SqlDialect.Parameter(cmd, "@minTs", criteria.MinTimestamp);
    }
}

/// <summary>Snapshots in an SQLite file (WAL mode); may share the journal's file.</summary>
public sealed class SqliteSnapshotStore(string path, SqlStoreOptions? options = null)
    : SqlSnapshotStore(new SqliteDialect(path, options ?? SqlStoreOptions.Default), options ?? SqlStoreOptions.Default);

/// <summary>Snapshots in PostgreSQL.</summary>
public sealed class PostgresSnapshotStore(string connectionString, SqlStoreOptions? options = null)
    : SqlSnapshotStore(new PostgresDialect(connectionString, options ?? SqlStoreOptions.Default), options ?? SqlStoreOptions.Default);
