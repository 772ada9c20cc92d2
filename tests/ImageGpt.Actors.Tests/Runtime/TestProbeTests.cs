using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class TestProbeTests : RuntimeTestBase
{
    [Fact]
    public async Task ExpectMsg_fails_with_a_clear_message_when_nothing_arrives_in_time()
    {
        var probe = CreateProbe("p");
        var e = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync<string>(TimeSpan.FromMilliseconds(50)));
        Assert.Contains("timed out after 50 ms waiting for a String", e.Message);
    }

    [Fact]
    public async Task ExpectMsg_fails_when_the_next_message_has_another_type_or_value()
    {
        var probe = CreateProbe();
        probe.Tell(1, null);
        probe.Tell("b", null);
        await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync<string>(Wait));
        await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync("a", Wait));
    }

    [Fact]
    public async Task ExpectNoMsg_fails_when_a_message_arrives()
    {
        var probe = CreateProbe();
        probe.Tell("surprise", null);
        await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectNoMsgAsync(Quiet));
    }

    [Fact]
    public void The_synchronous_expectations_wait_for_messages_sent_by_actors()
    {
        var probe = CreateProbe();
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        probe.Send(echo, "hello");
        Assert.Equal("hello", probe.ExpectMsg<string>(Wait));
        probe.Reply("again");
        Assert.Equal("again", probe.ExpectMsg<string>(Wait, s => s.Length == 5));
        probe.ExpectNoMsg(Quiet);
        probe.Watch(echo);
        Sys.Stop(echo);
        Assert.Equal(echo, probe.ExpectTerminated(echo, Wait).ActorRef);
    }

    [Fact]
    public async Task FishForMessage_skips_messages_until_one_matches()
    {
        var probe = CreateProbe();
        for (int i = 0; i < 5; i++) probe.Tell(i, null);
        Assert.Equal(3, await probe.FishForMessageAsync<int>(i => i == 3, Wait));
        await probe.ExpectMsgAsync(4, Wait);
    }

    [Fact]
    public async Task ExpectFailure_ignores_failures_of_other_actors_and_other_exception_types()
    {
        var failures = TestProbe.ForFailures(Sys);
        var a = Sys.ActorOf(Props.Create<Thrower>(), "a");
        var b = Sys.ActorOf(Props.Create<Thrower>(), "b");
        b.Tell(new InvalidOperationException("b fails"));
        a.Tell(new FormatException("wrong type"));
        a.Tell(new InvalidOperationException("a fails"));
        var e = await failures.ExpectFailureAsync<InvalidOperationException>(a, Wait);
        Assert.Equal("a fails", e.Message);
    }

    private sealed class Thrower : ReceiveActor
    {
        public Thrower() => Receive<Exception>(e => throw e);
    }
}
