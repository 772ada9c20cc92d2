using System.Collections.Concurrent;
using ImageGpt.Actors.Persistence;
using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Persistence;

public sealed record Increment(int By);
public sealed record IncrementEach(int[] By);
public sealed record Incremented(int By);
public sealed record CounterSnapshot(int Value);
public sealed record NotRegistered(int X);

/// <summary>A counter that persists increments and reports what it does to a probe.</summary>
public sealed class CounterActor : PersistentActor
{
    private readonly IActorRef _probe;
    private int _value;

    public CounterActor(PersistenceSettings settings, string persistenceId, IActorRef probe, ConcurrentQueue<string>? log = null) : base(settings)
    {
        PersistenceId = persistenceId;
        _probe = probe;
        Recover<SnapshotOffer>(o =>
        {
            _value = ((CounterSnapshot)o.Snapshot).Value;
            _probe.Tell($"offer {_value} at {o.Metadata.SequenceNr}", Self);
        });
        Recover<Incremented>(e =>
        {
            _value += e.By;
            _probe.Tell($"replayed +{e.By}", Self);
        });
        Recover<RecoveryCompleted>(_ => _probe.Tell($"recovered {_value} at {LastSequenceNr}", Self));
        Command<Increment>(c => Persist(new Incremented(c.By), e =>
        {
            _value += e.By;
            log?.Enqueue($"handled {LastSequenceNr}");
            Sender.Tell(_value, Self);
        }));
        Command<IncrementEach>(c => PersistAll(c.By.Select(b => new Incremented(b)), e =>
        {
            _value += e.By;
            Sender.Tell(_value, Self);
        }));
        Command<NotRegistered>(c => Persist(c, _ => Sender.Tell("handler ran for an unserializable event", Self)));
        Command<string>(s => s == "get", _ => Sender.Tell(_value, Self));
        Command<string>(s => s == "snap", _ => SaveSnapshot(new CounterSnapshot(_value)));
        Command<string>(s => s == "delete-all", _ => DeleteMessages(LastSequenceNr));
        Command<SaveSnapshotSuccess>(s => _probe.Tell(s, Self));
        Command<string>(s => s == "twice", _ => Persist(new Incremented(1), e =>
        {
            _value += e.By;
            Persist(new Incremented(2), e2 =>
            {
                _value += e2.By;
                Sender.Tell(_value, Self);
            });
        }));
        Receive<string>(s => s == "persist-outside-command", _ => Persist(new Incremented(1), _ => { }));
        Command<DeleteMessagesSuccess>(s => _probe.Tell(s, Self));
    }

    public override string PersistenceId { get; }
}

/// <summary>A journal that logs writes and can hold them at a gate or fail them.</summary>
internal sealed class ProbedJournal(IJournal inner) : IJournal
{
    public ConcurrentQueue<string> Log { get; } = new();
    public ConcurrentQueue<int> BatchSizes { get; } = new();
    public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public Task Gate { get; set; } = Task.CompletedTask;
    public Exception? FailWith { get; set; }

    public async Task WriteAsync(IReadOnlyList<JournalEntry> atomicBatch, CancellationToken ct = default)
    {
        WriteStarted.TrySetResult();
        await Gate;
        if (FailWith is not null) throw FailWith;
        await inner.WriteAsync(atomicBatch, ct);
        BatchSizes.Enqueue(atomicBatch.Count);
        foreach (JournalEntry e in atomicBatch) Log.Enqueue($"written {e.SequenceNr}");
    }

    public Task<IReadOnlyList<JournalEntry>> ReplayAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, CancellationToken ct = default) =>
        inner.ReplayAsync(persistenceId, fromSequenceNr, toSequenceNr, max, ct);

    public Task<long> HighestSequenceNrAsync(string persistenceId, CancellationToken ct = default) => inner.HighestSequenceNrAsync(persistenceId, ct);
    public Task DeleteToAsync(string persistenceId, long toSequenceNr, CancellationToken ct = default) => inner.DeleteToAsync(persistenceId, toSequenceNr, ct);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>The persistent actor base on a real journal and snapshot store; one subclass per database.</summary>
