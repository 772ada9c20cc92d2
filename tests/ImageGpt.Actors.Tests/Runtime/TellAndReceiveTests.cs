using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class TellAndReceiveTests : RuntimeTestBase
{
    private sealed class Typed : ReceiveActor
    {
        public Typed()
        {
            Receive<int>(i => Sender.Tell($"big {i}", Self), i => i > 100);
            Receive<int>(i => Sender.Tell($"int {i}", Self));
            Receive<string>(s => Sender.Tell($"string {s}", Self));
            ReceiveAny(o => Sender.Tell($"any {o.GetType().Name}", Self));
        }
    }

    [Fact]
    public async Task Messages_from_one_sender_arrive_in_the_order_they_were_sent()
    {
        var probe = CreateProbe();
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");
        for (int i = 0; i < 1000; i++) echo.Tell(i, probe);
        for (int i = 0; i < 1000; i++) await probe.ExpectMsgAsync(i, Wait);
        Assert.Equal(echo, probe.LastSender);
    }

    [Fact]
    public async Task The_first_handler_whose_type_and_predicate_match_takes_the_message()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create<Typed>());
        a.Tell(5, probe);
        a.Tell(500, probe);
        a.Tell("x", probe);
        a.Tell(2.5, probe);
        await probe.ExpectMsgAsync("int 5", Wait);
        await probe.ExpectMsgAsync("big 500", Wait);
        await probe.ExpectMsgAsync("string x", Wait);
        await probe.ExpectMsgAsync("any Double", Wait);
    }

    [Fact]
    public async Task Top_level_actors_have_akka_style_paths_and_unique_ids()
    {
        var a = Sys.ActorOf(Props.Create<EchoActor>(), "a");
        Assert.Equal("imagegpt://test/user/a", a.Path.ToString());
        Sys.Stop(a);
        var probe = CreateProbe();
        probe.Watch(a);
        await probe.ExpectTerminatedAsync(a, Wait);
        var again = Sys.ActorOf(Props.Create<EchoActor>(), "a");
        Assert.Equal(a.Path, again.Path);
        Assert.NotEqual(a.Path.Uid, again.Path.Uid);
        Assert.NotEqual(a, again);
    }

    [Fact]
    public async Task Forward_keeps_the_original_sender()
    {
        var probe = CreateProbe();
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        var forwarder = Sys.ActorOf(Props.Create(() => new Forwarder(echo)));
        forwarder.Tell("hi", probe);
        await probe.ExpectMsgAsync("hi", Wait);
        Assert.Equal(echo, probe.LastSender);
    }

    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    [Fact]
    public async Task Tell_inside_an_actor_uses_the_actor_as_implicit_sender()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new ImplicitSender(probe)));
        a.Tell("go");
        await probe.ExpectMsgAsync("from actor", Wait);
        Assert.Equal(a, probe.LastSender);
    }

    private sealed class ImplicitSender : ReceiveActor
    {
        public ImplicitSender(IActorRef probe) => ReceiveAny(_ => probe.Tell("from actor"));
    }

    [Fact]
    public async Task Ask_completes_with_the_reply()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        string reply = await echo.Ask<string>("ping", Wait);
        Assert.Equal("ping", reply);
    }

    [Fact]
    public async Task Ask_without_reply_fails_with_AskTimeoutException()
    {
        var silent = Sys.ActorOf(Props.Create(() => new LifecycleActor(Sys.DeadLetters)));
        await Assert.ThrowsAsync<AskTimeoutException>(() => silent.Ask<string>("nobody answers", TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task Ask_answered_with_Status_Failure_fails_with_that_exception()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => echo.Ask<string>(new Status.Failure(new InvalidOperationException("nope")), Wait));
        Assert.Equal("nope", e.Message);
    }

    [Fact]
    public async Task Ask_answered_with_the_wrong_type_fails_with_InvalidCastException()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        await Assert.ThrowsAsync<InvalidCastException>(() => echo.Ask<string>(42, Wait));
    }

    private sealed class Switcher : ReceiveActor
    {
        public Switcher()
        {
            Receive<string>(s => s == "push", _ => BecomeStacked(Shouting));
            Receive<string>(s => s == "become", _ => Become(Shouting));
            Receive<string>(s => Sender.Tell($"calm {s}", Self));
        }

        private void Shouting()
        {
            Receive<string>(s => s == "pop", _ => UnbecomeStacked());
            Receive<string>(s => Sender.Tell($"LOUD {s}", Self));
        }
    }

    [Fact]
    public async Task BecomeStacked_pushes_a_behaviour_and_UnbecomeStacked_returns_to_the_previous_one()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create<Switcher>());
        foreach (string m in new[] { "a", "push", "b", "pop", "c" }) a.Tell(m, probe);
        await probe.ExpectMsgAsync("calm a", Wait);
        await probe.ExpectMsgAsync("LOUD b", Wait);
        await probe.ExpectMsgAsync("calm c", Wait);
    }

    [Fact]
    public async Task Become_replaces_the_current_behaviour()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create<Switcher>());
        foreach (string m in new[] { "become", "b", "pop", "c" }) a.Tell(m, probe);
        await probe.ExpectMsgAsync("LOUD b", Wait);
        await probe.ExpectMsgAsync("calm c", Wait);
    }

    [Fact]
    public async Task An_unhandled_message_is_published_on_the_event_stream()
    {
        var probe = CreateProbe();
        Sys.EventStream.Subscribe(probe, typeof(UnhandledMessage));
        var a = Sys.ActorOf(Props.Create<Switcher>());
        a.Tell(17, probe);
        var u = await probe.ExpectMsgAsync<UnhandledMessage>(Wait);
        Assert.Equal(17, u.Message);
        Assert.Equal(a, u.Recipient);
    }

    [Fact]
    public void Creating_an_actor_with_new_outside_the_runtime_throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new EchoActor());
        Assert.Contains("ActorOf", e.Message);
    }

    [Fact]
    public async Task An_actor_processes_one_message_at_a_time_even_with_many_concurrent_senders()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new ConcurrencyMeter()));
        await Parallel.ForAsync(0, 8, async (t, _) =>
        {
            for (int i = 0; i < 2000; i++) a.Tell(i);
            await Task.Yield();
        });
        a.Tell("report", probe);
        var (count, maxConcurrent) = await probe.ExpectMsgAsync<(int, int)>(Wait);
        Assert.Equal(16000, count);
        Assert.Equal(1, maxConcurrent);
    }

    private sealed class ConcurrencyMeter : ReceiveActor
    {
        private int _inside, _max, _count;

        public ConcurrencyMeter()
        {
            Receive<int>(_ =>
            {
                int now = Interlocked.Increment(ref _inside);
                _max = Math.Max(_max, now);
                _count++;
                Thread.SpinWait(20);
                Interlocked.Decrement(ref _inside);
            });
            Receive<string>(_ => Sender.Tell((_count, _max), Self));
        }
    }
}
