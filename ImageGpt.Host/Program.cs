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
          bench-sample  KV-cached sampling vs re-running the full forward per token: tokens/s
          probe     --weights W --palette P [--data-dir D --dataset fashion-mnist --train N --val N --test N --seed S]
                    linear probe of every layer + raw-pixel baseline: table of best C, val and test accuracy
          sample    --weights W --palette P --out FILE.png [--images N --completions K --temperature T --seed S]
                    half-image completions of test images as a PNG grid
          finetune  --weights W --palette P [--out W2 --epochs E --lr LR --batch B --train N --val N --test N --patience P --max-steps S]
                    fine-tune with a classifier head, early stop on validation accuracy, report test accuracy
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
                "probe" => Commands.ProbeCommand.Run(rest),
                "sample" => Commands.SampleCommand.Run(rest),
                "finetune" => Commands.FinetuneCommand.Run(rest),
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
