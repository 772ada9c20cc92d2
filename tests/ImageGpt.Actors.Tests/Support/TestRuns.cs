using System.Runtime.InteropServices;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Tests.Support;

/// <summary>What the store and actor tests share: the reference config, actor systems on a store, deterministic checkpoints.</summary>
internal static class TestRuns
{
    /// <summary>Every awaited expectation is bounded, so a hang fails instead of blocking the run.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(Patience);
    public static Task Bounded(this Task task) => task.WaitAsync(Patience);

    /// <summary>Polls a condition the system reaches on its own (a closed connection noticed, a member removed), for at most <see cref="Patience"/>.</summary>
    public static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"not within {Patience}: {what}");
            await Task.Delay(10);
        }
    }

    /// <summary>hocon/reference.conf as the build copies it next to the tests, resolved.</summary>
    public static Config Reference { get; } = ConfigFactory.ParseFile(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf")).Resolve();

    /// <summary>An actor system whose persistence plugins use <paramref name="store"/>, configured as a run's.</summary>
    public static ActorSystem System(RunStore store, string name = "test") => ActorSystem.Create(name, AkkaSettings.Build(Reference, store));

    public static async Task ShutdownAsync(this ActorSystem system) =>
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Patience);

    /// <summary>Quiet NaN with a payload, a negative signalling NaN, -0, infinities and subnormals.</summary>
    public static readonly int[] SpecialBits = [0x7FC00001, unchecked((int)0xFFA00005), unchecked((int)0x80000000), 0x7F800000, unchecked((int)0xFF800000), 0x00000001, unchecked((int)0x807FFFFF)];

    /// <summary>A deterministic checkpoint with the float bit patterns a careless copy would change.</summary>
    public static Checkpoint Checkpoint(long step, int floats, int salt = 0)
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
        return new Checkpoint(step, Epoch: step / 10, StepInEpoch: (int)(step % 10), Array(0), Array(1), Array(2), AdamStep: (int)step + salt,
            DataSeed: 0xDEADBEEF_00000000UL | (ulong)step);
    }

    /// <summary>The event a writer journals for a committed payload.</summary>
    public static CheckpointCommitted Committed(Checkpoint c, BlobInfo blob) =>
        new(c.Step, c.Epoch, c.StepInEpoch, c.AdamStep, c.DataSeed, blob.BlobId, blob.Bytes, blob.Sha256, 0.5, DateTimeOffset.UnixEpoch.AddSeconds(c.Step));

    /// <summary>Equal scalars and arrays equal bit for bit.</summary>
    public static void AssertSame(Checkpoint expected, Checkpoint? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal((expected.Step, expected.Epoch, expected.StepInEpoch, expected.AdamStep, expected.DataSeed),
            (actual.Step, actual.Epoch, actual.StepInEpoch, actual.AdamStep, actual.DataSeed));
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
