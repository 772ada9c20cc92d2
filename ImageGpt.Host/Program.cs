using System.CommandLine;
using System.CommandLine.Help;
using ImageGpt.Host.Commands;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn;

namespace ImageGpt.Host;

/// <summary>
/// <c>imagegpt &lt;command&gt; [options]</c> on System.CommandLine: <c>--help</c> on every command (each option with its
/// default), <c>--version</c>. A mistake in the input is one line on standard error and exit code 2; a command
/// interrupted by Ctrl-C exits 130; <c>train</c> exits 1 when the run fails.
/// </summary>
public static class Program
{
    /// <summary>Every command but help, in the order the help lists them.</summary>
    public static IReadOnlyList<Command> Commands { get; } =
    [
        TrainCommand.Definition, SweepCommand.Definition, NodeCommand.Definition, DashboardCommand.Definition, StatusCommand.Definition, ConfigCommand.Definition,
        ProbeCommand.Definition, ChartCommand.Definition, SampleCommand.Definition, FinetuneCommand.Definition,
        BenchCommand.Definition, BenchGemmCommand.Definition, BenchSampleCommand.Definition, BenchActorsCommand.Definition, BenchPersistCommand.Definition,
        BenchDataplaneCommand.Definition,
    ];

    private static readonly RootCommand Root = BuildRoot();

    private static RootCommand BuildRoot()
    {
        var root = new RootCommand("imagegpt: pretrain Image GPT (Chen et al., 2020) on CPUs as actors on Akka.NET; evaluate, sample, fine-tune, watch");
        foreach (Command c in Commands) root.Subcommands.Add(c);
        var help = new Command("help", "this text (also: imagegpt --help, imagegpt <command> --help)");
        help.SetAction(r => PrintHelp(r.InvocationConfiguration.Output));
        root.Subcommands.Add(help);
        return root;
    }

    public static int Main(string[] argv) => Run(argv, Console.Out, Console.Error);

    public static int Run(string[] argv, TextWriter output, TextWriter error)
    {
        if (argv.Length == 0)
        {
            PrintHelp(output);
            return 2;
        }
        ParseResult result = Root.Parse(argv);
        string command = result.CommandResult.Command == Root ? "" : result.CommandResult.Command.Name;
        bool helpOrVersion = result.Action is HelpAction || result.Action == Root.Options.OfType<VersionOption>().Single().Action;
        if (result.Errors.Count > 0 && !helpOrVersion)
        {
            error.WriteLine(command.Length == 0
                ? argv[0].StartsWith('-') ? $"imagegpt: error: unknown option '{argv[0]}'. HINT: see 'imagegpt --help'"
                    : $"imagegpt: error: unknown command '{argv[0]}'. HINT: run 'imagegpt help' for the list"
                : $"imagegpt {command}: error: {Cli.Error(result, command).Message}");
            return 2;
        }
        try
        {
            return result.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (UserError e)
        {
            error.WriteLine($"imagegpt {command}: error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine($"imagegpt {command}: cancelled");
            return 130;
        }
    }

    private static int PrintHelp(TextWriter output) =>
        Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output });
}
