using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.Training;
using static ImageGpt.Actors.Tests.Persistence.TestSupport;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// The run store's behaviour, the same on every database. Each provider's subclass names a fresh, empty store per
/// test (settings and run directory) and opens raw connections to it, through which tests damage what the store wrote.
/// </summary>
public abstract class RunStoreContract : IAsyncLifetime
{
    private readonly List<IRunStore> _opened = [];

    /// <summary>"sqlite" or "postgres", and the run directory or connection string, for the child process.</summary>
    protected abstract (string Provider, string Target) Child { get; }

    /// <summary>A connection to this test's store that bypasses <see cref="SqlRunStore"/>.</summary>
    protected abstract Task<DbConnection> OpenRawAsync();

    /// <summary>Provider-specific checks that the file or server is intact after a kill.</summary>
    protected virtual Task AssertStoreIntactAsync() => Task.CompletedTask;

    protected CheckpointSettings Settings => RunStoreKillChild.Settings(Child.Provider, Child.Target);
    protected string RunDir => RunStoreKillChild.RunDir(Child.Provider, Child.Target);

    protected SqlRunStore Store()
    {
        var s = (SqlRunStore)SqlRunStore.Open(Settings, RunDir);
        _opened.Add(s);
        return s;
    }

    protected SqlRunStore ReadOnlyStore()
    {
        var s = SqlRunStore.OpenReadOnly(Settings, RunDir);
        _opened.Add(s);
        return s;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (IRunStore s in _opened) await s.DisposeAsync();
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

    private async Task<byte[]> ChunkAsync(long step, int idx)
    {
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT data FROM checkpoint_chunk WHERE step = {step} AND idx = {idx}";
        return (byte[])(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<(Checkpoint? Checkpoint, List<string> Warnings)> LoadAsync(IRunStore store)
    {
        var warnings = new List<string>();
        Checkpoint? c = await store.LoadLatestCheckpointAsync(warnings.Add).Bounded();
        return (c, warnings);
    }

    [Fact]
    public async Task A_checkpoint_of_several_chunks_loads_back_bit_for_bit_with_nan_payloads_and_negative_zero()
    {
        var store = Store();
        Checkpoint saved = RunStoreData.Make(42, 300_000);
        await store.SaveCheckpointAsync(saved).Bounded();

        var (loaded, warnings) = await LoadAsync(Store());

        RunStoreData.AssertSame(saved, loaded);
        Assert.Empty(warnings);
        Assert.Equal(-0f, loaded!.AdamM[1 + 2 * 977]);
        Assert.True(float.IsNegative(loaded.AdamM[1 + 2 * 977]));
        Assert.Equal(0x7FC00001, BitConverter.SingleToInt32Bits(loaded.Parameters[0]));
        // 3 x 300,000 floats = 3.6 MB: four 1 MiB chunks.
        Assert.Equal(4, await ScalarAsync("SELECT count(*) FROM checkpoint_chunk WHERE step = 42"));
        CheckpointInfo info = Assert.Single(await store.ListCheckpointsAsync().Bounded());
        byte[] payload = SqlRunStore.Serialize(saved);
        Assert.Equal((42L, (long)payload.Length, SqlRunStore.Hash(saved, payload)), (info.Step, info.Bytes, info.Sha256));
        Assert.Equal(32 + 3 * 300_000 * 4, info.Bytes);
        Assert.InRange(info.Created, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task The_newest_step_wins_whatever_the_order_of_saving_and_the_list_is_oldest_first()
    {
        var store = Store();
        foreach (long step in (long[])[5, 10, 7]) await store.SaveCheckpointAsync(RunStoreData.Make(step, 1000)).Bounded();

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(RunStoreData.Make(10, 1000), loaded);
        Assert.Empty(warnings);
        Assert.Equal([5L, 7, 10], (await store.ListCheckpointsAsync().Bounded()).Select(i => i.Step));
    }

    [Fact]
    public async Task Saving_a_step_again_replaces_it_including_its_extra_chunks()
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(3, 300_000)).Bounded();
        Checkpoint smaller = RunStoreData.Make(3, 50_000, salt: 1);
        await store.SaveCheckpointAsync(smaller).Bounded();

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(smaller, loaded);
        Assert.Empty(warnings);
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM checkpoint_chunk WHERE step = 3"));
        Assert.Single(await store.ListCheckpointsAsync().Bounded());
    }

    [Fact]
    public async Task An_empty_store_has_no_checkpoint_and_no_evaluations()
    {
        var store = Store();
        var (loaded, warnings) = await LoadAsync(store);
        Assert.Null(loaded);
        Assert.Empty(warnings);
        Assert.Empty(await store.ListCheckpointsAsync().Bounded());
        Assert.Empty(await store.ListEvalsAsync().Bounded());
    }

    [Fact]
    public async Task A_flipped_byte_in_a_chunk_makes_loading_warn_with_the_step_and_fall_back_to_the_previous_checkpoint()
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(10, 300_000)).Bounded();
        await store.SaveCheckpointAsync(RunStoreData.Make(20, 300_000)).Bounded();
        byte[] chunk = await ChunkAsync(20, 2);
        chunk[12345] ^= 0x10;
        await ExecuteAsync("UPDATE checkpoint_chunk SET data = @data WHERE step = 20 AND idx = 2", chunk);

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(RunStoreData.Make(10, 300_000), loaded);
        string warning = Assert.Single(warnings);
        Assert.StartsWith("checkpoint step 20 in ", warning);
        Assert.Contains("hash mismatch", warning);
        Assert.EndsWith("falling back to the previous one", warning);
    }

    [Theory]
    [InlineData("adam_step = adam_step + 1")]
    [InlineData("epoch = epoch + 1")]
    [InlineData("step_in_epoch = step_in_epoch - 1")]
    [InlineData("data_seed = data_seed + 1")]
    [InlineData("identity = identity || ' '")]
    [InlineData("palette = '[[0,0,0]]'")]
    public async Task A_tampered_scalar_in_the_catalogue_fails_the_hash(string tamper)
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(10, 1000)).Bounded();
        await store.SaveCheckpointAsync(RunStoreData.Make(20, 1000)).Bounded();
        await ExecuteAsync($"UPDATE checkpoint SET {tamper} WHERE step = 20");

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(RunStoreData.Make(10, 1000), loaded);
        Assert.Contains("hash mismatch", Assert.Single(warnings));
    }

    [Fact]
    public async Task A_missing_chunk_is_detected_and_named()
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(10, 300_000)).Bounded();
        await store.SaveCheckpointAsync(RunStoreData.Make(20, 300_000)).Bounded();
        await ExecuteAsync("DELETE FROM checkpoint_chunk WHERE step = 20 AND idx = 1");

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(RunStoreData.Make(10, 300_000), loaded);
        Assert.Contains("chunk 1 of 4 missing", Assert.Single(warnings));
    }

    [Fact]
    public async Task A_truncated_last_chunk_is_detected()
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(10, 300_000)).Bounded();
        await store.SaveCheckpointAsync(RunStoreData.Make(20, 300_000)).Bounded();
        byte[] last = await ChunkAsync(20, 3);
        await ExecuteAsync("UPDATE checkpoint_chunk SET data = @data WHERE step = 20 AND idx = 3", last[..^4]);

        var (loaded, warnings) = await LoadAsync(store);

        RunStoreData.AssertSame(RunStoreData.Make(10, 300_000), loaded);
        Assert.Contains("chunk 3 has", Assert.Single(warnings));
    }

    [Fact]
    public async Task When_every_checkpoint_is_damaged_loading_warns_for_each_and_returns_null()
    {
        var store = Store();
        await store.SaveCheckpointAsync(RunStoreData.Make(10, 1000)).Bounded();
        await store.SaveCheckpointAsync(RunStoreData.Make(20, 1000)).Bounded();
        await ExecuteAsync("UPDATE checkpoint SET adam_step = 0 WHERE step = 10");
        await ExecuteAsync("DELETE FROM checkpoint_chunk WHERE step = 20 AND idx = 0");

        var (loaded, warnings) = await LoadAsync(store);

        Assert.Null(loaded);
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("checkpoint step 20 ", warnings[0]);
        Assert.StartsWith("checkpoint step 10 ", warnings[1]);
        Assert.EndsWith("no older checkpoint is left", warnings[1]);
    }

    [Fact]
    public async Task Pruning_keeps_the_newest_checkpoints_and_their_chunks_only()
    {
        var store = Store();
        for (long step = 1; step <= 5; step++) await store.SaveCheckpointAsync(RunStoreData.Make(step * 100, 1000)).Bounded();

        await store.PruneCheckpointsAsync(10).Bounded();
        Assert.Equal(5, (await store.ListCheckpointsAsync().Bounded()).Count);
        await store.PruneCheckpointsAsync(2).Bounded();

        Assert.Equal([400L, 500], (await store.ListCheckpointsAsync().Bounded()).Select(i => i.Step));
        Assert.Equal(400, await ScalarAsync("SELECT min(step) FROM checkpoint_chunk"));
        Assert.Equal(2, await ScalarAsync("SELECT count(*) FROM checkpoint_chunk"));
        RunStoreData.AssertSame(RunStoreData.Make(500, 1000), (await LoadAsync(store)).Checkpoint);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.PruneCheckpointsAsync(0));
    }

    [Fact]
    public async Task Evaluations_are_upserted_by_step_and_listed_oldest_first()
    {
        var store = Store();
        ProbeRow[] probe = [new("pixels", 0.1, 0.81, 0.8), new("layer 3", 10, 0.875, 0.8625)];
        await store.SaveEvalAsync(new EvalResult(20, 2.0, 2.0 / Math.Log(2), probe, null, 1.5)).Bounded();
        await store.SaveEvalAsync(new EvalResult(10, double.NaN, double.PositiveInfinity, [], "runs/x/step-10.png", 0.25)).Bounded();
        await store.SaveEvalAsync(new EvalResult(20, 1.5, 1.5 / Math.Log(2), probe[..1], "runs/x/step-20.png", 2.5)).Bounded();

        IReadOnlyList<EvalResult> evals = await Store().ListEvalsAsync().Bounded();

        Assert.Equal([10L, 20], evals.Select(e => e.Step));
        Assert.True(double.IsNaN(evals[0].ValidationNats));
        Assert.Equal(double.PositiveInfinity, evals[0].ValidationBits);
        Assert.Empty(evals[0].Probe);
        Assert.Equal(("runs/x/step-10.png", 0.25), (evals[0].CompletionsPng, evals[0].Seconds));
        Assert.Equal((1.5, 1.5 / Math.Log(2), "runs/x/step-20.png", 2.5), (evals[1].ValidationNats, evals[1].ValidationBits, evals[1].CompletionsPng, evals[1].Seconds));
        Assert.Equal(probe[..1], evals[1].Probe);
    }

    [Fact]
    public async Task A_read_only_store_reads_the_last_committed_checkpoint_while_a_save_is_in_its_transaction()
    {
        var writer = Store();
        await writer.SaveCheckpointAsync(RunStoreData.Make(1, 300_000)).Bounded();
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        writer.AfterChunkForTests = async (idx, ct) =>
        {
            if (idx != 2) return;
            inside.SetResult();
            await release.Task.WaitAsync(ct);
        };
        Task saving = writer.SaveCheckpointAsync(RunStoreData.Make(2, 300_000));
        await inside.Task.Bounded();

        var reader = ReadOnlyStore();
        Assert.Equal([1L], (await reader.ListCheckpointsAsync().Bounded()).Select(i => i.Step));
        var (during, warnings) = await LoadAsync(reader);
        RunStoreData.AssertSame(RunStoreData.Make(1, 300_000), during);
        Assert.Empty(warnings);
        await Assert.ThrowsAsync<InvalidOperationException>(() => reader.SaveEvalAsync(new EvalResult(1, 1, 1, [], null, 0)));

        release.SetResult();
        await saving.Bounded();
        Assert.Equal([1L, 2], (await reader.ListCheckpointsAsync().Bounded()).Select(i => i.Step));
        RunStoreData.AssertSame(RunStoreData.Make(2, 300_000), (await LoadAsync(reader)).Checkpoint);
    }

    [Fact]
    public async Task A_process_killed_while_saving_leaves_the_new_checkpoint_whole_or_the_previous_one()
    {
        // Two kills parked inside the transaction (certainly mid-write) and two at random moments of a loop of
        // saves (anywhere: before, inside or after a transaction).
        int[] parks = [3, 7, -1, -1];
        foreach (int park in parks)
        {
            long committed = await RunChildThenKill(park);
            await AssertStoreIntactAsync();
            var store = Store();
            var (loaded, warnings) = await LoadAsync(store);
            Assert.Empty(warnings);
            Assert.NotNull(loaded);
            // What the child acknowledged is there; a save whose commit landed just before the kill may be too.
            if (park >= 0) Assert.Equal(committed, loaded.Step);
            else Assert.InRange(loaded.Step, committed, committed + 1);
            RunStoreData.AssertSame(RunStoreData.Make(loaded.Step, RunStoreKillChild.Floats), loaded);
            Assert.Equal(Enumerable.Range(1, (int)loaded.Step).Select(i => (long)i), (await store.ListCheckpointsAsync().Bounded()).Select(i => i.Step));
            Assert.Equal(loaded.Step * 9, await ScalarAsync("SELECT count(*) FROM checkpoint_chunk"));
        }
    }

    /// <summary>Runs the child until it parks mid-write (park ≥ 0) or for a random moment after its first commit,
    /// kills it (SIGKILL) and returns the highest step it reported committed.</summary>
    private async Task<long> RunChildThenKill(int park)
    {
        string assembly = typeof(RunStoreKillChild).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(assembly);
        psi.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
        psi.Environment[RunStoreKillChild.ProviderVar] = Child.Provider;
        psi.Environment[RunStoreKillChild.TargetVar] = Child.Target;
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
                    Assert.Fail($"the child exited ({(child.WaitForExit(5000) ? child.ExitCode.ToString(CultureInfo.InvariantCulture) : "?")}) before the moment to kill it:\n{await stderr.WaitAsync(Patience)}");
                if (line.StartsWith("committed ", StringComparison.Ordinal)) committed = long.Parse(line[10..], CultureInfo.InvariantCulture);
                if (line == "mid-write") break;
                if (park < 0 && committed > 0)
                {
                    await Task.Delay(Random.Shared.Next(0, 400));
                    break;
                }
            }
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync().WaitAsync(Patience);
        }
        // Lines the child printed before it died but the loop above had not read yet.
        foreach (string line in (await child.StandardOutput.ReadToEndAsync().WaitAsync(Patience)).Split('\n'))
            if (line.StartsWith("committed ", StringComparison.Ordinal)) committed = long.Parse(line[10..].Trim(), CultureInfo.InvariantCulture);
        Assert.True(committed > 0, "the child committed nothing before it was killed");
        return committed;
    }
}

