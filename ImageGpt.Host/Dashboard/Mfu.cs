namespace ImageGpt.Host.Dashboard;

/// <summary>Model FLOPs utilization as the dashboard shows it when a step report does not carry it.</summary>
public static class Mfu
{
    /// <summary>One core's fp32 FMA ceiling on this project's machine (12 independent zmm FMA chains), FLOP/s.</summary>
    public const double CoreCeiling = 331e9;

    /// <summary>
    /// Model FLOPs per second over the ceiling of the cores the trainers hold. REPLACE with ImageGpt.Nn.Model.Mfu (being
    /// added elsewhere) once StepReport carries it; this is the one place the dashboard computes it.
    /// </summary>
    /// <param name="flopsPerToken">GptConfig.TrainingFlopsPerTokenCausal</param>
    /// <param name="cores">trainers x threads per trainer</param>
    public static double? Estimate(double flopsPerToken, double tokensPerSecond, int cores) =>
        cores > 0 && tokensPerSecond > 0 && flopsPerToken > 0 ? flopsPerToken * tokensPerSecond / (CoreCeiling * cores) : null;
}
