using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Akka.Actor;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using static ImageGpt.Actors.Tests.Support.TestRuns;

namespace ImageGpt.Actors.Tests.History;

/// <summary>
/// A run's store, the same on every database: its history journaled by Akka.Persistence.Sql and read back through
/// Akka.Persistence.Query, its checkpoint payloads as chunked blobs. Each provider's subclass names a fresh store per
/// test and opens raw connections to it, through which tests damage what the store wrote.
/// </summary>
public abstract class HistoryStoreContract : IAsyncLifetime
{
    private readonly List<RunStore> _stores = [];
    private readonly List<ActorSystem> _systems = [];

    /// <summary>"sqlite" or "postgres", and the run directory or connection string, for the child process too.</summary>
    protected abstract (string Provider, string Target) Child { get; }

    /// <summary>A connection to this test's store that bypasses <see cref="RunStore"/>.</summary>
    protected abstract Task<DbConnection> OpenRawAsync();

    /// <summary>Provider-specific checks that the file or server is intact after a kill.</summary>
    protected virtual Task AssertStoreIntactAsync() => Task.CompletedTask;

    protected string RunDir => RunStoreKillChild.RunDir(Child.Provider, Child.Target);

    protected RunStore Store()
    {
        var s = RunStore.Open(RunStoreKillChild.Settings(Child.Provider, Child.Target), RunDir);
        _stores.Add(s);
        return s;
    }