/// <summary>The serialized payload's layout, independent of any database.</summary>
public sealed class RunStorePayloadTests
{
    [Fact]
    public void The_payload_is_a_little_endian_header_with_three_lengths_followed_by_the_float_bits()
    {
        var c = new Checkpoint(1, 0, 0, [1f, -0f], [float.NaN], [], 1, "{}", "[]", 7);

        byte[] payload = SqlRunStore.Serialize(c);

        Assert.Equal("IGPTCKP1"u8.ToArray(), payload[..8]);
        Assert.Equal([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], payload[8..32]);
        Assert.Equal([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x80], payload[32..40]);
        Assert.Equal(BitConverter.GetBytes(BitConverter.SingleToInt32Bits(float.NaN)), payload[40..44]);
        Assert.Equal(44, payload.Length);
    }

    [Theory]
    [InlineData(0, 0x4A)]   // magic
    [InlineData(8, 0x03)]   // parameter count no longer matches the length
    [InlineData(31, 0x80)]  // negative v count
    public void A_payload_with_a_bad_header_is_refused(int offset, int xor)
    {
        byte[] payload = SqlRunStore.Serialize(new Checkpoint(1, 0, 0, [1f, 2f], [3f], [4f], 1, "{}", "[]", 7));
        Assert.True(SqlRunStore.TryDeserialize(payload, out _, out _, out _));
        payload[offset] ^= (byte)xor;
        Assert.False(SqlRunStore.TryDeserialize(payload, out _, out _, out _));
    }

    [Fact]
    public void The_hash_covers_every_scalar_and_the_payload()
    {
        var c = new Checkpoint(5, 1, 2, [1f], [2f], [3f], 4, "{\"a\":1}", "[[0]]", 9);
        byte[] payload = SqlRunStore.Serialize(c);
        string h = SqlRunStore.Hash(c, payload);
        Checkpoint[] changed =
        [
            c with { Step = 6 }, c with { Epoch = 2 }, c with { StepInEpoch = 3 }, c with { AdamStep = 5 },
            c with { DataSeed = 10 }, c with { IdentityJson = "{\"a\":2}" }, c with { PaletteJson = "[[1]]" },
            // Moving characters between the two strings must not collide either (lengths are part of the hash).
            c with { IdentityJson = "{\"a\":1}[", PaletteJson = "[0]]" },
        ];
        foreach (Checkpoint d in changed) Assert.NotEqual(h, SqlRunStore.Hash(d, payload));
        payload[^1] ^= 1;
        Assert.NotEqual(h, SqlRunStore.Hash(c, payload));
    }
}
