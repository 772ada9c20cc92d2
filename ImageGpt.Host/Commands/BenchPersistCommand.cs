using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Persistence;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt bench-persist [--events N] [--batch B] [--provider sqlite|postgres|both] [--pg CONN]</c>: Akka.Persistence.Sql
/// write throughput, configured exactly as a run's store (SQLite: run.db in WAL mode with the run's busy timeout and
/// journal parallelism; PostgreSQL: checkpoint.postgres), printed beside Akka.Persistence.Sql's published PostgreSQL figures.
/// </summary>
public static class BenchPersistCommand
{
    // Akka.Persistence.Sql's published PostgreSQL benchmark, events per second: Persist (one event per write,
    // awaited before the next) and the batched modes (the journal groups concurrent writes).
    private const double AkkaPersist = 395;
    private const double AkkaBatched = 13_500;

    private static readonly Option<int> Events = Cli.Int("--events", 2000, "events per mode");
    private static readonly Option<int> Batch = Cli.Int("--batch", 100, "events per batched write");
    private static readonly Option<string> Provider = Cli.Text("--provider", "sqlite", "sqlite, postgres or both", "P");
    private static readonly Option<string?> Pg = Cli.Optional("--pg", "PostgreSQL connection string, needed by --provider postgres|both (default: none)", "CONN");

    public static Command Definition { get; } = Cli.Command("bench-persist", "journal writes/s (Persist-style and batched) beside Akka.Persistence.Sql's figures", Events, Batch, Provider, Pg);

    static BenchPersistCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult a)
    {
        int events = a.GetValue(Events);
        int batch = a.GetValue(Batch);
        string provider = a.GetValue(Provider)!;
        string? pg = a.GetValue(Pg);
        if (events < 1) throw new UserError($"--events {events} must be at least 1");
        if (batch < 1) throw new UserError($"--batch {batch} must be at least 1");
        if (provider is not ("sqlite" or "postgres" or "both"))
            throw new UserError($"--provider '{provider}' is not sqlite, postgres or both");
        if (provider is "postgres" or "both" && pg is null)
            throw new UserError("--provider " + provider + " needs --pg \"Host=...;Port=...;Username=...;Database=...\". HINT: point it at a scratch database; the bench writes under fresh persistence ids and deletes them afterwards");

        Console.WriteLine($"bench-persist: Akka.Persistence.Sql {typeof(Akka.Persistence.Sql.SqlPersistence).Assembly.GetName().Version}, {events} events of 256 bytes per mode, batches of {batch}. Wall clock on a shared machine.");
        Console.WriteLine($"{"store",-10} {"mode",-40} {"events",8} {"seconds",8} {"events/s",10}  Akka.Persistence.Sql (PostgreSQL)");
        if (provider is "sqlite" or "both")
        {
            string dir = Directory.CreateTempSubdirectory("imagegpt-bench-").FullName;
            try { Measure("sqlite", new CheckpointSettings(1, 0, "sqlite", "", false), dir, events, batch); }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(dir, recursive: true);
            }
        }
        if (provider is "postgres" or "both")
            Measure("postgres", new CheckpointSettings(1, 0, "postgres", pg!, false), Path.GetTempPath(), events, batch);
        return 0;
    }

    private static void Measure(string name, CheckpointSettings settings, string runDir, int events, int batch)
    {
        var store = RunStore.Open(settings, runDir);
        var resolved = ConfigCommand.Load(null, []);
        using var system = ActorSystem.Create("bench", AkkaSettings.Build(resolved, store));
        try
        {
            string run = Guid.NewGuid().ToString("N")[..8];
            var payload = new byte[256];
            Random.Shared.NextBytes(payload);
            // Warm up: tables, connection pool, JIT.
            Time(system, $"bench-{run}-warm", 50, new Mode.One(payload));
            Print(name, "Persist: one event per write, awaited", events, Time(system, $"bench-{run}-persist", events, new Mode.One(payload)), AkkaPersist);
            Print(name, $"PersistAll: {batch} events per write", events, Time(system, $"bench-{run}-all", events, new Mode.All(payload, batch)), AkkaBatched);
            Print(name, "PersistAsync: the journal batches", events, Time(system, $"bench-{run}-async", events, new Mode.Async(payload)), AkkaBatched);
        }
        finally
        {
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(30));
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static double Time(ActorSystem system, string pid, int events, Mode mode)
    {
        var writer = system.ActorOf(Props.Create(() => new Writer(pid)));
        var sw = Stopwatch.StartNew();
        writer.Ask<Done>(new Go(events, mode), TimeSpan.FromMinutes(10)).GetAwaiter().GetResult();
        double seconds = sw.Elapsed.TotalSeconds;
        writer.Ask<Done>(new Clean(), TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        system.Stop(writer);
        return seconds;
    }

    private static void Print(string store, string mode, int events, double seconds, double akka)
    {
        double rate = events / seconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{store,-10} {mode,-40} {events,8} {seconds,8:F2} {rate,10:F0}  {akka,6:F0} ({rate / akka:F1}x)"));
    }

    private abstract record Mode
    {
        public sealed record One(byte[] Payload) : Mode;
        public sealed record All(byte[] Payload, int Batch) : Mode;
        public sealed record Async(byte[] Payload) : Mode;
    }

    private sealed record Go(int Events, Mode Mode);
    private sealed record Clean;
    private sealed record Done;

    /// <summary>Persists <c>Events</c> events the way the mode says and answers when the last one is durable.</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private int _left;
        private IActorRef _requester = ActorRefs.Nobody;

        public Writer(string pid)
        {
            PersistenceId = pid;
            Recover<byte[]>(_ => { });
            Command<Go>(go =>
            {
                (_left, _requester) = (go.Events, Sender);
                switch (go.Mode)
                {
                    // Persist stashes the commands after it until its event is written: one write at a time.
                    case Mode.One one:
                        for (int i = 0; i < go.Events; i++) Self.Tell(one);
                        break;
                    case Mode.All all:
                        for (int first = 0; first < go.Events; first += all.Batch)
                            PersistAll(Enumerable.Repeat(all.Payload, Math.Min(all.Batch, go.Events - first)), Written);
                        break;
                    // PersistAsync does not stash: the commands keep coming while the journal batches their writes.
                    case Mode.Async async:
                        for (int i = 0; i < go.Events; i++) Self.Tell(async);
                        break;
                }
            });
            Command<Mode.One>(one => Persist(one.Payload, Written));
            Command<Mode.Async>(async => PersistAsync(async.Payload, Written));
            Command<Clean>(_ =>
            {
                DeleteMessages(long.MaxValue);
                Sender.Tell(new Done());
            });
            Command<DeleteMessagesSuccess>(_ => { });
            Command<DeleteMessagesFailure>(_ => { });
        }

        public override string PersistenceId { get; }

        private void Written(byte[] _)
        {
            if (--_left == 0) _requester.Tell(new Done());
        }
    }
}
