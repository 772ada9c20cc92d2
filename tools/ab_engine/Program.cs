// Built by tools/ab_engine.sh: the engine of a git ref (namespace Before.ImageGpt.Nn) and of the working
// tree (ImageGpt.Nn) in one process, training steps of the same model on the same tokens in alternation.
// Side by side in one process, both see the same clock and the same neighbours on a shared machine.
using System.Diagnostics;

static class AbEngine
{
    static int Main(string[] args)
    {
        if (args.Length != 5 || !args.All(a => int.TryParse(a, out _)))
        {
            Console.Error.WriteLine("usage: ab_engine LAYERS WIDTH HEADS THREADS ROUNDS. HINT: tools/ab_engine.sh REF 8 64 4 1 12");
            return 2;
        }
        int L = int.Parse(args[0]), C = int.Parse(args[1]), NH = int.Parse(args[2]), threads = int.Parse(args[3]), rounds = int.Parse(args[4]);
        const int B = 32, Side = 14, V = 16;
        var before = new Before.ImageGpt.Nn.Model.Gpt(
            new Before.ImageGpt.Nn.Model.GptConfig(L, C, NH, V, Side, 0, Before.ImageGpt.Nn.Model.Objective.Autoregressive, 1), B) { Threads = threads };
        var after = new ImageGpt.Nn.Model.Gpt(
            new ImageGpt.Nn.Model.GptConfig(L, C, NH, V, Side, 0, ImageGpt.Nn.Model.Objective.Autoregressive, 1), B) { Threads = threads };
        before.Init();
        after.Init();
        var rng = new Random(1234);
        var tokens = new int[B * Side * Side];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.Next(V);
        void StepBefore() { before.ZeroGrad(); before.Forward(tokens); before.Backward(); }
        void StepAfter() { after.ZeroGrad(); after.Forward(tokens); after.Backward(); }
        static double Ms(Action step)
        {
            long t0 = Stopwatch.GetTimestamp();
            step();
            return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        for (int i = 0; i < 3; i++) { StepBefore(); StepAfter(); }
        var tb = new List<double>();
        var ta = new List<double>();
        for (int r = 0; r < rounds; r++) { tb.Add(Ms(StepBefore)); ta.Add(Ms(StepAfter)); }
        tb.Sort();
        ta.Sort();
        double tokensPerStep = B * Side * Side;
        Console.WriteLine($"L{L} d{C} H{NH}, {threads} thread(s), forward + backward of {tokensPerStep} tokens, {rounds} steps each in alternation " +
            $"(load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}):");
        Console.WriteLine($"  before: best {tb[0]:F1} ms ({tokensPerStep / tb[0] * 1e3:F0} tokens/s), median {tb[rounds / 2]:F1} ms");
        Console.WriteLine($"  after:  best {ta[0]:F1} ms ({tokensPerStep / ta[0] * 1e3:F0} tokens/s), median {ta[rounds / 2]:F1} ms");
        Console.WriteLine($"  speed-up: {tb[0] / ta[0]:F3}x (best), {tb[rounds / 2] / ta[rounds / 2]:F3}x (median); losses {before.Loss} / {after.Loss}");
        return 0;
    }
}
