using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt dashboard [--run-dir DIR] [--config FILE] [--port P] [--bind ADDR]</c>: serves the dashboard of a run, live or
/// finished, from the outside: its persisted events (SQLite run.db or the run's PostgreSQL) through a read-only actor
/// system, and its status.json and metrics.jsonl, without joining the run. Runs until Ctrl-C or SIGTERM (exit 0).
/// </summary>
public static class DashboardCommand
{
    private static readonly Option<string?> RunDir = StatusCommand.RunDirOption();
    private static readonly Option<string?> ConfigPath = ConfigCommand.ConfigFile("the default run; its store settings, run.id and run.secret are used only when given");
    private static readonly Option<int> Port = Cli.Int("--port", DashboardOptions.DefaultPort, "the port to listen on (0 picks a free one)");
    private static readonly Option<string> Bind = DashboardOptions.BindOption("--bind");

    public static Command Definition { get; } = Cli.Command("dashboard", "serve the web dashboard of a run (live or finished) from its run directory or store", RunDir, ConfigPath, Port, Bind);

    static DashboardCommand() => Definition.SetAction(r => RunAsync(r, Console.Out, CancellationToken.None).GetAwaiter().GetResult());

    /// <summary>Serves until <paramref name="stop"/> is cancelled, Ctrl-C or SIGTERM; <paramref name="started"/> learns the URL.</summary>
    public static Task<int> RunAsync(string[] argv, TextWriter output, CancellationToken stop, Action<Uri>? started = null) =>
        RunAsync(Cli.Parse(Definition, argv), output, stop, started);

    private static async Task<int> RunAsync(ParseResult args, TextWriter output, CancellationToken stop, Action<Uri>? started = null)
    {
        int port = args.GetValue(Port);
        if (port is < 0 or > 65535) throw new UserError($"--port {port} is not a port. HINT: a number in 1..65535, or 0 for any free port");
        IPAddress bind = DashboardOptions.Address(args.GetValue(Bind)!, "--bind");
        RunLocation run = RunLocation.Find(args.GetValue(RunDir), args.GetValue(ConfigPath), directoryOptional: true);
        string? runDir = Directory.Exists(run.RunDir) ? run.RunDir : null;
        if (run.Store.Store == "sqlite" && !File.Exists(Path.Combine(run.StoreDir, RunStore.SqliteFileName)))
            throw new UserError($"no {RunStore.SqliteFileName} in {run.StoreDir}. HINT: the run has not started yet, or its store is PostgreSQL: pass the run's --config");
        string? secret = TokenCheck.Required(bind) ? Secret(run) : null;

        await using var store = RunStore.Open(run.Store, run.StoreDir, mustExist: true);
        var system = ActorSystem.Create("imagegpt-dashboard", AkkaSettings.Build(run.Resolved, store, readOnly: true));
        try
        {
            var (runId, why) = await run.RunIdAsync(system, store);
            if (runId is null) throw new UserError(why);
            await using var server = await DashboardServer.StartAsync(new StoredRunSource(system, runDir, runId), bind, port, secret);
            output.WriteLine($"dashboard of run '{runId}' ({store.Provider} {store.Where}): {server.Url}");
            if (secret is not null) output.WriteLine(Announce(bind));
            output.WriteLine("Ctrl-C stops it");
            started?.Invoke(server.Url);
            await WaitForSignal(stop);
            return 0;
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>The line a dashboard bound beyond the loopback interface prints at start.</summary>
    public static string Announce(IPAddress bind) =>
        $"the dashboard listens on {bind}, beyond this machine: every request needs the run's secret (run.secret, or the file '{RunSecret.FileName}' in the run directory): open /?token=SECRET once in the browser, or send Authorization: Bearer SECRET";

    private static string Secret(RunLocation run)
    {
        Config reference = ConfigFactory.ParseFile(ConfigCommand.FindReference()).Resolve();
        return RunSecret.Resolve(RunConfigLoader.FromResolved(run.Resolved, reference, run.RunDir));
    }

    private static async Task WaitForSignal(CancellationToken stop)
    {
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; signalled.TrySetResult(); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; signalled.TrySetResult(); });
        await using var registration = stop.Register(() => signalled.TrySetResult());
        try { await signalled.Task; }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
