using System.Diagnostics;
using ImageGpt.Actors.Persistence;
using static ImageGpt.Actors.Tests.Persistence.TestSupport;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>
/// The journal's behaviour, the same on every database. Each provider's subclass says how to open a journal
/// on its store; a second journal opened the same way is a second writer with its own connections.
/// </summary>
public abstract class JournalContract : IAsyncLifetime
{
    private readonly List<SqlJournal> _opened = [];

    /// <summary>A new journal object on this test's store (the same store every time within one test).</summary>
    protected abstract SqlJournal OpenJournal(SqlStoreOptions? options = null);

    /// <summary>"sqlite" or "postgres", and the path or connection string, for the child process.</summary>
    protected abstract (string Provider, string Store) ChildStore { get; }

    /// <summary>Opens a second connection that holds the journal's write lock until disposed.</summary>
    protected abstract Task<IAsyncDisposable> HoldWriteLockAsync();

    /// <summary>Provider-specific checks that the store file or server is intact after a kill.</summary>
    protected virtual Task AssertStoreIntactAsync() => Task.CompletedTask;

    protected SqlJournal Journal(SqlStoreOptions? options = null)
    {
        SqlJournal j = OpenJournal(options);
        _opened.Add(j);
        return j;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (SqlJournal j in _opened) await j.DisposeAsync();
    }

    private static JournalEntry Event(string pid, long seq, string text, string? tags = null) =>
        new(pid, seq, "test-event", Bytes(text), tags);

    [Fact]
    public async Task Written_events_replay_in_sequence_order_with_manifest_payload_and_tags()
    {
        var j = Journal();
        string pid = NewPid();
        await j.WriteAsync([Event(pid, 1, "a", "red")]).Bounded();
        await j.WriteAsync([Event(pid, 2, "b"), Event(pid, 3, "c", "blue,green")]).Bounded();

        var events = await j.ReplayAsync(pid, 1, long.MaxValue, long.MaxValue).Bounded();

        Assert.Equal([1L, 2, 3], events.Select(e => e.SequenceNr));
        Assert.Equal(["a", "b", "c"], events.Select(e => Text(e.Payload)));
        Assert.All(events, e => Assert.Equal("test-event", e.Manifest));
        Assert.Equal(["red", null, "blue,green"], events.Select(e => e.Tags));
        Assert.All(events, e => Assert.Equal(pid, e.PersistenceId));
    }

    [Fact]
    public async Task Replay_honours_the_from_and_to_bounds_and_the_maximum_count()
    {
        var j = Journal();
        string pid = NewPid();
        await j.WriteAsync(Enumerable.Range(1, 10).Select(i => Event(pid, i, $"e{i}")).ToList()).Bounded();

        Assert.Equal([3L, 4, 5, 6], (await j.ReplayAsync(pid, 3, 6, long.MaxValue).Bounded()).Select(e => e.SequenceNr));
        Assert.Equal([3L, 4], (await j.ReplayAsync(pid, 3, 6, 2).Bounded()).Select(e => e.SequenceNr));
        Assert.Empty(await j.ReplayAsync(pid, 11, 20, 100).Bounded());
        Assert.Empty(await j.ReplayAsync(pid, 1, 10, 0).Bounded());
        Assert.Empty(await j.ReplayAsync(NewPid(), 1, 10, 100).Bounded());
    }

    [Fact]
    public async Task Ordering_grows_in_write_order_across_persistence_ids_and_created_is_the_write_time()
    {
        var j = Journal();
        string a = NewPid("a"), b = NewPid("b");
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await j.WriteAsync([Event(a, 1, "a1")]).Bounded();
        await j.WriteAsync([Event(b, 1, "b1")]).Bounded();
        await j.WriteAsync([Event(a, 2, "a2")]).Bounded();
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var ea = await j.ReplayAsync(a, 1, 2, 10).Bounded();
        var eb = await j.ReplayAsync(b, 1, 1, 10).Bounded();

        Assert.True(ea[0].Ordering < eb[0].Ordering && eb[0].Ordering < ea[1].Ordering,
            $"orderings a1={ea[0].Ordering} b1={eb[0].Ordering} a2={ea[1].Ordering} are not in write order");
        Assert.All(ea.Concat(eb), e => Assert.InRange(e.Created, before, after));
    }

    [Fact]
    public async Task Highest_sequence_number_is_zero_for_an_unknown_persistence_id()
    {
        Assert.Equal(0, await Journal().HighestSequenceNrAsync(NewPid()).Bounded());
    }

