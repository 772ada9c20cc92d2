using Akka.Actor;
using Akka.TestKit.Xunit2;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;

namespace ImageGpt.Actors.Tests.Health;

/// <summary>What `imagegpt status` shows about actors, collected over Akka: messages, restarts under a backoff supervisor,
/// the last failure, a budget that runs out, dead letters.</summary>
public sealed class HealthRegistryTests() : TestKit(AkkaSettings.Build(TestRuns.Reference, null))
{
    private static readonly RuntimeSettings Runtime = new(1, 1, 1, TimeSpan.FromSeconds(60),
        TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), MaxRestarts: 2, RestartWindow: TimeSpan.FromMinutes(1));

    private sealed class Flaky : MonitoredActor
    {
        public Flaky()
        {
            Receive<string>(s => s == "fail", _ => throw new InvalidOperationException("injected fault"));
            Receive<string>(s => Sender.Tell(s));
        }
    }

    private HealthRegistry Registry => HealthRegistry.Get(Sys);

    private ActorHealth Of(IActorRef supervisor) => Registry.Snapshot().Actors.Single(a => a.Path == supervisor.Path + "/flaky");

    [Fact]
    public async Task A_monitored_actor_counts_its_messages_and_its_restarts_and_keeps_its_last_failure()
    {
        var supervisor = Sys.ActorOf(Supervision.Backoff(Props.Create(() => new Flaky()), "flaky", Runtime), "supervisor");
        supervisor.Tell("a");
        await ExpectMsgAsync("a", TestRuns.Patience);
        supervisor.Tell("fail");
        // The next incarnation answers once the backoff has passed.
        await AnswersAsync(supervisor, "b");

        var health = Of(supervisor);
        Assert.Equal(nameof(Flaky), health.ActorType);
        Assert.Equal(ActorState.Running, health.State);
        Assert.Equal(1, health.Restarts);
        Assert.True(health.MessagesProcessed >= 3);
        Assert.Equal("System.InvalidOperationException", health.LastFailure!.ExceptionType);
        Assert.Equal("injected fault", health.LastFailure.Message);
    }

    [Fact]
    public async Task Past_the_restart_budget_the_supervisor_stops_and_the_actor_is_not_restarted()
    {
        var supervisor = Sys.ActorOf(Supervision.Backoff(Props.Create(() => new Flaky()), "flaky", Runtime), "budget");
        Watch(supervisor);
        for (int i = 0; i < 3; i++)
        {
            await AnswersAsync(supervisor, "ping");
            supervisor.Tell("fail");
        }
        await ExpectTerminatedAsync(supervisor, TestRuns.Patience);
        Assert.Equal(2, Of(supervisor).Restarts);
        Assert.NotEqual(ActorState.Running, Of(supervisor).State);
    }

    /// <summary>
    /// Asks until the supervised actor answers (it is back from its backoff), each ask from a probe of its own: a late answer
    /// to an earlier ask can never pass for the current incarnation's.
    /// </summary>
    private async Task AnswersAsync(IActorRef supervisor, string message)
    {
        await AwaitAssertAsync(async () =>
        {
            var probe = CreateTestProbe();
            supervisor.Tell(message, probe.Ref);
            await probe.ExpectMsgAsync(message, TimeSpan.FromMilliseconds(500));
        }, TestRuns.Patience);
    }

    [Fact]
    public async Task Dead_letters_are_counted()
    {
        var gone = Sys.ActorOf(Props.Create(() => new Flaky()), "gone");
        Watch(gone);
        Sys.Stop(gone);
        await ExpectTerminatedAsync(gone, TestRuns.Patience);
        long before = Registry.DeadLetters;
        gone.Tell("anyone?");
        gone.Tell("hello?");
        await AwaitConditionAsync(() => Task.FromResult(Registry.DeadLetters >= before + 2), TestRuns.Patience);
    }
}
