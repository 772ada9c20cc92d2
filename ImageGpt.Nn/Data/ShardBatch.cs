namespace ImageGpt.Nn.Data;

/// <summary>One shard's content: b sequences of T tokens, their labels, and which samples they are.</summary>
public sealed record ShardBatch(ShardId Id, ushort[] Tokens, int[] Labels, int[] SampleIndices, int T)
{
    public int B => Labels.Length;
}