    [Fact]
    public async Task Delete_to_removes_only_events_up_to_the_given_number()
    {
        var j = Journal();
        string pid = NewPid(), other = NewPid();
        await j.WriteAsync(Enumerable.Range(1, 5).Select(i => Event(pid, i, $"e{i}")).ToList()).Bounded();
        await j.WriteAsync([Event(other, 1, "x")]).Bounded();

        await j.DeleteToAsync(pid, 3).Bounded();

        Assert.Equal([4L, 5], (await j.ReplayAsync(pid, 1, long.MaxValue, long.MaxValue).Bounded()).Select(e => e.SequenceNr));
        Assert.Single(await j.ReplayAsync(other, 1, long.MaxValue, long.MaxValue).Bounded());
        Assert.Equal(5, await j.HighestSequenceNrAsync(pid).Bounded());
    }

    [Fact]
    public async Task Highest_sequence_number_survives_deleting_every_event()
    {
        var j = Journal();
        string pid = NewPid();
        await j.WriteAsync(Enumerable.Range(1, 4).Select(i => Event(pid, i, $"e{i}")).ToList()).Bounded();
        await j.DeleteToAsync(pid, 2).Bounded();
        await j.DeleteToAsync(pid, long.MaxValue).Bounded();

        Assert.Empty(await j.ReplayAsync(pid, 1, long.MaxValue, long.MaxValue).Bounded());
        Assert.Equal(4, await j.HighestSequenceNrAsync(pid).Bounded());
        Assert.Equal(4, await Journal().HighestSequenceNrAsync(pid).Bounded());

        await j.WriteAsync([Event(pid, 5, "e5")]).Bounded();
        Assert.Equal(5, await j.HighestSequenceNrAsync(pid).Bounded());
    }

    [Fact]
    public async Task A_batch_that_collides_with_a_stored_sequence_number_writes_nothing_and_names_the_collision()
    {
        var j = Journal();
        string pid = NewPid();
        await j.WriteAsync([Event(pid, 1, "e1"), Event(pid, 2, "e2"), Event(pid, 3, "e3")]).Bounded();

        var e = await Assert.ThrowsAsync<ConcurrentWriteException>(() =>
            j.WriteAsync([Event(pid, 3, "x3"), Event(pid, 4, "x4"), Event(pid, 5, "x5")]).Bounded());

        Assert.Equal(pid, e.PersistenceId);
        Assert.Equal(3, e.FromSequenceNr);
        Assert.Equal(5, e.ToSequenceNr);
        Assert.Contains(pid, e.Message);
        Assert.Equal(["e1", "e2", "e3"], (await j.ReplayAsync(pid, 1, long.MaxValue, long.MaxValue).Bounded()).Select(x => Text(x.Payload)));
        Assert.Equal(3, await j.HighestSequenceNrAsync(pid).Bounded());
        Assert.Equal(CircuitState.Closed, j.Breaker.State);
        Assert.Equal(0, j.Breaker.Failures);
    }

    [Fact]
    public async Task Two_writers_racing_on_the_same_sequence_number_leave_exactly_one_winner()
    {
        var first = Journal();
        var second = Journal();
        string pid = NewPid();
        // Both journals create the schema before the race, so the race is about the rows only.
        Assert.Equal(0, await first.HighestSequenceNrAsync(pid).Bounded());
        Assert.Equal(0, await second.HighestSequenceNrAsync(pid).Bounded());

        for (long seq = 1; seq <= 12; seq++)
        {
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<string> Race(SqlJournal j, string name) => Task.Run(async () =>
            {
                await go.Task;
                await j.WriteAsync([Event(pid, seq, name)]);
                return name;
            });
            Task<string>[] racers = [Race(first, "first"), Race(second, "second")];
            go.SetResult();
            await Task.WhenAll(racers.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).Bounded();

            Task<string> winner = Assert.Single(racers, t => t.IsCompletedSuccessfully);
            Task<string> loser = Assert.Single(racers, t => t.IsFaulted);
            var loss = Assert.IsType<ConcurrentWriteException>(loser.Exception!.InnerException);
            Assert.Equal(pid, loss.PersistenceId);
            Assert.Equal(seq, loss.FromSequenceNr);
            Assert.Contains($"'{pid}' at sequence number {seq}:", loss.Message);
            var stored = await first.ReplayAsync(pid, seq, seq, 10).Bounded();
            Assert.Equal(await winner, Text(Assert.Single(stored).Payload));
        }
        Assert.Equal(12, await second.HighestSequenceNrAsync(pid).Bounded());
    }

