using ImageGpt.Actors.Tests.Persistence;
using ImageGpt.Actors.Tests.Training;

/// <summary>
/// .NET startup hook (must be named so, in the global namespace). In the test run nothing sets
/// <c>DOTNET_STARTUP_HOOKS</c> and this never runs; the kill tests set it for their child processes.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        Func<int>? child =
            Environment.GetEnvironmentVariable(KillChild.ProviderVar) is not null ? KillChild.Run
            : Environment.GetEnvironmentVariable(RunStoreKillChild.ProviderVar) is not null ? RunStoreKillChild.Run
            : null;
        if (child is null) return;
        int rc;
        try { rc = child(); }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            rc = 3;
        }
        Environment.Exit(rc);
    }
}
