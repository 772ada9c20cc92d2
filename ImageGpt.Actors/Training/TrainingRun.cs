using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
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
/// Runs one training run on an actor system to its end:
/// <code>
/// /user/run                  RunActor: wiring, status.json, end of run
///   history                  RunHistoryActor: the run's events (Akka.Persistence)
///   aggregator               ParameterAggregator: steps, Adam, checkpoints
///   checkpoints              CheckpointWriter: payloads, CheckpointCommitted, safetensors
///   evaluator/evaluator      EvaluatorActor under a BackoffSupervisor
///   loader-i/loader          DataLoaderActor under a BackoffSupervisor, one per trainer
///   trainer-i/trainer        TrainerActor under a BackoffSupervisor, one per device
/// </code>
/// Stopping is a task of Akka's <see cref="CoordinatedShutdown"/> (phase service-requests-done): it ends the step in
/// flight and writes the final checkpoint before later phases stop the actors. <paramref name="stop"/> asks the same
/// of the run without shutting the system down.
/// </summary>
public static class TrainingRun
{
    public static async Task<TrainingOutcome> RunAsync(ActorSystem system, RunConfig config, TrainingInputs inputs, ICheckpointStore store,
        RunHistory history, Checkpoint? resume, string identityJson, ITrainingObserver observer, TrainingHooks? hooks = null,
        CancellationToken stop = default)
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

        using var stopping = new CancellationTokenSource();
        var done = new TaskCompletionSource<TrainingOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var setup = new RunSetup(config, inputs, store, history, observer, hooks, parameters, optimizer, sampler, new ShardPlan(t.Shards, trainers),
            resume?.Step ?? 0, identityJson, stopping.Token, done);
        var run = system.ActorOf(Props.Create(() => new RunActor(setup)), "run");
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "stop-training-and-checkpoint", () =>
        {
            run.Tell(new StopTraining(CoordinatedShutdown.Get(system).ShutdownReason?.ToString() ?? "shutdown"));
            return done.Task.ContinueWith(_ => Akka.Done.Instance, TaskScheduler.Default);
        });
        await using var registration = stop.Register(() => run.Tell(new StopTraining("interrupted")));
        var outcome = await done.Task.ConfigureAwait(false);
        await stopping.CancelAsync().ConfigureAwait(false);
        // The outcome is already durable; an actor stuck in a kernel (a hung trainer) must not keep the caller.
        try { await run.GracefulStop(TimeSpan.FromSeconds(30)).ConfigureAwait(false); }
        catch (Exception e) when (e is TaskCanceledException or AskTimeoutException) { observer.Warning("some actors did not stop within 30 s of the end of the run; leaving them behind"); }
        return outcome;
    }

    private static void Restore(float[] from, ParameterSlab to, string what)
    {
        if (from.Length != to.Length)
            throw new Nn.UserError($"the checkpoint's {what} hold {from.Length} values, the configured model {to.Length}. HINT: resume with the config the run was started with");
        from.CopyTo(to.Data, 0);
    }
}
