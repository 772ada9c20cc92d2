using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class MailboxTests : RuntimeTestBase
{
    /// <summary>Blocks on its first message until the gate opens, so that later messages queue up.</summary>
    private sealed class GatedCounter : ReceiveActor
    {
        public GatedCounter(ManualResetEventSlim gate, IActorRef probe)
        {
            Receive<string>(s => s == "block", _ => { probe.Tell("blocked", Self); gate.Wait(TimeSpan.FromSeconds(5)); });
            Receive<int>(i => probe.Tell(i, Self));
        }
    }

    [Fact]
    public async Task Tell_on_a_full_bounded_mailbox_does_not_block_and_dead_letters_the_message()
    {
        var probe = CreateProbe();
        var deadLetters = CreateProbe();
        Sys.EventStream.Subscribe(deadLetters, typeof(DeadLetter));
        using var gate = new ManualResetEventSlim(false);
        var a = Sys.ActorOf(Props.Create(() => new GatedCounter(gate, probe)).WithMailbox(2), "bounded");
        a.Tell("block");
        await probe.ExpectMsgAsync("blocked", Wait);
        a.Tell(1);
        a.Tell(2);
        a.Tell(3);
        var d = await deadLetters.ExpectMsgAsync<DeadLetter>(Wait);
        Assert.Equal(3, d.Message);
        Assert.Equal(1, Sys.DeadLetterCount);
        gate.Set();
        await probe.ExpectMsgAsync(1, Wait);
        await probe.ExpectMsgAsync(2, Wait);
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task TellAsync_on_a_full_bounded_mailbox_waits_for_space_instead_of_dropping()
    {
        var probe = CreateProbe();
        using var gate = new ManualResetEventSlim(false);
        var a = Sys.ActorOf(Props.Create(() => new GatedCounter(gate, probe)).WithMailbox(2), "bounded");
        a.Tell("block");
        await probe.ExpectMsgAsync("blocked", Wait);
        Assert.True(await a.TellAsync(1));
        Assert.True(await a.TellAsync(2));
        ValueTask<bool> third = a.TellAsync(3);
        Assert.False(third.IsCompleted);
        gate.Set();
        Assert.True(await third.AsTask().WaitAsync(Wait));
        for (int i = 1; i <= 3; i++) await probe.ExpectMsgAsync(i, Wait);
        Assert.Equal(0, Sys.DeadLetterCount);
    }

    [Fact]
    public async Task A_stop_overtakes_queued_user_messages_which_become_dead_letters()
    {
        var probe = CreateProbe();
        using var gate = new ManualResetEventSlim(false);
        var a = Sys.ActorOf(Props.Create(() => new GatedCounter(gate, probe)), "a");
        probe.Watch(a);
        a.Tell("block");
        await probe.ExpectMsgAsync("blocked", Wait);
        for (int i = 0; i < 5; i++) a.Tell(i);
        Sys.Stop(a);
        gate.Set();
        await probe.ExpectTerminatedAsync(a, Wait);
        Assert.Equal(5, Sys.DeadLetterCount);
    }

    [Fact]
    public async Task Health_reports_the_depth_of_a_busy_mailbox()
    {
        var probe = CreateProbe();
        using var gate = new ManualResetEventSlim(false);
        var a = Sys.ActorOf(Props.Create(() => new GatedCounter(gate, probe)), "busy");
        a.Tell("block");
        await probe.ExpectMsgAsync("blocked", Wait);
        for (int i = 0; i < 7; i++) a.Tell(i);
        Assert.Equal(7, Sys.Health().Find(a)!.MailboxDepth);
        gate.Set();
        for (int i = 0; i < 7; i++) await probe.ExpectMsgAsync(i, Wait);
        Assert.Equal(0, Sys.Health().Find(a)!.MailboxDepth);
        Assert.Equal(8, Sys.Health().Find(a)!.MessagesProcessed);
    }

    [Fact]
    public void A_bounded_mailbox_needs_a_capacity_of_at_least_one() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Props.Create<EchoActor>().WithMailbox(0));
}
