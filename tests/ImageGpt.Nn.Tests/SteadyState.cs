namespace ImageGpt.Nn.Tests;

/// <summary>Managed bytes a repeated piece of work allocates once the runtime has settled.</summary>
internal static class SteadyState
{
    /// <summary>
    /// Runs <paramref name="work"/> once to warm up, then measures the bytes it allocates on this thread up to
    /// <paramref name="tries"/> times, stopping at the first run that allocates nothing, and returns every
    /// measurement. The runtime itself may allocate on the calling thread once, in any run (tiered
    /// compilation's on-stack replacement compiles there, CI saw 2,224 bytes once); work that allocates
    /// allocates in every run, so its last measurement is never zero.
    /// </summary>
    public static long[] Allocations(Action work, int tries = 5)
    {
        work();
        var seen = new List<long>(tries);
        for (int i = 0; i < tries; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            work();
            seen.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            if (seen[^1] == 0) break;
        }
        return [.. seen];
    }

    /// <summary>Asserts that <paramref name="work"/> allocates nothing once warm, naming every measurement.</summary>
    public static void AssertAllocatesNothing(Action work)
    {
        var seen = Allocations(work);
        Assert.True(seen[^1] == 0, $"bytes allocated per run: {string.Join(", ", seen)} (no run allocated nothing)");
    }
}
