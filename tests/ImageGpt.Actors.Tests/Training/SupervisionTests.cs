using Akka.Actor;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>The run's decider is a pure function: what each kind of failure means.</summary>
public sealed class SupervisionTests
{
    [Fact]
    public void Transient_failures_restart_the_actor()
    {
        Assert.Equal(Directive.Restart, Supervision.Decide(new IOException("disk hiccup")));
        Assert.Equal(Directive.Restart, Supervision.Decide(new InvalidOperationException("injected")));
        Assert.Equal(Directive.Restart, Supervision.Decide(new OutOfMemoryException()));
    }

    [Fact]
    public void Failures_that_would_happen_again_stop_the_actor()
    {
        Assert.Equal(Directive.Stop, Supervision.Decide(new ActorInitializationException("ctor failed")));
        Assert.Equal(Directive.Stop, Supervision.Decide(new ActorKilledException("killed")));
        Assert.Equal(Directive.Stop, Supervision.Decide(new DeathPactException(ActorRefs.Nobody)));
        Assert.Equal(Directive.Stop, Supervision.Decide(new UserError("bad value. HINT: fix it")));
    }
}
