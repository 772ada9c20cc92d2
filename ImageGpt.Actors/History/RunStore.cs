using System.Data.Common;
using System.Globalization;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ImageGpt.Actors.History;

/// <summary>
/// The run's database: SQLite (run.db in the run directory, the default) or PostgreSQL (shared by many runs and,
/// later, a cluster). It holds the Akka.Persistence.Sql tables (journal, snapshot, tags), which Akka creates and
/// writes, and the checkpoint payloads (<see cref="CheckpointBlobs"/>), which are ours: Akka's snapshot rows are
/// one blob each and a payload may be several GB. Opening checks that the database is reachable and usable and
/// creates the blob tables, so that a bad store is a one-line error before anything starts.
/// </summary>
public sealed class RunStore : IAsyncDisposable
{
    public const string SqliteFileName = "run.db";

    /// <summary>
    /// How long a write waits for SQLite's one write lock. The journal, the snapshot store and the payload writer share
    /// the file; a payload is committed in slices of <see cref="CheckpointBlobs.ChunksPerTransaction"/> chunks, so the
    /// wait is normally a fraction of a second; the limit only guards against a stuck process.
    /// </summary>
    public static readonly TimeSpan SqliteBusyTimeout = TimeSpan.FromMinutes(5);

    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqlite;

    private RunStore(string provider, string where, string akkaConnectionString, string? sqlite, NpgsqlDataSource? postgres)
    {
        Provider = provider;
        Where = where;
        AkkaConnectionString = akkaConnectionString;
        _sqlite = sqlite;
        _postgres = postgres;
        Blobs = new CheckpointBlobs(this);
    }

    /// <summary>"sqlite" or "postgres".</summary>
    public string Provider { get; }

    /// <summary>For messages: the SQLite file or postgres://host:port/database (never the password).</summary>
    public string Where { get; }

    /// <summary>Akka.Persistence.Sql's provider-name (linq2db's): SQLite.MS or PostgreSQL.15.</summary>
    public string AkkaProviderName => Provider == "sqlite" ? "SQLite.MS" : "PostgreSQL.15";

    /// <summary>The connection string Akka.Persistence.Sql uses for the journal, snapshot store and queries.</summary>
    public string AkkaConnectionString { get; }

    public CheckpointBlobs Blobs { get; }

    /// <summary>Opens the store the settings name (sqlite: <paramref name="runDir"/>/run.db, created if missing).</summary>
    /// <param name="mustExist">For readers (status): never create run.db; a missing one is an error.</param>
    /// <exception cref="UserError">The database cannot be created, opened, reached or is not a database.</exception>
    public static RunStore Open(CheckpointSettings settings, string runDir, bool mustExist = false)
    {
        ArgumentNullException.ThrowIfNull(settings);
        RunStore store = settings.Store switch
        {
            "sqlite" => OpenSqlite(Path.Combine(runDir, SqliteFileName), mustExist),
            "postgres" => OpenPostgres(settings.Postgres),
            _ => throw new UserError($"checkpoint.store = '{settings.Store}' is not a store. HINT: set checkpoint.store to sqlite or postgres"),
        };
        try
        {
            store.CreateTables(mustExist);
            return store;
        }
        catch (Exception e) when (e is SqliteException or NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw store.Provider == "sqlite"
                ? new UserError($"cannot use the run store {store.Where}: {OneLine(e.Message)}. HINT: check that the run directory is writable and {SqliteFileName} is the SQLite file of a run (move a damaged one away to start over), or set checkpoint.store = postgres")
                : new UserError($"cannot reach the run store {store.Where}: {OneLine(e.Message)}. HINT: check checkpoint.postgres (host, port, user, password, database) and that the server is running");
        }
    }

