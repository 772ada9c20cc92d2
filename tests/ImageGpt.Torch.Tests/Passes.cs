using ImageGpt.Nn.Model;
using ImageGpt.Nn.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGpt.Torch.Tests;

/// <summary>What one forward and backward pass produces, from either engine, in the slab's layout.</summary>
internal sealed record Pass(float Loss, float[] Logits, float[] Gradients, float[] Features);

/// <summary>The same pass through both engines: ours (<see cref="Gpt"/>) and libtorch (<see cref="TorchGpt"/>).</summary>
internal static class Passes
{
    public static Pass Nn(ParameterSlab parameters, int[] tokens, byte[] mask, int threads = 1)
    {
        var c = parameters.Config;
        int B = tokens.Length / c.Seq;
        var model = new Gpt(c, B, parameters) { Threads = threads };
        var features = new float[(c.Layers + 1) * B * c.Width];
        model.ProbeFeatures(tokens, features, mask);
        float loss = model.Loss;
        var logits = model.Logits.ToArray();
        model.ZeroGrad();
        model.Backward();
        return new Pass(loss, logits, model.Gradients.Data.ToArray(), features);
    }

    public static Pass Torch(ParameterSlab parameters, int[] tokens, byte[] mask, int threads = 1)
    {
        var c = parameters.Config;
        int B = tokens.Length / c.Seq, T = c.Seq;
        LibTorch.UseThreads(threads);
        using var model = new TorchGpt(c, CPU);
        using var scope = NewDisposeScope();
        model.Load(parameters);
        var x = tensor(tokens.Select(t => (long)t).ToArray(), [B, T], ScalarType.Int64);
        Tensor? m = mask.Length == 0 ? null : tensor(mask, [B, T], ScalarType.Byte).to_type(ScalarType.Bool);
        var layers = new List<Tensor>();
        var logits = model.Logits(x, m, layers);
        var loss = model.Loss(logits, x, m);
        loss.backward();
        var gradients = new float[parameters.Length];
        model.StoreGradients(parameters, gradients);
        // (L+1, B, C): the mean over positions of each block's Norm1 output, then of ln_f's output, as Gpt.ProbeFeatures lays them out.
        var features = stack(layers.Select(f => f.mean([1])).ToArray()).detach().contiguous();
        return new Pass(loss.item<float>(), logits.detach().contiguous().data<float>().ToArray(), gradients, features.data<float>().ToArray());
    }
}
