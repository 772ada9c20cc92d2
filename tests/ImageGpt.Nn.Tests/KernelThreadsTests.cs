using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>The kernels' worker team: every piece runs exactly once per call, failures reach the caller, teams are per thread.</summary>
public sealed class KernelThreadsTests
{
    private readonly struct CountJob(int[] counts, int[] seenPieces) : IPieceJob
    {
        public void Run(int piece, int pieces)
        {
            Interlocked.Increment(ref counts[piece]);
            seenPieces[piece] = pieces;
        }
    }

    private readonly struct FailJob(int failing) : IPieceJob
    {
        public void Run(int piece, int pieces)
        {
            if (piece == failing) throw new InvalidOperationException($"piece {piece} failed");
        }
    }

    [Fact]
    public void Every_piece_runs_exactly_once_per_call_whatever_the_piece_count()
    {
        // Growing and shrinking piece counts, many calls in a row (workers spinning) and after pauses (workers asleep).
        foreach (int pieces in new[] { 1, 2, 3, 2, 5, 1, 4 })
            for (int call = 0; call < 200; call++)
            {
                if (call % 50 == 0) Thread.Sleep(2);
                var counts = new int[pieces];
                var seen = new int[pieces];
                KernelThreads.Run(pieces, new CountJob(counts, seen));
                Assert.All(counts, c => Assert.Equal(1, c));
                Assert.All(seen, n => Assert.Equal(pieces, n));
            }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_failing_piece_fails_the_call_and_the_team_keeps_working(int failing)
    {
        var e = Assert.Throws<InvalidOperationException>(() => KernelThreads.Run(3, new FailJob(failing)));
        Assert.Contains($"piece {failing}", e.Message);
        var counts = new int[3];
        KernelThreads.Run(3, new CountJob(counts, new int[3]));
        Assert.All(counts, c => Assert.Equal(1, c));
    }

    [Fact]
    public void Two_calling_threads_run_their_kernels_at_the_same_time_on_their_own_teams()
    {
        var errors = new List<Exception>();
        var threads = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            try
            {
                for (int call = 0; call < 500; call++)
                {
                    var counts = new int[3];
                    KernelThreads.Run(3, new CountJob(counts, new int[3]));
                    if (counts.Any(c => c != 1)) throw new InvalidOperationException($"counts {string.Join(",", counts)}");
                }
            }
            catch (Exception e)
            {
                lock (errors) errors.Add(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a calling thread did not finish"));
        Assert.Empty(errors);
    }

    [Fact]
    public void Workers_end_after_their_calling_thread_has_ended()
    {
        IReadOnlyList<Thread> workers = [];
        var caller = new Thread(() =>
        {
            KernelThreads.Run(4, new CountJob(new int[4], new int[4]));
            workers = KernelThreads.WorkersOfThisThread;
        });
        caller.Start();
        Assert.True(caller.Join(TimeSpan.FromSeconds(30)), "the calling thread did not finish");
        Assert.Equal(3, workers.Count);
        // Each worker ends within about a second of finding its owner gone (its sleep times out once a second).
        Assert.All(workers, w => Assert.True(w.Join(TimeSpan.FromSeconds(20)), $"{w.Name} is still running"));
    }
}
