using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Tests.Data;

public class BatchSamplerTests
{
    // Sample i's tokens are (i * T + t) mod 65536 so a shard's content can be checked sample by sample.
    private static TokenSet Tokens(int n, int t = 5) =>
        new(Enumerable.Range(0, n * t).Select(i => (ushort)(i % 65536)).ToArray(), Enumerable.Range(0, n).Select(i => i % 10).ToArray(), t);

    [Fact]
    public void A_shard_is_a_pure_function_of_seed_epoch_step_and_shard()
    {
        var data = Tokens(103);
        var a = new BatchSampler(data, 16, 3, seed: 11);
        var b = new BatchSampler(data, 16, 3, seed: 11);
        // b is asked in a different order (and for another epoch first) so no state can leak into the answer.
        var late = b.Shard(new ShardId(4, 5, 2));
        _ = b.Shard(new ShardId(0, 0, 0));
        var early = a.Shard(new ShardId(4, 5, 2));
        Assert.Equal(early.Tokens, late.Tokens);
        Assert.Equal(early.Labels, late.Labels);
        Assert.Equal(early.SampleIndices, late.SampleIndices);
        Assert.NotEqual(early.SampleIndices, new BatchSampler(data, 16, 3, seed: 12).Shard(new ShardId(4, 5, 2)).SampleIndices);
        Assert.NotEqual(early.SampleIndices, a.Shard(new ShardId(5, 5, 2)).SampleIndices);
    }

    [Fact]
    public void Shard_content_is_the_tokens_and_labels_of_its_samples()
    {
        var data = Tokens(50, t: 4);
        var s = new BatchSampler(data, 10, 4, seed: 3);
        var shard = s.Shard(new ShardId(1, 2, 1));
        Assert.Equal(3, shard.B); // 10 split 2,3,2,3
        for (var j = 0; j < shard.B; j++)
        {
            var i = shard.SampleIndices[j];
            Assert.Equal(data.Sequence(i).ToArray(), shard.Tokens.AsSpan(j * 4, 4).ToArray());
            Assert.Equal(i % 10, shard.Labels[j]);
        }
    }

    [Fact]
    public void Shards_of_a_step_are_contiguous_and_cover_the_batch()
    {
        var s = new BatchSampler(Tokens(100), 10, 4, seed: 1);
        Assert.Equal([(0, 2), (2, 3), (5, 2), (7, 3)], Enumerable.Range(0, 4).Select(s.ShardRange));
        var perm = s.Permutation(2);
        var step = s.ShardsOf(2, 3).SelectMany(id => s.SampleIndices(id)).ToArray();
        Assert.Equal(perm.AsSpan(30, 10).ToArray(), step);
    }

    [Fact]
    public void Every_sample_of_an_epoch_is_used_once_except_the_dropped_remainder()
    {
        var data = Tokens(103);
        var s = new BatchSampler(data, 16, 3, seed: 5);
        Assert.Equal(6, s.StepsPerEpoch);
        Assert.Equal(7, s.DroppedPerEpoch);
        var ledger = new BatchLedger();
        for (var step = 0; step < s.StepsPerEpoch; step++)
            foreach (var id in s.ShardsOf(0, step).Reverse())
                ledger.Record(s.Shard(id));
        for (var step = 0; step < s.StepsPerEpoch; step++)
        {
            Assert.Equal([0, 1, 2], ledger.ShardsAt(0, step));
            Assert.True(ledger.IsComplete(0, step, 3));
        }
        var counts = ledger.UseCounts(0, data.Count);
        Assert.Equal(96, counts.Count(c => c == 1));
        Assert.Equal(7, counts.Count(c => c == 0));
        Assert.DoesNotContain(counts, c => c > 1);
        // The unused ones are exactly the permutation's tail.
        var unused = Enumerable.Range(0, data.Count).Where(i => counts[i] == 0).Order();
        Assert.Equal(s.Permutation(0).Skip(96).Order(), unused);
    }

    [Fact]
    public void The_ledger_refuses_a_shard_recorded_twice_and_reports_incomplete_steps()
    {
        var s = new BatchSampler(Tokens(40), 8, 2, seed: 5);
        var ledger = new BatchLedger();
        ledger.Record(s.Shard(new ShardId(0, 0, 1)));
        Assert.False(ledger.IsComplete(0, 0, 2));
        Assert.Throws<InvalidOperationException>(() => ledger.Record(s.Shard(new ShardId(0, 0, 1))));
    }

    [Fact]
    public void Bad_shapes_are_user_errors()
    {
        Assert.Throws<UserError>(() => new BatchSampler(Tokens(10), 16, 1, 0));
        Assert.Throws<UserError>(() => new BatchSampler(Tokens(10), 4, 5, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchSampler(Tokens(10), 4, 1, 0).SampleIndices(new ShardId(0, 2, 0)));
    }

    [Fact]
    public void Global_step_maps_to_epoch_and_step()
    {
        var s = new BatchSampler(Tokens(103), 16, 1, 0);
        Assert.Equal((0L, 5), s.Cursor(5));
        Assert.Equal((1L, 0), s.Cursor(6));
        Assert.Equal((2L, 1), s.Cursor(13));
    }
}
