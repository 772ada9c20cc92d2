using System.Buffers;
using System.Runtime.InteropServices;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// The bytes of a <see cref="Memory{T}"/> as a <see cref="Memory{T}"/> of bytes, without a copy, so a socket reads or
/// writes a tensor's own storage (<see cref="MemoryMarshal.AsBytes{T}(Span{T})"/> gives only a span, which an async
/// call cannot hold). One instance is reused for one operation at a time: <see cref="Over"/> points it elsewhere.
/// </summary>
internal sealed unsafe class ByteView<T> : MemoryManager<byte> where T : unmanaged
{
    private Memory<T> _items;
    private MemoryHandle _pin;

    /// <summary>The bytes of <paramref name="items"/>; valid until the next call.</summary>
    public Memory<byte> Over(Memory<T> items)
    {
        _items = items;
        return Memory;
    }

    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(_items.Span);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        _pin = _items.Pin();
        return new MemoryHandle((byte*)_pin.Pointer + elementIndex, default, this);
    }

    public override void Unpin() => _pin.Dispose();

    protected override void Dispose(bool disposing) => _pin.Dispose();
}
