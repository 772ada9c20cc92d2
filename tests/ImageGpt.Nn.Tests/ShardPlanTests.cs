using ImageGpt.Nn.Training;

namespace ImageGpt.Nn.Tests;

/// <summary>Who computes which shard: homes, suspects, retries and the stream order, in one place.</summary>
public sealed class ShardPlanTests
{
    [Fact]
    public void Shard_k_lives_with_trainer_k_mod_n_and_each_trainer_streams_its_homes_in_order()
    {
        var plan = new ShardPlan(shards: 5, trainers: 2);
        Assert.Equal([0, 1, 0, 1, 0], Enumerable.Range(0, 5).Select(plan.Home));
        Assert.Equal([0, 2, 4], plan.HomeShards(0));
        Assert.Equal([1, 3], plan.HomeShards(1));
        Span<int> owner = stackalloc int[5];
        plan.Assign(new HashSet<int>(), owner);
        Assert.Equal([0, 1, 0, 1, 0], owner.ToArray());
        Assert.Equal([1, 3], ShardPlan.ShardsOf(owner, 1));
    }

    [Fact]
    public void A_suspect_trainer_gets_no_shards_and_its_homes_go_round_the_healthy_ones()
    {
        var plan = new ShardPlan(shards: 6, trainers: 3);
        Span<int> owner = stackalloc int[6];
        plan.Assign(new HashSet<int> { 1 }, owner);
        // Shards 1 and 4 (trainer 1's homes) go to healthy[k mod 2] of [0, 2].
        Assert.Equal([0, 2, 2, 0, 0, 2], owner.ToArray());
        Assert.Empty(ShardPlan.ShardsOf(owner, 1));
        // Everyone suspect: nobody is healthier than anybody else, so the homes stand.
        plan.Assign(new HashSet<int> { 0, 1, 2 }, owner);
        Assert.Equal([0, 1, 2, 0, 1, 2], owner.ToArray());
    }

    [Fact]
    public void A_retry_never_lands_on_the_late_trainer_when_there_is_another()
    {
        var plan = new ShardPlan(shards: 4, trainers: 3);
        Assert.Equal(1, plan.Retry(0, 1));
        Assert.Equal(2, plan.Retry(0, 2));
        Assert.Equal(1, plan.Retry(0, 3));
        Assert.Equal(0, new ShardPlan(4, 1).Retry(0, 1));
    }

    [Fact]
    public void Stream_positions_order_shards_by_step_then_shard_and_map_back()
    {
        var plan = new ShardPlan(shards: 4, trainers: 2);
        Assert.Equal(4 * 7 + 3, plan.Key(7, 3));
        Assert.Equal((7L, 3), (plan.StepOf(31), plan.ShardOf(31)));
        Assert.True(plan.Key(7, 3) < plan.Key(8, 0));
    }
}
