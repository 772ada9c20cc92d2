namespace ImageGpt.Nn.Training;

/// <summary>Which engine computes a trainer's forward and backward.</summary>
public enum ComputeBackend
{
    /// <summary>ImageGpt.Nn: our SIMD engine; bit-identical across thread counts, the default.</summary>
    Nn,
    /// <summary>libtorch through TorchSharp: GPUs for those who have them; the same results within a stated tolerance.</summary>
    Torch,
}

/// <summary>Parses and names <see cref="ComputeBackend"/> as the configuration spells it.</summary>
public static class ComputeBackends
{
    public static bool TryParse(string text, out ComputeBackend backend)
    {
        (bool ok, backend) = text switch
        {
            "nn" => (true, ComputeBackend.Nn),
            "torch" => (true, ComputeBackend.Torch),
            _ => (false, ComputeBackend.Nn),
        };
        return ok;
    }

    public static string Name(this ComputeBackend backend) => backend == ComputeBackend.Torch ? "torch" : "nn";
}
