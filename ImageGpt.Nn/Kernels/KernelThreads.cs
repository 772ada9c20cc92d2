using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace ImageGpt.Nn.Kernels;

/// <summary>A kernel's work split into `pieces` fixed parts; piece p of n always covers the same elements.</summary>
internal interface IPieceJob
{
    void Run(int piece, int pieces);
}

/// <summary>
/// The threads a kernel runs its pieces on: the calling thread and workers owned by it claim pieces one
/// at a time until none is left, so a worker that the OS has not scheduled yet only means the caller runs
/// more pieces itself (on a busy machine it may run them all) and never waits for a piece nobody started.
/// A training step calls ~200 threaded kernels, many shorter than a millisecond, so a worker polls for
/// the next kernel for 50 µs before it sleeps (waking a sleeping thread-pool worker for Parallel.For costs
/// 15-50 µs on this machine, and Parallel.For allocates its closure per call). Each calling thread (each
/// trainer) has its own workers, so trainers never wait on one another. Determinism is the caller's: a
/// piece is a fixed range of the output whatever thread runs it, and each piece runs exactly once.
/// </summary>
internal static class KernelThreads
{
    /// <summary>How long a worker keeps polling for its next piece before it blocks.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000;

    [ThreadStatic] private static Team? _team;

    /// <summary>The worker threads of the calling thread's team (for tests).</summary>
    internal static IReadOnlyList<Thread> WorkersOfThisThread => _team?.Threads ?? [];

    /// <summary>Piece `piece` of `pieces` of [0, n): contiguous, fixed, covering [0, n) once (some may be empty).</summary>
    public static (int Start, int End) Range(int n, int piece, int pieces) =>
        ((int)((long)n * piece / pieces), (int)((long)n * (piece + 1) / pieces));

    /// <summary>Runs job.Run(p, pieces) for every p in [0, pieces), piece 0 on this thread; returns when all are done.</summary>
    public static void Run<TJob>(int pieces, TJob job) where TJob : struct, IPieceJob
    {
        if (pieces <= 1)
        {
            job.Run(0, 1);
            return;
        }
        (_team ??= new Team()).Run(pieces, job);
    }

    private abstract class Holder
    {
        public abstract void Run(int piece, int pieces);
    }

    /// <summary>A team's slot for jobs of one type: reused, so handing a job to the workers allocates nothing.</summary>
    private sealed class Holder<TJob> : Holder where TJob : struct, IPieceJob
    {
        public TJob Job;
        public override void Run(int piece, int pieces) => Job.Run(piece, pieces);
    }

    private sealed class Worker
    {
        public readonly SemaphoreSlim Wake = new(0);
        public long Go;
        public int Sleeping;
    }

    private sealed class Team
    {
        // Workers end when their owner has: a restarted trainer gets a new compute thread and a new team.
        private readonly Thread _owner = Thread.CurrentThread;
        private readonly List<Worker> _workers = [];
        private readonly Dictionary<Type, Holder> _holders = [];
        public readonly List<Thread> Threads = [];
        private Holder? _current;
        private int _pieces, _done;
        // generation << 32 | next unclaimed piece: a claim for an old generation fails its compare-exchange.
        private long _state;
        private long _generation;
        private Exception? _failure;

        public void Run<TJob>(int pieces, TJob job) where TJob : struct, IPieceJob
        {
            while (_workers.Count < pieces - 1) Start();
            if (!_holders.TryGetValue(typeof(TJob), out var holder)) _holders[typeof(TJob)] = holder = new Holder<TJob>();
            ((Holder<TJob>)holder).Job = job;
            _current = holder;
            _pieces = pieces;
            Volatile.Write(ref _done, 0);
            long generation = ++_generation;
            Volatile.Write(ref _state, generation << 32);
            for (int w = 0; w < pieces - 1; w++)
            {
                var worker = _workers[w];
                Volatile.Write(ref worker.Go, generation);
                // A full fence between publishing Go and reading Sleeping: the worker does the reverse
                // (Sleeping, fence, Go), so one of the two always sees the other's write.
                if (Interlocked.Exchange(ref worker.Sleeping, 0) == 1) worker.Wake.Release();
            }
            RunPieces(generation);
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < pieces) spin.SpinOnce(sleep1Threshold: -1);
            var failure = Interlocked.Exchange(ref _failure, null);
            if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
        }

        /// <summary>Claims and runs pieces of this generation until none is left.</summary>
        private void RunPieces(long generation)
        {
            while (true)
            {
                long state = Volatile.Read(ref _state);
                int piece = (int)(state & uint.MaxValue);
                if (state >> 32 != generation || piece >= _pieces) return;
                if (Interlocked.CompareExchange(ref _state, state + 1, state) != state) continue;
                try
                {
                    _current!.Run(piece, _pieces);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _failure, e, null);
                }
                Interlocked.Increment(ref _done);
            }
        }

        private void Start()
        {
            var worker = new Worker();
            _workers.Add(worker);
            var thread = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"kernel-worker-{_workers.Count}" };
            Threads.Add(thread);
            thread.Start();
        }

        private void Loop(Worker me)
        {
            long seen = 0;
            while (true)
            {
                long start = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref me.Go) == seen)
                {
                    if (Stopwatch.GetTimestamp() - start < SpinTicks)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    Interlocked.Exchange(ref me.Sleeping, 1);
                    if (Volatile.Read(ref me.Go) == seen && !me.Wake.Wait(TimeSpan.FromSeconds(1)) && !_owner.IsAlive) return;
                    // A release for a Go this loop already saw leaves one spare count: the next Wait
                    // returns at once and the loop looks at Go again.
                    Volatile.Write(ref me.Sleeping, 0);
                    start = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref me.Go);
                RunPieces(seen);
            }
        }
    }
}
