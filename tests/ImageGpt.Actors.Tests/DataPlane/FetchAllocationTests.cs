using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using static ImageGpt.Actors.Tests.DataPlane.DataPlaneFixture;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>Runs alone: it counts every byte the process allocates while it fetches.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCountingCollection
{
    public const string Name = "allocation counting";
}

[Collection(AllocationCountingCollection.Name)]
public sealed class FetchAllocationTests
{
    [Fact]
    public async Task Fetching_into_a_reused_destination_allocates_a_tiny_fraction_of_the_tensor()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(8_000_000);
        var ticket = server.Offer("params", sent);
        float[] got = new float[sent.Length];
        for (int i = 0; i < 3; i++) await client.FetchAsync(ticket, got).Bounded();

        // Both ends run in this process: the bound covers the server's sending and the client's receiving of 32 MB. The count
        // is the whole process's, so up to five rounds are measured and the first under the bound passes: what a fetch
        // allocates it allocates in every round, while another thread's allocation (a timer of an earlier test) is once.
        const int fetches = 5, bound = 16 * 1024;
        var perFetch = new List<long>();
        for (int round = 0; round < 5 && (perFetch.Count == 0 || perFetch[^1] >= bound); round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < fetches; i++) await client.FetchAsync(ticket, got).Bounded();
            perFetch.Add((GC.GetTotalAllocatedBytes(precise: true) - before) / fetches);
        }

        BitEqual(sent, got);
        Assert.True(perFetch[^1] < bound, $"a fetch of {sent.Length * 4L:N0} bytes allocated {string.Join(", ", perFetch.Select(b => b.ToString("N0")))} bytes per round");
    }
}
