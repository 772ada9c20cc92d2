using System.Text.Json;

namespace ImageGpt.Actors.Persistence;

/// <summary>Turns one type of message into bytes and back; its <see cref="Manifest"/> is stored beside the bytes.</summary>
public interface ISerializer
{
    Type Type { get; }
    string Manifest { get; }
    byte[] ToBinary(object value);
    object FromBinary(byte[] bytes);
}

/// <summary>System.Text.Json for records: the default serializer.</summary>
public sealed class JsonSerializer<T>(string? manifest = null, JsonSerializerOptions? options = null) : ISerializer where T : notnull
{
    public Type Type => typeof(T);

    // The full type name by default: readable in the table, stable as long as the type is not renamed.
    public string Manifest { get; } = manifest ?? typeof(T).FullName!;

    public byte[] ToBinary(object value) => JsonSerializer.SerializeToUtf8Bytes((T)value, options);

    public object FromBinary(byte[] bytes) =>
        JsonSerializer.Deserialize<T>(bytes, options) ?? throw new SerializationException($"manifest '{Manifest}': the payload is JSON null");
}

/// <summary>
/// Serializers by type (for writing) and by manifest (for reading). Types are registered up front, so a
/// manifest read from the database never names an arbitrary type to load.
/// </summary>
public sealed class SerializerRegistry
{
    private readonly Dictionary<Type, ISerializer> _byType = [];
    private readonly Dictionary<string, ISerializer> _byManifest = new(StringComparer.Ordinal);

    public SerializerRegistry Add(ISerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        if (_byManifest.TryGetValue(serializer.Manifest, out ISerializer? other))
            throw new ArgumentException($"manifest '{serializer.Manifest}' is already registered for {other.Type.FullName}; give {serializer.Type.FullName} another manifest", nameof(serializer));
        if (!_byType.TryAdd(serializer.Type, serializer))
            throw new ArgumentException($"type {serializer.Type.FullName} already has a serializer", nameof(serializer));
        _byManifest[serializer.Manifest] = serializer;
        return this;
    }

    /// <summary>Registers <typeparamref name="T"/> with the JSON serializer.</summary>
    public SerializerRegistry AddJson<T>(string? manifest = null) where T : notnull => Add(new JsonSerializer<T>(manifest));

    public (string Manifest, byte[] Payload) Serialize(object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_byType.TryGetValue(value.GetType(), out ISerializer? s))
            throw new SerializationException($"no serializer for {value.GetType().FullName}. HINT: register it with SerializerRegistry.AddJson<{value.GetType().Name}>() or Add(serializer)");
        return (s.Manifest, s.ToBinary(value));
    }

    public object Deserialize(string manifest, byte[] payload)
    {
        if (!_byManifest.TryGetValue(manifest, out ISerializer? s))
            throw new SerializationException($"no serializer for manifest '{manifest}'. HINT: register the type that was written under it before recovering");
        try { return s.FromBinary(payload); }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new SerializationException($"manifest '{manifest}': the payload of {payload.Length} bytes does not read as {s.Type.FullName}: {e.Message}", e);
        }
    }
}
