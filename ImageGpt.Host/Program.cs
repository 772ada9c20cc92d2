using ImageGpt.Nn;

namespace ImageGpt.Host;

public static class Program
{
    private const string Usage = """
        usage: imagegpt <command> [options]

        commands:
          help      this text
          bench     full training steps on synthetic tokens: tokens/s, GFLOP/s, fraction of peak
          config    print the effective configuration as JSON: --config FILE [--set path=value ...]
          bench-actors  [--pairs N] [--messages M] [--inflight K]  actor ping-pong, prints messages/s
          bench-persist [--events N] [--batch B] [--writers W] [--provider sqlite|postgres|both] [--pg CONN] [--sqlite PATH]
                        journal writes/s (Persist-style and batched) beside Akka.Persistence.Sql's PostgreSQL figures
        """;

    public static int Main(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return argv.Length == 0 ? 2 : 0;
        }
        string command = argv[0];
        string[] rest = argv[1..];
        try
        {
            return command switch
            {
                "bench" => Commands.BenchCommand.Run(rest),
                "config" => ConfigCommand.Run(rest),
                "bench-actors" => Commands.BenchActorsCommand.Run(rest),
                "bench-persist" => Commands.BenchPersistCommand.Run(rest),
                _ => throw new UserError($"unknown command '{command}'. HINT: run 'imagegpt help' for the list"),
            };
        }
        catch (UserError e)
        {
            Console.Error.WriteLine($"imagegpt {command}: error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"imagegpt {command}: cancelled");
            return 130;
        }
    }
}
