using ImageGpt.Actors.Tests.Persistence;

/// <summary>
/// .NET startup hook (must be named so, in the global namespace). In the test run nothing sets
/// <c>DOTNET_STARTUP_HOOKS</c> and this never runs; the kill test sets it for its child process.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(KillChild.ProviderVar) is null) return;
        int rc;
        try { rc = KillChild.Run(); }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            rc = 3;
        }
        Environment.Exit(rc);
    }
}
