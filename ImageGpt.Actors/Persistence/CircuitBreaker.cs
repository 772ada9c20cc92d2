using System.Diagnostics;

namespace ImageGpt.Actors.Persistence;

public enum CircuitState { Closed, Open, HalfOpen }

/// <summary>
/// Akka's circuit breaker. Closed: calls pass and failures are counted; <c>maxFailures</c> in a row open it.
/// Open: every call fails at once with <see cref="CircuitBreakerOpenException"/> until <c>resetTimeout</c> has
/// passed, then it is half-open. Half-open: exactly one trial call passes; its success closes the breaker, its
/// failure opens it again for another <c>resetTimeout</c>. A call that runs longer than <c>callTimeout</c>
/// fails with <see cref="TimeoutException"/> and counts as a failure, so a database that hangs is treated like
/// one that refuses.
/// </summary>
/// <remarks>
/// The state machine (<see cref="Enter"/>, <see cref="Succeed"/>, <see cref="Fail"/>) is separate from
/// <see cref="ExecuteAsync{T}"/> so that tests can drive it with a hand-moved clock. Each transition bumps a
/// generation; a result from a call admitted under an older generation is ignored, so a slow call that
/// finishes after the breaker moved on cannot close or re-open it.
/// </remarks>
public sealed class CircuitBreaker
{
    private readonly object _gate = new();
    private readonly TimeProvider _clock;
    private CircuitState _state = CircuitState.Closed;
    private int _failures;
    private DateTimeOffset _openedAt;
    private bool _trialInFlight;
    private long _generation;

    public string Name { get; }
    public int MaxFailures { get; }
    public TimeSpan CallTimeout { get; }
    public TimeSpan ResetTimeout { get; }

    public CircuitBreaker(string name, int maxFailures, TimeSpan callTimeout, TimeSpan resetTimeout, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFailures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(callTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(resetTimeout, TimeSpan.Zero);
        Name = name;
        MaxFailures = maxFailures;
        CallTimeout = callTimeout;
        ResetTimeout = resetTimeout;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The current state; an open breaker whose reset timeout has passed reads as half-open.</summary>
    public CircuitState State
    {
        get
        {
            lock (_gate)
                return _state == CircuitState.Open && _clock.GetUtcNow() - _openedAt >= ResetTimeout ? CircuitState.HalfOpen : _state;
        }
    }

    /// <summary>Consecutive failures counted while closed.</summary>
    public int Failures { get { lock (_gate) return _failures; } }

    /// <summary>Admits one call or throws <see cref="CircuitBreakerOpenException"/>; returns the ticket to pass to <see cref="Succeed"/> or <see cref="Fail"/>.</summary>
    public long Enter()
    {
        lock (_gate)
        {
            Debug.Assert(_failures < MaxFailures || _state != CircuitState.Closed);
            DateTimeOffset now = _clock.GetUtcNow();
            switch (_state)
            {
                case CircuitState.Closed:
                    return _generation;
                case CircuitState.Open:
                    TimeSpan left = _openedAt + ResetTimeout - now;
                    if (left > TimeSpan.Zero) throw new CircuitBreakerOpenException(Name, left);
                    MoveTo(CircuitState.HalfOpen);
                    _trialInFlight = true;
                    return _generation;
                default:
                    if (_trialInFlight) throw new CircuitBreakerOpenException(Name, TimeSpan.Zero);
                    _trialInFlight = true;
                    return _generation;
            }
        }
    }

    /// <summary>The call admitted with <paramref name="ticket"/> succeeded (or failed for a reason that proves the database answered).</summary>
    public void Succeed(long ticket)
    {
        lock (_gate)
        {
            if (ticket != _generation) return;
            if (_state == CircuitState.HalfOpen) MoveTo(CircuitState.Closed);
            else if (_state == CircuitState.Closed) _failures = 0;
        }
    }

    /// <summary>The call admitted with <paramref name="ticket"/> failed or timed out.</summary>
    public void Fail(long ticket)
    {
        lock (_gate)
        {
            if (ticket != _generation) return;
            if (_state == CircuitState.HalfOpen) Open();
            else if (_state == CircuitState.Closed && ++_failures >= MaxFailures) Open();
        }
    }

    /// <summary>The caller cancelled the call admitted with <paramref name="ticket"/>: it proves nothing about the database.</summary>
    public void Abandon(long ticket)
    {
        lock (_gate)
            if (ticket == _generation && _state == CircuitState.HalfOpen) _trialInFlight = false;
    }

    /// <summary>
    /// Runs <paramref name="call"/> under the breaker. Exceptions for which <paramref name="isFailure"/> is false
    /// (e.g. a lost write race) are rethrown but count as success, since the database answered.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> call, Func<Exception, bool> isFailure, CancellationToken ct = default)
    {
        long ticket = Enter();
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task<T>? task = null;
        try
        {
            task = call(callCts.Token);
            T result = await task.WaitAsync(CallTimeout, _clock, ct).ConfigureAwait(false);
            Succeed(ticket);
            return result;
        }
        catch (TimeoutException) when (task is { IsCompleted: false } && !ct.IsCancellationRequested)
        {
            Fail(ticket);
            callCts.Cancel();
            // Nobody awaits the abandoned call any more; observe its fault so it is not reported as unobserved.
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw new TimeoutException($"circuit breaker '{Name}': the call did not finish within {CallTimeout.TotalMilliseconds:F0} ms (call timeout). HINT: check that the database is reachable and not locked");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Abandon(ticket);
            throw;
        }
        catch (Exception e) when (isFailure(e))
        {
            Fail(ticket);
            throw;
        }
        catch
        {
            Succeed(ticket);
            throw;
        }
    }

    private void Open()
    {
        MoveTo(CircuitState.Open);
        _openedAt = _clock.GetUtcNow();
    }

    private void MoveTo(CircuitState next)
    {
        _state = next;
        _failures = 0;
        _trialInFlight = false;
        _generation++;
    }
}
