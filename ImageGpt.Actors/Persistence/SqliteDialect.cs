using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Actors.Persistence;

internal sealed class SqliteDialect : SqlDialect
{
    private readonly string _connectionString;
    private readonly string _perConnectionPragmas;

    /// <param name="readOnly">Open the file read-only and never create it: for a reader beside the writing
    /// process (WAL lets it read while the writer commits).</param>
    public SqliteDialect(string path, SqlStoreOptions options, bool readOnly = false)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException("the SQLite database path is empty. HINT: pass a file path such as runs/journal.db", nameof(path));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds)),
        }.ToString();
        CommandTimeoutSeconds = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        // busy_timeout and synchronous belong to the connection, not the file, so every open sets them again
        // (a pooled connection keeps them, which makes repeating them cheap). The busy timeout is the command
        // timeout: WAL mode lets readers run beside the one writer, so only a writer waits, for another
        // writer's commit, and that wait is bounded like any other command.
        _perConnectionPragmas =
            $"PRAGMA busy_timeout = {CommandTimeoutSeconds * 1000L}; " +
            $"PRAGMA synchronous = {(options.Synchronous == SqliteSynchronous.Full ? "FULL" : "NORMAL")};";
        Path = path;
    }

    public string Path { get; }
    public override string Name => "sqlite";
    public override string Greatest => "max";
    public override string BlobType => "BLOB";
    public override int CommandTimeoutSeconds { get; }

    // WAL is a property of the file, so setting it once is enough; readers then never block the writer.
    // It cannot be switched inside a transaction, hence its own statement.
    public override string? BeforeSchemaSql => "PRAGMA journal_mode = WAL;";

    // AUTOINCREMENT keeps ordering strictly increasing even after the newest rows are deleted.
    public override string SchemaSql => """
        CREATE TABLE IF NOT EXISTS journal (
            ordering INTEGER PRIMARY KEY AUTOINCREMENT,
            persistence_id TEXT NOT NULL,
            sequence_nr INTEGER NOT NULL,
            manifest TEXT NOT NULL,
            payload BLOB NOT NULL,
            created INTEGER NOT NULL,
            tags TEXT NULL,
            UNIQUE (persistence_id, sequence_nr));
        CREATE TABLE IF NOT EXISTS journal_metadata (
            persistence_id TEXT NOT NULL PRIMARY KEY,
            sequence_nr INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id TEXT NOT NULL,
            sequence_nr INTEGER NOT NULL,
            created INTEGER NOT NULL,
            manifest TEXT NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (persistence_id, sequence_nr));
        """;

    public override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        try
        {
            await c.OpenAsync(ct).ConfigureAwait(false);
            using DbCommand cmd = Command(c, null, _perConnectionPragmas);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // SQLITE_CONSTRAINT (19) with the extended codes for UNIQUE (2067) and PRIMARY KEY (1555).
    public override bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
