using System;
using System.Buffers;
using System.Text.Json;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Relay.Wire;

/// <summary>
/// The second stage after the protocol's framer (<see cref="QemuGuest.Protocol.Framing.JsonMessageReader"/>,
/// which bounds size, nesting and token count while framing, so no document built here can
/// be bigger than those bounds): a real, strict JSON parse with duplicate member names,
/// invalid UTF-8 and lone surrogates refused. Duplicates are refused so that what the relay checked is exactly what every
/// client parser sees (parsers disagree on which duplicate wins).
/// </summary>
public static class BoundedJson
{
    internal const int PooledLimit = 1024 * 1024;

    /// <param name="message">One message as framed by a <see cref="QemuGuest.Protocol.Framing.JsonMessageReader"/>.</param>
    /// <param name="maxDepth">The framer's depth bound (System.Text.Json's own default is only 64).</param>
    /// <param name="error">Why the message is not strict JSON, without the message's text.</param>
    public static OwnedJson? TryParse(ReadOnlySpan<byte> message, int maxDepth, out string? error)
    {
        // JsonDocument accepts invalid UTF-8 and lone surrogate escapes in strings and throws only
        // when such a string is read, i.e. inside the schema checks (found by fuzzing).
        error = JsonStringCheck.FindError(message);
        if (error is not null)
        {
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
            error = QemuJsonSyntax.FirstError(message) ?? WireTexts.Describe(e);
            return null;
        }
    }

    /// <summary>
    /// Whether a message that <see cref="TryParse"/> refused names <paramref name="id"/> in a
    /// top-level "id" member before its first syntax fault. The relay's ids are its own, so such a
    /// message is the guest's broken reply to that request, not garbage, a stale reply or a
    /// forgery: the request can end with the reason instead of waiting for a reply that will not come.
    /// </summary>
    /// <remarks>
    /// The scan is lenient where <see cref="TryParse"/> is strict (duplicate members, invalid
    /// UTF-8 and lone surrogates pass), and reads no string's value.
    /// </remarks>
    public static bool NamesId(ReadOnlySpan<byte> message, long id, int maxDepth)
    {
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isId = reader.ValueTextEquals("id"u8);
                if (!reader.Read())
                {
                    return false;
                }

                if (isId && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value) && value == id)
                {
                    return true;
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // A syntax fault before any matching id: nothing says whose message this was.
        }

        return false;
    }
}
