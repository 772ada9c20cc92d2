using ImageGpt.Actors.Tests.History;

/// <summary>
/// .NET startup hook (must be named so, in the global namespace). In the test run nothing sets
/// <c>DOTNET_STARTUP_HOOKS</c> and this never runs; the kill tests set it for their child processes.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(RunStoreKillChild.ProviderVar) is null) return;
        int rc;
        try { rc = RunStoreKillChild.Run(); }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            rc = 3;
        }
        Environment.Exit(rc);
    }
}
