using ImageGpt.Nn;

namespace ImageGpt.Host;

public static class Program
{
    private const string Usage = """
        usage: imagegpt <command> [options]

        commands:
          help      this text
          bench     full training steps on synthetic tokens: tokens/s, GFLOP/s, fraction of peak (--profile: time per kernel kind)
          config    print the effective configuration as JSON: --config FILE [--set path=value ...]
          bench-actors  [--pairs N] [--messages M] [--inflight K]  actor ping-pong, prints messages/s
          bench-sample  KV-cached sampling vs re-running the full forward per token: tokens/s
          help        this text
          bench-gemm  GFLOP/s of the matmul kernels on the iGPT shapes (--width 512 --threads 1)
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
                "bench-sample" => Commands.BenchSampleCommand.Run(rest),
                "bench-gemm" => Commands.BenchGemmCommand.Run(rest),
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
