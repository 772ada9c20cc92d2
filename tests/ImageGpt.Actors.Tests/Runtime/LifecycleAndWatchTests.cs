using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class LifecycleAndWatchTests : RuntimeTestBase
{
    [Fact]
    public async Task PreStart_runs_before_the_first_message_and_PostStop_after_the_last()
    {
        var life = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        a.Tell("one");
        a.Tell(PoisonPill.Instance);
        a.Tell("after the pill");
        await life.ExpectMsgAsync("prestart a", Wait);
        await life.ExpectMsgAsync("got one", Wait);
        await life.ExpectMsgAsync("poststop a", Wait);
        await life.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Children_get_hierarchical_paths_and_know_their_parent()
    {
        var life = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        var b = await a.Ask<IActorRef>("child:b", Wait);
        Assert.Equal("imagegpt://test/user/a/b", b.Path.ToString());
        var p = Sys.ActorOf(Props.Create<ParentReporter>(), "p");
        var child = await p.Ask<IActorRef>("make", Wait);
        Assert.Equal(p, await child.Ask<IActorRef>(new GetParent(), Wait));
    }

    private sealed record GetParent;

    private sealed class ParentReporter : ReceiveActor
    {
        public ParentReporter()
        {
            Receive<string>(_ => Sender.Tell(Context.ActorOf(Props.Create<ParentReporter>(), "kid"), Self));
            Receive<GetParent>(_ => Sender.Tell(Context.Parent, Self));
        }
    }

    [Fact]
    public async Task A_second_child_with_the_same_name_is_rejected()
    {
        var p = Sys.ActorOf(Props.Create<ParentReporter>(), "p");
        await p.Ask<IActorRef>("make", Wait);
        var failures = TestProbe.ForFailures(Sys);
        p.Tell("make");
        var e = await failures.ExpectFailureAsync<InvalidActorNameException>(p, Wait);
        Assert.Contains("not unique", e.Message);
        Sys.ActorOf(Props.Create<EchoActor>(), "top");
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "top"));
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "a/b"));
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "$reserved"));
    }

    [Fact]
    public async Task Stopping_a_parent_stops_its_children_first()
    {
        var life = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        await a.Ask<IActorRef>("child:b", Wait);
        await life.ExpectMsgAsync("prestart a", Wait);
        await life.ExpectMsgAsync("prestart b", Wait);
        Sys.Stop(a);
        await life.ExpectMsgAsync("poststop b", Wait);
        await life.ExpectMsgAsync("poststop a", Wait);
    }

    [Fact]
    public async Task Context_Stop_of_self_takes_effect_after_the_current_message()
    {
        var life = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        life.Watch(a);
        a.Tell("stop-self");
        await life.ExpectMsgAsync("prestart a", Wait);
        await life.ExpectMsgAsync("poststop a", Wait);
        await life.ExpectTerminatedAsync(a, Wait);
    }

    [Fact]
    public async Task Messages_to_a_stopped_actor_become_counted_dead_letters_on_the_event_stream()
    {
        var probe = CreateProbe();
        Sys.EventStream.Subscribe(probe, typeof(DeadLetter));
        var a = Sys.ActorOf(Props.Create<EchoActor>(), "a");
        probe.Watch(a);
        Sys.Stop(a);
        await probe.ExpectTerminatedAsync(a, Wait);
        long before = Sys.DeadLetterCount;
        a.Tell("lost", probe);
        var d = await probe.ExpectMsgAsync<DeadLetter>(Wait);
        Assert.Equal("lost", d.Message);
        Assert.Equal(a, d.Recipient);
        Assert.Equal(probe, d.Sender);
        Assert.Equal(before + 1, Sys.DeadLetterCount);
    }

    [Fact]
    public async Task A_watcher_gets_Terminated_when_the_watched_actor_stops()
    {
        var probe = CreateProbe();
        var target = Sys.ActorOf(Props.Create<EchoActor>(), "target");
        var watcher = Sys.ActorOf(Props.Create(() => new Watcher(target, probe)), "watcher");
        await probe.ExpectMsgAsync("watching", Wait);
        Sys.Stop(target);
        var t = await probe.ExpectMsgAsync<Terminated>(Wait);
        Assert.Equal(target, t.ActorRef);
    }

    [Fact]
    public async Task Watching_an_actor_that_is_already_dead_delivers_Terminated_at_once()
    {
        var probe = CreateProbe();
        var target = Sys.ActorOf(Props.Create<EchoActor>(), "target");
        probe.Watch(target);
        Sys.Stop(target);
        await probe.ExpectTerminatedAsync(target, Wait);
        Sys.ActorOf(Props.Create(() => new Watcher(target, probe)), "late-watcher");
        await probe.ExpectMsgAsync("watching", Wait);
        var t = await probe.ExpectMsgAsync<Terminated>(Wait);
        Assert.Equal(target, t.ActorRef);
    }

    private sealed class Watcher : ReceiveActor
    {
        public Watcher(IActorRef target, IActorRef probe)
        {
            Context.Watch(target);
            probe.Tell("watching", Self);
            Receive<Terminated>(t => probe.Tell(t, Self));
            Receive<string>(s => s == "unwatch", _ => { Context.Unwatch(target); Sender.Tell("unwatched", Self); });
        }
    }

    [Fact]
    public async Task After_Unwatch_no_Terminated_arrives()
    {
        var probe = CreateProbe();
        var target = Sys.ActorOf(Props.Create<EchoActor>(), "target");
        var watcher = Sys.ActorOf(Props.Create(() => new Watcher(target, probe)), "watcher");
        await probe.ExpectMsgAsync("watching", Wait);
        watcher.Tell("unwatch", probe);
        await probe.ExpectMsgAsync("unwatched", Wait);
        var own = CreateProbe();
        own.Watch(target);
        Sys.Stop(target);
        await own.ExpectTerminatedAsync(target, Wait);
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task An_unhandled_Terminated_is_a_death_pact_that_stops_the_watcher()
    {
        var probe = CreateProbe();
        var failures = TestProbe.ForFailures(Sys);
        var target = Sys.ActorOf(Props.Create<EchoActor>(), "target");
        var watcher = Sys.ActorOf(Props.Create(() => new PactWatcher(target)), "pact");
        probe.Watch(watcher);
        await watcher.Ask<string>("ready?", Wait);
        Sys.Stop(target);
        var e = await failures.ExpectFailureAsync<DeathPactException>(watcher, Wait);
        Assert.Equal(target, e.DeadActor);
        await probe.ExpectTerminatedAsync(watcher, Wait);
    }

    private sealed class PactWatcher : ReceiveActor
    {
        public PactWatcher(IActorRef target)
        {
            Context.Watch(target);
            Receive<string>(_ => Sender.Tell("ready", Self));
        }
    }
}
