using System.Data.Common;

namespace ImageGpt.Actors.Persistence;

/// <summary>An append-only event log keyed by persistence id and sequence number (Akka's journal contract).</summary>
public interface IJournal : IAsyncDisposable
{
    /// <summary>
    /// Writes <paramref name="atomicBatch"/> in one transaction: all of it or none. The events belong to one
    /// persistence id and have consecutive sequence numbers. Throws <see cref="ConcurrentWriteException"/> if
    /// any of those sequence numbers is already taken.
    /// </summary>
    Task WriteAsync(IReadOnlyList<JournalEntry> atomicBatch, CancellationToken ct = default);

    /// <summary>The events of <paramref name="persistenceId"/> with <paramref name="fromSequenceNr"/> ≤ sequence_nr ≤
    /// <paramref name="toSequenceNr"/>, in sequence order, at most <paramref name="max"/> of them.</summary>
    Task<IReadOnlyList<JournalEntry>> ReplayAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, CancellationToken ct = default);

    /// <summary>The highest sequence number ever written for <paramref name="persistenceId"/> (0 if none), also
    /// after its events were deleted, so that a recovered actor never reuses a number.</summary>
    Task<long> HighestSequenceNrAsync(string persistenceId, CancellationToken ct = default);

    /// <summary>Deletes the events of <paramref name="persistenceId"/> up to and including <paramref name="toSequenceNr"/>.</summary>
    Task DeleteToAsync(string persistenceId, long toSequenceNr, CancellationToken ct = default);
}

/// <summary>
/// The journal over ADO.NET with Akka.Persistence.Sql's table layout. SQL is shared; what differs between
/// databases lives in the <see cref="SqlDialect"/>. Every call goes through a <see cref="CircuitBreaker"/>, so a
/// dead database fails fast with <see cref="CircuitBreakerOpenException"/>. The schema is created on first use.
/// </summary>
public abstract class SqlJournal : IJournal
{
    private const string InsertSql =
        "INSERT INTO journal (persistence_id, sequence_nr, manifest, payload, created, tags) VALUES (@pid, @seq, @manifest, @payload, @created, @tags)";

    private readonly SqlDialect _dialect;
    private readonly SqlSchema _schema;
    private readonly TimeProvider _clock;

    internal SqlJournal(SqlDialect dialect, SqlStoreOptions options)
    {
        _dialect = dialect;
        _schema = new SqlSchema(dialect);
        _clock = options.Clock;
        Breaker = options.NewBreaker($"{dialect.Name}-journal");
    }

    public CircuitBreaker Breaker { get; }

    /// <summary>Runs after a batch's rows are inserted and before its commit; the kill test parks a child
    /// process here so that it dies holding an open transaction.</summary>
    internal Func<CancellationToken, Task>? BeforeCommitForTests { get; set; }

