using System.Globalization;
using System.Runtime.InteropServices;
using ImageGpt.Actors.Training;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// The child process of the run store's kill test, started like the journal's (<see cref="Persistence.KillChild"/>):
/// this test assembly again under <c>dotnet exec</c>, named as its own startup hook. It saves checkpoints of
/// consecutive steps, after the newest one in the store, forever, printing "committed N" after each save returns.
/// With <see cref="ParkVar"/> = K ≥ 0 it parks inside the second save after inserting chunk K and prints
/// "mid-write", so the test kills it inside the transaction for certain; with -1 the test kills it whenever.
/// </summary>
internal static class RunStoreKillChild
{
    public const string ProviderVar = "IMAGEGPT_RUNSTORE_CHILD";
    public const string TargetVar = "IMAGEGPT_RUNSTORE_CHILD_TARGET";
    public const string ParkVar = "IMAGEGPT_RUNSTORE_CHILD_PARK";

    /// <summary>Floats per array: three arrays make 8.4 MB, nine chunks.</summary>
    public const int Floats = 700_000;

    public static CheckpointSettings Settings(string provider, string target) =>
        new(Every: 1, Keep: 0, Store: provider, Postgres: provider == "postgres" ? target : "", ExportSafetensors: false);

    /// <summary>The run directory for sqlite; unused (but must be a path) for postgres.</summary>
    public static string RunDir(string provider, string target) => provider == "sqlite" ? target : Path.GetTempPath();

    public static int Run()
    {
        string provider = Environment.GetEnvironmentVariable(ProviderVar)!;
        string target = Environment.GetEnvironmentVariable(TargetVar)!;
        int park = int.Parse(Environment.GetEnvironmentVariable(ParkVar)!, CultureInfo.InvariantCulture);
        var store = (SqlRunStore)SqlRunStore.Open(Settings(provider, target), RunDir(provider, target));
        IReadOnlyList<CheckpointInfo> existing = store.ListCheckpointsAsync().GetAwaiter().GetResult();
        long step = existing.Count == 0 ? 1 : existing[^1].Step + 1;
        for (int saves = 0; ; saves++, step++)
        {
            if (saves == 1 && park >= 0)
            {
                store.AfterChunkForTests = async (idx, ct) =>
                {
                    if (idx != park) return;
                    Console.WriteLine("mid-write");
                    await Task.Delay(Timeout.Infinite, ct);
                };
            }
            store.SaveCheckpointAsync(RunStoreData.Make(step, Floats)).GetAwaiter().GetResult();
            Console.WriteLine($"committed {step}");
        }
    }
}

/// <summary>Deterministic checkpoints for the run store tests, with the float bit patterns a careless copy would change.</summary>
internal static class RunStoreData
{
    /// <summary>Quiet NaN with a payload, a negative signalling NaN, -0, infinities and subnormals.</summary>
    public static readonly int[] SpecialBits = [0x7FC00001, unchecked((int)0xFFA00005), unchecked((int)0x80000000), 0x7F800000, unchecked((int)0xFF800000), 0x00000001, unchecked((int)0x807FFFFF)];

    public static Checkpoint Make(long step, int floats, int salt = 0)
    {
        var rng = new Random(unchecked((int)step * 7919 + floats + salt * 104729));
        float[] Array(int which)
        {
            float[] a = new float[floats];
            for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() * 2 - 1;
            for (int i = 0; i < SpecialBits.Length && which + i * 977 < a.Length; i++)
                a[which + i * 977] = BitConverter.Int32BitsToSingle(SpecialBits[i]);
            return a;
        }
        return new Checkpoint(step, Epoch: step / 10, StepInEpoch: (int)(step % 10),
            Parameters: Array(0), AdamM: Array(1), AdamV: Array(2), AdamStep: (int)step + salt,
            IdentityJson: $$"""{"model":{"layers":{{step}}},"salt":{{salt}}}""", PaletteJson: "[[0,0,0],[127,127,127],[255,255,255]]",
            DataSeed: 0xDEADBEEF_00000000UL | (ulong)step);
    }

    /// <summary>Equal scalars and arrays equal bit for bit.</summary>
    public static void AssertSame(Checkpoint expected, Checkpoint? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(
            (expected.Step, expected.Epoch, expected.StepInEpoch, expected.AdamStep, expected.IdentityJson, expected.PaletteJson, expected.DataSeed),
            (actual.Step, actual.Epoch, actual.StepInEpoch, actual.AdamStep, actual.IdentityJson, actual.PaletteJson, actual.DataSeed));
        AssertBits(expected.Parameters, actual.Parameters);
        AssertBits(expected.AdamM, actual.AdamM);
        AssertBits(expected.AdamV, actual.AdamV);
    }

    private static void AssertBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected), a = MemoryMarshal.Cast<float, int>(actual);
        int first = -1;
        for (int i = 0; i < e.Length && first < 0; i++) if (e[i] != a[i]) first = i;
        Assert.True(first < 0, first < 0 ? "" : $"float {first} differs: expected bits {e[first]:X8}, got {a[first]:X8}");
    }
}
