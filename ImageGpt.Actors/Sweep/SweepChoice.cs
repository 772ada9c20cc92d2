namespace ImageGpt.Actors.Sweep;

/// <summary>How a sweep chooses its value, as the paper chooses its learning rate (IGPT.md, Training).</summary>
public static class SweepChoice
{
    /// <summary>
    /// The first local minimum of <paramref name="losses"/> (validation losses in the order the values were given; the
    /// paper goes from the largest learning rate down, 0.01, 0.003, 0.001, 0.0003, and stops at the first local minimum):
    /// walking the values in order, the first one with a finite loss that the next value does not improve on (its loss
    /// is equal, higher or not finite), or the last one. A tie counts as no improvement, so the earlier value is chosen.
    /// Values with no finite loss (diverged: NaN or infinite) are never chosen; before the first finite one they are
    /// passed over, as a sweep from a large learning rate passes the ones that diverge. Null when no loss is finite.
    /// </summary>
    public static int? FirstLocalMinimum(IReadOnlyList<double> losses)
    {
        ArgumentNullException.ThrowIfNull(losses);
        for (int i = 0; i < losses.Count; i++)
        {
            if (!double.IsFinite(losses[i])) continue;
            if (i == losses.Count - 1 || !(losses[i + 1] < losses[i])) return i;
        }
        return null;
    }

    /// <summary>
    /// Whether the values after <paramref name="done"/> (the losses of the first values, in order) can no longer change the
    /// choice: the first local minimum of these lies before their last, so it depends on these alone. The paper stops its
    /// sweep there.
    /// </summary>
    public static bool Settled(IReadOnlyList<double> done) => FirstLocalMinimum(done) is { } c && c < done.Count - 1;
}
