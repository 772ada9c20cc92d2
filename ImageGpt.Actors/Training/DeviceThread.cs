using System.Collections.Concurrent;

namespace ImageGpt.Actors.Training;

/// <summary>
/// A dedicated OS thread that runs one piece of heavy compute at a time (a trainer's forward/backward,
/// an evaluation). Actors await its tasks, so long kernels never occupy the thread pool that delivers
/// the other actors' messages. On CPU this thread is the trainer's "device".
/// </summary>
public sealed class DeviceThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public DeviceThread(string name)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { tcs.SetResult(work()); }
            catch (Exception e) { tcs.SetException(e); }
        });
        return tcs.Task;
    }

    private void Loop()
    {
        foreach (var item in _work.GetConsumingEnumerable()) item();
    }

    /// <summary>Lets queued work finish, then ends the thread.</summary>
    public void Dispose() => _work.CompleteAdding();
}
