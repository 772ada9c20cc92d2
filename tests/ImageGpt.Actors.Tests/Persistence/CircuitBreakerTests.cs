using ImageGpt.Actors.Persistence;
using static ImageGpt.Actors.Tests.Persistence.TestSupport;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>The breaker as a pure state machine driven by a hand-moved clock (Akka's CircuitBreaker semantics).</summary>
public sealed class CircuitBreakerTests
{
    private static readonly TimeSpan Reset = TimeSpan.FromSeconds(30);
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private CircuitBreaker Breaker(int maxFailures = 3) => new("test", maxFailures, TimeSpan.FromSeconds(10), Reset, _clock);

    private static void FailOnce(CircuitBreaker b) => b.Fail(b.Enter());

    [Fact]
    public void A_closed_breaker_opens_after_max_failures_in_a_row()
    {
        var b = Breaker();
        FailOnce(b);
        FailOnce(b);
        Assert.Equal(CircuitState.Closed, b.State);
        Assert.Equal(2, b.Failures);
        FailOnce(b);
        Assert.Equal(CircuitState.Open, b.State);
    }

    [Fact]
    public void A_success_resets_the_failure_count()
    {
        var b = Breaker();
        FailOnce(b);
        FailOnce(b);
        b.Succeed(b.Enter());
        Assert.Equal(0, b.Failures);
        FailOnce(b);
        FailOnce(b);
        Assert.Equal(CircuitState.Closed, b.State);
    }

    [Fact]
    public void An_open_breaker_refuses_calls_and_says_how_long_until_half_open()
    {
        var b = Breaker(maxFailures: 1);
        FailOnce(b);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var e = Assert.Throws<CircuitBreakerOpenException>(() => b.Enter());
        Assert.Equal(TimeSpan.FromSeconds(20), e.RemainingUntilHalfOpen);
        Assert.Contains("'test'", e.Message);
    }

    [Fact]
    public void After_the_reset_timeout_exactly_one_trial_call_is_let_through()
    {
        var b = Breaker(maxFailures: 1);
        FailOnce(b);
        _clock.Advance(Reset);
        Assert.Equal(CircuitState.HalfOpen, b.State);
        long trial = b.Enter();
        Assert.Throws<CircuitBreakerOpenException>(() => b.Enter());
        b.Succeed(trial);
        Assert.Equal(CircuitState.Closed, b.State);
        b.Succeed(b.Enter());
    }

    [Fact]
    public void A_failed_trial_opens_the_breaker_for_another_reset_timeout()
    {
        var b = Breaker(maxFailures: 2);
        FailOnce(b);
        FailOnce(b);
        _clock.Advance(Reset + TimeSpan.FromSeconds(5));
        b.Fail(b.Enter());
        Assert.Equal(CircuitState.Open, b.State);
        _clock.Advance(Reset - TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), Assert.Throws<CircuitBreakerOpenException>(() => b.Enter()).RemainingUntilHalfOpen);
        _clock.Advance(TimeSpan.FromSeconds(1));
        b.Succeed(b.Enter());
        Assert.Equal(CircuitState.Closed, b.State);
    }

    [Fact]
    public void A_cancelled_trial_lets_the_next_call_try()
    {
        var b = Breaker(maxFailures: 1);
        FailOnce(b);
        _clock.Advance(Reset);
        b.Abandon(b.Enter());
        b.Succeed(b.Enter());
        Assert.Equal(CircuitState.Closed, b.State);
    }

    [Fact]
    public void A_late_result_from_before_a_transition_changes_nothing()
    {
        var b = Breaker(maxFailures: 1);
        long slow = b.Enter();
        FailOnce(b);
        _clock.Advance(Reset);
        long trial = b.Enter();
        b.Succeed(slow);
        Assert.Equal(CircuitState.HalfOpen, b.State);
        b.Fail(trial);
        Assert.Equal(CircuitState.Open, b.State);
        b.Succeed(slow);
        Assert.Equal(CircuitState.Open, b.State);
    }

    [Fact]
    public async Task A_call_that_outlives_the_call_timeout_fails_with_a_timeout_and_counts_as_a_failure()
    {
        var b = new CircuitBreaker("slow", 1, TimeSpan.FromMilliseconds(50), Reset, _clock);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var e = await Assert.ThrowsAsync<TimeoutException>(() => b.ExecuteAsync(async ct =>
        {
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { cancelled.TrySetResult(); throw; }
            return 0;
        }, _ => true).Bounded());
        Assert.Contains("call timeout", e.Message);
        Assert.Equal(CircuitState.Open, b.State);
        // The abandoned call is told to stop (its token is cancelled), not left running.
        await cancelled.Task.Bounded();
        await Assert.ThrowsAsync<CircuitBreakerOpenException>(() => b.ExecuteAsync(_ => Task.FromResult(1), _ => true));
    }

    [Fact]
    public async Task Exceptions_that_are_not_failures_pass_through_and_reset_the_count()
    {
        var b = Breaker(maxFailures: 2);
        FailOnce(b);
        await Assert.ThrowsAsync<ArgumentException>(() => b.ExecuteAsync<int>(_ => throw new ArgumentException("caller's mistake"), e => e is not ArgumentException));
        Assert.Equal(0, b.Failures);
        await Assert.ThrowsAsync<InvalidOperationException>(() => b.ExecuteAsync<int>(_ => throw new InvalidOperationException("db down"), _ => true));
        Assert.Equal(1, b.Failures);
        Assert.Equal(42, await b.ExecuteAsync(_ => Task.FromResult(42), _ => true).Bounded());
    }
}