    protected ActorSystem System(RunStore store)
    {
        var system = TestRuns.System(store);
        _systems.Add(system);
        return system;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var system in _systems) await system.ShutdownAsync();
        foreach (var s in _stores) await s.DisposeAsync();
    }

    protected async Task<long> ScalarAsync(string sql)
    {
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    protected async Task ExecuteAsync(string sql, byte[]? data = null)
    {
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        if (data is not null)
        {
            DbParameter p = cmd.CreateParameter();
            p.ParameterName = "@data";
            p.Value = data;
            cmd.Parameters.Add(p);
        }
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }

    private async Task<byte[]> ChunkAsync(string blobId, int idx)
    {
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT data FROM checkpoint_chunk WHERE blob_id = '{blobId}' AND idx = {idx}";
        return (byte[])(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task RecordAsync(IActorRef history, params IRunEvent[] events)
    {
        foreach (var e in events) await history.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(e), Patience);
    }

    private static string Json(object o) => JsonSerializer.Serialize(o, o.GetType(), new JsonSerializerOptions { NumberHandling = global::System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });

    private static IRunEvent[] OneOfEach(string runId, CheckpointCommitted committed) =>
    [
        new RunStarted(runId, """{"model":{"layers":2}}""", "[[0],[255]]", 100, DateTimeOffset.UnixEpoch),
        committed,
        new EvaluationRecorded(0, double.NaN, double.NaN, [new ProbeRow("0", 0.1, 0.5, 0.25), new ProbeRow("1 (ln_f)", 10, 0.75, 0.5)],
            new ProbeRow("raw pixels", 100, 0.8, 0.79), "/runs/x/completions-step-0.png", 12.5, [], DateTimeOffset.UnixEpoch.AddSeconds(1)),
        new EvaluationRecorded(4, 2.0, 2.0 / Math.Log(2), [], null, null, 1, [1, 2, 3], DateTimeOffset.UnixEpoch.AddSeconds(2)),
        new CheckpointsPruned([0, 1], DateTimeOffset.UnixEpoch.AddSeconds(3)),
        new RunStopped(4, "SIGTERM", DateTimeOffset.UnixEpoch.AddSeconds(4)),
        new RunResumed(4, DateTimeOffset.UnixEpoch.AddSeconds(5)),
        new RunFailed(5, "the parameter aggregator stopped", DateTimeOffset.UnixEpoch.AddSeconds(6)),
        new RunResumed(5, DateTimeOffset.UnixEpoch.AddSeconds(7)),
        new RunFinished(9, DateTimeOffset.UnixEpoch.AddSeconds(8)),
    ];

    [Fact]
    public async Task Every_kind_of_event_is_journaled_and_read_back_by_another_actor_system_through_the_query()
    {
        var store = Store();
        var checkpoint = Checkpoint(3, 1000);
        var committed = Committed(checkpoint, store.Blobs.Write("run-a", checkpoint));
        IRunEvent[] events = OneOfEach("run-a", committed);
        var writer = System(store);
        await RecordAsync(writer.ActorOf(Props.Create(() => new RunHistoryActor("run-a"))), events);

        // A second system stands for another process (imagegpt status) reading the same store.
        var reader = System(Store());
        var h = await RunJournal.ReadAsync(reader, "run-a").Bounded();
        Assert.Equal(events.Length, h.Events);
        Assert.Equal(Json(events[0]), Json(h.Started!));
        Assert.Equal([Json(committed)], h.Checkpoints.Select(Json));
        Assert.Equal([Json(events[2]), Json(events[3])], h.Evaluations.Select(Json));
        Assert.True(double.IsNaN(h.Evaluations[0].ValidationNats));
        Assert.Equal(2, h.Resumes.Count);
        Assert.IsType<RunFinished>(h.Ended);
        AssertSame(checkpoint, ((ICheckpointStore)store.Blobs).LoadLatest(h, w => Assert.Fail(w)));
    }

    [Fact]
    public async Task Two_runs_in_one_database_keep_their_own_histories_and_payloads()
    {
        var store = Store();
        var system = System(store);
        var a = Checkpoint(1, 500, salt: 1);
        var b = Checkpoint(1, 500, salt: 2);
        var blobA = store.Blobs.Write("run-a", a);
        var blobB = store.Blobs.Write("run-b", b);
        await RecordAsync(system.ActorOf(Props.Create(() => new RunHistoryActor("run-a"))), new RunStarted("run-a", "{}", "[]", 10, DateTimeOffset.UnixEpoch), Committed(a, blobA));
        await RecordAsync(system.ActorOf(Props.Create(() => new RunHistoryActor("run-b"))), new RunStarted("run-b", "{}", "[]", 20, DateTimeOffset.UnixEpoch), Committed(b, blobB));

        Assert.Equal(["run-a", "run-b"], (await RunJournal.RunIdsAsync(system).Bounded()).Order(StringComparer.Ordinal));
        var ha = await RunJournal.ReadAsync(system, "run-a").Bounded();
        var hb = await RunJournal.ReadAsync(system, "run-b").Bounded();
        Assert.Equal((10L, 20L), (ha.Started!.TotalSteps, hb.Started!.TotalSteps));
        AssertSame(a, ((ICheckpointStore)store.Blobs).LoadLatest(ha, w => Assert.Fail(w)));
        AssertSame(b, ((ICheckpointStore)store.Blobs).LoadLatest(hb, w => Assert.Fail(w)));
        // Sweeping one run's unnamed payloads never touches another run's.
        Assert.Equal(0, store.Blobs.Sweep("run-a", new HashSet<string> { blobA.BlobId }));
        Assert.Single(store.Blobs.List("run-b"));
    }

    [Fact]
    public async Task The_history_snapshots_every_200_events_keeps_only_the_newest_and_recovers_to_the_same_state()
    {
        var store = Store();
        var system = System(store);
        var first = system.ActorOf(Props.Create(() => new RunHistoryActor("long-run")), "first");
        await RecordAsync(first, new RunStarted("long-run", "{}", "[]", 1000, DateTimeOffset.UnixEpoch));
        for (int i = 1; i <= 449; i++)
            await RecordAsync(first, new EvaluationRecorded(i, 1.0 / i, 1.0 / i / Math.Log(2), [], null, null, 0, [], DateTimeOffset.UnixEpoch));
        var before = await first.Ask<RunHistorySnapshot>(new RunHistoryActor.GetHistory(), Patience);
        // Snapshots are saved and the older one deleted asynchronously, by the living actor (one stopped before its save
        // is confirmed leaves the older snapshot to the next save); both have happened once the newest is the only one.
        await WaitForAsync(async () =>
            await ScalarAsync("SELECT count(*) FROM snapshot WHERE persistence_id = 'long-run'") == 1 &&
            await ScalarAsync("SELECT max(sequence_number) FROM snapshot WHERE persistence_id = 'long-run'") == 400);
        await first.GracefulStop(Patience);

        var second = system.ActorOf(Props.Create(() => new RunHistoryActor("long-run")), "second");
        var after = await second.Ask<RunHistorySnapshot>(new RunHistoryActor.GetHistory(), Patience);
        Assert.Equal(450, after.Events);
        Assert.Equal(Json(before), Json(after));
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Patience, "condition not reached in time");
            await Task.Delay(20);
        }
    }

    [Fact]
    public void A_payload_of_several_chunks_loads_back_bit_for_bit_with_nan_payloads_and_negative_zero()
    {
        var store = Store();
        var c = Checkpoint(7, 300_000);
        BlobInfo blob = store.Blobs.Write("r", c);
        Assert.Equal(CheckpointPayload.Length(c), blob.Bytes);
        Assert.Equal(4, store.Blobs.Find(blob.BlobId)!.Chunks);
        var (loaded, problem) = store.Blobs.Read(Committed(c, blob));
        Assert.Null(problem);
        AssertSame(c, loaded);
    }

    [Fact]
    public async Task A_flipped_byte_is_a_hash_mismatch_and_loading_falls_back_to_the_previous_checkpoint()
    {
        var store = Store();
        var c1 = Checkpoint(1, 300_000);
        var c2 = Checkpoint(2, 300_000);
        var e1 = Committed(c1, store.Blobs.Write("r", c1));
        var e2 = Committed(c2, store.Blobs.Write("r", c2));
        byte[] chunk = await ChunkAsync(e2.BlobId, 2);
        chunk[12345] ^= 0x10;
        await ExecuteAsync($"UPDATE checkpoint_chunk SET data = @data WHERE blob_id = '{e2.BlobId}' AND idx = 2", chunk);

        var warnings = new List<string>();
        var loaded = ((ICheckpointStore)store.Blobs).LoadLatest(RunHistory.Of([e1, e2]), warnings.Add);

        AssertSame(c1, loaded);
        string warning = Assert.Single(warnings);
        Assert.Contains("step 2", warning);
        Assert.Contains("hash mismatch", warning);
        Assert.Contains("falling back", warning);
    }

    [Fact]
    public async Task A_missing_chunk_a_short_chunk_and_a_wrong_length_are_each_detected_and_named()
    {
        var store = Store();
        var c = Checkpoint(1, 300_000);
        var e = Committed(c, store.Blobs.Write("r", c));
        await ExecuteAsync($"DELETE FROM checkpoint_chunk WHERE blob_id = '{e.BlobId}' AND idx = 1");
        Assert.Contains("chunk 1", store.Blobs.Read(e).Problem);

        var c2 = Checkpoint(2, 300_000);
        var e2 = Committed(c2, store.Blobs.Write("r", c2));
        await ExecuteAsync($"UPDATE checkpoint_chunk SET data = @data WHERE blob_id = '{e2.BlobId}' AND idx = 3", new byte[10]);
        Assert.Contains("chunk 3", store.Blobs.Read(e2).Problem);

        Assert.Contains("bytes", store.Blobs.Read(e2 with { Bytes = e2.Bytes + 1 }).Problem);
        Assert.Contains("missing", store.Blobs.Read(e2 with { BlobId = "no-such-blob" }).Problem);
        var c3 = Checkpoint(3, 300_000);
        var e3 = Committed(c3, store.Blobs.Write("r", c3));
        Assert.Null(store.Blobs.Read(e3).Problem);
        Assert.Contains("disagrees", store.Blobs.Read(e3 with { AdamStep = 4 }).Problem);
    }

    [Fact]
    public void An_unfinished_payload_is_never_loaded_and_the_sweep_removes_the_payloads_no_event_names()
    {
        var store = Store();
        var kept = Checkpoint(1, 1000);
        BlobInfo named = store.Blobs.Write("r", kept);
        using (BlobWriter w = store.Blobs.Create("r", 2))
        {
            CheckpointPayload.Write(Checkpoint(2, 1000), w);
            Assert.False(store.Blobs.Find(w.BlobId)!.Complete);
            Assert.Contains("incomplete", store.Blobs.Read(Committed(Checkpoint(2, 1000), new BlobInfo(w.BlobId, 0, ""))).Problem);
        }
        BlobInfo orphan = store.Blobs.Write("r", Checkpoint(3, 1000));
        Assert.Equal(3, store.Blobs.List("r").Count);

        Assert.Equal(2, store.Blobs.Sweep("r", new HashSet<string> { named.BlobId }));

        Assert.Equal([named.BlobId], store.Blobs.List("r").Select(b => b.BlobId));
        Assert.Null(store.Blobs.Find(orphan.BlobId));
        AssertSame(kept, store.Blobs.Read(Committed(kept, named)).Checkpoint);
    }

    [Fact]
    public async Task The_journal_the_snapshot_store_and_payloads_write_at_once_without_a_locked_database()
    {
        var store = Store();
        var system = System(store);
        var journals = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            var h = system.ActorOf(Props.Create(() => new RunHistoryActor($"busy-{i}")));
            // 250 events: each actor also saves a snapshot at 200 while the others write.
            for (int k = 0; k < 250; k++)
                await RecordAsync(h, new EvaluationRecorded(k, 1, 1, [], null, null, 0, [], DateTimeOffset.UnixEpoch));
        })).ToList();
        var payloads = Task.Run(() =>
        {
            for (int k = 0; k < 4; k++) store.Blobs.Write("busy-payloads", Checkpoint(k, 2_000_000));
        });
        await Task.WhenAll([.. journals, payloads]).WaitAsync(TimeSpan.FromMinutes(5));
        for (int i = 0; i < 4; i++) Assert.Equal(250, (await RunJournal.ReadAsync(system, $"busy-{i}").Bounded()).Events);
        await WaitForAsync(async () => await ScalarAsync("SELECT count(*) FROM snapshot WHERE persistence_id LIKE 'busy-%'") == 4);
        Assert.Equal(4, store.Blobs.List("busy-payloads").Count(b => b.Complete));
    }

    [Fact]
    public async Task A_process_killed_inside_a_payload_leaves_the_previous_checkpoint_and_no_event_naming_the_partial_one()
    {
        foreach (int park in (int[])[0, 5])
        {
            string runId = $"killed-{park}";
            long committed = await RunChildThenKillAsync(runId, park);
            Assert.Equal(1, committed);
            await AssertStoreIntactAsync();
            var store = Store();
            var history = await RunJournal.ReadAsync(System(store), runId).Bounded();
            var e = Assert.Single(history.Checkpoints);
            Assert.Equal(1, e.Step);
            AssertSame(Checkpoint(1, RunStoreKillChild.Floats), ((ICheckpointStore)store.Blobs).LoadLatest(history, w => Assert.Fail(w)));
            var blobs = store.Blobs.List(runId);
            Assert.Equal(2, blobs.Count);
            Assert.False(blobs.Single(b => b.BlobId != e.BlobId).Complete);
            Assert.Equal(1, store.Blobs.Sweep(runId, new HashSet<string> { e.BlobId }));
            Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM checkpoint_chunk WHERE blob_id NOT IN (SELECT blob_id FROM checkpoint_blob)"));
        }
    }

    /// <summary>Runs the child until it parks inside its second payload, kills it (SIGKILL), returns the last step it reported.</summary>
    private async Task<long> RunChildThenKillAsync(string runId, int park)
    {
        string assembly = typeof(RunStoreKillChild).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(assembly);
        psi.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
        psi.Environment[RunStoreKillChild.ProviderVar] = Child.Provider;
        psi.Environment[RunStoreKillChild.TargetVar] = Child.Target;
        psi.Environment[RunStoreKillChild.RunVar] = runId;
        psi.Environment[RunStoreKillChild.ParkVar] = park.ToString(CultureInfo.InvariantCulture);
        using Process child = Process.Start(psi)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        long committed = 0;
        try
        {
            using var patience = new CancellationTokenSource(Patience);
            while (true)
            {
                string? line = await child.StandardOutput.ReadLineAsync(patience.Token);
                if (line is null)
                    Assert.Fail($"the child exited before it parked:\n{await stderr.WaitAsync(Patience)}");
                if (line.StartsWith("committed ", StringComparison.Ordinal)) committed = long.Parse(line[10..], CultureInfo.InvariantCulture);
                if (line == "mid-write") break;
            }
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync().WaitAsync(Patience);
        }
        return committed;
    }

    [Fact]
    public async Task A_payload_over_2_GiB_streams_in_and_out_without_being_held_in_memory()
    {
        // iGPT-M with Adam's moments is 5.4 GB; 2 GiB + 3 MiB + 5 bytes is past every int32 boundary and ends mid-chunk.
        const long bytes = (2L << 30) + (3 << 20) + 5;
        string file = Path.Combine(Path.GetTempPath(), $"igpt-big-{Guid.NewGuid():N}.bin");
        try
        {
            string sha;
            using (var f = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var rng = new Random(2048);
                byte[] buffer = new byte[1 << 20];
                for (long left = bytes; left > 0; left -= buffer.Length)
                {
                    rng.NextBytes(buffer);
                    int n = (int)Math.Min(buffer.Length, left);
                    f.Write(buffer, 0, n);
                    h.AppendData(buffer, 0, n);
                }
                sha = Convert.ToHexStringLower(h.GetHashAndReset());
            }
            var store = Store();
            long before = Environment.WorkingSet;
            BlobInfo blob;
            using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            using (BlobWriter w = store.Blobs.Create("big", 1))
            {
                source.CopyTo(w, 1 << 20);
                blob = w.Commit();
            }
            Assert.Equal((bytes, sha), (blob.Bytes, blob.Sha256));
            Assert.Equal((int)((bytes + CheckpointBlobs.ChunkBytes - 1) / CheckpointBlobs.ChunkBytes), store.Blobs.Find(blob.BlobId)!.Chunks);

            using (BlobReader r = store.Blobs.OpenRead(blob.BlobId, blob.Bytes))
            using (var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                byte[] buffer = new byte[(1 << 20) + 7];
                long total = 0;
                for (int n; (n = r.Read(buffer, 0, buffer.Length)) > 0; total += n) h.AppendData(buffer, 0, n);
                Assert.Equal(bytes, total);
                Assert.Equal(sha, Convert.ToHexStringLower(h.GetHashAndReset()));
                Assert.Equal(sha, r.Sha256);
            }
            // Neither direction held the payload: the process grew by far less than its 2 GiB.
            Assert.True(Environment.WorkingSet - before < 512L << 20, $"working set grew by {(Environment.WorkingSet - before) >> 20} MiB");
            store.Blobs.Delete([blob.BlobId]);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
