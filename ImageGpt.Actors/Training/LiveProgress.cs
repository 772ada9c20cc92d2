namespace ImageGpt.Actors.Training;

/// <summary>The live numbers of a run, written by the aggregator and read by trainers and the status timer.</summary>
public sealed class LiveProgress
{
    /// <summary>The step the aggregator is collecting; trainers skip requests for older steps.</summary>
    public long CurrentStep;

    private IReadOnlyList<string> _trainers = [];

    /// <summary>The run's trainers in shard order, as the aggregator last planned them.</summary>
    public IReadOnlyList<string> Trainers { get => Volatile.Read(ref _trainers); set => Volatile.Write(ref _trainers, value); }

    private StepReport? _last;
    public StepReport? Last { get => Volatile.Read(ref _last); set => Volatile.Write(ref _last, value); }
}