    private static RunStore OpenSqlite(string path, bool mustExist)
    {
        if (mustExist && !File.Exists(path))
            throw new UserError($"no run store {path}. HINT: the run has not started yet, or pass the right --run-dir");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot create the run directory {dir}: {OneLine(e.Message)}. HINT: pass a writable run directory (--run-dir or run.dir)");
        }
        var b = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy database until the command timeout: this is the busy timeout of the
            // journal's and snapshot store's connections (Akka.Persistence.Sql opens them from this string).
            DefaultTimeout = (int)SqliteBusyTimeout.TotalSeconds,
        };
        return new RunStore("sqlite", path, b.ToString(), b.ToString(), null);
    }

    private static RunStore OpenPostgres(string connectionString)
    {
        NpgsqlConnectionStringBuilder b;
        try { b = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (ArgumentException e)
        {
            throw new UserError($"checkpoint.postgres is not a connection string: {OneLine(e.Message)}. HINT: write it as Host=127.0.0.1;Port=5432;Username=u;Password=p;Database=d");
        }
        // A checkpoint slice of a few tens of MB must not hit the default 30 s command timeout on a slow server.
        b.CommandTimeout = Math.Max(b.CommandTimeout, 300);
        return new RunStore("postgres", $"postgres://{b.Host}:{b.Port}/{b.Database}", connectionString, null, NpgsqlDataSource.Create(b));
    }

    private void CreateTables(bool readOnly)
    {
        using DbConnection c = Connect();
        if (Provider == "sqlite")
        {
            // Fails here, with SQLite's own message, when run.db is not a database.
            Execute(c, null, "PRAGMA quick_check");
            if (readOnly) return;
            // WAL is a property of the file: readers (status, the evaluator's queries) never block the one writer.
            Execute(c, null, "PRAGMA journal_mode = WAL");
        }
        if (readOnly) return;
        using DbTransaction tx = c.BeginTransaction();
        // CREATE TABLE IF NOT EXISTS is not safe against a concurrent CREATE in PostgreSQL; creators take turns.
        if (Provider == "postgres") Execute(c, tx, "SELECT pg_advisory_xact_lock(7305166253717)");
        string blob = Provider == "sqlite" ? "BLOB" : "BYTEA";
        Execute(c, tx, $"""
            CREATE TABLE IF NOT EXISTS checkpoint_blob (
                blob_id VARCHAR(64) NOT NULL PRIMARY KEY,
                run_id VARCHAR(255) NOT NULL,
                step BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                chunks INTEGER NOT NULL,
                sha256 VARCHAR(64) NOT NULL,
                complete INTEGER NOT NULL,
                created BIGINT NOT NULL);
            CREATE TABLE IF NOT EXISTS checkpoint_chunk (
                blob_id VARCHAR(64) NOT NULL,
                idx INTEGER NOT NULL,
                data {blob} NOT NULL,
                PRIMARY KEY (blob_id, idx));
            CREATE INDEX IF NOT EXISTS checkpoint_blob_run ON checkpoint_blob (run_id, step);
            """);
        tx.Commit();
    }

    /// <summary>A new open connection (busy timeout set for SQLite).</summary>
    internal DbConnection Connect()
    {
        if (_postgres is not null) return _postgres.OpenConnection();
        var c = new SqliteConnection(_sqlite);
        try
        {
            c.Open();
            Execute(c, null, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {(long)SqliteBusyTimeout.TotalMilliseconds}"));
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    internal static DbCommand Command(DbConnection c, DbTransaction? tx, string sql)
    {
        DbCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.CommandTimeout = (int)SqliteBusyTimeout.TotalSeconds;
        return cmd;
    }

    internal static void Execute(DbConnection c, DbTransaction? tx, string sql)
    {
        using DbCommand cmd = Command(c, tx, sql);
        cmd.ExecuteNonQuery();
    }

    internal static DbParameter Parameter(DbCommand cmd, string name, object? value)
    {
        DbParameter p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
        return p;
    }

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ").TrimEnd('.');

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null) await _postgres.DisposeAsync().ConfigureAwait(false);
    }
}
