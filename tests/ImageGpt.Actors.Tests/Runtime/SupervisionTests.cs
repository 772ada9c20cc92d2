using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class SupervisionTests : RuntimeTestBase
{
    private async Task<IActorRef> ChildOf(IActorRef parent, Props props, string name)
    {
        return await parent.Ask<IActorRef>((props, name), Wait);
    }

    private static Props Supervisor(Decider decider, int maxRetries = -1, TimeSpan? window = null, bool allForOne = false) =>
        Props.Create(() => new Parent(allForOne
            ? new AllForOneStrategy(maxRetries, window ?? Timeout.InfiniteTimeSpan, decider)
            : new OneForOneStrategy(maxRetries, window ?? Timeout.InfiniteTimeSpan, decider)));

    [Fact]
    public async Task A_failure_goes_to_the_parent_and_never_back_to_the_sender()
    {
        var life = CreateProbe();
        var sender = CreateProbe();
        var failures = TestProbe.ForFailures(Sys);
        var parent = Sys.ActorOf(Supervisor(_ => Directive.Resume));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        await life.ExpectMsgAsync("prestart c", Wait);
        child.Tell(new InvalidOperationException("boom"), sender);
        var e = await failures.ExpectFailureAsync<InvalidOperationException>(child, Wait);
        Assert.Equal("boom", e.Message);
        await sender.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Resume_keeps_the_instance_and_its_state()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(_ => Directive.Resume));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        Assert.Equal(1, await child.Ask<int>("count", Wait));
        child.Tell(new InvalidOperationException("boom"));
        Assert.Equal(2, await child.Ask<int>("count", Wait));
        await life.ExpectMsgAsync("prestart c", Wait);
        await life.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Restart_makes_a_new_instance_from_props_and_calls_the_restart_hooks()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(SupervisorStrategy.DefaultDecider));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        await life.ExpectMsgAsync("prestart c", Wait);
        Assert.Equal(1, await child.Ask<int>("count", Wait));
        child.Tell(new InvalidOperationException("boom"));
        await life.ExpectMsgAsync("prerestart c boom InvalidOperationException", Wait);
        await life.ExpectMsgAsync("poststop c", Wait);
        await life.ExpectMsgAsync("postrestart c boom", Wait);
        await life.ExpectMsgAsync("prestart c", Wait);
        Assert.Equal(1, await child.Ask<int>("count", Wait));
        Assert.Equal(1, Sys.Health().Find(child)!.Restarts);
    }

    [Fact]
    public async Task Restart_stops_the_children_of_the_failed_actor_first()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(SupervisorStrategy.DefaultDecider));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        var grandchild = await child.Ask<IActorRef>("child:g", Wait);
        Assert.Equal("imagegpt://test/user/$1/c/g", grandchild.Path.ToString());
        await life.FishForMessageAsync<string>(s => s == "prestart g", Wait);
        life.Watch(grandchild);
        child.Tell(new InvalidOperationException("boom"));
        await life.FishForMessageAsync<string>(s => s == "poststop g", Wait);
        await life.ExpectTerminatedAsync(grandchild, Wait);
        // The new instance can reuse the old child name: the restart waited for the child to be gone.
        var again = await child.Ask<IActorRef>("child:g", Wait);
        Assert.NotEqual(grandchild, again);
    }

    [Fact]
    public async Task Stop_directive_stops_the_failed_child()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(_ => Directive.Stop));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        life.Watch(child);
        child.Tell(new InvalidOperationException("boom"));
        await life.FishForMessageAsync<string>(s => s == "poststop c", Wait);
        await life.ExpectTerminatedAsync(child, Wait);
    }

    [Fact]
    public async Task Escalate_fails_the_supervisor_which_its_own_supervisor_restarts()
    {
        var life = CreateProbe();
        var grand = Sys.ActorOf(Supervisor(SupervisorStrategy.DefaultDecider), "grand");
        var parent = await ChildOf(grand, Supervisor(_ => Directive.Escalate), "parent");
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        life.Watch(child);
        var failures = TestProbe.ForFailures(Sys);
        child.Tell(new InvalidOperationException("boom"));
        await failures.ExpectFailureAsync<InvalidOperationException>(child, Wait);
        await failures.ExpectFailureAsync<InvalidOperationException>(parent, Wait);
        // The restarted parent stopped its children (default PreRestart).
        await life.FishForMessageAsync<Terminated>(t => t.ActorRef.Equals(child), Wait);
        Assert.Equal(1, Sys.Health().Find(parent)!.Restarts);
    }

    [Fact]
    public async Task More_failures_than_the_retry_budget_stop_the_child()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(SupervisorStrategy.DefaultDecider, maxRetries: 2, window: TimeSpan.FromMinutes(1)));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        life.Watch(child);
        for (int i = 0; i < 3; i++)
        {
            child.Tell(new InvalidOperationException($"boom {i}"));
            if (i < 2) await life.FishForMessageAsync<string>(s => s == $"postrestart c boom {i}", Wait);
        }
        await life.FishForMessageAsync<Terminated>(t => t.ActorRef.Equals(child), Wait);
    }

    [Fact]
    public async Task All_for_one_restarts_every_child_when_one_fails()
    {
        var a = CreateProbe();
        var b = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(SupervisorStrategy.DefaultDecider, allForOne: true));
        var ca = await ChildOf(parent, Props.Create(() => new LifecycleActor(a)), "a");
        var cb = await ChildOf(parent, Props.Create(() => new LifecycleActor(b)), "b");
        await a.ExpectMsgAsync("prestart a", Wait);
        await b.ExpectMsgAsync("prestart b", Wait);
        Assert.Equal(1, await cb.Ask<int>("count", Wait));
        ca.Tell(new InvalidOperationException("boom"));
        await a.ExpectMsgAsync("prerestart a boom InvalidOperationException", Wait);
        await b.ExpectMsgAsync("prerestart b boom ", Wait);
        await b.FishForMessageAsync<string>(s => s == "prestart b", Wait);
        Assert.Equal(1, await cb.Ask<int>("count", Wait));
    }

    [Fact]
    public async Task A_failing_constructor_is_an_initialization_failure_that_stops_the_actor()
    {
        var probe = CreateProbe();
        var failures = TestProbe.ForFailures(Sys);
        var a = Sys.ActorOf(Props.Create<ThrowsInConstructor>());
        probe.Watch(a);
        var e = await failures.ExpectFailureAsync<ActorInitializationException>(a, Wait);
        Assert.IsType<FormatException>(e.InnerException);
        await probe.ExpectTerminatedAsync(a, Wait);
    }

    private sealed class ThrowsInConstructor : ReceiveActor
    {
        public ThrowsInConstructor() => throw new FormatException("bad config");
    }

    [Fact]
    public async Task Kill_fails_the_actor_with_ActorKilledException_and_stops_it()
    {
        var probe = CreateProbe();
        var failures = TestProbe.ForFailures(Sys);
        var a = Sys.ActorOf(Props.Create<EchoActor>());
        probe.Watch(a);
        a.Tell(Kill.Instance);
        await failures.ExpectFailureAsync<ActorKilledException>(a, Wait);
        await probe.ExpectTerminatedAsync(a, Wait);
    }

    [Fact]
    public async Task Props_WithSupervisorStrategy_overrides_the_actors_own_strategy()
    {
        var life = CreateProbe();
        var parent = Sys.ActorOf(Supervisor(_ => Directive.Restart).WithSupervisorStrategy(new OneForOneStrategy(_ => Directive.Resume)));
        var child = await ChildOf(parent, Props.Create(() => new LifecycleActor(life)), "c");
        Assert.Equal(1, await child.Ask<int>("count", Wait));
        child.Tell(new InvalidOperationException("boom"));
        Assert.Equal(2, await child.Ask<int>("count", Wait));
    }
}
