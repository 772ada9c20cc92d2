using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>The bench's per-kernel profile: every kernel kind a training step runs is charged when enabled.</summary>
public sealed class KernelProfileTests
{
    [Fact]
    public void An_enabled_profile_charges_every_kernel_kind_of_a_forward_and_backward_pass()
    {
        var model = new Gpt(new GptConfig(1, 16, 2, 4, 3, 0, Objective.Autoregressive, 7), 2);
        model.Init();
        int[] tokens = Enumerable.Range(0, 2 * 9).Select(i => i % 4).ToArray();
        KernelProfile.Reset();
        KernelProfile.Enabled = true;
        try
        {
            model.Forward(tokens);
            model.Backward();
        }
        finally
        {
            KernelProfile.Enabled = false;
        }
        KernelKind[] charged =
        [
            KernelKind.MatmulForward, KernelKind.MatmulBackward, KernelKind.AttentionForward, KernelKind.AttentionBackward,
            KernelKind.Norm, KernelKind.Gelu, KernelKind.Embedding, KernelKind.CrossEntropy,
        ];
        foreach (var kind in charged)
            Assert.True(KernelProfile.Milliseconds(kind) > 0, $"{kind} was not charged");
        // The optimizer is the caller's: the model never charges it.
        Assert.Equal(0, KernelProfile.Milliseconds(KernelKind.Adam));
    }
}
