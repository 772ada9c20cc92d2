using System.Net;
using System.Net.Sockets;
using ImageGpt.Actors.Persistence;
using static ImageGpt.Actors.Tests.Persistence.TestSupport;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>A journal whose PostgreSQL is gone must fail fast, not hang: first with the driver's error or a
/// call timeout, then, once the breaker opens, with <see cref="CircuitBreakerOpenException"/> without connecting.</summary>
public sealed class DeadDatabaseTests
{
    private static JournalEntry Event(string pid) => new(pid, 1, "test-event", [1, 2, 3]);

    [Fact]
    public async Task A_journal_on_a_port_where_nothing_listens_opens_its_breaker_and_then_fails_fast()
    {
        int port = UnusedPort();
        var options = new SqlStoreOptions { MaxFailures = 3, CallTimeout = TimeSpan.FromSeconds(20), ResetTimeout = TimeSpan.FromMinutes(5) };
        await using var j = new PostgresJournal($"Host=127.0.0.1;Port={port};Username=postgres;Database=none", options);
        string pid = NewPid();

        for (int i = 0; i < 3; i++)
        {
            Exception e = await Assert.ThrowsAnyAsync<Exception>(() => j.WriteAsync([Event(pid)]).Bounded());
            Assert.IsNotType<CircuitBreakerOpenException>(e);
            Assert.IsNotType<TimeoutException>(e);
        }
        Assert.Equal(CircuitState.Open, j.Breaker.State);
        var open = await Assert.ThrowsAsync<CircuitBreakerOpenException>(() => j.WriteAsync([Event(pid)]).Bounded());
        Assert.Contains("postgres-journal", open.Message);
        await Assert.ThrowsAsync<CircuitBreakerOpenException>(() => j.HighestSequenceNrAsync(pid).Bounded());
    }

    [Fact]
    public async Task A_journal_on_a_server_that_accepts_but_never_answers_times_out_and_then_fails_fast()
    {
        using var blackHole = new TcpListener(IPAddress.Loopback, 0);
        blackHole.Start();
        var held = new List<Socket>();
        using var stop = new CancellationTokenSource();
        Task accepting = Task.Run(async () =>
        {
            try { while (true) held.Add(await blackHole.AcceptSocketAsync(stop.Token)); }
            catch (OperationCanceledException) { }
        });
        int port = ((IPEndPoint)blackHole.LocalEndpoint).Port;
        var options = new SqlStoreOptions { MaxFailures = 2, CallTimeout = TimeSpan.FromMilliseconds(300), ResetTimeout = TimeSpan.FromMinutes(5) };
        await using (var j = new PostgresJournal($"Host=127.0.0.1;Port={port};Username=postgres;Database=none", options))
        {
            string pid = NewPid();
            await Assert.ThrowsAsync<TimeoutException>(() => j.WriteAsync([Event(pid)]).Bounded());
            await Assert.ThrowsAsync<TimeoutException>(() => j.ReplayAsync(pid, 1, 10, 10).Bounded());
            Assert.Equal(CircuitState.Open, j.Breaker.State);
            await Assert.ThrowsAsync<CircuitBreakerOpenException>(() => j.WriteAsync([Event(pid)]).Bounded());
        }
        stop.Cancel();
        await accepting.Bounded();
        foreach (Socket s in held) s.Dispose();
    }

    private static int UnusedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
