using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace ImageGpt.Actors.Health;

/// <summary>
/// Akka's logger for the command line (akka.loggers in reference.conf): one line per warning or error on standard
/// error, without stack traces. Failures that supervisors log are left out: the run reports those itself, one
/// line each, with what happens next.
/// </summary>
public sealed class OneLineLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public OneLineLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => e is Error { Cause: not null } && typeof(SupervisorStrategy).IsAssignableFrom(e.LogClass), _ => { });
        Receive<LogEvent>(e => Console.Error.WriteLine($"akka {e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToLowerInvariant()}: {e.LogSource}: {OneLine(e)}"));
    }

    private static string OneLine(LogEvent e)
    {
        string text = (e.Message?.ToString() ?? "").ReplaceLineEndings(" ");
        return e is Error { Cause: { } cause } && !text.Contains(cause.Message, StringComparison.Ordinal) ? $"{text} ({cause.GetType().Name}: {cause.Message.ReplaceLineEndings(" ")})" : text;
    }
}
