namespace ImageGpt.Nn.Model;

/// <summary>One named tensor inside a slab: its place (Offset, Length) and its shape.</summary>
public sealed record TensorSlot(string Name, int[] Shape, int Offset, int Length);

/// <summary>
/// All parameters of a model in one float[] (llm.c style), sliced into named tensors in the
/// IGPT.md order. The same layout serves gradients and Adam's moments, so optimizer loops run over
/// one flat array and a checkpoint is one blob.
/// </summary>
public sealed class ParameterSlab
{
    private readonly Dictionary<string, TensorSlot> _byName;

    public GptConfig Config { get; }
    public float[] Data { get; }
    public IReadOnlyList<TensorSlot> Slots { get; }
    public int Length => Data.Length;

    public ParameterSlab(GptConfig config)
    {
        config.Validate();
        Config = config;
        var slots = new List<TensorSlot>();
        long offset = 0;
        foreach (var (name, shape) in Layout(config))
        {
            long length = 1;
            foreach (int d in shape) length *= d;
            slots.Add(new TensorSlot(name, shape, checked((int)offset), (int)length));
            offset += length;
        }
        if (offset > Array.MaxLength)
            throw new UserError($"model has {offset:N0} parameters, more than one float array holds ({Array.MaxLength:N0}). HINT: reduce layers or width");
        Data = new float[offset];
        Slots = slots;
        _byName = slots.ToDictionary(s => s.Name);
    }

    /// <summary>Names and shapes in storage order: wte, wpe, sos, the blocks, ln_f, head, clf.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(GptConfig c)
    {
        int C = c.Width, V = c.Vocab, T = c.Seq;
        yield return ("wte", [V, C]);
        yield return ("wpe", [T, C]);
        yield return ("sos", [C]);
        for (int l = 0; l < c.Layers; l++)
        {
            yield return ($"h.{l}.ln_1.g", [C]);
            yield return ($"h.{l}.attn.q", [C, C]);
            yield return ($"h.{l}.attn.k", [C, C]);
            yield return ($"h.{l}.attn.v", [C, C]);
            yield return ($"h.{l}.attn.c_proj", [C, C]);
            yield return ($"h.{l}.ln_2.g", [C]);
            yield return ($"h.{l}.mlp.c_fc", [4 * C, C]);
            yield return ($"h.{l}.mlp.c_proj", [C, 4 * C]);
        }
        yield return ("ln_f.g", [C]);
        yield return ("head", [V, C]);
        if (c.Classes > 0)
            yield return ("clf", [c.Classes, C]);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorSlot Slot(string name) =>
        _byName.TryGetValue(name, out var slot) ? slot : throw new ArgumentException($"no tensor '{name}' in this model", nameof(name));

    public Span<float> this[string name] => Span(Slot(name));

    public Span<float> Span(TensorSlot slot) => Data.AsSpan(slot.Offset, slot.Length);

    /// <summary>A zeroed slab with this layout (gradients, Adam moments).</summary>
    public ParameterSlab ZerosLike() => new(Config);

    public void CopyFrom(ParameterSlab other)
    {
        if (other.Data.Length != Data.Length || other.Config with { Seed = 0, Objective = Objective.Autoregressive } != Config with { Seed = 0, Objective = Objective.Autoregressive })
            throw new ArgumentException("slabs of different model shapes", nameof(other));
        other.Data.CopyTo(Data, 0);
    }

    public void Clear() => Array.Clear(Data);
}
