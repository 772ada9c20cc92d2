using System.Reflection;
using System.Security.Cryptography;

namespace ImageGpt.Host.Dashboard;

/// <summary>The page's files (wwwroot/*), embedded in the assembly: nothing is read from disk or fetched from elsewhere.</summary>
public static class EmbeddedAssets
{
    public sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    private static readonly Dictionary<string, Asset> Assets = Load();

    public static IReadOnlyCollection<string> Names => Assets.Keys;

    public static Asset? Find(string name) => Assets.GetValueOrDefault(name);

    private static Dictionary<string, Asset> Load()
    {
        Assembly assembly = typeof(EmbeddedAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            string name = resource["wwwroot/".Length..];
            assets[name] = new Asset(bytes, ContentType(name), $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }
        return assets;
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
