using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;

namespace ImageGpt.Actors.History;

/// <summary>Where a committed payload is: its blob, length and SHA-256 (lowercase hex).</summary>
public sealed record BlobInfo(string BlobId, long Bytes, string Sha256);

/// <summary>
/// Checkpoint payloads as chunked blobs in the run's database: table <c>checkpoint_blob</c> (one row per payload:
/// run, step, length, chunk count, SHA-256, complete flag) and <c>checkpoint_chunk</c> (1 MiB pieces). A payload is
/// streamed in, hashed on the way, committed <see cref="ChunksPerTransaction"/> chunks at a time (so SQLite's one write
/// lock is never held for long and the journal can write beside it), then marked complete; only after that does
/// the writer journal the <see cref="CheckpointCommitted"/> event that names it. A process killed on the way leaves an
/// incomplete or unnamed blob, which no event points at and <see cref="Sweep"/> removes. Reading streams the chunks
/// back, checks their order and lengths and the hash. Synchronous: it runs on the checkpoint writer's own thread.
/// </summary>
public sealed class CheckpointBlobs : ICheckpointStore
{
    /// <summary>Large enough that a checkpoint of hundreds of MB is hundreds of rows, small enough that no value strains a driver.</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>32 MiB per transaction: a fraction of a second of SQLite's write lock.</summary>
    public const int ChunksPerTransaction = 32;

    private readonly RunStore _store;

    internal CheckpointBlobs(RunStore store) => _store = store;

    /// <summary>Runs after each chunk insert (with its index); the kill test parks a child process there.</summary>
    internal Action<int>? AfterChunkForTests { get; set; }

    /// <summary>A stream that writes a new payload of <paramref name="runId"/>'s step <paramref name="step"/>; <see cref="BlobWriter.Commit"/> makes it complete.</summary>
    public BlobWriter Create(string runId, long step) => new(_store, runId, step, AfterChunkForTests);

    public BlobInfo Write(string runId, Checkpoint checkpoint)
    {
        using BlobWriter w = Create(runId, checkpoint.Step);
        CheckpointPayload.Write(checkpoint, w);
        return w.Commit();
    }

    /// <summary>A stream over a complete payload; it throws <see cref="InvalidDataException"/> on a missing, extra or short chunk.</summary>
    public BlobReader OpenRead(string blobId, long bytes) => new(_store, blobId, bytes);

    /// <summary>The checkpoint an event names, verified (length, chunks, SHA-256, header against the event); null with the reason otherwise.</summary>
    public (Checkpoint? Checkpoint, string? Problem) Read(CheckpointCommitted committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        BlobRow? row = Find(committed.BlobId);
        if (row is null) return (null, $"its payload {committed.BlobId} is missing");
        if (!row.Complete) return (null, $"its payload {committed.BlobId} is incomplete");
        if (row.Bytes != committed.Bytes) return (null, $"its payload has {row.Bytes} bytes, the event says {committed.Bytes}");
        try
        {
            using BlobReader reader = OpenRead(committed.BlobId, committed.Bytes);
            var (checkpoint, problem) = CheckpointPayload.Read(reader);
            // The hash covers every byte, also those after a header that does not fit them.
            reader.CopyTo(Stream.Null);
            if (!string.Equals(reader.Sha256, committed.Sha256, StringComparison.Ordinal))
                return (null, $"hash mismatch (recorded {Prefix(committed.Sha256)}, computed {Prefix(reader.Sha256)})");
            if (checkpoint is null) return (null, problem);
            if ((checkpoint.Step, checkpoint.Epoch, checkpoint.StepInEpoch, checkpoint.AdamStep, checkpoint.DataSeed) !=
                (committed.Step, committed.Epoch, committed.StepInEpoch, committed.AdamStep, committed.DataSeed))
                return (null, "its payload header disagrees with the event");
            return (checkpoint, null);
        }
        catch (InvalidDataException e)
        {
            return (null, e.Message);
        }
    }

    private static string Prefix(string sha) => sha.Length > 12 ? sha[..12] : sha;

    /// <summary>One payload's catalogue row.</summary>
    public sealed record BlobRow(string BlobId, string RunId, long Step, long Bytes, int Chunks, string Sha256, bool Complete);

    public BlobRow? Find(string blobId) => Rows("blob_id = @key", blobId).FirstOrDefault();

