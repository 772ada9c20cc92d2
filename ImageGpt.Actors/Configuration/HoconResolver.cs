using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// Replaces substitutions in a whole layered tree, as the spec's last step.
///
/// Lookups are lazy ("look forward"): finding <c>${bar.foo}</c> evaluates only the nodes on the way to
/// bar.foo, never all of bar, so objects may refer into themselves. A field assigned several times is a
/// <see cref="HoconMerge"/> stack; while element i of a stack is evaluated, a lookup that reaches the same
/// stack sees only the elements below i ("look back"), which is how <c>a = ${a} [x]</c> and <c>+=</c>
/// find the earlier value and how cycles end as "undefined" instead of looping. A cycle that no
/// look-back can break (<c>a : { b : ${a} }</c>) is caught when deep resolution re-enters a node.
/// </summary>
internal sealed class HoconResolver(HoconObject root, Func<string, string?> environment)
{
    private sealed class StackState
    {
        // -1: not being evaluated; k: element k is being evaluated, so lookups see elements 0..k-1 only.
        public int Visible = -1;
        public readonly Dictionary<int, HoconValue?> Prefix = [];
        public readonly HashSet<int> InProgress = [];
    }

    private readonly Dictionary<HoconMerge, StackState> _stacks = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<HoconValue, HoconValue?> _deep = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<HoconValue> _deepActive = new(ReferenceEqualityComparer.Instance);
    private readonly List<HoconSubstitution> _chain = [];

    public HoconObject Resolve() => (HoconObject)Deep(root)!;

    /// <summary>Fully resolved copy of <paramref name="v"/>; null when an optional substitution left nothing.</summary>
    private HoconValue? Deep(HoconValue v)
    {
        if (_deep.TryGetValue(v, out HoconValue? done)) return done;
        if (!_deepActive.Add(v))
            throw new UserError($"{v.Origin}: this value contains itself through substitutions (e.g. a : {{ b : ${{a}} }}). HINT: refer to a field inside the object instead of the object itself");
        HoconValue? result;
        switch (v)
        {
            case HoconScalar:
                result = v;
                break;
            case HoconArray a:
            {
                var items = new List<HoconValue>(a.Items.Count);
                foreach (HoconValue item in a.Items)
                    if (Deep(item) is { } r) items.Add(r);
                result = new HoconArray(items, a.Origin);
                break;
            }
            case HoconObject o:
            {
                var fields = new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal);
                foreach (string k in o.Keys)
                    if (Deep(o[k]) is { } r) fields[k] = r;
                result = new HoconObject(fields, o.Origin);
                break;
            }
            default:
                result = Shallow(v) is { } s ? Deep(s) : null;
                break;
        }
        _deepActive.Remove(v);
        _deep[v] = result;
        return result;
    }

    /// <summary>The value with its top level settled (object, list or scalar); children may still hold substitutions.</summary>
    private HoconValue? Shallow(HoconValue v) => v switch
    {
        HoconMerge m => StackValue(m, m.Stack.Count - 1),
        HoconSubstitution s => Substitute(s),
        HoconConcat c => Concat(c),
        _ => v,
    };

    private StackState StateOf(HoconMerge m)
    {
        if (!_stacks.TryGetValue(m, out StackState? st)) _stacks[m] = st = new StackState();
        return st;
    }

    /// <summary>The merge of stack elements 0..top. Evaluated from the top down so that a non-object hides (and never evaluates) what lies below.</summary>
    private HoconValue? StackValue(HoconMerge m, int top)
    {
        if (top < 0) return null;
        StackState st = StateOf(m);
        if (st.Prefix.TryGetValue(top, out HoconValue? memo)) return memo;
        if (!st.InProgress.Add(top)) return null;
        int saved = st.Visible;
        st.Visible = top;
        HoconValue? element;
        try { element = Shallow(m.Stack[top]); }
        finally { st.Visible = saved; }
        HoconValue? result;
        if (element is null) result = StackValue(m, top - 1);
        else if (element is HoconObject eo) result = StackValue(m, top - 1) is HoconObject below ? HoconMerging.MergeObjects(below, eo) : eo;
        else result = element;
        st.InProgress.Remove(top);
        st.Prefix[top] = result;
        return result;
    }

    /// <summary>What a lookup sees at this node: a stack under evaluation shows only the part below the element being evaluated.</summary>
    private HoconValue? LookupView(HoconValue node, ref bool hitCycle)
    {
        if (node is HoconMerge m && _stacks.TryGetValue(m, out StackState? st) && st.Visible >= 0)
        {
            HoconValue? below = StackValue(m, st.Visible - 1);
            // Nothing below the element under evaluation: the lookup ran into its own field (a cycle), not a plain missing key.
            if (below is null) hitCycle = true;
            return below;
        }
        return Shallow(node);
    }

    private HoconValue? Lookup(IEnumerable<string> path, ref bool hitCycle)
    {
        HoconValue? node = root;
        foreach (string key in path)
        {
            if (LookupView(node, ref hitCycle) is not HoconObject o || !o.TryGetValue(key, out node)) return null;
        }
        return LookupView(node, ref hitCycle);
    }

    private HoconValue? Substitute(HoconSubstitution s)
    {
        _chain.Add(s);
        try
        {
            bool hitCycle = false;
            HoconValue? v = null;
            // Substitutions in an included file are tried at the include's location first, then at the root.
            if (s.Prefix.Length > 0) v = Lookup([.. s.Prefix, .. s.Path], ref hitCycle);
            v ??= Lookup(s.Path, ref hitCycle);
            if (v is null)
            {
                string name = string.Join('.', s.Path);
                string? env = environment(name);
                // The current spec keeps an empty environment variable as an empty string rather than treating it as unset.
                if (env is not null) v = new HoconScalar(HoconScalarKind.String, env, new HoconOrigin($"environment variable {name}", 0));
            }
            if (v is null && !s.Optional)
            {
                string path = HoconPath.Render(s.Path);
                if (hitCycle)
                    throw new UserError($"{s.Origin}: substitution {s} is circular ({string.Join(" -> ", _chain)}) and no earlier value of '{path}' breaks the cycle. " +
                        $"HINT: give '{path}' a value before this line, or write ${{?{path}}} if it may stay unset");
                throw new UserError($"{s.Origin}: substitution {s} is undefined: no value at '{path}' and no environment variable '{string.Join('.', s.Path)}'. " +
                    $"HINT: define '{path}', or write ${{?{path}}} if it may stay unset");
            }
            return v;
        }
        finally
        {
            _chain.RemoveAt(_chain.Count - 1);
        }
    }

    private HoconValue? Concat(HoconConcat c)
    {
        var parts = new List<HoconValue>(c.Parts.Count);
        bool any = false;
        foreach (HoconValue p in c.Parts)
        {
            HoconValue? r = p is HoconSubstitution ? Shallow(p) : p;
            if (r is null) continue;
            if (r is not HoconScalar { IsWhitespace: true }) any = true;
            parts.Add(r);
        }
        // "foo : ${?bar}${?baz}" creates no field when both are undefined.
        return any ? Concatenation.Join(parts, c.Origin) : null;
    }
}
