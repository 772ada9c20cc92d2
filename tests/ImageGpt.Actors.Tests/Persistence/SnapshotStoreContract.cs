using ImageGpt.Actors.Persistence;
using static ImageGpt.Actors.Tests.Persistence.TestSupport;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>The snapshot store's behaviour, the same on every database.</summary>
public abstract class SnapshotStoreContract : IAsyncLifetime
{
    private readonly List<SqlSnapshotStore> _opened = [];

    protected abstract SqlSnapshotStore OpenStore(SqlStoreOptions? options = null);

    protected SqlSnapshotStore Store(SqlStoreOptions? options = null)
    {
        SqlSnapshotStore s = OpenStore(options);
        _opened.Add(s);
        return s;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (SqlSnapshotStore s in _opened) await s.DisposeAsync();
    }

    private static SnapshotEntry Snap(string pid, long seq, string text, long created = 0) => new(pid, seq, "test-state", Bytes(text), created);

    [Fact]
    public async Task Load_latest_returns_the_snapshot_with_the_highest_sequence_number()
    {
        var s = Store();
        string pid = NewPid();
        await s.SaveAsync(Snap(pid, 10, "ten")).Bounded();
        await s.SaveAsync(Snap(pid, 30, "thirty")).Bounded();
        await s.SaveAsync(Snap(pid, 20, "twenty")).Bounded();
        await s.SaveAsync(Snap(NewPid(), 40, "someone else")).Bounded();

        var latest = await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded();

        Assert.NotNull(latest);
        Assert.Equal(30, latest.SequenceNr);
        Assert.Equal("thirty", Text(latest.Payload));
        Assert.Equal("test-state", latest.Manifest);
        Assert.Equal(pid, latest.PersistenceId);
    }

    [Fact]
    public async Task Load_latest_returns_null_when_nothing_matches()
    {
        var s = Store();
        string pid = NewPid();
        Assert.Null(await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded());
        await s.SaveAsync(Snap(pid, 5, "five")).Bounded();
        Assert.Null(await s.LoadLatestAsync(pid, SnapshotCriteria.None).Bounded());
        Assert.Null(await s.LoadLatestAsync(pid, new SnapshotCriteria(MaxSequenceNr: 4)).Bounded());
    }

    [Fact]
    public async Task Criteria_bound_the_sequence_number_and_the_timestamp()
    {
        var s = Store();
        string pid = NewPid();
        await s.SaveAsync(Snap(pid, 10, "ten", created: 1_000)).Bounded();
        await s.SaveAsync(Snap(pid, 20, "twenty", created: 2_000)).Bounded();
        await s.SaveAsync(Snap(pid, 30, "thirty", created: 3_000)).Bounded();

        Assert.Equal(20, (await s.LoadLatestAsync(pid, new SnapshotCriteria(MaxSequenceNr: 25)).Bounded())!.SequenceNr);
        Assert.Equal(20, (await s.LoadLatestAsync(pid, new SnapshotCriteria(MaxTimestamp: 2_000)).Bounded())!.SequenceNr);
        Assert.Equal(10, (await s.LoadLatestAsync(pid, new SnapshotCriteria(MaxSequenceNr: 30, MaxTimestamp: 1_500)).Bounded())!.SequenceNr);
        var loaded = await s.LoadLatestAsync(pid, new SnapshotCriteria(MinSequenceNr: 15, MaxSequenceNr: 25)).Bounded();
        Assert.Equal((20L, 2_000L), (loaded!.SequenceNr, loaded.Created));
    }

    [Fact]
    public async Task Saving_twice_at_the_same_sequence_number_keeps_the_second()
    {
        var s = Store();
        string pid = NewPid();
        await s.SaveAsync(Snap(pid, 7, "old")).Bounded();
        await s.SaveAsync(Snap(pid, 7, "new")).Bounded();
        Assert.Equal("new", Text((await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded())!.Payload));
    }

    [Fact]
    public async Task A_save_without_a_timestamp_is_stamped_with_the_save_time()
    {
        var s = Store();
        string pid = NewPid();
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await s.SaveAsync(Snap(pid, 1, "x")).Bounded();
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange((await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded())!.Created, before, after);
    }

    [Fact]
    public async Task Delete_removes_the_selected_snapshots_only()
    {
        var s = Store();
        string pid = NewPid(), other = NewPid();
        foreach (long seq in new long[] { 10, 20, 30 }) await s.SaveAsync(Snap(pid, seq, $"s{seq}")).Bounded();
        await s.SaveAsync(Snap(other, 10, "other")).Bounded();

        await s.DeleteAsync(pid, new SnapshotCriteria(MaxSequenceNr: 20)).Bounded();

        Assert.Equal(30, (await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded())!.SequenceNr);
        Assert.Null(await s.LoadLatestAsync(pid, new SnapshotCriteria(MaxSequenceNr: 29)).Bounded());
        Assert.NotNull(await s.LoadLatestAsync(other, SnapshotCriteria.Latest).Bounded());
        await s.DeleteAsync(pid, SnapshotCriteria.Latest).Bounded();
        Assert.Null(await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded());
    }

    [Fact]
    public async Task A_megabyte_payload_reads_back_bit_for_bit()
    {
        var s = Store();
        string pid = NewPid();
        byte[] blob = new byte[1 << 20];
        new Random(7).NextBytes(blob);
        await s.SaveAsync(new SnapshotEntry(pid, 1, "blob", blob)).Bounded();
        Assert.Equal(blob, (await s.LoadLatestAsync(pid, SnapshotCriteria.Latest).Bounded())!.Payload);
    }
}
