using System.Security.Cryptography;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// The run's shared secret: run.secret when it is set, else the one kept in the run directory (file <c>secret</c>,
/// mode 0600), made with a cryptographic random generator at the first start.
/// </summary>
public static class RunSecret
{
    public const string FileName = "secret";

    public static string Resolve(RunConfig config)
    {
        if (config.Secret.Length > 0) return config.Secret;
        string path = Path.Combine(config.RunDir, FileName);
        try
        {
            if (File.Exists(path)) return File.ReadAllText(path).Trim();
            string secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var f = new StreamWriter(path, options)) f.Write(secret);
            return secret;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot read or create the run's secret {path}: {e.Message}. HINT: set run.secret (or IGPT_SECRET), or make the run directory writable");
        }
    }
}
