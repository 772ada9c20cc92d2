using System.Diagnostics;

namespace ImageGpt.Actors.Runtime;

/// <summary>What a supervisor does with a failed child.</summary>
public enum Directive
{
    /// <summary>Keep the instance and its state; go on with the next message.</summary>
    Resume,
    /// <summary>Replace the instance with a fresh one from Props; its children are stopped (default PreRestart).</summary>
    Restart,
    /// <summary>Stop the child for good.</summary>
    Stop,
    /// <summary>Fail the supervisor itself with the same exception; its own supervisor decides.</summary>
    Escalate,
}

/// <summary>A supervisor's decision as a pure function of the failure, testable on its own.</summary>
public delegate Directive Decider(Exception cause);

/// <summary>
/// Decides what happens to a failed child. The decision is a pure <see cref="Decider"/>; the strategy
/// adds the retry budget (<c>maxNrOfRetries</c> within <c>withinTimeRange</c>) and the scope (the
/// failed child only, or all children).
/// </summary>
public abstract class SupervisorStrategy
{
    /// <summary>Akka's default: initialisation failures, Kill and death pacts stop; everything else restarts.</summary>
    public static Directive DefaultDecider(Exception cause) => cause switch
    {
        ActorInitializationException => Directive.Stop,
        ActorKilledException => Directive.Stop,
        DeathPactException => Directive.Stop,
        _ => Directive.Restart,
    };

    /// <summary>Restart on any failure without limit (one-for-one with <see cref="DefaultDecider"/>).</summary>
    public static readonly SupervisorStrategy Default = new OneForOneStrategy(-1, Timeout.InfiniteTimeSpan, DefaultDecider);

    /// <summary>Stop any child that fails.</summary>
    public static readonly SupervisorStrategy StoppingStrategy = new OneForOneStrategy(-1, Timeout.InfiniteTimeSpan, static _ => Directive.Stop);

    /// <param name="maxNrOfRetries">restarts allowed within the window; -1 unlimited; past it the child is stopped</param>
    /// <param name="withinTimeRange">the window; <see cref="Timeout.InfiniteTimeSpan"/> counts restarts forever</param>
    protected SupervisorStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Decider decider)
    {
        ArgumentNullException.ThrowIfNull(decider);
        if (maxNrOfRetries < -1) throw new ArgumentOutOfRangeException(nameof(maxNrOfRetries), maxNrOfRetries, "use -1 for unlimited restarts");
        if (withinTimeRange <= TimeSpan.Zero && withinTimeRange != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(withinTimeRange), withinTimeRange, "use Timeout.InfiniteTimeSpan for no window");
        MaxNrOfRetries = maxNrOfRetries;
        WithinTimeRange = withinTimeRange;
        Decider = decider;
    }

    public int MaxNrOfRetries { get; }
    public TimeSpan WithinTimeRange { get; }
    public Decider Decider { get; }

    /// <summary>Runs on the supervisor's turn. Returns false to escalate.</summary>
    internal bool HandleFailure(ActorCell supervisor, ChildStats failed, Exception cause, IReadOnlyList<ChildStats> children)
    {
        Directive directive = Decider(cause);
        switch (directive)
        {
            case Directive.Resume:
                failed.Ref.SendSystemMessage(new Resume(causedByFailure: true));
                return true;
            case Directive.Restart:
                ProcessFailure(supervisor, restart: true, failed, cause, children);
                return true;
            case Directive.Stop:
                ProcessFailure(supervisor, restart: false, failed, cause, children);
                return true;
            default:
                Debug.Assert(directive == Directive.Escalate);
                return false;
        }
    }

    private protected abstract void ProcessFailure(ActorCell supervisor, bool restart, ChildStats failed, Exception cause, IReadOnlyList<ChildStats> children);

    private protected bool MayRestart(ChildStats child) => child.RequestRestartPermission(MaxNrOfRetries, WithinTimeRange);
}

/// <summary>Applies the directive to the failed child only.</summary>
public sealed class OneForOneStrategy : SupervisorStrategy
{
    public OneForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Decider decider)
        : base(maxNrOfRetries, withinTimeRange, decider) { }

    public OneForOneStrategy(Decider decider) : base(-1, Timeout.InfiniteTimeSpan, decider) { }

    private protected override void ProcessFailure(ActorCell supervisor, bool restart, ChildStats failed, Exception cause, IReadOnlyList<ChildStats> children)
    {
        if (restart && MayRestart(failed)) failed.Ref.SendSystemMessage(new Recreate(cause, resumeAfter: false));
        else supervisor.StopChild(failed.Ref);
    }
}

/// <summary>Applies the directive to every child of the supervisor (they work as a unit).</summary>
public sealed class AllForOneStrategy : SupervisorStrategy
{
    public AllForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Decider decider)
        : base(maxNrOfRetries, withinTimeRange, decider) { }

    public AllForOneStrategy(Decider decider) : base(-1, Timeout.InfiniteTimeSpan, decider) { }

    private protected override void ProcessFailure(ActorCell supervisor, bool restart, ChildStats failed, Exception cause, IReadOnlyList<ChildStats> children)
    {
        bool allMay = true;
        foreach (ChildStats c in children) allMay &= MayRestart(c);
        if (restart && allMay)
        {
            foreach (ChildStats c in children)
            {
                bool sibling = !c.Ref.Equals(failed.Ref);
                // A healthy sibling is suspended first so it takes no message between now and its restart.
                if (sibling) c.Ref.SendSystemMessage(Suspend.Instance);
                c.Ref.SendSystemMessage(new Recreate(cause, resumeAfter: sibling));
            }
        }
        else
        {
            foreach (ChildStats c in children) supervisor.StopChild(c.Ref);
        }
    }
}

/// <summary>A child as its parent sees it: the ref and the restart budget spent.</summary>
internal sealed class ChildStats(ActorRefBase child)
{
    private int _retries;
    private long _windowStartMs;

    public ActorRefBase Ref { get; } = child;

    /// <summary>Counts this restart and says whether the budget allows it.</summary>
    public bool RequestRestartPermission(int maxNrOfRetries, TimeSpan window)
    {
        if (maxNrOfRetries < 0) return true;
        if (window == Timeout.InfiniteTimeSpan)
        {
            _retries++;
            return _retries <= maxNrOfRetries;
        }
        long now = Environment.TickCount64;
        if (_retries == 0 || now - _windowStartMs > (long)window.TotalMilliseconds)
        {
            // The previous window has passed: this failure opens a new one.
            _windowStartMs = now;
            _retries = 1;
        }
        else
        {
            _retries++;
        }
        return _retries <= maxNrOfRetries;
    }
}
