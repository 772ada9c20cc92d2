using ImageGpt.Nn;

namespace ImageGpt.Host;

public static class Program
{
    private const string Usage = """
        usage: imagegpt <command> [options]

        commands:
          help           this text
          train          the main job: pretrain with actors, checkpoints and evaluations in the run directory
                         [--config FILE] [--set path=value ...] [--run-dir DIR] [--resume]
          config         print the effective configuration as JSON: [--config FILE] [--set path=value ...]
          status         the actor tree with health, last checkpoint, latest probe table: [--run-dir DIR] [--config FILE]
          probe          linear probe of every layer + raw-pixel baseline: best C, val and test accuracy
                         --weights W --palette P [--data-dir D --dataset fashion-mnist --train N --val N --test N --seed S]
          sample         half-image completions of test images as a PNG grid
                         --weights W --palette P --out FILE.png [--images N --completions K --temperature T --seed S]
          finetune       classifier head, early stop on validation accuracy, test accuracy
                         --weights W --palette P [--out W2 --epochs E --lr LR --batch B --train N --val N --test N --patience P --max-steps S]
          bench          full training steps on synthetic tokens: tokens/s, GFLOP/s, MFU (nominal and measured ceiling)
                         [--layers --width --heads --side --vocab --batch --steps --threads --bert --profile]
                         --backend torch: a libtorch trainer beside ours, alternating rounds: tokens/s, ratio, settings [--rounds 3]
          bench-gemm     GFLOP/s of the matmul and attention kernels on the iGPT shapes against the FMA ceiling [--width 512 --threads 1 --ceiling-only]
          bench-sample   KV-cached sampling vs re-running the full forward per token: tokens/s
          bench-actors   actor ping-pong, messages/s [--pairs N --messages M --inflight K]
          bench-persist  journal writes/s (Persist-style and batched) beside Akka.Persistence.Sql's figures
                         [--events N --batch B --writers W --provider sqlite|postgres|both --pg CONN --sqlite PATH]
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
                "train" => Commands.TrainCommand.Run(rest),
                "bench" => Commands.BenchCommand.Run(rest),
                "config" => ConfigCommand.Run(rest),
                "status" => Commands.StatusCommand.Run(rest),
                "bench-actors" => Commands.BenchActorsCommand.Run(rest),
                "bench-sample" => Commands.BenchSampleCommand.Run(rest),
                "bench-gemm" => Commands.BenchGemmCommand.Run(rest),
                "bench-persist" => Commands.BenchPersistCommand.Run(rest),
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
