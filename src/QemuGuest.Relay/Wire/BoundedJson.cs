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
            error = WireTexts.Describe(e);
            return null;
        }
    }
}
