namespace ImageGpt.Actors.Health;

public enum ActorState
{
    Running,
    /// <summary>Failed; its supervisor restarts it after a backoff (or gives up when the budget is spent).</summary>
    Restarting,
    Stopped,
    /// <summary>Failed more often than runtime.restart.max-restarts allows; not coming back.</summary>
    Failed,
}

public sealed record FailureInfo(string ExceptionType, string Message, DateTime AtUtc);

/// <summary>One actor (all incarnations at its path). Messages/s is over the last second or so.</summary>
public sealed record ActorHealth(
    string Path, string ActorType, ActorState State, int MailboxDepth, long MessagesProcessed, double MessagesPerSecond,
    int Restarts, FailureInfo? LastFailure, DateTime? LastActivityUtc);

/// <summary>Every monitored actor of the system, parents before children, and the dead letters counted so far.</summary>
public sealed record HealthSnapshot(string System, DateTime AtUtc, IReadOnlyList<ActorHealth> Actors, long DeadLetters);
