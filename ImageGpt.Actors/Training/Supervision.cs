using Akka.Actor;
using Akka.Pattern;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Training;

/// <summary>
/// How a run's loaders, trainers and evaluator are supervised: each under an Akka <see cref="BackoffSupervisor"/> that
/// stops a failed child and starts a new one after a doubling backoff, with a real budget: at most
/// runtime.restart.max-restarts restarts within runtime.restart.window (the count is not reset by a quiet spell
/// shorter than the window). Past the budget the supervisor stops itself; the run, which watches it, stops with a
/// one-line reason.
/// </summary>
public static class Supervision
{
    /// <summary>
    /// What a failure means (pure, unit-tested). A failure in a constructor or PreStart, an actor killed or a user's
    /// mistake would fail again the same way: stop. Anything else is treated as transient: restart.
    /// </summary>
    public static Directive Decide(Exception e) => e switch
    {
        ActorInitializationException or ActorKilledException or DeathPactException => Directive.Stop,
        UserError => Directive.Stop,
        _ => Directive.Restart,
    };

    public static Props Backoff(Props child, string childName, RuntimeSettings runtime) =>
        BackoffSupervisor.Props(Akka.Pattern.Backoff.OnFailure(child, childName, runtime.RestartMinBackoff, runtime.RestartMaxBackoff, 0.2, runtime.MaxRestarts)
            .WithManualReset()
            .WithSupervisorStrategy(new OneForOneStrategy(runtime.MaxRestarts, runtime.RestartWindow, Decide)));
}
