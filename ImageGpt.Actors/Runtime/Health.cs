namespace ImageGpt.Actors.Runtime;

public enum ActorState
{
    /// <summary>Created; its constructor and PreStart have not finished.</summary>
    Starting,
    Running,
    /// <summary>Failed; waiting for its supervisor's decision.</summary>
    Suspended,
    /// <summary>Being replaced by a new instance (waiting for its old children to stop).</summary>
    Restarting,
    /// <summary>Stopping its children before PostStop.</summary>
    Stopping,
    Stopped,
}

public sealed record FailureInfo(string ExceptionType, string Message, DateTime AtUtc);

/// <summary>One actor in a health snapshot. Rates are over the last second or so of activity.</summary>
public sealed record ActorHealth(
    string Path,
    string ActorType,
    ActorState State,
    int MailboxDepth,
    long MessagesProcessed,
    double MessagesPerSecond,
    int Restarts,
    FailureInfo? LastFailure,
    DateTime? LastActivityUtc);

/// <summary>The whole actor tree, parents before children, plus the system-wide dead-letter count.</summary>
public sealed record HealthSnapshot(string System, DateTime AtUtc, IReadOnlyList<ActorHealth> Actors, long DeadLetters)
{
    public ActorHealth? Find(IActorRef actor) => Actors.FirstOrDefault(a => a.Path == actor.Path.ToString());
}
