using System.Buffers.Binary;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ImageGpt.Actors.Persistence;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ImageGpt.Actors.Training;

/// <summary>
/// The run's SQL store on SQLite (run.db in the run directory) or PostgreSQL, same tables on both:
/// <c>checkpoint</c> (the catalogue, one row per step), <c>checkpoint_chunk</c> (the serialized checkpoint in
/// 1 MiB pieces) and <c>eval_result</c> (one JSON document per evaluated step). A checkpoint's catalogue row
/// and chunks are written in one transaction, so a reader (or a process that restarts after a kill) sees all
/// of a checkpoint or none of it; the SHA-256 in the catalogue catches what a transaction cannot: bytes
/// damaged later on disk or by hand.
/// </summary>
public sealed class SqlRunStore : IRunStore
{
    /// <summary>Chunk size: large enough that a checkpoint of a few hundred MB is a few hundred rows, small enough
    /// that no single value strains a driver's buffers.</summary>
    public const int ChunkBytes = 1 << 20;

    public const string SqliteFileName = "run.db";

    // "IGPTCKP1": format 1 of the payload header, then three int64 lengths (floats) of parameters, m and v.
    private const ulong Magic = 0x31504B4354504749;
    private const int HeaderBytes = 8 + 3 * 8;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly SqlDialect _dialect;
    private readonly SqlSchema _schema;
    private readonly TimeProvider _clock;
    private readonly bool _readOnly;
    private volatile bool _tablesSeen;

    internal SqlRunStore(SqlDialect dialect, string where, SqlStoreOptions options, bool readOnly)
    {
        _dialect = dialect;
        _clock = options.Clock;
        _readOnly = readOnly;
        Where = where;
        // BIGINT is a 64-bit integer in both databases (SQLite gives it INTEGER affinity).
        _schema = new SqlSchema(dialect, $"""
            CREATE TABLE IF NOT EXISTS checkpoint (
                step BIGINT NOT NULL PRIMARY KEY,
                created BIGINT NOT NULL,
                epoch BIGINT NOT NULL,
                step_in_epoch INTEGER NOT NULL,
                adam_step INTEGER NOT NULL,
                data_seed BIGINT NOT NULL,
                identity TEXT NOT NULL,
                palette TEXT NOT NULL,
                bytes BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                chunks INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS checkpoint_chunk (
                step BIGINT NOT NULL,
                idx INTEGER NOT NULL,
                data {dialect.BlobType} NOT NULL,
                PRIMARY KEY (step, idx));
            CREATE TABLE IF NOT EXISTS eval_result (
                step BIGINT NOT NULL PRIMARY KEY,
                created BIGINT NOT NULL,
                json TEXT NOT NULL);
            """);
    }

    /// <summary>The store for messages: the SQLite file's path or postgres://host:port/database.</summary>
    public string Where { get; }

    /// <summary>Runs after each chunk insert (with its index) and before the commit; the kill test parks a
    /// child process here so that it dies inside the transaction.</summary>
    internal Func<int, CancellationToken, Task>? AfterChunkForTests { get; set; }

    /// <summary>Opens (and creates) the store the settings name; sqlite lives in <paramref name="runDir"/>/run.db.</summary>
    /// <exception cref="UserError">The run directory cannot be created, or the database cannot be opened or reached.</exception>
    public static IRunStore Open(CheckpointSettings settings, string runDir) => OpenCore(settings, runDir, readOnly: false);

    /// <summary>
    /// Opens an existing store to read while a training process writes it (SQLite's WAL lets readers run beside
    /// the writer without waiting). Never creates anything; for SQLite, run.db must exist.
    /// </summary>
    public static SqlRunStore OpenReadOnly(CheckpointSettings settings, string runDir) => OpenCore(settings, runDir, readOnly: true);

    private static SqlRunStore OpenCore(CheckpointSettings settings, string runDir, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(runDir);
        // A checkpoint of a few hundred MB takes seconds to write; the journal's 30 s would be tight.
        var options = new SqlStoreOptions { CommandTimeout = TimeSpan.FromSeconds(300), CallTimeout = TimeSpan.FromSeconds(30) };
        switch (settings.Store)
        {
            case "sqlite":
                return OpenSqlite(Path.Combine(runDir, SqliteFileName), runDir, options, readOnly);
            case "postgres":
                return OpenPostgres(settings.Postgres, options, readOnly);
            default:
                throw new UserError($"checkpoint.store = '{settings.Store}' is not a store. HINT: set checkpoint.store to sqlite or postgres");
        }
    }

