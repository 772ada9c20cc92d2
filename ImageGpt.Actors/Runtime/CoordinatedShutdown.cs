using System.Collections.Concurrent;

namespace ImageGpt.Actors.Runtime;

/// <summary>
/// Shutdown in ordered phases (Akka's names). Tasks of one phase run concurrently; the next phase
/// starts when they all finish or the phase's timeout passes (then it goes on anyway and publishes
/// <see cref="ShutdownTaskProblem"/>). <see cref="Run"/> runs once; later calls return the same task.
/// The last phase terminates the actor system.
/// </summary>
public sealed class CoordinatedShutdown
{
    public const string PhaseBeforeServiceUnbind = "before-service-unbind";
    public const string PhaseServiceUnbind = "service-unbind";
    public const string PhaseServiceRequestsDone = "service-requests-done";
    public const string PhaseServiceStop = "service-stop";
    public const string PhaseBeforeClusterShutdown = "before-cluster-shutdown";
    public const string PhaseClusterLeave = "cluster-leave";
    public const string PhaseClusterExiting = "cluster-exiting";
    public const string PhaseClusterShutdown = "cluster-shutdown";
    public const string PhaseBeforeActorSystemTerminate = "before-actor-system-terminate";
    public const string PhaseActorSystemTerminate = "actor-system-terminate";

    public static IReadOnlyList<string> OrderedPhases { get; } =
    [
        PhaseBeforeServiceUnbind, PhaseServiceUnbind, PhaseServiceRequestsDone, PhaseServiceStop,
        PhaseBeforeClusterShutdown, PhaseClusterLeave, PhaseClusterExiting, PhaseClusterShutdown,
        PhaseBeforeActorSystemTerminate, PhaseActorSystemTerminate,
    ];

    /// <summary>Why the shutdown runs.</summary>
    public record Reason(string Description)
    {
        public static readonly Reason ActorSystemTerminate = new("ActorSystem.Terminate() was called");
        public static readonly Reason Unknown = new("unknown");
    }

    private readonly ActorSystem _system;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(string Name, Func<CancellationToken, Task> Task)>> _tasks = new();
    private readonly Lock _runLock = new();
    private Task? _run;

    internal CoordinatedShutdown(ActorSystem system)
    {
        _system = system;
        foreach (string phase in OrderedPhases) _tasks[phase] = new();
    }

    public Reason? RunReason { get; private set; }

    /// <summary>Adds a task to a phase; the token is cancelled when the phase times out.</summary>
    public void AddTask(string phase, string taskName, Func<CancellationToken, Task> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentException.ThrowIfNullOrEmpty(taskName);
        if (!_tasks.TryGetValue(phase, out var queue))
            throw new ArgumentException($"unknown shutdown phase '{phase}'. HINT: use one of {string.Join(", ", OrderedPhases)}", nameof(phase));
        lock (_runLock)
        {
            if (_run is not null) throw new InvalidOperationException($"coordinated shutdown already runs; task '{taskName}' was added too late");
            queue.Enqueue((taskName, task));
        }
    }

    public Task Run(Reason reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        lock (_runLock)
        {
            if (_run is not null) return _run;
            RunReason = reason;
            _run = Task.Run(RunPhases);
            return _run;
        }
    }

    private async Task RunPhases()
    {
        foreach (string phase in OrderedPhases)
        {
            TimeSpan timeout = _system.Options.PhaseTimeout(phase);
            using var cts = new CancellationTokenSource();
            var running = _tasks[phase].Select(t => (t.Name, Task: RunOne(t.Task, cts.Token))).ToList();
            if (phase == PhaseActorSystemTerminate) running.Add(("terminate-actor-system", _system.FinalTerminate()));
            Task all = Task.WhenAll(running.Select(r => r.Task));
            try
            {
                await all.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                foreach (var r in running.Where(r => !r.Task.IsCompleted))
                    _system.EventStream.Publish(new ShutdownTaskProblem(phase, r.Name, null, TimedOut: true));
                // Tell the stragglers to give up; the shutdown does not wait for them any longer.
                await cts.CancelAsync().ConfigureAwait(false);
                continue;
            }
            catch (Exception)
            {
                // Reported one by one below; a failed task does not stop the shutdown.
            }
            foreach (var r in running.Where(r => r.Task.IsFaulted || r.Task.IsCanceled))
                _system.EventStream.Publish(new ShutdownTaskProblem(phase, r.Name,
                    r.Task.Exception?.InnerException ?? new TaskCanceledException(r.Task), TimedOut: false));
        }
    }

    private static async Task RunOne(Func<CancellationToken, Task> task, CancellationToken token)
    {
        await Task.Yield();
        await task(token).ConfigureAwait(false);
    }
}

/// <summary>A shutdown task failed (<paramref name="Error"/>) or did not finish within its phase's timeout.</summary>
public sealed record ShutdownTaskProblem(string Phase, string Task, Exception? Error, bool TimedOut);