    [Fact]
    public async Task A_batch_mixing_persistence_ids_or_skipping_numbers_is_refused_before_touching_the_store()
    {
        var j = Journal();
        string pid = NewPid();
        await Assert.ThrowsAsync<ArgumentException>(() => j.WriteAsync([Event(pid, 1, "a"), Event(NewPid(), 2, "b")]));
        await Assert.ThrowsAsync<ArgumentException>(() => j.WriteAsync([Event(pid, 1, "a"), Event(pid, 3, "b")]));
        await Assert.ThrowsAsync<ArgumentException>(() => j.WriteAsync([]));
        Assert.Equal(0, await j.HighestSequenceNrAsync(pid).Bounded());
    }

    [Fact]
    public async Task A_write_blocked_by_another_transaction_fails_after_the_command_timeout_and_counts_for_the_breaker()
    {
        var j = Journal(new SqlStoreOptions { CommandTimeout = TimeSpan.FromSeconds(1), CallTimeout = TimeSpan.FromSeconds(30) });
        string pid = NewPid();
        await j.WriteAsync([Event(pid, 1, "before")]).Bounded();

        await using (await HoldWriteLockAsync())
        {
            Exception e = await Assert.ThrowsAnyAsync<Exception>(() => j.WriteAsync([Event(pid, 2, "blocked")]).Bounded());
            Assert.IsNotType<ConcurrentWriteException>(e);
            Assert.IsNotType<TimeoutException>(e);
            Assert.Equal(1, j.Breaker.Failures);
        }

        await j.WriteAsync([Event(pid, 2, "after")]).Bounded();
        Assert.Equal(["before", "after"], (await j.ReplayAsync(pid, 1, 10, 10).Bounded()).Select(x => Text(x.Payload)));
        Assert.Equal(0, j.Breaker.Failures);
    }

    [Fact]
    public async Task A_process_killed_inside_a_write_transaction_leaves_only_whole_batches()
    {
        string pid = NewPid("kill");
        var (provider, store) = ChildStore;
        int acknowledged = 0;
        int batches = 3;
        for (int round = 1; round <= 2; round++)
        {
            // Each round appends after what the previous round left, so the second child also proves the
            // store is writable again after a crash.
            acknowledged += await RunChildUntilMidWriteThenKill(provider, store, pid, batches);
            Assert.Equal(batches * round, acknowledged);
        }

        await AssertStoreIntactAsync();
        var j = Journal();
        var events = await j.ReplayAsync(pid, 1, long.MaxValue, long.MaxValue).Bounded();
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.SequenceNr));
        int expected = 2 * Enumerable.Range(1, batches).Sum(KillChild.BatchSize);
        Assert.Equal(expected, events.Count);
        foreach (var group in events.GroupBy(e => e.Tags))
        {
            int size = KillChild.SizeInTag(group.Key!);
            Assert.True(size == group.Count(), $"{group.Key} has {group.Count()} events: a batch was half written");
        }
        Assert.Equal(2 * batches, events.Select(e => e.Tags).Distinct().Count());
        Assert.DoesNotContain(events, e => e.Tags!.StartsWith($"batch {batches + 1} ", StringComparison.Ordinal));

        long next = expected + 1;
        await j.WriteAsync(KillChild.Batch(pid, next, 99, 3, 16)).Bounded();
        Assert.Equal(next + 2, await j.HighestSequenceNrAsync(pid).Bounded());
    }

    private static async Task<int> RunChildUntilMidWriteThenKill(string provider, string store, string pid, int batches)
    {
        string assembly = typeof(KillChild).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(assembly);
        psi.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
        psi.Environment[KillChild.ProviderVar] = provider;
        psi.Environment[KillChild.StoreVar] = store;
        psi.Environment[KillChild.PidVar] = pid;
        psi.Environment[KillChild.BatchesVar] = batches.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using Process child = Process.Start(psi)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        int committed = 0;
        try
        {
            using var patience = new CancellationTokenSource(Patience);
            while (true)
            {
                string? line = await child.StandardOutput.ReadLineAsync(patience.Token);
                if (line is null)
                    Assert.Fail($"the child exited ({(child.WaitForExit(5000) ? child.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")}) before reaching the write to kill:\n{await stderr.WaitAsync(Patience)}");
                if (line.StartsWith("committed ", StringComparison.Ordinal)) committed++;
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
}
