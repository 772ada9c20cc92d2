using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;

namespace ImageGpt.Nn.Training;

/// <summary>What one optimizer step saw: the batch loss, the gradient norm before clipping and the learning rate used.</summary>
public readonly record struct StepStats(float Loss, float GradNorm, float Lr);

/// <summary>
/// The aggregator's arithmetic for one step: reduce the shard gradients in shard order, clip the global
/// norm, Adam with the scheduled learning rate. Owns the parameters and the optimizer state.
/// </summary>
public sealed class OptimizerStep
{
    private readonly float[] _grad;

    public ParameterSlab Parameters { get; }
    public Adam Adam { get; }
    public LrSchedule Schedule { get; }
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public float Clip { get; }

    public OptimizerStep(ParameterSlab parameters, LrSchedule schedule, float beta1, float beta2, float weightDecay, float clip)
    {
        schedule.Validate();
        Parameters = parameters;
        Schedule = schedule;
        Clip = clip;
        Adam = new Adam(parameters, beta1, beta2, 1e-8f, weightDecay);
        _grad = new float[parameters.Length];
    }

    /// <summary>Applies global step <paramref name="step"/> (0-based) from every shard's gradient, in shard order.</summary>
    public StepStats Apply(IReadOnlyList<ShardGradient> shardsInOrder, long step)
    {
        float loss = GradientReduction.Reduce(_grad, shardsInOrder);
        float norm = Adam.ClipGradNorm(_grad, Clip);
        float lr = Schedule.At((int)Math.Min(step, int.MaxValue));
        Adam.Update(_grad, lr);
        return new StepStats(loss, norm, lr);
    }
}
