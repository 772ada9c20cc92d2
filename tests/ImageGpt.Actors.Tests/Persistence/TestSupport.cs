namespace ImageGpt.Actors.Tests.Persistence;

internal static class TestSupport
{
    /// <summary>Every awaited expectation in these tests is bounded, so a hang fails instead of blocking the run.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(Patience);
    public static Task Bounded(this Task task) => task.WaitAsync(Patience);

    public static string NewPid(string prefix = "pid") => $"{prefix}-{Guid.NewGuid():N}";

    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);
    public static string Text(byte[] b) => System.Text.Encoding.UTF8.GetString(b);
}

/// <summary>A clock that moves only when a test moves it.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    public override DateTimeOffset GetUtcNow() => _now;
    public void Advance(TimeSpan by) => _now += by;
}
