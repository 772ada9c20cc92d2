using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.Persistence;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt bench-persist</c>: journal write throughput on SQLite (synchronous FULL and NORMAL) and
/// PostgreSQL, printed beside Akka.Persistence.Sql's published PostgreSQL figures.
/// </summary>
public static class BenchPersistCommand
{
    // Akka.Persistence.Sql's README benchmark on PostgreSQL: Persist (one event per round trip, awaited) and
    // PersistAsync (the journal batches writes), events per second.
    private const double AkkaPersist = 395;
    private const double AkkaPersistAsync = 12_700;

    public static int Run(string[] argv)
    {
        var a = Args.Parse("bench-persist", argv, new HashSet<string>());
        int events = a.Int("events", 2000);
        int batch = a.Int("batch", 100);
        int writers = a.Int("writers", 8);
        string provider = a.String("provider") ?? "sqlite";
        string? pg = a.String("pg");
        string? sqlitePath = a.String("sqlite");
        a.RejectUnknown();
        if (events < 1) throw new UserError($"--events {events} must be at least 1");
        if (batch < 1) throw new UserError($"--batch {batch} must be at least 1");
        if (writers < 1) throw new UserError($"--writers {writers} must be at least 1");
        if (provider is not ("sqlite" or "postgres" or "both"))
            throw new UserError($"--provider '{provider}' is not sqlite, postgres or both");
        if (provider is "postgres" or "both" && pg is null)
            throw new UserError("--provider " + provider + " needs --pg \"Host=...;Port=...;Username=...;Database=...\". HINT: point it at a scratch database; the bench writes under a fresh persistence id and deletes its events afterwards");

        Console.WriteLine($"bench-persist: {events} events of 256 bytes per mode; batches of {batch}; {writers} parallel writers. Timings are wall clock on a shared machine.");
        Console.WriteLine($"{"store",-18} {"mode",-34} {"events",8} {"seconds",8} {"events/s",10}  Akka.Persistence.Sql (PostgreSQL)");
        if (provider is "sqlite" or "both")
        {
            foreach (SqliteSynchronous sync in new[] { SqliteSynchronous.Full, SqliteSynchronous.Normal })
            {
                string dir = sqlitePath is null ? Directory.CreateTempSubdirectory("imagegpt-bench-").FullName : "";
                string path = sqlitePath ?? Path.Combine(dir, "bench.db");
                try
                {
                    var options = new SqlStoreOptions { Synchronous = sync };
                    Measure($"sqlite {sync.ToString().ToUpperInvariant()}", () => new SqliteJournal(path, options), events, batch, writers);
                }
                finally
                {
                    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                    if (dir.Length > 0) Directory.Delete(dir, recursive: true);
                }
            }
        }
        if (provider is "postgres" or "both")
            Measure("postgres", () => new PostgresJournal(pg!), events, batch, writers);
        return 0;
    }

    private static void Measure(string store, Func<SqlJournal> open, int events, int batch, int writers)
    {
        SqlJournal journal = open();
        try
        {
            string run = Guid.NewGuid().ToString("N")[..8];
            byte[] payload = new byte[256];
            Random.Shared.NextBytes(payload);
            JournalEntry Event(string pid, long seq) => new(pid, seq, "bench", payload);

            // Warm up: schema, connection pool, JIT.
            string warm = $"bench-{run}-warm";
            for (int i = 1; i <= 20; i++) journal.WriteAsync([Event(warm, i)]).GetAwaiter().GetResult();

            string one = $"bench-{run}-persist";
            double s1 = Time(() =>
            {
                for (int i = 1; i <= events; i++) journal.WriteAsync([Event(one, i)]).GetAwaiter().GetResult();
            });
            Print(store, "Persist: 1 event/transaction", events, s1, AkkaPersist);

            string many = $"bench-{run}-batch";
            double s2 = Time(() =>
            {
                for (int first = 1; first <= events; first += batch)
                {
                    int n = Math.Min(batch, events - first + 1);
                    journal.WriteAsync(Enumerable.Range(first, n).Select(i => Event(many, i)).ToList()).GetAwaiter().GetResult();
                }
            });
            Print(store, $"batched: {batch} events/transaction", events, s2, AkkaPersistAsync);

            int perWriter = Math.Max(1, events / writers);
            double s3 = Time(() =>
            {
                Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
                {
                    string pid = $"bench-{run}-writer-{w}";
                    for (int i = 1; i <= perWriter; i++) await journal.WriteAsync([Event(pid, i)]).ConfigureAwait(false);
                }))).GetAwaiter().GetResult();
            });
            Print(store, $"Persist: {writers} writers, 1 event/tx", perWriter * writers, s3, AkkaPersist);

            foreach (string pid in new[] { warm, one, many }.Concat(Enumerable.Range(0, writers).Select(w => $"bench-{run}-writer-{w}")))
                journal.DeleteToAsync(pid, long.MaxValue).GetAwaiter().GetResult();
        }
        finally
        {
            journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    private static void Print(string store, string mode, int events, double seconds, double akka)
    {
        double rate = events / seconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{store,-18} {mode,-34} {events,8} {seconds,8:F2} {rate,10:F0}  {akka,6:F0} ({rate / akka:F1}x)"));
    }
}
