using System.Text;

namespace ImageGpt.Actors.Runtime;

/// <summary>
/// Where an actor lives, written like Akka's: <c>imagegpt://&lt;system&gt;/user/a/b</c>. Two paths are equal
/// when their system and elements are equal; the <see cref="Uid"/> tells incarnations apart and is
/// compared by actor refs, not by paths (a restarted-by-recreation actor under the same name is a new
/// incarnation, so a stale ref to the old one must not reach it).
/// </summary>
public sealed class ActorPath : IEquatable<ActorPath>
{
    public const string Scheme = "imagegpt";

    private readonly string[] _elements;

    public string SystemName { get; }
    public long Uid { get; }
    public IReadOnlyList<string> Elements => _elements;
    public string Name => _elements.Length == 0 ? "/" : _elements[^1];

    private ActorPath(string systemName, string[] elements, long uid)
    {
        SystemName = systemName;
        _elements = elements;
        Uid = uid;
    }

    public static ActorPath Root(string systemName) => new(systemName, [], 0);

    /// <summary>The path of a child of this one; the uid is that of the new incarnation.</summary>
    public ActorPath Child(string name, long uid = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var e = new string[_elements.Length + 1];
        _elements.CopyTo(e, 0);
        e[^1] = name;
        return new ActorPath(SystemName, e, uid);
    }

    public ActorPath? Parent => _elements.Length == 0 ? null : new ActorPath(SystemName, _elements[..^1], 0);

    public ActorPath WithUid(long uid) => new(SystemName, _elements, uid);

    public override string ToString()
    {
        var sb = new StringBuilder(Scheme).Append("://").Append(SystemName);
        if (_elements.Length == 0) return sb.Append('/').ToString();
        foreach (string e in _elements) sb.Append('/').Append(e);
        return sb.ToString();
    }

    /// <summary>The path with the incarnation, as it travels in messages: <c>...#uid</c>.</summary>
    public string ToStringWithUid() => Uid == 0 ? ToString() : $"{this}#{Uid}";

    public bool Equals(ActorPath? other) =>
        other is not null && SystemName == other.SystemName && _elements.AsSpan().SequenceEqual(other._elements);

    public override bool Equals(object? obj) => obj is ActorPath p && Equals(p);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(SystemName);
        foreach (string e in _elements) h.Add(e);
        return h.ToHashCode();
    }

    /// <summary>Parses <c>imagegpt://system/a/b[#uid]</c>.</summary>
    public static ActorPath Parse(string text)
    {
        string prefix = Scheme + "://";
        if (!text.StartsWith(prefix, StringComparison.Ordinal))
            throw new ArgumentException($"actor path '{text}' does not start with '{prefix}'", nameof(text));
        string rest = text[prefix.Length..];
        long uid = 0;
        int hash = rest.IndexOf('#');
        if (hash >= 0)
        {
            uid = long.Parse(rest[(hash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            rest = rest[..hash];
        }
        string[] parts = rest.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException($"actor path '{text}' has no system name", nameof(text));
        return new ActorPath(parts[0], parts[1..], uid);
    }
}
