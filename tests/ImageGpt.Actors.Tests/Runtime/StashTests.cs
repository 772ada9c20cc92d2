using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class StashTests : RuntimeTestBase
{
    /// <summary>Stashes work until it is opened, like a persistent actor during recovery.</summary>
    private sealed class Door : ReceiveActor
    {
        public Door(IActorRef probe)
        {
            Receive<string>(s => s == "open", _ =>
            {
                probe.Tell($"opened with {Stash.Count} stashed", Self);
                Stash.UnstashAll();
                Become(() =>
                {
                    Receive<Exception>(e => throw e);
                    Receive<string>(s => s == "close", _ => UnbecomeStacked());
                    Receive<int>(i => probe.Tell(i, Self));
                });
            });
            Receive<int>(_ => Stash.Stash());
        }
    }

    [Fact]
    public async Task Unstashed_messages_are_processed_in_order_before_the_rest_of_the_mailbox()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new Door(probe)));
        for (int i = 0; i < 5; i++) a.Tell(i);
        a.Tell("open");
        for (int i = 5; i < 8; i++) a.Tell(i);
        await probe.ExpectMsgAsync("opened with 5 stashed", Wait);
        for (int i = 0; i < 8; i++) await probe.ExpectMsgAsync(i, Wait);
    }

    [Fact]
    public async Task Stashed_messages_of_a_stopped_actor_become_dead_letters()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new Door(probe)));
        probe.Watch(a);
        for (int i = 0; i < 3; i++) a.Tell(i);
        a.Tell(PoisonPill.Instance);
        await probe.ExpectTerminatedAsync(a, Wait);
        Assert.Equal(3, Sys.DeadLetterCount);
    }

    private sealed class TwiceStasher : ReceiveActor
    {
        public TwiceStasher() => Receive<int>(_ => { Stash.Stash(); Stash.Stash(); });
    }

    [Fact]
    public async Task Stashing_the_same_message_twice_is_a_failure()
    {
        var failures = TestKit.TestProbe.ForFailures(Sys);
        var a = Sys.ActorOf(Props.Create<TwiceStasher>());
        a.Tell(1);
        await failures.ExpectFailureAsync<InvalidOperationException>(a, Wait);
    }

    private sealed class StashesTimerMessages : ReceiveActor
    {
        public StashesTimerMessages(IActorRef probe)
        {
            Receive<string>(s => s == "arm", _ => Timers.StartSingleTimer("t", "tick", TimeSpan.FromMilliseconds(10)));
            Receive<string>(s => s == "tick", _ => { Stash.Stash(); probe.Tell("stashed", Self); });
            Receive<string>(s => s == "release", _ =>
            {
                Stash.UnstashAll();
                Become(() => Receive<string>(s => probe.Tell($"after {s}", Self)));
            });
        }
    }

    [Fact]
    public async Task A_stashed_timer_message_is_delivered_when_unstashed()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new StashesTimerMessages(probe)));
        a.Tell("arm");
        await probe.ExpectMsgAsync("stashed", Wait);
        a.Tell("release");
        await probe.ExpectMsgAsync("after tick", Wait);
    }
}
