using System.CommandLine;
using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt node [--config FILE] [--seed HOST:PORT ...] [--set k=v ...] [--run-dir DIR] [--dashboard [PORT]] [--dashboard-bind ADDR]</c>: adds this process to a run
/// that <c>imagegpt train</c> started: it joins the run's cluster (Akka.Cluster), proves it knows the run's secret, and
/// contributes its trainers and loaders from the next step on; with the aggregator role it may also take the run's
/// root over when the node that holds it dies. It checks first that its config is the run's (the settings that decide
/// the weights) and reads the run's palette from the store, which it shares with the run (the run's run.db on one
/// machine, PostgreSQL across machines).
/// Exit codes: 0 the run finished or was stopped, 1 the run failed or this node was removed, 2 bad input or refused by
/// the run, 130 this node left on Ctrl-C/SIGTERM (the run goes on without it).
/// </summary>
public static class NodeCommand
{
    private static readonly Option<string?> ConfigPath = ConfigCommand.ConfigFile("hocon/fashion-mnist.conf, the default run");
    private static readonly Option<string[]> Overrides = ConfigCommand.SetOption();
    private static readonly Option<string?> RunDir = Cli.Optional("--run-dir",
        "this node's run directory: the run's run.db when the store is SQLite, and where status, metrics and weights go while this node holds the run's root (default: run.dir of the config)", "DIR");
    private static readonly Option<string[]> Seeds = Cli.Many("--seed", "a member of the run to join, as imagegpt train printed it; without one, the members in akka.cluster.seed-nodes", "HOST:PORT");
    private static readonly Option<int?> Dashboard = LiveDashboard.PortOption();
    private static readonly Option<string> DashboardBind = LiveDashboard.BindOption();

    public static Command Definition { get; } = Cli.Command("node", "join a running run with this machine's trainers and loaders (scale a run out)",
        ConfigPath, Overrides, RunDir, Seeds, Dashboard, DashboardBind);

    static NodeCommand() => Definition.SetAction(r => RunAsync(r, Console.Out, !Console.IsOutputRedirected).GetAwaiter().GetResult());

    public static Task<int> RunAsync(string[] argv, TextWriter output, bool interactive) => RunAsync(Cli.Parse(Definition, argv), output, interactive);

