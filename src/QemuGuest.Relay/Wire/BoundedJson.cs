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

/// <summary>
/// The second stage after the protocol's framer (<see cref="QemuGuest.Protocol.Framing.JsonMessageReader"/>,
/// which bounds size and nesting while framing): a real, strict JSON parse with a token
/// bound, a depth bound and duplicate member names refused. Tokens are counted with a
/// forward-only reader before any document is built, so a message of a million tiny values
/// costs no metadata. Duplicates are refused so that what the relay checked is exactly what
/// every client parser sees (parsers disagree on which duplicate wins).
/// </summary>
public static class BoundedJson
{
    internal const int PooledLimit = 1024 * 1024;

    public static OwnedJson? TryParse(ReadOnlySpan<byte> message, int maxDepth, int maxTokens, out string? error)
    {
        var readerOptions = new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow };
        try
        {
            var reader = new Utf8JsonReader(message, readerOptions);
            long tokens = 0;
            while (reader.Read())
            {
                if (++tokens > maxTokens)
                {
                    error = $"more than {maxTokens} JSON tokens";
                    return null;
                }
            }
        }
        catch (JsonException e)
        {
            error = Describe(e);
            return null;
        }

        // Small copies come from the shared pool; large ones are plain arrays the GC reclaims,
        // so a rare huge message does not stay cached per thread in the pool.
        byte[] copy = message.Length <= PooledLimit ? ArrayPool<byte>.Shared.Rent(Math.Max(message.Length, 1)) : new byte[message.Length];
        message.CopyTo(copy);
        try
        {
            var document = JsonDocument.Parse(
                new ReadOnlyMemory<byte>(copy, 0, message.Length),
                new JsonDocumentOptions { MaxDepth = maxDepth, AllowDuplicateProperties = false });
            error = null;
            return new OwnedJson(copy, message.Length, document);
        }
        catch (JsonException e)
        {
            OwnedJson.Release(copy);
            error = Describe(e);
            return null;
        }
    }

    private static string Describe(JsonException e)
    {
        // Keep the reader's position but not its (possibly guest-controlled) excerpt.
        string text = e.Message;
        if (text.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            return "duplicate key"; // qemu-ga's own text, without the (peer-chosen) member name
        }

        int cut = text.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            text = text[..cut];
        }

        return text.Length > 200 ? text[..200] : text;
    }
}
