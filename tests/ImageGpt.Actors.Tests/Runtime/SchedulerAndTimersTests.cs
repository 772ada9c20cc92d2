using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class SchedulerAndTimersTests : RuntimeTestBase
{
    [Fact]
    public async Task ScheduleTellOnce_delivers_the_message_once_with_the_given_sender()
    {
        var probe = CreateProbe();
        var sender = CreateProbe();
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(20), probe, "later", sender);
        await probe.ExpectMsgAsync("later", Wait);
        Assert.Equal(sender, probe.LastSender);
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_cancelled_ScheduleTellOnce_delivers_nothing()
    {
        var probe = CreateProbe();
        ICancelable c = Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100), probe, "never", null);
        c.Cancel();
        Assert.True(c.IsCancellationRequested);
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(250));
    }

    [Fact]
    public async Task ScheduleTellRepeatedly_delivers_until_cancelled()
    {
        var probe = CreateProbe();
        ICancelable c = Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), probe, "tick", null);
        for (int i = 0; i < 3; i++) await probe.ExpectMsgAsync("tick", Wait);
        c.Cancel();
        // A tick already on its way may still land; after that nothing more comes.
        while (true)
        {
            try { await probe.ExpectMsgAsync<string>(TimeSpan.FromMilliseconds(100)); }
            catch (TestKit.TestKitException) { break; }
        }
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public void A_repeat_interval_must_be_positive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.Zero, Sys.DeadLetters, "x", null));

    private sealed class TimerActor : ReceiveActor
    {
        public TimerActor(IActorRef probe)
        {
            Receive<string>(s => s == "single", _ => Timers.StartSingleTimer("k", "fired", TimeSpan.FromMilliseconds(20)));
            Receive<string>(s => s == "replace", _ =>
            {
                Timers.StartSingleTimer("k", "old", TimeSpan.FromMilliseconds(20));
                Timers.StartSingleTimer("k", "new", TimeSpan.FromMilliseconds(20));
            });
            Receive<string>(s => s == "periodic", _ => Timers.StartPeriodicTimer("p", "beat", TimeSpan.FromMilliseconds(10)));
            Receive<string>(s => s == "cancel", _ => { Timers.Cancel("p"); Sender.Tell("cancelled", Self); });
            Receive<string>(s => s == "active?", _ => Sender.Tell(Timers.IsTimerActive("k"), Self));
            Receive<string>(s => probe.Tell(s, Self));
        }
    }

    [Fact]
    public async Task A_single_timer_fires_once_and_is_then_inactive()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new TimerActor(probe)));
        a.Tell("single");
        await probe.ExpectMsgAsync("fired", Wait);
        Assert.False(await a.Ask<bool>("active?", Wait));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Starting_a_timer_with_a_used_key_replaces_the_old_one()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new TimerActor(probe)));
        a.Tell("replace");
        await probe.ExpectMsgAsync("new", Wait);
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_cancelled_periodic_timer_delivers_nothing_more_even_if_a_tick_was_queued()
    {
        var probe = CreateProbe();
        var a = Sys.ActorOf(Props.Create(() => new TimerActor(probe)));
        a.Tell("periodic");
        for (int i = 0; i < 3; i++) await probe.ExpectMsgAsync("beat", Wait);
        await a.Ask<string>("cancel", Wait);
        // Ticks queued before the cancel are dropped by generation, so draining can end only with silence.
        while (true)
        {
            try { await probe.ExpectMsgAsync<string>(TimeSpan.FromMilliseconds(100)); }
            catch (TestKit.TestKitException) { break; }
        }
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Timers_are_cancelled_when_the_actor_stops()
    {
        var probe = CreateProbe();
        var deadLetters = CreateProbe();
        Sys.EventStream.Subscribe(deadLetters, typeof(DeadLetter));
        var a = Sys.ActorOf(Props.Create(() => new TimerActor(probe)));
        a.Tell("periodic");
        await probe.ExpectMsgAsync("beat", Wait);
        probe.Watch(a);
        Sys.Stop(a);
        await probe.FishForMessageAsync<Terminated>(_ => true, Wait);
        // At most a tick already in flight reaches dead letters; then the timer is gone.
        while (true)
        {
            try { await deadLetters.ExpectMsgAsync<DeadLetter>(TimeSpan.FromMilliseconds(100)); }
            catch (TestKit.TestKitException) { break; }
        }
        await deadLetters.ExpectNoMsgAsync(Quiet);
    }
}
