namespace ImageGpt.Actors.Training;

/// <summary>
/// One optimizer step as the aggregator saw it. Rates are over the last 20 steps. DataWaitFraction: share of the
/// trainers' time spent waiting for batches; TrainerBusyFraction: share of the trainers' wall time spent on shards
/// that counted (the rest is the step barrier, the optimizer step and messaging). Mfu: model FLOPs utilization of the
/// trainers' cores (<see cref="ImageGpt.Nn.Model.Mfu"/>).
/// </summary>
public sealed record StepReport(
    long Step, long TotalSteps, long Epoch, float Loss, float GradNorm, float Lr,
    double TokensPerSecond, double DataWaitFraction, double TrainerBusyFraction, double ElapsedSeconds, double Mfu);
