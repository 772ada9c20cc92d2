using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

/// <summary>Entry points for reading HOCON, named as in Akka.</summary>
public static class ConfigFactory
{
    public static Config Empty(string description = "empty config") =>
        new(new HoconObject(new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal), new HoconOrigin(description, 0)), description);

    /// <param name="origin">name used in error messages and origins</param>
    /// <param name="includeDirectory">where relative includes are looked up; without it they count as missing</param>
    public static Config ParseString(string text, string origin = "string", string? includeDirectory = null) =>
        new(HoconParser.ParseDocument(text, origin, includeDirectory), origin);

    /// <summary>Parses a file; relative includes are located next to it.</summary>
    public static Config ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new UserError($"config file '{path}' not found. HINT: check the path (relative paths start at {Environment.CurrentDirectory})");
        string full = Path.GetFullPath(path);
        string text;
        try { text = File.ReadAllText(full); }
        catch (IOException e) { throw new UserError($"cannot read config file '{path}': {e.Message}. HINT: check the file's permissions"); }
        return new Config(HoconParser.ParseDocument(text, path, Path.GetDirectoryName(full), null, [full]), path);
    }
}
