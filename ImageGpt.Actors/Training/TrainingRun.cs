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
///   aggregator               ParameterAggregator: steps, Adam, the run's trainers, checkpoints
///   checkpoints              CheckpointWriter: payloads, CheckpointCommitted, safetensors
///   evaluator/evaluator      EvaluatorActor under a BackoffSupervisor
/// /user/node                 NodeActor: this node's trainers and loaders
///   loader-i/loader          DataLoaderActor under a BackoffSupervisor, one per trainer
///   trainer-i/trainer        TrainerActor under a BackoffSupervisor, one per device
/// </code>
/// Stopping is a task of Akka's <see cref="CoordinatedShutdown"/> (phase service-requests-done): it ends the step in
/// flight and writes the final checkpoint before later phases stop the actors. <paramref name="stop"/> asks the same
/// of the run without shutting the system down.
/// </summary>
public static class TrainingRun
{
    /// <summary>
    /// Runs the run <paramref name="config"/> names on this process alone: from its newest checkpoint in
    /// <paramref name="store"/> and its history in the system's journal, or from the start when it has none.
    /// </summary>
    public static async Task<TrainingOutcome> RunAsync(ActorSystem system, RunConfig config, TrainingInputs inputs, ICheckpointStore store,
        string identityJson, ITrainingObserver observer, TrainingHooks? hooks = null, CancellationToken stop = default)
    {
        var t = config.Train;
        var parameters = new ParameterSlab(config.Model);
        int trainers = Math.Min(config.Runtime.Trainers, t.Shards);
        if (trainers < config.Runtime.Trainers)
            observer.Warning($"runtime.trainers = {config.Runtime.Trainers} but a step has only train.shards = {t.Shards} shards; using {trainers} trainers");

        var done = new TaskCompletionSource<TrainingOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new LiveProgress();
        // One process: the trainers read the aggregator's own slab, which only changes between steps.
        var setup = new RunSetup(config, inputs, store, observer, hooks, parameters, progress, identityJson, done);
        var run = system.ActorOf(Props.Create(() => new RunActor(setup)), "run");
        var nodeSetup = new NodeSetup(config with { Runtime = config.Runtime with { Trainers = trainers } }, inputs.Train, parameters, SharedParameters.Instance,
            run, progress, observer, hooks, "");
        var node = system.ActorOf(Props.Create(() => new NodeActor(nodeSetup)), "node");
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "stop-training-and-checkpoint", () =>
        {
            run.Tell(new StopTraining(CoordinatedShutdown.Get(system).ShutdownReason?.ToString() ?? "shutdown"));
            return done.Task.ContinueWith(_ => Akka.Done.Instance, TaskScheduler.Default);
        });
        await using var registration = stop.Register(() => run.Tell(new StopTraining("interrupted")));
        var outcome = await done.Task.ConfigureAwait(false);
        // The outcome is already durable; an actor stuck in a kernel (a hung trainer) must not keep the caller.
        try { await Task.WhenAll(node.GracefulStop(TimeSpan.FromSeconds(30)), run.GracefulStop(TimeSpan.FromSeconds(30))).ConfigureAwait(false); }
        catch (Exception e) when (e is TaskCanceledException or AskTimeoutException) { observer.Warning("some actors did not stop within 30 s of the end of the run; leaving them behind"); }
        return outcome;
    }
}
