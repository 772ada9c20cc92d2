using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class DefaultDeciderTests
{
    [Fact]
    public void An_initialization_failure_stops_the_actor() =>
        Assert.Equal(Directive.Stop, SupervisorStrategy.DefaultDecider(new ActorInitializationException(null, "ctor", new InvalidOperationException())));

    [Fact]
    public void A_kill_stops_the_actor() =>
        Assert.Equal(Directive.Stop, SupervisorStrategy.DefaultDecider(new ActorKilledException("Kill")));

    [Fact]
    public void A_death_pact_stops_the_actor() =>
        Assert.Equal(Directive.Stop, SupervisorStrategy.DefaultDecider(new DeathPactException(new TestKit.TestProbe(ActorSystemForNames, "dead"))));

    [Theory]
    [InlineData(typeof(InvalidOperationException))]
    [InlineData(typeof(ArgumentException))]
    [InlineData(typeof(TimeoutException))]
    [InlineData(typeof(Exception))]
    public void Any_other_exception_restarts_the_actor(Type exceptionType) =>
        Assert.Equal(Directive.Restart, SupervisorStrategy.DefaultDecider((Exception)Activator.CreateInstance(exceptionType)!));

    [Fact]
    public void The_default_strategy_uses_the_default_decider_without_a_retry_limit()
    {
        Assert.Equal(-1, SupervisorStrategy.Default.MaxNrOfRetries);
        Assert.Equal(Directive.Restart, SupervisorStrategy.Default.Decider(new IOException()));
        Assert.Equal(Directive.Stop, SupervisorStrategy.Default.Decider(new ActorKilledException("k")));
    }

    [Fact]
    public void A_restart_budget_without_window_allows_exactly_max_retries()
    {
        var stats = new ChildStats(new TestKit.TestProbe(ActorSystemForNames));
        Assert.True(stats.RequestRestartPermission(2, Timeout.InfiniteTimeSpan));
        Assert.True(stats.RequestRestartPermission(2, Timeout.InfiniteTimeSpan));
        Assert.False(stats.RequestRestartPermission(2, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void Zero_retries_means_the_first_failure_is_not_restarted()
    {
        var stats = new ChildStats(new TestKit.TestProbe(ActorSystemForNames));
        Assert.False(stats.RequestRestartPermission(0, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Unlimited_retries_always_allow_a_restart()
    {
        var stats = new ChildStats(new TestKit.TestProbe(ActorSystemForNames));
        for (int i = 0; i < 100; i++) Assert.True(stats.RequestRestartPermission(-1, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void A_strategy_rejects_a_negative_retry_count_other_than_minus_one() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneForOneStrategy(-2, Timeout.InfiniteTimeSpan, SupervisorStrategy.DefaultDecider));

    private static readonly ActorSystem ActorSystemForNames = ActorSystem.Create("names");
}