    /// <summary>Every payload of the run, complete or not, by step.</summary>
    public IReadOnlyList<BlobRow> List(string runId) => Rows("run_id = @key", runId);

    private List<BlobRow> Rows(string where, string key)
    {
        using DbConnection c = _store.Connect();
        using DbCommand cmd = RunStore.Command(c, null, $"SELECT blob_id, run_id, step, bytes, chunks, sha256, complete FROM checkpoint_blob WHERE {where} ORDER BY step, created");
        RunStore.Parameter(cmd, "@key", key);
        using DbDataReader r = cmd.ExecuteReader();
        var rows = new List<BlobRow>();
        while (r.Read())
            rows.Add(new BlobRow(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt32(4), r.GetString(5), r.GetInt32(6) != 0));
        return rows;
    }

    /// <summary>Deletes payloads (pruning); each blob in its own transaction.</summary>
    public void Delete(IEnumerable<string> blobIds)
    {
        using DbConnection c = _store.Connect();
        foreach (string id in blobIds)
        {
            using DbTransaction tx = c.BeginTransaction();
            foreach (string table in (string[])["checkpoint_chunk", "checkpoint_blob"])
            {
                using DbCommand cmd = RunStore.Command(c, tx, $"DELETE FROM {table} WHERE blob_id = @id");
                RunStore.Parameter(cmd, "@id", id);
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>Deletes the run's payloads that no live event names (left by a process killed while writing); returns how many.</summary>
    public int Sweep(string runId, IReadOnlySet<string> named)
    {
        var orphans = List(runId).Where(b => !named.Contains(b.BlobId)).Select(b => b.BlobId).ToList();
        Delete(orphans);
        return orphans.Count;
    }

    internal static string NewId(long step) =>
        string.Create(CultureInfo.InvariantCulture, $"{step}-{Guid.NewGuid():N}");
}

/// <summary>
/// Writes one payload: buffers a chunk, inserts it, commits every <see cref="CheckpointBlobs.ChunksPerTransaction"/>
/// chunks and hashes every byte. Disposing without <see cref="Commit"/> rolls back what is open and leaves an incomplete
/// blob for <see cref="CheckpointBlobs.Sweep"/>.
/// </summary>
public sealed class BlobWriter : Stream
{
    private readonly DbConnection _connection;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _chunk = new byte[CheckpointBlobs.ChunkBytes];
    private readonly Action<int>? _afterChunk;
    private DbTransaction? _tx;
    private DbCommand? _insert;
    private DbParameter? _idx, _data;
    private int _filled, _chunks;
    private long _bytes;
    private bool _committed;

    internal BlobWriter(RunStore store, string runId, long step, Action<int>? afterChunk)
    {
        BlobId = CheckpointBlobs.NewId(step);
        _afterChunk = afterChunk;
        _connection = store.Connect();
        using DbCommand row = RunStore.Command(_connection, null,
            "INSERT INTO checkpoint_blob (blob_id, run_id, step, bytes, chunks, sha256, complete, created) VALUES (@id, @run, @step, 0, 0, '', 0, @created)");
        RunStore.Parameter(row, "@id", BlobId);
        RunStore.Parameter(row, "@run", runId);
        RunStore.Parameter(row, "@step", step);
        RunStore.Parameter(row, "@created", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        row.ExecuteNonQuery();
    }

    public string BlobId { get; }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        _hash.AppendData(buffer);
        _bytes += buffer.Length;
        while (buffer.Length > 0)
        {
            int n = Math.Min(buffer.Length, _chunk.Length - _filled);
            buffer[..n].CopyTo(_chunk.AsSpan(_filled));
            _filled += n;
            buffer = buffer[n..];
            if (_filled == _chunk.Length) InsertChunk();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    private void InsertChunk()
    {
        if (_tx is null)
        {
            _tx = _connection.BeginTransaction();
            _insert = RunStore.Command(_connection, _tx, "INSERT INTO checkpoint_chunk (blob_id, idx, data) VALUES (@id, @idx, @data)");
            RunStore.Parameter(_insert, "@id", BlobId);
            _idx = RunStore.Parameter(_insert, "@idx", 0);
            _data = RunStore.Parameter(_insert, "@data", Array.Empty<byte>());
        }
        _idx!.Value = _chunks;
        // The full buffer is consumed by the insert before the next chunk overwrites it; only a short last chunk needs its own array.
        _data!.Value = _filled == _chunk.Length ? _chunk : _chunk.AsSpan(0, _filled).ToArray();
        _insert!.ExecuteNonQuery();
        _afterChunk?.Invoke(_chunks);
        _chunks++;
        _filled = 0;
        if (_chunks % CheckpointBlobs.ChunksPerTransaction == 0) CommitSlice();
    }

    private void CommitSlice()
    {
        _tx?.Commit();
        _insert?.Dispose();
        _tx?.Dispose();
        (_tx, _insert) = (null, null);
    }

    /// <summary>Writes the last chunk and marks the blob complete with its length and hash.</summary>
    public BlobInfo Commit()
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        if (_filled > 0) InsertChunk();
        CommitSlice();
        string sha = Convert.ToHexStringLower(_hash.GetHashAndReset());
        using (DbCommand done = RunStore.Command(_connection, null, "UPDATE checkpoint_blob SET bytes = @bytes, chunks = @chunks, sha256 = @sha, complete = 1 WHERE blob_id = @id"))
        {
            RunStore.Parameter(done, "@bytes", _bytes);
            RunStore.Parameter(done, "@chunks", _chunks);
            RunStore.Parameter(done, "@sha", sha);
            RunStore.Parameter(done, "@id", BlobId);
            done.ExecuteNonQuery();
        }
        _committed = true;
        return new BlobInfo(BlobId, _bytes, sha);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _insert?.Dispose();
            _tx?.Dispose();
            _connection.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_committed;
    public override long Length => _bytes;
    public override long Position { get => _bytes; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// Reads one payload's chunks in order, one at a time, checking each index and length, and hashes what it returns;
/// <see cref="Sha256"/> is the hash of the whole payload once the stream is read to its end.
/// </summary>
public sealed class BlobReader : Stream
{
    private readonly DbConnection _connection;
    private readonly DbCommand _select;
    private readonly DbDataReader _rows;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _chunk = new byte[CheckpointBlobs.ChunkBytes];
    private readonly long _bytes;
    private readonly string _blobId;
    private int _start, _end, _next;
    private long _position;
    private string? _sha;

    internal BlobReader(RunStore store, string blobId, long bytes)
    {
        _blobId = blobId;
        _bytes = bytes;
        _connection = store.Connect();
        _select = RunStore.Command(_connection, null, "SELECT idx, data FROM checkpoint_chunk WHERE blob_id = @id ORDER BY idx");
        RunStore.Parameter(_select, "@id", blobId);
        _rows = _select.ExecuteReader();
    }

    /// <summary>SHA-256 of the payload (lowercase hex), known when the stream has been read to its end.</summary>
    public string Sha256 => _sha ?? throw new InvalidOperationException("the payload has not been read to its end");

    public override int Read(Span<byte> buffer)
    {
        if (_start == _end && !NextChunk()) return 0;
        int n = Math.Min(buffer.Length, _end - _start);
        _chunk.AsSpan(_start, n).CopyTo(buffer);
        _start += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private bool NextChunk()
    {
        if (_position == _bytes)
        {
            if (_sha is null)
            {
                if (_rows.Read()) throw new InvalidDataException($"payload {_blobId} has more chunks than its {_bytes} bytes");
                _sha = Convert.ToHexStringLower(_hash.GetHashAndReset());
            }
            return false;
        }
        if (!_rows.Read()) throw new InvalidDataException($"chunk {_next} of payload {_blobId} is missing");
        int idx = _rows.GetInt32(0);
        if (idx != _next) throw new InvalidDataException($"chunk {_next} of payload {_blobId} is missing");
        int want = (int)Math.Min(CheckpointBlobs.ChunkBytes, _bytes - _position);
        long length = _rows.GetBytes(1, 0, null, 0, 0);
        if (length != want) throw new InvalidDataException($"chunk {idx} of payload {_blobId} has {length} bytes instead of {want}");
        if (_rows.GetBytes(1, 0, _chunk, 0, want) != want) throw new InvalidDataException($"chunk {idx} of payload {_blobId} could not be read whole");
        _hash.AppendData(_chunk.AsSpan(0, want));
        (_start, _end) = (0, want);
        _position += want;
        _next++;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _rows.Dispose();
            _select.Dispose();
            _connection.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _bytes;
    public override long Position { get => _position - (_end - _start); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
