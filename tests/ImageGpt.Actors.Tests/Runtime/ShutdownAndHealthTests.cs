using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class ShutdownAndHealthTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Coordinated_shutdown_runs_phases_in_order_then_terminates_the_system()
    {
        var system = ActorSystem.Create("cs");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var cs = system.CoordinatedShutdown;
        cs.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "last-user-task", async _ => { await Task.Yield(); log.Enqueue("before-terminate"); });
        cs.AddTask(CoordinatedShutdown.PhaseServiceStop, "stop-service", _ => { log.Enqueue("service-stop"); return Task.CompletedTask; });
        cs.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "first", _ => { log.Enqueue("before-unbind"); return Task.CompletedTask; });
        var life = new TestProbe(system);
        var a = system.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        await life.ExpectMsgAsync("prestart a", Wait);
        Task run = cs.Run(new CoordinatedShutdown.Reason("test"));
        Assert.Same(run, cs.Run(CoordinatedShutdown.Reason.Unknown));
        await run.WaitAsync(Wait);
        Assert.Equal(["before-unbind", "service-stop", "before-terminate"], log.ToArray());
        Assert.True(system.WhenTerminated.IsCompleted);
        Assert.Equal("test", cs.RunReason!.Description);
        await life.ExpectMsgAsync("poststop a", Wait);
        Assert.Throws<InvalidOperationException>(() => cs.AddTask(CoordinatedShutdown.PhaseServiceStop, "late", _ => Task.CompletedTask));
    }

    [Fact]
    public async Task A_phase_that_times_out_is_reported_and_the_shutdown_goes_on()
    {
        var system = ActorSystem.Create("cs", new ActorSystemOptions
        {
            PhaseTimeouts = new Dictionary<string, TimeSpan> { [CoordinatedShutdown.PhaseServiceUnbind] = TimeSpan.FromMilliseconds(100) },
        });
        var problems = new TestProbe(system);
        system.EventStream.Subscribe(problems, typeof(ShutdownTaskProblem));
        var ran = new TaskCompletionSource();
        system.CoordinatedShutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "hangs", ct => Task.Delay(Timeout.Infinite, ct));
        system.CoordinatedShutdown.AddTask(CoordinatedShutdown.PhaseServiceStop, "after", _ => { ran.SetResult(); return Task.CompletedTask; });
        await system.Terminate().WaitAsync(Wait);
        Assert.True(ran.Task.IsCompleted);
        var p = await problems.ExpectMsgAsync<ShutdownTaskProblem>(Wait);
        Assert.Equal(("service-unbind", "hangs", true), (p.Phase, p.Task, p.TimedOut));
    }

    [Fact]
    public async Task An_unknown_phase_is_rejected_with_the_list_of_phases()
    {
        await using var system = ActorSystem.Create("cs");
        var e = Assert.Throws<ArgumentException>(() => system.CoordinatedShutdown.AddTask("no-such-phase", "t", _ => Task.CompletedTask));
        Assert.Contains("service-unbind", e.Message);
    }

    [Fact]
    public async Task Terminate_stops_every_actor_and_completes_WhenTerminated()
    {
        var system = ActorSystem.Create("t");
        var life = new TestProbe(system);
        var a = system.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        await a.Ask<IActorRef>("child:b", Wait);
        await system.Terminate().WaitAsync(Wait);
        Assert.True(system.WhenTerminated.IsCompletedSuccessfully);
        var stops = new HashSet<string>();
        for (int i = 0; i < 4; i++) stops.Add(await life.ExpectMsgAsync<string>(Wait));
        Assert.Contains("poststop a", stops);
        Assert.Contains("poststop b", stops);
        Assert.All(system.Health().Actors, h => Assert.Equal(ActorState.Stopped, h.State));
    }

    [Fact]
    public async Task Health_lists_the_actor_tree_with_types_states_counts_restarts_and_last_failure()
    {
        await using var system = ActorSystem.Create("h");
        var life = new TestProbe(system);
        var a = system.ActorOf(Props.Create(() => new LifecycleActor(life)), "a");
        var b = await a.Ask<IActorRef>("child:b", Wait);
        for (int i = 0; i < 5; i++) await b.Ask<int>("count", Wait);
        b.Tell(new InvalidOperationException("broken"));
        await life.FishForMessageAsync<string>(s => s == "postrestart b broken", Wait);
        await b.Ask<int>("count", Wait);

        HealthSnapshot h = system.Health();
        Assert.Equal(
            ["imagegpt://h/", "imagegpt://h/system", "imagegpt://h/user", "imagegpt://h/user/a", "imagegpt://h/user/a/b"],
            h.Actors.Select(x => x.Path).OrderBy(p => p, StringComparer.Ordinal));
        ActorHealth hb = h.Find(b)!;
        Assert.Equal(nameof(LifecycleActor), hb.ActorType);
        Assert.Equal(ActorState.Running, hb.State);
        Assert.Equal(7, hb.MessagesProcessed);
        Assert.Equal(1, hb.Restarts);
        Assert.Equal(nameof(InvalidOperationException), hb.LastFailure!.ExceptionType);
        Assert.Equal("broken", hb.LastFailure.Message);
        Assert.True(hb.MessagesPerSecond > 0);
        Assert.NotNull(hb.LastActivityUtc);
        Assert.Null(h.Find(a)!.LastFailure);
    }

    [Fact]
    public void Invalid_options_are_rejected_when_the_system_is_created()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ActorSystem.Create("x", new ActorSystemOptions { Throughput = 0 }));
        Assert.Throws<ArgumentException>(() => ActorSystem.Create("bad name"));
    }
}
