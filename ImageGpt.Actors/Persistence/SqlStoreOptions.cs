namespace ImageGpt.Actors.Persistence;

/// <summary>
/// How a SQL journal or snapshot store talks to its database. Defaults follow Akka.Persistence.Sql's
/// <c>circuit-breaker</c> section where it has one.
/// </summary>
public sealed record SqlStoreOptions
{
    /// <summary>Limit on one SQL command, enforced by the driver; it also bounds how long a write waits for
    /// another transaction's lock (SQLite: it is the busy timeout). A checkpoint blob of a few hundred MB takes
    /// seconds to write, so the limit is generous; the circuit breaker's call timeout is the tighter guard.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive failures that open the breaker (Akka: 10). Lower means a dead database is detected
    /// sooner at the price of opening on short blips.</summary>
    public int MaxFailures { get; init; } = 10;

    /// <summary>A whole store call (connect, transaction, commit) that takes longer fails and counts as a
    /// failure (Akka: 10 s).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open breaker refuses calls before letting one trial through (Akka: 30 s).</summary>
    public TimeSpan ResetTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// SQLite's <c>synchronous</c> pragma. FULL by default: a Persist handler runs only after the write, and the
    /// actor acts on the event as durable, so a commit must survive power loss, which in WAL mode needs an fsync
    /// of the log per commit. NORMAL (fsync only at checkpoints) still survives a killed process and never
    /// corrupts the file, but a power cut can lose the last commits; choose it where events can be recomputed.
    /// </summary>
    public SqliteSynchronous Synchronous { get; init; } = SqliteSynchronous.Full;

    /// <summary>Source of "now" for the <c>created</c> column and the breaker; tests substitute a fake.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public static SqlStoreOptions Default { get; } = new();

    internal CircuitBreaker NewBreaker(string name) => new(name, MaxFailures, CallTimeout, ResetTimeout, Clock);
}

public enum SqliteSynchronous { Normal, Full }
