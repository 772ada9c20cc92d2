namespace ImageGpt.Nn.Data;

/// <summary>Which shard: the unit of work and of determinism.</summary>
public readonly record struct ShardId(long Epoch, int Step, int Shard);