    private static SqlRunStore OpenSqlite(string path, string runDir, SqlStoreOptions options, bool readOnly)
    {
        if (readOnly && !File.Exists(path))
            throw new UserError($"no run store {path}. HINT: the run has not written a checkpoint yet, or pass the right --run-dir");
        if (!readOnly)
        {
            try { Directory.CreateDirectory(runDir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserError($"cannot create the run directory {runDir}: {OneLine(e.Message)}. HINT: pass a writable run directory (--run-dir or run.dir)");
            }
        }
        var store = new SqlRunStore(new SqliteDialect(path, options, readOnly), path, options, readOnly);
        try
        {
            store.EnsureAsync(CancellationToken.None).GetAwaiter().GetResult();
            return store;
        }
        catch (SqliteException e)
        {
            throw new UserError($"cannot open the run store {path}: {OneLine(e.Message)}. HINT: check that the run directory is writable and {SqliteFileName} is an SQLite file, or set checkpoint.store = postgres");
        }
    }

    private static SqlRunStore OpenPostgres(string connectionString, SqlStoreOptions options, bool readOnly)
    {
        NpgsqlConnectionStringBuilder b;
        PostgresDialect dialect;
        try
        {
            b = new NpgsqlConnectionStringBuilder(connectionString);
            dialect = new PostgresDialect(connectionString, options);
        }
        catch (ArgumentException e)
        {
            throw new UserError($"checkpoint.postgres is not a connection string: {OneLine(e.Message)}. HINT: write it as Host=127.0.0.1;Port=5432;Username=u;Password=p;Database=d");
        }
        // Never the password: the message goes to the console and logs.
        string where = $"postgres://{b.Host}:{b.Port}/{b.Database}";
        var store = new SqlRunStore(dialect, where, options, readOnly);
        try
        {
            store.EnsureAsync(CancellationToken.None).GetAwaiter().GetResult();
            return store;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            dialect.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new UserError($"cannot reach the run store {where}: {OneLine(e.Message)}. HINT: check checkpoint.postgres (host, port, user, password, database) and that the server is running");
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").TrimEnd('.');

    /// <summary>Creates the tables (writer), or learns whether the writer has created them yet (reader).</summary>
    private async Task<bool> EnsureAsync(CancellationToken ct)
    {
        if (!_readOnly)
        {
            await _schema.EnsureAsync(ct).ConfigureAwait(false);
            return true;
        }
        if (_tablesSeen) return true;
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        string sql = _dialect is SqliteDialect
            ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('checkpoint', 'checkpoint_chunk', 'eval_result')"
            : "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('checkpoint', 'checkpoint_chunk', 'eval_result')";
        await using DbCommand cmd = _dialect.Command(conn, null, sql);
        _tablesSeen = Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture) == 3;
        return _tablesSeen;
    }

    private void RejectWriteIfReadOnly()
    {
        if (_readOnly) throw new InvalidOperationException($"the run store {Where} was opened read-only");
    }

    public async Task SaveCheckpointAsync(Checkpoint checkpoint, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        RejectWriteIfReadOnly();
        byte[] payload = Serialize(checkpoint);
        string sha = Hash(checkpoint, payload);
        int chunks = (payload.Length + ChunkBytes - 1) / ChunkBytes;
        long created = _clock.GetUtcNow().ToUnixTimeMilliseconds();

        await EnsureAsync(ct).ConfigureAwait(false);
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        // SQLite: BEGIN IMMEDIATE (the driver's default), so the write lock is taken up front and never upgraded.
        await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        await DeleteStepsAsync(conn, tx, "step = @step", checkpoint.Step, ct).ConfigureAwait(false);
        await using (DbCommand row = _dialect.Command(conn, tx,
            "INSERT INTO checkpoint (step, created, epoch, step_in_epoch, adam_step, data_seed, identity, palette, bytes, sha256, chunks) " +
            "VALUES (@step, @created, @epoch, @sie, @adam, @seed, @identity, @palette, @bytes, @sha, @chunks)"))
        {
            SqlDialect.Parameter(row, "@step", checkpoint.Step);
            SqlDialect.Parameter(row, "@created", created);
            SqlDialect.Parameter(row, "@epoch", checkpoint.Epoch);
            SqlDialect.Parameter(row, "@sie", checkpoint.StepInEpoch);
            SqlDialect.Parameter(row, "@adam", checkpoint.AdamStep);
            // ulong has no SQL type; the bits travel as a signed 64-bit integer and come back unchanged.
            SqlDialect.Parameter(row, "@seed", unchecked((long)checkpoint.DataSeed));
            SqlDialect.Parameter(row, "@identity", checkpoint.IdentityJson);
            SqlDialect.Parameter(row, "@palette", checkpoint.PaletteJson);
            SqlDialect.Parameter(row, "@bytes", (long)payload.Length);
            SqlDialect.Parameter(row, "@sha", sha);
            SqlDialect.Parameter(row, "@chunks", chunks);
            await row.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using (DbCommand chunk = _dialect.Command(conn, tx, "INSERT INTO checkpoint_chunk (step, idx, data) VALUES (@step, @idx, @data)"))
        {
            SqlDialect.Parameter(chunk, "@step", checkpoint.Step);
            DbParameter idx = SqlDialect.Parameter(chunk, "@idx", 0);
            DbParameter data = SqlDialect.Parameter(chunk, "@data", Array.Empty<byte>());
            // One buffer for every full chunk: the command has consumed it before the next copy.
            byte[] full = new byte[Math.Min(ChunkBytes, payload.Length)];
            for (int i = 0; i < chunks; i++)
            {
                int offset = i * ChunkBytes, length = Math.Min(ChunkBytes, payload.Length - offset);
                byte[] buffer = length == full.Length ? full : new byte[length];
                payload.AsSpan(offset, length).CopyTo(buffer);
                idx.Value = i;
                data.Value = buffer;
                await chunk.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                if (AfterChunkForTests is { } hook) await hook(i, ct).ConfigureAwait(false);
            }
        }
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    public async Task<Checkpoint?> LoadLatestCheckpointAsync(Action<string> warn, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(warn);
        if (!await EnsureAsync(ct).ConfigureAwait(false)) return null;
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        // One read transaction, so that the catalogue and the chunks come from one snapshot even while a writer
        // saves or prunes beside us.
        await using DbTransaction tx = await BeginReadAsync(conn, ct).ConfigureAwait(false);
        var rows = new List<Row>();
        await using (DbCommand cmd = _dialect.Command(conn, tx,
            "SELECT step, epoch, step_in_epoch, adam_step, data_seed, identity, palette, bytes, sha256, chunks FROM checkpoint ORDER BY step DESC"))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                rows.Add(new Row(r.GetInt64(0), r.GetInt64(1), r.GetInt32(2), r.GetInt32(3), unchecked((ulong)r.GetInt64(4)),
                    r.GetString(5), r.GetString(6), r.GetInt64(7), r.GetString(8), r.GetInt32(9)));
        }
        for (int k = 0; k < rows.Count; k++)
        {
            Row row = rows[k];
            (Checkpoint? checkpoint, string? problem) = await ReadCheckpointAsync(conn, tx, row, ct).ConfigureAwait(false);
            if (checkpoint is not null) return checkpoint;
            warn($"checkpoint step {row.Step} in {Where}: {problem}; " +
                 (k + 1 < rows.Count ? "falling back to the previous one" : "no older checkpoint is left"));
        }
        return null;
    }

    private sealed record Row(long Step, long Epoch, int StepInEpoch, int AdamStep, ulong DataSeed,
        string Identity, string Palette, long Bytes, string Sha256, int Chunks);

    /// <summary>Reassembles and verifies one checkpoint; on failure says why instead.</summary>
    private async Task<(Checkpoint?, string?)> ReadCheckpointAsync(DbConnection conn, DbTransaction tx, Row row, CancellationToken ct)
    {
        if (row.Bytes is < HeaderBytes or > int.MaxValue || row.Chunks != (row.Bytes + ChunkBytes - 1) / ChunkBytes)
            return (null, $"bad catalogue row ({row.Bytes} bytes in {row.Chunks} chunks)");
        byte[] payload = new byte[row.Bytes];
        int expected = 0, filled = 0;
        await using (DbCommand cmd = _dialect.Command(conn, tx, "SELECT idx, data FROM checkpoint_chunk WHERE step = @step ORDER BY idx"))
        {
            SqlDialect.Parameter(cmd, "@step", row.Step);
            await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                int idx = r.GetInt32(0);
                if (idx != expected) return (null, $"chunk {expected} of {row.Chunks} missing");
                // Straight into the payload (a null buffer asks for the length): no 1 MiB array per chunk.
                long length = r.GetBytes(1, 0, null, 0, 0);
                int want = (int)Math.Min(ChunkBytes, row.Bytes - filled);
                if (length != want) return (null, $"chunk {idx} has {length} bytes instead of {want}");
                if (r.GetBytes(1, 0, payload, filled, want) != want) return (null, $"chunk {idx} could not be read whole");
                filled += want;
                expected++;
            }
        }
        if (expected != row.Chunks) return (null, $"chunk {expected} of {row.Chunks} missing");
        var scalars = new Checkpoint(row.Step, row.Epoch, row.StepInEpoch, [], [], [], row.AdamStep, row.Identity, row.Palette, row.DataSeed);
        string sha = Hash(scalars, payload);
        if (!string.Equals(sha, row.Sha256, StringComparison.Ordinal))
            return (null, $"hash mismatch (stored {Prefix(row.Sha256)}, computed {Prefix(sha)})");
        // The hash matched, so a bad header means a writer bug rather than damage; still refuse it, never throw.
        if (!TryDeserialize(payload, out float[] p, out float[] m, out float[] v))
            return (null, "bad payload header");
        return (scalars with { Parameters = p, AdamM = m, AdamV = v }, null);
    }

    private static string Prefix(string sha) => sha.Length > 12 ? sha[..12] : sha;

    public async Task<IReadOnlyList<CheckpointInfo>> ListCheckpointsAsync(CancellationToken ct = default)
    {
        if (!await EnsureAsync(ct).ConfigureAwait(false)) return [];
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        await using DbCommand cmd = _dialect.Command(conn, null, "SELECT step, created, bytes, sha256 FROM checkpoint ORDER BY step");
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<CheckpointInfo>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            list.Add(new CheckpointInfo(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetInt64(2), r.GetString(3)));
        return list;
    }

    public async Task PruneCheckpointsAsync(int keep, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        RejectWriteIfReadOnly();
        await EnsureAsync(ct).ConfigureAwait(false);
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        object? oldestKept;
        await using (DbCommand cmd = _dialect.Command(conn, tx, "SELECT step FROM checkpoint ORDER BY step DESC LIMIT 1 OFFSET @skip"))
        {
            SqlDialect.Parameter(cmd, "@skip", keep - 1);
            oldestKept = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        }
        if (oldestKept is null or DBNull) return;
        await DeleteStepsAsync(conn, tx, "step < @step", Convert.ToInt64(oldestKept, CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    private async Task DeleteStepsAsync(DbConnection conn, DbTransaction tx, string where, long step, CancellationToken ct)
    {
        foreach (string table in (string[])["checkpoint_chunk", "checkpoint"])
        {
            await using DbCommand cmd = _dialect.Command(conn, tx, $"DELETE FROM {table} WHERE {where}");
            SqlDialect.Parameter(cmd, "@step", step);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    public async Task SaveEvalAsync(EvalResult result, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        RejectWriteIfReadOnly();
        await EnsureAsync(ct).ConfigureAwait(false);
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        await using DbCommand cmd = _dialect.Command(conn, null,
            "INSERT INTO eval_result (step, created, json) VALUES (@step, @created, @json) " +
            "ON CONFLICT (step) DO UPDATE SET created = excluded.created, json = excluded.json");
        SqlDialect.Parameter(cmd, "@step", result.Step);
        SqlDialect.Parameter(cmd, "@created", _clock.GetUtcNow().ToUnixTimeMilliseconds());
        SqlDialect.Parameter(cmd, "@json", JsonSerializer.Serialize(result, Json));
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<EvalResult>> ListEvalsAsync(CancellationToken ct = default)
    {
        if (!await EnsureAsync(ct).ConfigureAwait(false)) return [];
        await using DbConnection conn = await _dialect.OpenAsync(ct).ConfigureAwait(false);
        await using DbCommand cmd = _dialect.Command(conn, null, "SELECT step, json FROM eval_result ORDER BY step");
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<EvalResult>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            long step = r.GetInt64(0);
            EvalResult? e;
            try { e = JsonSerializer.Deserialize<EvalResult>(r.GetString(1), Json); }
            catch (JsonException x) { throw new InvalidDataException($"eval_result step {step} in {Where} is not an evaluation: {x.Message}", x); }
            list.Add(e ?? throw new InvalidDataException($"eval_result step {step} in {Where} is JSON null"));
        }
        return list;
    }

    public ValueTask DisposeAsync() => _dialect.DisposeAsync();

    /// <summary>A reading transaction that takes no write lock: SQLite's deferred BEGIN (the driver's default is
    /// IMMEDIATE, which would queue behind a writer), PostgreSQL's REPEATABLE READ for one snapshot.</summary>
    private static async Task<DbTransaction> BeginReadAsync(DbConnection conn, CancellationToken ct) =>
        conn is SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);

    /// <summary>Header (magic, three lengths, little-endian), then parameters, m and v as little-endian floats,
    /// bit for bit (NaN payloads and -0 included).</summary>
    internal static byte[] Serialize(Checkpoint c)
    {
        long floats = (long)c.Parameters.Length + c.AdamM.Length + c.AdamV.Length;
        if (HeaderBytes + floats * 4 > Array.MaxLength)
            throw new ArgumentException($"checkpoint step {c.Step} has {floats} floats, more than one 2 GiB payload holds", nameof(c));
        byte[] payload = new byte[HeaderBytes + floats * 4];
        Span<byte> s = payload;
        BinaryPrimitives.WriteUInt64LittleEndian(s, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(s[8..], c.Parameters.Length);
        BinaryPrimitives.WriteInt64LittleEndian(s[16..], c.AdamM.Length);
        BinaryPrimitives.WriteInt64LittleEndian(s[24..], c.AdamV.Length);
        int at = HeaderBytes;
        foreach (float[] a in (ReadOnlySpan<float[]>)[c.Parameters, c.AdamM, c.AdamV])
        {
            WriteFloats(a, s.Slice(at, a.Length * 4));
            at += a.Length * 4;
        }
        return payload;
    }

    internal static bool TryDeserialize(byte[] payload, out float[] parameters, out float[] m, out float[] v)
    {
        parameters = m = v = [];
        if (payload.Length < HeaderBytes || BinaryPrimitives.ReadUInt64LittleEndian(payload) != Magic) return false;
        long np = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(8)), nm = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(16)),
             nv = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(24));
        if (np < 0 || nm < 0 || nv < 0 || np > int.MaxValue || nm > int.MaxValue || nv > int.MaxValue) return false;
        if (HeaderBytes + (np + nm + nv) * 4 != payload.Length) return false;
        parameters = ReadFloats(payload.AsSpan(HeaderBytes, (int)np * 4));
        m = ReadFloats(payload.AsSpan(HeaderBytes + (int)np * 4, (int)nm * 4));
        v = ReadFloats(payload.AsSpan(HeaderBytes + (int)(np + nm) * 4, (int)nv * 4));
        return true;
    }

    // Integer bits, not float values, so that no NaN is ever canonicalised on the way.
    private static void WriteFloats(float[] a, Span<byte> dst)
    {
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(a.AsSpan()).CopyTo(dst);
        else for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(dst[(i * 4)..], BitConverter.SingleToInt32Bits(a[i]));
    }

    private static float[] ReadFloats(ReadOnlySpan<byte> src)
    {
        float[] a = new float[src.Length / 4];
        if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(a.AsSpan()));
        else for (int i = 0; i < a.Length; i++) a[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]));
        return a;
    }

    /// <summary>SHA-256 (lowercase hex) over the scalar fields, in a fixed little-endian layout with length-prefixed
    /// UTF-8 strings, then the payload: changing any of them, in the catalogue or in a chunk, changes the hash.</summary>
    internal static string Hash(Checkpoint c, byte[] payload)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> s = stackalloc byte[8 + 8 + 4 + 4 + 8];
        BinaryPrimitives.WriteInt64LittleEndian(s, c.Step);
        BinaryPrimitives.WriteInt64LittleEndian(s[8..], c.Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], c.StepInEpoch);
        BinaryPrimitives.WriteInt32LittleEndian(s[20..], c.AdamStep);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], c.DataSeed);
        h.AppendData(s);
        Span<byte> len = stackalloc byte[4];
        foreach (string text in (ReadOnlySpan<string>)[c.IdentityJson, c.PaletteJson])
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            BinaryPrimitives.WriteInt32LittleEndian(len, utf8.Length);
            h.AppendData(len);
            h.AppendData(utf8);
        }
        h.AppendData(payload);
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }
}