public abstract class PersistentActorContract : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly ActorSystem _sys = ActorSystem.Create("persist");
    private readonly SqlJournal _store;
    private readonly SqlSnapshotStore _snapshots;
    private readonly ProbedJournal _journal;
    private readonly PersistenceSettings _settings;
    private readonly string _pid = TestSupport.NewPid("counter");

    protected PersistentActorContract((SqlJournal Journal, SqlSnapshotStore Snapshots) stores)
    {
        (_store, _snapshots) = stores;
        _journal = new ProbedJournal(_store);
        _settings = new PersistenceSettings(_journal, _snapshots,
            new SerializerRegistry().AddJson<Incremented>("incremented").AddJson<CounterSnapshot>("counter-snapshot"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        await _sys.Terminate().WaitAsync(Wait);
        await _store.DisposeAsync();
        await _snapshots.DisposeAsync();
    }

    private IActorRef Counter(TestProbe probe, PersistenceSettings? settings = null) =>
        _sys.ActorOf(Props.Create(() => new CounterActor(settings ?? _settings, _pid, probe, _journal.Log)));

    private async Task StopAsync(IActorRef actor, TestProbe probe)
    {
        probe.Watch(actor);
        _sys.Stop(actor);
        await probe.FishForMessageAsync<Terminated>(t => t.ActorRef.Equals(actor), Wait);
    }

    [Fact]
    public async Task A_new_incarnation_recovers_the_state_from_the_persisted_events()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, new Increment(2));
        await probe.ExpectMsgAsync(2, Wait);
        probe.Send(counter, new Increment(3));
        await probe.ExpectMsgAsync(5, Wait);
        await StopAsync(counter, probe);

        var again = Counter(probe);
        await probe.ExpectMsgAsync("replayed +2", Wait);
        await probe.ExpectMsgAsync("replayed +3", Wait);
        await probe.ExpectMsgAsync("recovered 5 at 2", Wait);
        probe.Send(again, new Increment(10));
        await probe.ExpectMsgAsync(15, Wait);
        Assert.Equal(3, await _store.HighestSequenceNrAsync(_pid).WaitAsync(Wait));
    }

    [Fact]
    public async Task The_persist_handler_runs_after_the_write_and_commands_wait_for_it()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _journal.Gate = gate.Task;

        probe.Send(counter, new Increment(1));
        await _journal.WriteStarted.Task.WaitAsync(Wait);
        probe.Send(counter, "get");
        gate.SetResult();

        // Were "get" handled while the write was held, it would answer 0 before the handler's 1.
        await probe.ExpectMsgAsync(1, Wait);
        await probe.ExpectMsgAsync(1, Wait);
        probe.Send(counter, new Increment(1));
        await probe.ExpectMsgAsync(2, Wait);
        Assert.Equal(["written 1", "handled 1", "written 2", "handled 2"], _journal.Log);
    }

    [Fact]
    public async Task Persist_all_writes_its_events_in_one_atomic_batch_then_runs_each_handler_in_order()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, new IncrementEach([1, 10, 100]));
        await probe.ExpectMsgAsync(1, Wait);
        await probe.ExpectMsgAsync(11, Wait);
        await probe.ExpectMsgAsync(111, Wait);
        Assert.Equal([3], _journal.BatchSizes);
        Assert.Equal([1L, 2, 3], (await _store.ReplayAsync(_pid, 1, 10, 10).WaitAsync(Wait)).Select(e => e.SequenceNr));
    }

    [Fact]
    public async Task Recovery_starts_from_the_latest_snapshot_and_replays_only_the_later_events()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, new IncrementEach([1, 2, 3]));
        for (int i = 0; i < 3; i++) await probe.ExpectMsgAsync<int>(Wait);
        probe.Send(counter, "snap");
        var saved = await probe.ExpectMsgAsync<SaveSnapshotSuccess>(Wait);
        Assert.Equal(3, saved.Metadata.SequenceNr);
        probe.Send(counter, new Increment(40));
        await probe.ExpectMsgAsync(46, Wait);
        await StopAsync(counter, probe);

        Counter(probe);
        await probe.ExpectMsgAsync("offer 6 at 3", Wait);
        await probe.ExpectMsgAsync("replayed +40", Wait);
        await probe.ExpectMsgAsync("recovered 46 at 4", Wait);
    }

    [Fact]
    public async Task A_persist_handler_may_persist_again_and_its_event_follows_in_order()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, "twice");
        await probe.ExpectMsgAsync(3, Wait);
        Assert.Equal(["{\"By\":1}", "{\"By\":2}"],
            (await _store.ReplayAsync(_pid, 1, 10, 10).WaitAsync(Wait)).Select(e => System.Text.Encoding.UTF8.GetString(e.Payload)));
    }

    [Fact]
    public async Task Persist_outside_a_command_handler_fails_the_actor_instead_of_waiting_unseen()
    {
        var probe = new TestProbe(_sys);
        var failures = TestProbe.ForFailures(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, "persist-outside-command");
        var e = await failures.ExpectFailureAsync<InvalidOperationException>(counter, Wait);
        Assert.Contains("Command<T>", e.Message);
        Assert.Equal(0, await _store.HighestSequenceNrAsync(_pid).WaitAsync(Wait));
    }

    [Fact]
    public async Task Sequence_numbers_continue_after_every_event_was_deleted()
    {
        var probe = new TestProbe(_sys);
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Send(counter, new IncrementEach([1, 2]));
        for (int i = 0; i < 2; i++) await probe.ExpectMsgAsync<int>(Wait);
        probe.Send(counter, "delete-all");
        Assert.Equal(2, (await probe.ExpectMsgAsync<DeleteMessagesSuccess>(Wait)).ToSequenceNr);
        await StopAsync(counter, probe);

        var again = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 2", Wait);
        probe.Send(again, new Increment(5));
        await probe.ExpectMsgAsync(5, Wait);
        Assert.Equal([3L], (await _store.ReplayAsync(_pid, 1, 10, 10).WaitAsync(Wait)).Select(e => e.SequenceNr));
    }

    [Fact]
    public async Task A_failed_write_is_reported_and_stops_the_actor_without_running_the_handler()
    {
        var probe = new TestProbe(_sys);
        var failures = new TestProbe(_sys);
        _sys.EventStream.Subscribe(failures, typeof(PersistFailure));
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);
        probe.Watch(counter);
        _journal.FailWith = new InvalidOperationException("disk on fire");

        probe.Send(counter, new Increment(7));

        var failure = await failures.ExpectMsgAsync<PersistFailure>(Wait);
        Assert.Equal("disk on fire", failure.Cause.Message);
        Assert.Equal(1, failure.SequenceNr);
        Assert.Equal(new Incremented(7), failure.Event);
        Assert.Equal(_pid, failure.PersistenceId);
        // The next message is the death notice: the handler (which replies 7) never ran.
        await probe.ExpectTerminatedAsync(counter, Wait);
        Assert.Equal(0, await _store.HighestSequenceNrAsync(_pid).WaitAsync(Wait));
    }

    [Fact]
    public async Task A_recovery_failure_is_reported_and_stops_the_actor_before_any_command()
    {
        await _store.WriteAsync([new JournalEntry(_pid, 1, "incremented", "{\"By\":1}"u8.ToArray()),
            new JournalEntry(_pid, 2, "renamed-long-ago", [1, 2, 3])]).WaitAsync(Wait);
        var probe = new TestProbe(_sys);
        var failures = new TestProbe(_sys);
        _sys.EventStream.Subscribe(failures, typeof(RecoveryFailure));

        var counter = Counter(probe);
        probe.Watch(counter);
        probe.Send(counter, "get");

        var failure = await failures.ExpectMsgAsync<RecoveryFailure>(Wait);
        Assert.IsType<SerializationException>(failure.Cause);
        Assert.Contains("renamed-long-ago", failure.Cause.Message);
        Assert.Equal(2, Assert.IsType<JournalEntry>(failure.Event).SequenceNr);
        await probe.ExpectMsgAsync("replayed +1", Wait);
        await probe.ExpectTerminatedAsync(counter, Wait);
    }

    [Fact]
    public async Task An_event_that_cannot_be_serialized_is_rejected_and_the_actor_goes_on()
    {
        var probe = new TestProbe(_sys);
        var rejections = new TestProbe(_sys);
        _sys.EventStream.Subscribe(rejections, typeof(PersistRejected));
        var counter = Counter(probe);
        await probe.ExpectMsgAsync("recovered 0 at 0", Wait);

        probe.Send(counter, new NotRegistered(1));
        var rejected = await rejections.ExpectMsgAsync<PersistRejected>(Wait);
        Assert.IsType<SerializationException>(rejected.Cause);
        Assert.Equal(1, rejected.SequenceNr);

        probe.Send(counter, new Increment(4));
        await probe.ExpectMsgAsync(4, Wait);
        Assert.Equal([1L], (await _store.ReplayAsync(_pid, 1, 10, 10).WaitAsync(Wait)).Select(e => e.SequenceNr));
    }
}

public sealed class SqlitePersistentActorTests : PersistentActorContract
{
    private readonly SqliteTempFile _file;

    public SqlitePersistentActorTests() : this(new SqliteTempFile()) { }

    private SqlitePersistentActorTests(SqliteTempFile file) : base((new SqliteJournal(file.Path), new SqliteSnapshotStore(file.Path))) => _file = file;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}

[Collection(ImageGpt.Actors.Tests.Postgres.PostgresCollection.Name)]
public sealed class PostgresPersistentActorTests(ImageGpt.Actors.Tests.Postgres.PostgresServer server)
    : PersistentActorContract((new PostgresJournal(server.ConnectionString), new PostgresSnapshotStore(server.ConnectionString)));
