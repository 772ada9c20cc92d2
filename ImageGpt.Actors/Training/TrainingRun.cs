using ImageGpt.Actors.Runtime;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>The samples a run trains on (tokens made on demand by the loaders), its palette and the evaluation data.</summary>
public sealed record TrainingInputs(ISampleSource Train, Nn.Palette.Palette Palette, RunEvalData? Eval);

/// <summary>How a run ended: the step reached, whether it was stopped early, the final parameters, the error if it failed.</summary>
public sealed record TrainingOutcome(long Step, bool Stopped, ParameterSlab Parameters, string? Error);

/// <summary>
/// Builds the actor tree of one training run on this node and runs it to the end:
/// <code>
/// /user/run                  RunActor: wiring, status.json, end of run
///   aggregator               ParameterAggregator: steps, Adam, checkpoints
///   checkpoints              CheckpointWriter
///   evaluator/evaluator      EvaluatorActor under a BackoffSupervisor
///   loader-i/loader          DataLoaderActor under a BackoffSupervisor, one per trainer
///   trainer-i/trainer        TrainerActor under a BackoffSupervisor, one per device
/// </code>
/// </summary>
public static class TrainingRun
{
    public static async Task<TrainingOutcome> RunAsync(RunConfig config, TrainingInputs inputs, IRunStore store, Checkpoint? resume,
        string identityJson, ITrainingObserver observer, TrainingHooks? hooks = null, CancellationToken stop = default)
    {
        var model = config.Model;
        var t = config.Train;
        var parameters = new ParameterSlab(model);
        var optimizer = new OptimizerStep(parameters, new LrSchedule(t.Lr, t.Warmup, t.Steps), (float)t.Beta1, (float)t.Beta2, (float)t.WeightDecay, (float)t.Clip);
        if (resume is null)
        {
            new Gpt(model, 1, parameters).Init();
        }
        else
        {
            Restore(resume.Parameters, parameters, "parameters");
            Restore(resume.AdamM, optimizer.Adam.M, "Adam m");
            Restore(resume.AdamV, optimizer.Adam.V, "Adam v");
            optimizer.Adam.Step = resume.AdamStep;
        }
        var sampler = new BatchSampler(inputs.Train, t.Batch, t.Shards, t.Seed);
        int trainers = Math.Min(config.Runtime.Trainers, t.Shards);
        if (trainers < config.Runtime.Trainers)
            observer.Warning($"runtime.trainers = {config.Runtime.Trainers} but a step has only train.shards = {t.Shards} shards; using {trainers} trainers");
        long start = resume?.Step ?? 0;

        using var stopping = new CancellationTokenSource();
        var done = new TaskCompletionSource<TrainingOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var setup = new RunSetup(config, inputs, store, observer, hooks, parameters, optimizer, sampler, trainers, start,
            resume is null, identityJson, stopping.Token, done);
        // Stopping is a coordinated shutdown: its first task ends the step in flight, writes the final
        // checkpoint and waits for it (up to 10 minutes: a big model's step and checkpoint take a while);
        // only then do the later phases stop the actors.
        var system = ActorSystem.Create("imagegpt", new ActorSystemOptions
        {
            PhaseTimeouts = new Dictionary<string, TimeSpan> { [CoordinatedShutdown.PhaseServiceRequestsDone] = TimeSpan.FromMinutes(10) },
        });
        try
        {
            var run = system.ActorOf(Props.Create(() => new RunActor(setup)), "run");
            system.CoordinatedShutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "stop-training-and-checkpoint", _ =>
            {
                run.Tell(new StopTraining(system.CoordinatedShutdown.RunReason?.Description ?? "shutdown"), null);
                return done.Task;
            });
            using var registration = stop.Register(() => system.CoordinatedShutdown.Run(new CoordinatedShutdown.Reason("interrupted")));
            return await done.Task.ConfigureAwait(false);
        }
        finally
        {
            await stopping.CancelAsync().ConfigureAwait(false);
            // The outcome is already durable; an actor stuck in a kernel (a hung trainer) must not keep the process.
            try { await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false); }
            catch (TimeoutException) { observer.Warning("some actors did not stop within 30 s of the end of the run; leaving them behind"); }
        }
    }

    private static void Restore(float[] from, ParameterSlab to, string what)
    {
        if (from.Length != to.Length)
            throw new Nn.UserError($"the checkpoint's {what} hold {from.Length} values, the configured model {to.Length}. HINT: resume with the config the run was started with");
        from.CopyTo(to.Data, 0);
    }
}
