using ImageGpt.Actors.Persistence;

namespace ImageGpt.Actors.Tests.Persistence;

/// <summary>
/// The child process of the kill test. The test starts this test assembly again with <c>dotnet exec</c> and
/// names it as a .NET startup hook (<c>DOTNET_STARTUP_HOOKS</c>); the hook sees <see cref="ProviderVar"/> and runs
/// <see cref="Run"/> instead of returning to the (empty) test entry point. The child writes
/// <see cref="BatchesVar"/> acknowledged batches, then starts one more large batch and parks inside its
/// transaction, after every insert and before the commit, so that the test kills it mid-write for certain.
/// </summary>
internal static class KillChild
{
    public const string ProviderVar = "IMAGEGPT_PERSIST_CHILD";
    public const string StoreVar = "IMAGEGPT_PERSIST_CHILD_STORE";
    public const string PidVar = "IMAGEGPT_PERSIST_CHILD_PID";
    public const string BatchesVar = "IMAGEGPT_PERSIST_CHILD_BATCHES";

    /// <summary>Size of batch <paramref name="b"/> (1-based): varied, so a half-written batch would show as a wrong count.</summary>
    public static int BatchSize(int b) => 1 + b * 7 % 23;

    /// <summary>The batch the child dies in: large enough (3 MB, over the default 2 MB page cache) that SQLite spills uncommitted pages to the WAL.</summary>
    public const int DoomedBatchSize = 48;

    /// <summary>Tags every event of a batch with the batch, its size and its first sequence number (unique per batch).</summary>
    public static string Tag(int batch, int size, long firstSeq) => $"batch {batch} of {size} from {firstSeq}";

    public static int SizeInTag(string tag) => int.Parse(tag.Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture);

    public static IReadOnlyList<JournalEntry> Batch(string pid, long firstSeq, int batch, int size, int payloadBytes)
    {
        var entries = new JournalEntry[size];
        for (int i = 0; i < size; i++)
        {
            byte[] payload = new byte[payloadBytes];
            Random.Shared.NextBytes(payload);
            entries[i] = new JournalEntry(pid, firstSeq + i, "kill-test", payload, Tag(batch, size, firstSeq));
        }
        return entries;
    }

    public static int Run()
    {
        string provider = Environment.GetEnvironmentVariable(ProviderVar)!;
        string store = Environment.GetEnvironmentVariable(StoreVar)!;
        string pid = Environment.GetEnvironmentVariable(PidVar)!;
        int batches = int.Parse(Environment.GetEnvironmentVariable(BatchesVar)!, System.Globalization.CultureInfo.InvariantCulture);
        SqlJournal journal = provider == "sqlite" ? new SqliteJournal(store) : new PostgresJournal(store);
        long seq = journal.HighestSequenceNrAsync(pid).GetAwaiter().GetResult() + 1;
        for (int b = 1; b <= batches; b++)
        {
            IReadOnlyList<JournalEntry> batch = Batch(pid, seq, b, BatchSize(b), 256);
            journal.WriteAsync(batch).GetAwaiter().GetResult();
            seq += batch.Count;
            Console.WriteLine($"committed {b}");
        }
        journal.BeforeCommitForTests = async ct =>
        {
            Console.WriteLine("mid-write");
            await Task.Delay(Timeout.Infinite, ct);
        };
        journal.WriteAsync(Batch(pid, seq, batches + 1, DoomedBatchSize, 64 * 1024)).GetAwaiter().GetResult();
        Console.WriteLine("the doomed batch committed, which the test does not expect");
        return 4;
    }
}