    private static async Task<int> RunAsync(ParseResult args, TextWriter output, bool interactive)
    {
        var dashboard = LiveDashboard.Parse(args, Dashboard, DashboardBind);
        string referencePath = ConfigCommand.FindReference();
        string file = args.GetValue(ConfigPath) ?? TrainCommand.DefaultRun(referencePath);
        output.WriteLine($"config: {file}");
        var reference = ConfigFactory.ParseFile(referencePath);
        var resolved = RunConfigLoader.Layer(reference, file, args.GetValue(Overrides) ?? []).Resolve();
        var config = RunConfigLoader.FromResolved(resolved, reference.Resolve(), args.GetValue(RunDir));
        var clusterOptions = ClusterNode.Options(config, resolved, args.GetValue(Seeds) ?? []);
        // The run's store: its history says what the run is, and the leases behind its root are in it.
        await using var store = RunStore.Open(config.Checkpoint, config.RunDir, mustExist: config.Checkpoint.Store == "sqlite");
        TrainCommand.CheckRunDirectory(config.RunDir);
        var system = ClusterNode.CreateSystem(clusterOptions, AkkaSettings.Build(resolved, store, cluster: clusterOptions), store);
        try
        {
            return await JoinAsync(system, config, store, output, interactive, dashboard);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    private static async Task<int> JoinAsync(ActorSystem system, RunConfig config, RunStore store, TextWriter output, bool interactive, LiveDashboard.Request? dashboard)
    {
        if (Akka.Cluster.Cluster.Get(system).Settings.SeedNodes.Count == 0)
            throw new UserError("no member of the run to join. HINT: pass --seed HOST:PORT as imagegpt train printed it, or list the run's members in akka.cluster.seed-nodes");
        var history = await RunJournal.ReadAsync(system, config.RunId);
        if (history.Started is not { } started)
            throw new UserError($"run '{config.RunId}' has not started in {store.Where}. HINT: start it with imagegpt train, and give this node the same run (--run-dir or run.id) and store");
        string identity = RunConfigLoader.IdentityJson(config);
        var differences = RunConfigLoader.IdentityDifferences(started.IdentityJson, identity);
        if (differences.Count > 0)
            throw new UserError($"this node's config is not the one run '{config.RunId}' was started with ({string.Join("; ", differences)}). HINT: start the node with the run's config");
        if (history.Ended is RunFinished finished)
        {
            output.WriteLine($"run '{config.RunId}' finished at step {finished.Step}; nothing to join");
            return 0;
        }
        // Served before the data are prepared and the node joins, as train serves it: the page answers from the start.
        var feed = new RunFeed();
        await using var server = await LiveDashboard.StartAsync(dashboard, system, config, feed, output);
        // A node with neither the aggregator nor the data role needs no data set: its trainers' batches are streamed.
        var roles = Akka.Cluster.Cluster.Get(system).SelfRoles;
        var inputs = roles.Contains(ClusterRun.AggregatorRole) || roles.Contains(ClusterRun.DataRole)
            ? RunData.Prepare(config, Nn.Palette.Palette.FromJson(started.PaletteJson, $"the history of run '{config.RunId}' in {store.Where}"), output)
            : null;

        await ClusterNode.JoinAsync(system, config.Cluster!.JoinTimeout);
        output.WriteLine($"cluster: {ClusterNode.Describe(system)} joined run '{config.RunId}'");
        var streamFrom = inputs is null ? await DataNodes.FindAsync(system, config.Cluster.JoinTimeout) : null;
        if (streamFrom is not null) output.WriteLine($"data: this node has no data set; its trainers' batches are streamed from the data node at {streamFrom.Endpoint} ({streamFrom.Samples} training images)");
        using var interrupts = new Interrupts(system, output, "leaving the run (its shards go to the other nodes)");
        long from = history.Checkpoints.Count > 0 ? history.Checkpoints[^1].Step : 0;
        var progress = new ConsoleProgress(output, interactive, config.Log.Every, from);
        using var metrics = new RootMetrics(config);
        Task<RunEnded> ended;
        try
        {
            ended = ClusterRun.Start(system, new ClusterNodeSetup(config, inputs, store, identity, new Observers(progress, metrics, feed), StreamFrom: streamFrom));
            await Task.WhenAny(ended, system.WhenTerminated);
        }
        finally
        {
            progress.Dispose();
        }
        if (!ended.IsCompleted)
        {
            if (interrupts.Happened)
            {
                output.WriteLine("this node left the run; the run goes on without it");
                return 130;
            }
            output.WriteLine("imagegpt node: error: this node was removed from the run's cluster (the others found it unreachable and downed it). HINT: start it again to rejoin");
            return 1;
        }
        var outcome = ended.Result;
        if (outcome.Refused) throw new UserError(outcome.Error ?? "the run refused this node");
        if (outcome.Error is not null)
        {
            output.WriteLine($"imagegpt node: error: the run failed: {outcome.Error}");
            return 1;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the run {(outcome.Stopped ? "was stopped" : "finished")} at step {outcome.Step}"));
        return 0;
    }

    /// <summary>
    /// The run directory's metrics.jsonl and metrics.csv while the run's root is on this node: opened at its first step
    /// report (the root came here) and cut back to the step the root resumed from, as a resumed run does.
    /// </summary>
    private sealed class RootMetrics(RunConfig config) : ITrainingObserver, IDisposable
    {
        private MetricsLog? _log;

        public void Step(StepReport report) => (_log ??= new MetricsLog(config.RunDir, config.Log.Every, report.Step - 1)).Step(report);
        public void CheckpointSaved(long step, double seconds, bool final) { }
        public void Evaluation(EvaluationRecorded result, string table) { }
        public void Warning(string message) { }
        public void Dispose() => _log?.Dispose();
    }
}
