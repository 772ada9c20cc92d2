using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// The training set as a node without it knows it: how many samples of how many tokens the data node holds, which is
/// what the run's sampler needs to name (epoch, step, shard) of a global step. The samples themselves stay on the data
/// node: a node that streams its batches never reads one here.
/// </summary>
public sealed class StreamedSamples(int count, int t) : ISampleSource
{
    public int Count => count;

    public int T => t;

    public int Read(int index, Span<ushort> tokens) =>
        throw new InvalidOperationException("this node has no data set: its batches are streamed from a data node (StreamedLaneSource), never built here");
}
