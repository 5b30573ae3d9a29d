using System;
using System.Buffers;
using System.Text.Json;

namespace QemuGuest.Relay.Wire;

/// <summary>
/// A parsed message that owns a pooled copy of its bytes. Dispose returns both the
/// document's metadata and the copy.
/// </summary>
public sealed class OwnedJson : IDisposable
{
    private byte[]? _bytes;
    private readonly JsonDocument _document;

    internal OwnedJson(byte[] bytes, int length, JsonDocument document)
    {
        _bytes = bytes;
        Length = length;
        _document = document;
    }

    public JsonElement Root => _document.RootElement;

    /// <summary>Size of the message in bytes.</summary>
    public int Length { get; }

    public void Dispose()
    {
        _document.Dispose();
        var b = _bytes;
        _bytes = null;
        if (b is not null)
        {
            Release(b);
        }
    }

    internal static void Release(byte[] b)
    {
        if (b.Length <= BoundedJson.PooledLimit)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}
