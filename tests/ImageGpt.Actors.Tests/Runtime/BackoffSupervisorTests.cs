using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class BackoffSupervisorTests : RuntimeTestBase
{
    [Fact]
    public void The_backoff_doubles_from_min_and_stops_growing_at_max()
    {
        TimeSpan min = TimeSpan.FromMilliseconds(100), max = TimeSpan.FromSeconds(1);
        double[] ms = Enumerable.Range(0, 6).Select(n => BackoffSupervisor.Delay(n, min, max, 0, 0.5).TotalMilliseconds).ToArray();
        Assert.Equal([100, 200, 400, 800, 1000, 1000], ms);
        Assert.Equal(1000, BackoffSupervisor.Delay(64, min, max, 0, 0).TotalMilliseconds);
    }

    [Fact]
    public void The_random_factor_stretches_the_delay_by_at_most_that_fraction()
    {
        TimeSpan min = TimeSpan.FromMilliseconds(100), max = TimeSpan.FromSeconds(1);
        Assert.Equal(200, BackoffSupervisor.Delay(1, min, max, 0.2, 0).TotalMilliseconds);
        Assert.Equal(220, BackoffSupervisor.Delay(1, min, max, 0.2, 0.5).TotalMilliseconds, 6);
        Assert.Equal(1200, BackoffSupervisor.Delay(9, min, max, 0.2, 1.0).TotalMilliseconds, 6);
    }

    [Fact]
    public async Task A_failed_child_is_started_again_as_a_new_instance_and_messages_reach_it()
    {
        var life = CreateProbe();
        var sup = Sys.ActorOf(BackoffSupervisor.Props(Props.Create(() => new LifecycleActor(life)), "worker",
            TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200), 0), "backoff");
        await life.ExpectMsgAsync("prestart worker", Wait);
        var first = (await sup.Ask<BackoffSupervisor.CurrentChild>(new BackoffSupervisor.GetCurrentChild(), Wait)).Ref!;
        Assert.Equal("imagegpt://test/user/backoff/worker", first.Path.ToString());
        Assert.Equal(1, await sup.Ask<int>("count", Wait));
        sup.Tell(new InvalidOperationException("crash"));
        await life.ExpectMsgAsync("poststop worker", Wait);
        await life.ExpectMsgAsync("prestart worker", Wait);
        var second = (await sup.Ask<BackoffSupervisor.CurrentChild>(new BackoffSupervisor.GetCurrentChild(), Wait)).Ref!;
        Assert.NotEqual(first, second);
        // A fresh instance: its counter starts again.
        Assert.Equal(1, await sup.Ask<int>("count", Wait));
    }

    [Fact]
    public void Backoff_settings_are_validated()
    {
        var child = Props.Create<EchoActor>();
        Assert.Throws<ArgumentOutOfRangeException>(() => BackoffSupervisor.Props(child, "c", TimeSpan.Zero, TimeSpan.FromSeconds(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BackoffSupervisor.Props(child, "c", TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BackoffSupervisor.Props(child, "c", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 1.5));
    }
}
