namespace ImageGpt.Nn.Optim;

/// <summary>
/// Linear warmup then cosine decay to 0 (IGPT.md: warmup one epoch, then cosine). For 0-based step t:
/// t &lt; W: base·(t+1)/W; else base·½·(1 + cos(π·(t−W)/(S−W))). Steps past S stay at 0.
/// </summary>
public sealed record LrSchedule(double BaseLr, int WarmupSteps, int TotalSteps)
{
    public void Validate()
    {
        if (!(BaseLr > 0)) throw new UserError($"learning rate = {BaseLr} must be positive. HINT: the paper sweeps 0.01, 0.003, 0.001, 0.0003");
        if (WarmupSteps < 0) throw new UserError($"warmup steps = {WarmupSteps} is negative. HINT: use about one epoch of steps");
        if (TotalSteps <= WarmupSteps) throw new UserError($"total steps = {TotalSteps} must exceed warmup steps = {WarmupSteps}. HINT: raise steps or lower warmup");
    }

    public float At(int step)
    {
        if (step < WarmupSteps) return (float)(BaseLr * (step + 1) / WarmupSteps);
        if (step >= TotalSteps) return 0f;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return (float)(BaseLr * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
