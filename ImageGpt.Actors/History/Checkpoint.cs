namespace ImageGpt.Actors.History;

/// <summary>
/// Everything needed to continue a run bit for bit besides its config and palette (which the run's
/// <see cref="RunStarted"/> event holds): the weights, Adam's moments and step, and the data cursor.
/// </summary>
/// <param name="Step">Optimizer steps completed; training continues with global step <c>Step</c>.</param>
/// <param name="Epoch">Epoch of the next step.</param>
/// <param name="StepInEpoch">Step within that epoch of the next step.</param>
/// <param name="DataSeed">Seed of the data order (train.seed); the order is a pure function of it and the cursor.</param>
public sealed record Checkpoint(
    long Step, long Epoch, int StepInEpoch, float[] Parameters, float[] AdamM, float[] AdamV, int AdamStep, ulong DataSeed);
