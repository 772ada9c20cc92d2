using System.Diagnostics;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;

namespace ImageGpt.Nn.Eval;

/// <summary>
/// Fine-tuning settings. Adam as in pretraining (β1 0.9, β2 0.95, no weight decay), constant lr (the
/// paper: no cosine schedule when fine-tuning). Validation every <see cref="EvalEvery"/> steps (0: once
/// per epoch); training stops after Epochs (or MaxSteps, when set) or after <see cref="Patience"/> evaluations without a new best.
/// </summary>
public sealed record FineTuneOptions(int Epochs = 3, double Lr = 1e-3, int Batch = 32, int EvalEvery = 0, int Patience = 3, float Clip = 1f, ulong Seed = 1, int Threads = 1, int? MaxSteps = null)
{
    public void Validate()
    {
        if (Epochs < 1) throw new UserError($"--epochs {Epochs} must be at least 1. HINT: e.g. --epochs 3");
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new UserError($"--lr {Lr} must be a positive number. HINT: e.g. --lr 1e-3");
        if (Batch < 1) throw new UserError($"--batch {Batch} must be at least 1. HINT: e.g. --batch 32");
        if (EvalEvery < 0) throw new UserError($"--eval-every {EvalEvery} must be >= 0. HINT: 0 evaluates once per epoch");
        if (Patience < 1) throw new UserError($"--patience {Patience} must be at least 1. HINT: e.g. --patience 3");
        if (MaxSteps is < 1) throw new UserError($"--max-steps {MaxSteps} must be at least 1. HINT: leave it out to run every epoch");
    }
}

public sealed record FineTuneEvaluation(int Step, double Epoch, float TrainLoss, double ValidationAccuracy);

public sealed record FineTuneResult(
    double InitialValidationAccuracy, double BestValidationAccuracy, int BestStep, double TestAccuracy,
    int Steps, bool StoppedEarly, IReadOnlyList<FineTuneEvaluation> History, ParameterSlab BestParameters, double Seconds);

/// <summary>
/// Fine-tunes the whole model with loss L_gen + L_clf (classifier on the mean-pooled ln_f output) and
/// keeps the parameters of the best validation accuracy; test accuracy is measured at that point.
/// </summary>
public static class FineTuner
{
    /// <param name="parameters">Must have a classifier (Config.Classes = the data's class count); see <see cref="EvalBundle.WithClassifier"/>. Updated in place and finally set to the best point.</param>
    public static FineTuneResult Run(ParameterSlab parameters, TokenSet train, TokenSet validation, TokenSet test, FineTuneOptions options, TextWriter? log = null)
    {
        options.Validate();
        var config = parameters.Config;
        int classes = Math.Max(train.Labels.DefaultIfEmpty(0).Max(), Math.Max(validation.Labels.DefaultIfEmpty(0).Max(), test.Labels.DefaultIfEmpty(0).Max())) + 1;
        if (config.Classes < classes)
            throw new ArgumentException($"the model has {config.Classes} classes, the data {classes}", nameof(parameters));
        if (validation.Count == 0) throw new UserError("fine-tuning needs validation images for early stopping. HINT: give --val at least 1");
        int batch = Math.Min(options.Batch, train.Count);
        var sw = Stopwatch.StartNew();
        var model = new Gpt(config, batch, parameters) { Threads = Math.Max(1, options.Threads) };
        var adam = new Adam(parameters);
        var sampler = new BatchSampler(train, batch, 1, options.Seed);
        int evalEvery = options.EvalEvery > 0 ? options.EvalEvery : sampler.StepsPerEpoch;
        int totalSteps = Math.Min(options.Epochs * sampler.StepsPerEpoch, options.MaxSteps ?? int.MaxValue);
        float lr = (float)options.Lr;

        var best = new ParameterSlab(config);
        best.CopyFrom(parameters);
        double initial = Accuracy(model, validation);
        double bestAcc = initial;
        int bestStep = 0, sinceBest = 0;
        var history = new List<FineTuneEvaluation> { new(0, 0, float.NaN, initial) };
        log?.WriteLine($"[finetune] {config.Describe()}; {train.Count} train, {validation.Count} val, {test.Count} test; batch {batch}, lr {options.Lr}, {totalSteps} steps max; val acc before: {100 * initial:F2}%");

        double lossSum = 0;
        int lossCount = 0, step = 0;
        bool stopped = false;
        while (step < totalSteps && !stopped)
        {
            var shard = sampler.Shard(sampler.Id(step, 0));
            model.ZeroGrad();
            lossSum += model.Forward(shard.Tokens, shard.Labels);
            lossCount++;
            model.Backward();
            if (options.Clip > 0) Adam.ClipGradNorm(model.Gradients.Data, options.Clip);
            adam.Update(model.Gradients.Data, lr);
            step++;
            if (step % evalEvery == 0 || step == totalSteps)
            {
                double acc = Accuracy(model, validation);
                var loss = (float)(lossSum / lossCount);
                (lossSum, lossCount) = (0, 0);
                history.Add(new FineTuneEvaluation(step, (double)step / sampler.StepsPerEpoch, loss, acc));
                // Strictly better only: on ties the earlier (less fine-tuned) parameters stay.
                if (acc > bestAcc) { bestAcc = acc; bestStep = step; sinceBest = 0; best.CopyFrom(parameters); }
                else if (++sinceBest >= options.Patience) stopped = true;
                log?.WriteLine($"[finetune] step {step}/{totalSteps} (epoch {(double)step / sampler.StepsPerEpoch:F2}): train loss {loss:F4}, val acc {100 * acc:F2}% (best {100 * bestAcc:F2}% at step {bestStep}){(stopped ? "; stopping early" : "")} ({sw.Elapsed.TotalSeconds:F1} s)");
            }
        }
        parameters.CopyFrom(best);
        double testAcc = test.Count > 0 ? Accuracy(model, test) : double.NaN;
        log?.WriteLine($"[finetune] best val acc {100 * bestAcc:F2}% at step {bestStep}; test acc {100 * testAcc:F2}% ({sw.Elapsed.TotalSeconds:F1} s)");
        return new FineTuneResult(initial, bestAcc, bestStep, testAcc, step, stopped, history, best, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Fraction of <paramref name="set"/> whose classifier argmax equals the label (forward passes in the model's batch capacity).</summary>
    public static double Accuracy(Gpt model, TokenSet set)
    {
        int K = model.Config.Classes, T = set.T, correct = 0;
        if (K < 1) throw new ArgumentException("the model has no classifier", nameof(model));
        for (int start = 0; start < set.Count; start += model.BatchCapacity)
        {
            int b = Math.Min(model.BatchCapacity, set.Count - start);
            model.Forward(set.Tokens.AsSpan(start * T, b * T), set.Labels.AsSpan(start, b));
            var logits = model.ClfLogits;
            for (int i = 0; i < b; i++)
            {
                var row = logits.Slice(i * K, K);
                int arg = 0;
                for (int k = 1; k < K; k++) if (row[k] > row[arg]) arg = k;
                if (arg == set.Labels[start + i]) correct++;
            }
        }
        return set.Count == 0 ? double.NaN : (double)correct / set.Count;
    }
}
