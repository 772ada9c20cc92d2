using System.Runtime.InteropServices;
using Akka.Actor;

namespace ImageGpt.Host.Commands;

/// <summary>
/// Ctrl-C and SIGTERM for a command whose work is an actor system (train, node): the first runs the system's coordinated
/// shutdown (whose tasks finish the step, write the checkpoint, leave the cluster), or whatever stops the command's work
/// (sweep); a second quits at once with 130.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly ConsoleCancelEventHandler _onCancel;
    private readonly PosixSignalRegistration _sigterm;
    private int _count;

    /// <param name="what">What the first interrupt does, after "Ctrl-C: " (e.g. "finishing the current step and writing a checkpoint").</param>
    public Interrupts(ActorSystem system, TextWriter output, string what)
        : this(output, what, signal => _ = CoordinatedShutdown.Get(system).Run(new Interrupted(signal)))
    {
    }

    /// <summary>Ctrl-C and SIGTERM for a command that stops its work itself: the first calls <paramref name="first"/> with the signal's name.</summary>
    public Interrupts(TextWriter output, string what, Action<string> first)
    {
        void Interrupt(string signal)
        {
            if (Interlocked.Increment(ref _count) > 1) Environment.Exit(130);
            output.WriteLine($"\n{signal}: {what} (again to quit at once)");
            first(signal);
        }
        _onCancel = (_, e) => { e.Cancel = true; Interrupt("Ctrl-C"); };
        Console.CancelKeyPress += _onCancel;
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Interrupt("SIGTERM"); });
    }

    /// <summary>Whether Ctrl-C or SIGTERM came.</summary>
    public bool Happened => Volatile.Read(ref _count) > 0;

    public void Dispose()
    {
        Console.CancelKeyPress -= _onCancel;
        _sigterm.Dispose();
    }

    /// <summary>Why the coordinated shutdown ran: Ctrl-C or SIGTERM.</summary>
    private sealed class Interrupted(string what) : CoordinatedShutdown.Reason
    {
        public override int ExitCode => 130;
        public override string ToString() => what;
    }
}
