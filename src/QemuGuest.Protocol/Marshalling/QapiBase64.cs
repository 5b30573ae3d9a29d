using System;
using System.Text;
using System.Text.Json;
#if NET
using System.Runtime.InteropServices;
#endif

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// A schema member with the 'base64' feature as the agent's dispatcher hands it over: the
/// base64 text as UTF-8 bytes in a pooled buffer, still encoded, so that the handler decodes it
/// when and how the stock agent does (after its own checks, with QEMU's lenient rules). Read
/// straight from the request's bytes, it costs one copy instead of a UTF-16 string of twice
/// the size plus a decoded array per request (a 60 KiB guest-file-write: 160 KiB + 60 KiB).
/// Dispose returns the buffer; the text is invalid afterwards.
/// </summary>
public sealed class QapiBase64 : IDisposable
{
    private readonly BoundedBufferPool? _pool;
    private byte[]? _buffer;

    private QapiBase64(byte[] buffer, int length, BoundedBufferPool? pool)
    {
        _buffer = buffer;
        Length = length;
        _pool = pool;
    }

    /// <summary>Length of the text in bytes.</summary>
    public int Length { get; }

    /// <summary>The base64 text as UTF-8 (JSON escapes already resolved).</summary>
    public ReadOnlySpan<byte> Utf8 => new(_buffer ?? throw new ObjectDisposedException(nameof(QapiBase64)), 0, Length);

    /// <summary>Wraps text that did not come from a request (tests, internal callers).</summary>
    public static QapiBase64 FromString(string text)
    {
        if (text is null)
        {
            throw new ArgumentNullException(nameof(text));
        }

        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return new QapiBase64(bytes, bytes.Length, null);
    }

    /// <summary>Reads a JSON string, throwing <see cref="QapiUnmarshalException"/> with QEMU's text for anything else.</summary>
    public static QapiBase64 Read(JsonElement element, QapiPath path) => Read(element, path, BoundedBufferPool.Shared);

    public static QapiBase64 Read(JsonElement element, QapiPath path, BoundedBufferPool pool)
    {
        if (pool is null)
        {
            throw new ArgumentNullException(nameof(pool));
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "string"));
        }

        byte[] buffer;
#if NET
        // The raw value is the quoted text as it was sent; without a backslash it needs no
        // unescaping and is copied as it is.
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.Length >= 2 && raw[0] == (byte)'"' && raw.IndexOf((byte)'\\') < 0)
        {
            ReadOnlySpan<byte> text = raw.Slice(1, raw.Length - 2);
            buffer = pool.Rent(text.Length);
            text.CopyTo(buffer);
            return new QapiBase64(buffer, text.Length, pool);
        }
#endif
        string value = element.GetString()!;
        buffer = pool.Rent(Encoding.UTF8.GetByteCount(value));
        int length = Encoding.UTF8.GetBytes(value, 0, value.Length, buffer, 0);
        return new QapiBase64(buffer, length, pool);
    }

    public override string ToString() => _buffer is null ? string.Empty : Encoding.UTF8.GetString(_buffer, 0, Length);

    public void Dispose()
    {
        byte[]? buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            _pool?.Return(buffer);
        }
    }
}