    public Task WriteAsync(IReadOnlyList<JournalEntry> atomicBatch, CancellationToken ct = default)
    {
        ValidateBatch(atomicBatch);
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbTransaction tx = await conn.BeginTransactionAsync(c).ConfigureAwait(false);
            long created = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            try
            {
                if (conn.CanCreateBatch && atomicBatch.Count > 1)
                {
                    // One round trip for the whole batch where the driver can (Npgsql).
                    await using DbBatch batch = conn.CreateBatch();
                    batch.Transaction = tx;
                    batch.Timeout = _dialect.CommandTimeoutSeconds;
                    foreach (JournalEntry e in atomicBatch)
                    {
                        DbBatchCommand bc = batch.CreateBatchCommand();
                        bc.CommandText = InsertSql;
                        foreach ((string name, object? value) in Row(e, created))
                        {
                            DbParameter p = bc.CreateParameter();
                            p.ParameterName = name;
                            p.Value = value ?? DBNull.Value;
                            bc.Parameters.Add(p);
                        }
                        batch.BatchCommands.Add(bc);
                    }
                    await batch.ExecuteNonQueryAsync(c).ConfigureAwait(false);
                }
                else
                {
                    await using DbCommand cmd = _dialect.Command(conn, tx, InsertSql);
                    var ps = Row(atomicBatch[0], created).Select(r => SqlDialect.Parameter(cmd, r.Name, r.Value)).ToArray();
                    foreach (JournalEntry e in atomicBatch)
                    {
                        int i = 0;
                        foreach ((_, object? value) in Row(e, created)) ps[i++].Value = value ?? DBNull.Value;
                        await cmd.ExecuteNonQueryAsync(c).ConfigureAwait(false);
                    }
                }
                if (BeforeCommitForTests is { } hook) await hook(c).ConfigureAwait(false);
                await tx.CommitAsync(c).ConfigureAwait(false);
            }
            catch (Exception e) when (_dialect.IsUniqueViolation(e))
            {
                throw new ConcurrentWriteException(atomicBatch[0].PersistenceId, atomicBatch[0].SequenceNr, atomicBatch[^1].SequenceNr, e);
            }
            return true;
        }, _dialect.IsFailure, ct);
    }

    public async Task<IReadOnlyList<JournalEntry>> ReplayAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, CancellationToken ct = default)
    {
        ValidatePersistenceId(persistenceId);
        if (max <= 0 || toSequenceNr < fromSequenceNr) return [];
        return await Breaker.ExecuteAsync<IReadOnlyList<JournalEntry>>(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbCommand cmd = _dialect.Command(conn, null,
                "SELECT ordering, sequence_nr, manifest, payload, created, tags FROM journal " +
                "WHERE persistence_id = @pid AND sequence_nr >= @from AND sequence_nr <= @to ORDER BY sequence_nr LIMIT @max");
            SqlDialect.Parameter(cmd, "@pid", persistenceId);
            SqlDialect.Parameter(cmd, "@from", fromSequenceNr);
            SqlDialect.Parameter(cmd, "@to", toSequenceNr);
            SqlDialect.Parameter(cmd, "@max", max);
            var events = new List<JournalEntry>();
            await using DbDataReader r = await cmd.ExecuteReaderAsync(c).ConfigureAwait(false);
            while (await r.ReadAsync(c).ConfigureAwait(false))
            {
                events.Add(new JournalEntry(persistenceId, r.GetInt64(1), r.GetString(2), (byte[])r.GetValue(3), r.IsDBNull(5) ? null : r.GetString(5))
                {
                    Ordering = r.GetInt64(0),
                    Created = r.GetInt64(4),
                });
            }
            return events;
        }, _dialect.IsFailure, ct).ConfigureAwait(false);
    }

    public Task<long> HighestSequenceNrAsync(string persistenceId, CancellationToken ct = default)
    {
        ValidatePersistenceId(persistenceId);
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            return await HighestAsync(conn, null, persistenceId, c).ConfigureAwait(false);
        }, _dialect.IsFailure, ct);
    }

    public Task DeleteToAsync(string persistenceId, long toSequenceNr, CancellationToken ct = default)
    {
        ValidatePersistenceId(persistenceId);
        return Breaker.ExecuteAsync(async c =>
        {
            await _schema.EnsureAsync(c).ConfigureAwait(false);
            await using DbConnection conn = await _dialect.OpenAsync(c).ConfigureAwait(false);
            await using DbTransaction tx = await conn.BeginTransactionAsync(c).ConfigureAwait(false);
            // Remember the highest deleted number first: the journal rows that carried it are about to go.
            await using (DbCommand remember = _dialect.Command(conn, tx,
                "INSERT INTO journal_metadata (persistence_id, sequence_nr) " +
                "SELECT persistence_id, MAX(sequence_nr) FROM journal WHERE persistence_id = @pid AND sequence_nr <= @to GROUP BY persistence_id " +
                $"ON CONFLICT (persistence_id) DO UPDATE SET sequence_nr = {_dialect.Greatest}(journal_metadata.sequence_nr, excluded.sequence_nr)"))
            {
                SqlDialect.Parameter(remember, "@pid", persistenceId);
                SqlDialect.Parameter(remember, "@to", toSequenceNr);
                await remember.ExecuteNonQueryAsync(c).ConfigureAwait(false);
            }
            await using (DbCommand delete = _dialect.Command(conn, tx, "DELETE FROM journal WHERE persistence_id = @pid AND sequence_nr <= @to"))
            {
                SqlDialect.Parameter(delete, "@pid", persistenceId);
                SqlDialect.Parameter(delete, "@to", toSequenceNr);
                await delete.ExecuteNonQueryAsync(c).ConfigureAwait(false);
            }
            await tx.CommitAsync(c).ConfigureAwait(false);
            return true;
        }, _dialect.IsFailure, ct);
    }

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _dialect.DisposeAsync();
    }

    private static async Task<long> HighestAsync(DbConnection conn, DbTransaction? tx, string persistenceId, CancellationToken ct)
    {
        using DbCommand cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText =
            "SELECT MAX(s) FROM (SELECT MAX(sequence_nr) AS s FROM journal WHERE persistence_id = @pid " +
            "UNION ALL SELECT sequence_nr AS s FROM journal_metadata WHERE persistence_id = @pid) AS t";
        SqlDialect.Parameter(cmd, "@pid", persistenceId);
        object? v = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return v is null or DBNull ? 0 : Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static IEnumerable<(string Name, object? Value)> Row(JournalEntry e, long created)
    {
        yield return ("@pid", e.PersistenceId);
        yield return ("@seq", e.SequenceNr);
        yield return ("@manifest", e.Manifest);
        yield return ("@payload", e.Payload);
        yield return ("@created", created);
        yield return ("@tags", e.Tags);
    }

    internal static void ValidatePersistenceId(string persistenceId)
    {
        if (string.IsNullOrEmpty(persistenceId) || persistenceId.Length > 255)
            throw new ArgumentException($"persistence id '{persistenceId}' must have 1 to 255 characters", nameof(persistenceId));
    }

    private static void ValidateBatch(IReadOnlyList<JournalEntry> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) throw new ArgumentException("an atomic batch needs at least one event", nameof(batch));
        string pid = batch[0].PersistenceId;
        ValidatePersistenceId(pid);
        for (int i = 0; i < batch.Count; i++)
        {
            JournalEntry e = batch[i];
            if (e.PersistenceId != pid)
                throw new ArgumentException($"an atomic batch belongs to one persistence id, but it mixes '{pid}' and '{e.PersistenceId}'", nameof(batch));
            if (e.SequenceNr != batch[0].SequenceNr + i)
                throw new ArgumentException($"sequence numbers of an atomic batch must be consecutive: '{pid}' has {e.SequenceNr} at position {i} after {batch[0].SequenceNr}", nameof(batch));
            if (e.SequenceNr < 1) throw new ArgumentException($"sequence numbers start at 1, got {e.SequenceNr} for '{pid}'", nameof(batch));
            ArgumentNullException.ThrowIfNull(e.Manifest);
            ArgumentNullException.ThrowIfNull(e.Payload);
        }
    }
}

/// <summary>The journal in an SQLite file (WAL mode): the embedded default.</summary>
public sealed class SqliteJournal(string path, SqlStoreOptions? options = null)
    : SqlJournal(new SqliteDialect(path, options ?? SqlStoreOptions.Default), options ?? SqlStoreOptions.Default);

/// <summary>The journal in PostgreSQL (the cluster's shared store).</summary>
public sealed class PostgresJournal(string connectionString, SqlStoreOptions? options = null)
    : SqlJournal(new PostgresDialect(connectionString, options ?? SqlStoreOptions.Default), options ?? SqlStoreOptions.Default);
