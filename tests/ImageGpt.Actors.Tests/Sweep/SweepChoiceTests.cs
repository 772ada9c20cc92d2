using ImageGpt.Actors.Sweep;

namespace ImageGpt.Actors.Tests.Sweep;

/// <summary>The paper's rule for choosing a swept value, on hand-made loss sequences (values in the order given).</summary>
public sealed class SweepChoiceTests
{
    private const double NaN = double.NaN;
    private const double Inf = double.PositiveInfinity;

    public static TheoryData<double[], int?, string> Cases => new()
    {
        { [2.0, 1.5, 1.2, 1.1], 3, "falling all the way: the last value" },
        { [1.0, 1.5, 2.0, 3.0], 0, "rising from the start: the first value" },
        { [2.0, 1.5, 1.7, 1.9], 1, "an interior minimum" },
        { [2.0, 1.5, 1.7, 1.2, 1.4], 1, "several local minima: the first, though a later one is lower" },
        { [2.0, 1.5, 1.5, 1.2], 1, "a tie is no improvement: the earlier of the two" },
        { [1.5, 1.5], 0, "all equal: the first" },
        { [NaN, 2.0, 1.5, 1.7], 2, "a diverged first value is passed over" },
        { [NaN, Inf, 1.8, 1.9], 2, "every diverged value before the first finite one is passed over" },
        { [2.0, NaN, 1.0], 0, "a diverged next value is no improvement" },
        { [2.0, 1.5, Inf], 1, "an infinite loss counts as diverged" },
        { [NaN, NaN, NaN], null, "every value diverged: no choice" },
        { [1.7], 0, "one value" },
        { [], null, "no value" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_choice_is_the_first_local_minimum_in_the_order_given(double[] losses, int? expected, string why)
    {
        Assert.True(expected == SweepChoice.FirstLocalMinimum(losses), why);
    }

    public static TheoryData<double[], bool, string> SettledCases => new()
    {
        { [2.0, 1.5], false, "still falling: the next value may be lower" },
        { [2.0, 1.5, 1.7], true, "the next value did not improve" },
        { [1.0, 1.5], true, "rising from the start" },
        { [2.0, NaN], true, "a diverged value after a finite one" },
        { [NaN, NaN], false, "nothing finite yet" },
        { [NaN, 2.0], false, "the first finite value is the last done" },
        { [1.7], false, "one value" },
        { [], false, "none" },
    };

    [Theory]
    [MemberData(nameof(SettledCases))]
    public void The_choice_is_settled_once_a_value_is_not_improved_on(double[] done, bool expected, string why)
    {
        Assert.True(expected == SweepChoice.Settled(done), why);
    }

    [Fact]
    public void A_settled_choice_is_the_choice_whatever_the_values_after_it()
    {
        var rng = new Random(20261130);
        for (int trial = 0; trial < 2000; trial++)
        {
            var losses = Enumerable.Range(0, rng.Next(1, 8)).Select(_ => rng.Next(10) switch { 0 => NaN, 1 => Inf, var k => (double)(k % 4) }).ToArray();
            for (int k = 0; k <= losses.Length; k++)
            {
                var done = losses[..k];
                if (SweepChoice.Settled(done))
                    Assert.True(SweepChoice.FirstLocalMinimum(done) == SweepChoice.FirstLocalMinimum(losses), $"[{string.Join(", ", losses)}] settled after {k}");
            }
            // And it is settled, at the latest, once every value but the last is done and the choice is not the last.
            if (SweepChoice.FirstLocalMinimum(losses) is { } c && c < losses.Length - 1)
                Assert.True(SweepChoice.Settled(losses[..(c + 2)]), $"[{string.Join(", ", losses)}]: not settled after the value past the choice");
        }
    }

    [Fact]
    public void The_choice_agrees_with_its_definition_on_random_sequences()
    {
        // The definition written out plainly: the first i with a finite loss such that i is last or loss[i+1] < loss[i] fails.
        var rng = new Random(20261130);
        for (int trial = 0; trial < 2000; trial++)
        {
            var losses = Enumerable.Range(0, rng.Next(0, 7)).Select(_ => rng.Next(10) switch { 0 => NaN, 1 => Inf, var k => (double)(k % 4) }).ToArray();
            int? expected = null;
            for (int i = 0; i < losses.Length && expected is null; i++)
            {
                bool finite = !double.IsNaN(losses[i]) && !double.IsInfinity(losses[i]);
                bool nextBetter = i + 1 < losses.Length && losses[i + 1] < losses[i];
                if (finite && !nextBetter) expected = i;
            }
            int? chosen = SweepChoice.FirstLocalMinimum(losses);
            Assert.True(expected == chosen, $"[{string.Join(", ", losses)}]: expected {expected}, chose {chosen}");
            if (chosen is { } c)
            {
                // A local minimum: the next value is not lower, and a finite previous one is higher (else it would have been chosen).
                Assert.False(c + 1 < losses.Length && losses[c + 1] < losses[c]);
                Assert.True(c == 0 || !double.IsFinite(losses[c - 1]) || losses[c] < losses[c - 1]);
            }
        }
    }
}
