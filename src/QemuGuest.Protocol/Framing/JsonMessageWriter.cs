using System;
using System.Text.Json;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// Writes one protocol message at a time as compact, pure-ASCII JSON followed by '\n'
/// (requests for clients, replies for the agent). The bytes returned by each method stay
/// valid until the next call on the same writer. Not thread-safe: one per sender.
/// </summary>
public sealed class JsonMessageWriter : IDisposable
{
    /// <summary>0xFF: never valid in JSON text; the agent's parser resets on it (sync delimiter).</summary>
    public const byte Delimiter = 0xFF;

    private readonly PooledBufferWriter _buffer = new();
    private readonly Utf8JsonWriter _json;
    private bool _open;

    public JsonMessageWriter()
    {
        _json = new Utf8JsonWriter(_buffer, Options);
    }

    /// <summary>Compact output, <see cref="AsciiJsonEncoder"/>, depth bound as the stock parser's.</summary>
    public static JsonWriterOptions Options { get; } = new()
    {
        Encoder = AsciiJsonEncoder.Instance,
        Indented = false,
        MaxDepth = JsonMessageReader.DefaultMaxDepth,
    };

    /// <summary>
    /// Starts a message and returns the JSON writer to write exactly one top-level value with;
    /// finish with <see cref="EndMessage"/>. With <paramref name="leadingDelimiter"/> a raw
    /// 0xFF goes first (guest-sync-delimited requests from clients, its replies from agents).
    /// </summary>
    public Utf8JsonWriter BeginMessage(bool leadingDelimiter = false)
    {
        // A large buffer is kept after a large message (a copy's next 8 MiB guest-file-write
        // request would grow a new one) and let go after a small one.
        _buffer.Clear(_buffer.WrittenCount > SharedPool.MaxPooledBytes ? int.MaxValue : SharedPool.MaxPooledBytes);
        _json.Reset(_buffer);
        _open = true;
        if (leadingDelimiter)
        {
            _buffer.Write(Delimiter);
        }

        return _json;
    }

    /// <summary>Flushes the value, appends '\n' and returns the whole message.</summary>
    public ReadOnlyMemory<byte> EndMessage()
    {
        if (!_open)
        {
            throw new InvalidOperationException("EndMessage without BeginMessage.");
        }

        _open = false;
        _json.Flush();
        if (_json.CurrentDepth != 0 || _json.BytesCommitted == 0)
        {
            throw new InvalidOperationException("A message must be exactly one complete JSON value.");
        }

        _buffer.Write((byte)'\n');
        return _buffer.WrittenMemory;
    }

    /// <summary><c>{"execute": command, "arguments": {...}?, "id": id?}</c>.</summary>
    public ReadOnlyMemory<byte> WriteRequest(string command, IQgaArguments? arguments, long? id, bool leadingDelimiter = false)
    {
        if (command is null)
        {
            throw new ArgumentNullException(nameof(command));
        }

        Utf8JsonWriter w = BeginMessage(leadingDelimiter);
        w.WriteStartObject();
        w.WriteString(JsonNames.Execute, command);
        if (arguments is not null)
        {
            w.WritePropertyName(JsonNames.Arguments);
            w.WriteStartObject();
            arguments.WriteMembers(w);
            w.WriteEndObject();
        }

        if (id is long value)
        {
            w.WriteNumber(JsonNames.Id, value);
        }

        w.WriteEndObject();
        return EndMessage();
    }

    /// <summary>Re-writes any JSON value (e.g. a raw request) in the protocol's ASCII form.</summary>
    public ReadOnlyMemory<byte> WriteValue(JsonElement value, bool leadingDelimiter = false)
    {
        Utf8JsonWriter w = BeginMessage(leadingDelimiter);
        value.WriteTo(w);
        return EndMessage();
    }

    /// <summary><c>{"return": value, "id": id?}</c> where <paramref name="writeValue"/> writes one value.</summary>
    public ReadOnlyMemory<byte> WriteReturn(Action<Utf8JsonWriter> writeValue, JsonElement? id, bool leadingDelimiter = false)
    {
        if (writeValue is null)
        {
            throw new ArgumentNullException(nameof(writeValue));
        }

        Utf8JsonWriter w = BeginMessage(leadingDelimiter);
        w.WriteStartObject();
        w.WritePropertyName(JsonNames.Return);
        writeValue(w);
        WriteId(w, id);
        w.WriteEndObject();
        return EndMessage();
    }

    /// <summary>
    /// Starts <c>{"return": value, "id": id?}</c> and returns the writer for the one value, so
    /// that a large value is written once, in place; finish with <see cref="EndReturn"/>. Any
    /// other Write* call starts over (an error reply after a value that failed half-way).
    /// </summary>
    public Utf8JsonWriter BeginReturn(bool leadingDelimiter = false)
    {
        Utf8JsonWriter w = BeginMessage(leadingDelimiter);
        w.WriteStartObject();
        w.WritePropertyName(JsonNames.Return);
        return w;
    }

    /// <summary>Ends what <see cref="BeginReturn"/> started: the id, if any, and the whole message.</summary>
    public ReadOnlyMemory<byte> EndReturn(JsonElement? id)
    {
        WriteId(_json, id);
        _json.WriteEndObject();
        return EndMessage();
    }

    /// <summary>
    /// <c>{"error": {"class": errorClass, "desc": description}, "id": id?}</c>; a relay's
    /// interruption adds <see cref="QgaInterruptions.Member"/> to the error object.
    /// </summary>
    public ReadOnlyMemory<byte> WriteError(string errorClass, string description, JsonElement? id, QgaInterruption? interruption = null)
    {
        Utf8JsonWriter w = BeginMessage();
        w.WriteStartObject();
        w.WritePropertyName(JsonNames.Error);
        w.WriteStartObject();
        w.WriteString(JsonNames.Class, errorClass);
        w.WriteString(JsonNames.Desc, description);
        if (interruption is QgaInterruption kind)
        {
            w.WriteString(QgaInterruptions.Member, QgaInterruptions.ToWire(kind));
        }

        w.WriteEndObject();
        WriteId(w, id);
        w.WriteEndObject();
        return EndMessage();
    }

    /// <summary>
    /// Lets go of a buffer that one large message grew beyond 1 MiB now rather than at the next
    /// message (an agent may sit idle for hours after one). The last message's bytes become invalid.
    /// </summary>
    public void ReleaseLargeBuffer()
    {
        _buffer.Clear(SharedPool.MaxPooledBytes);
        _json.Reset(_buffer);
        _open = false;
    }

    public void Dispose()
    {
        _json.Dispose();
        _buffer.Dispose();
    }

    private static void WriteId(Utf8JsonWriter w, JsonElement? id)
    {
        if (id is JsonElement value && value.ValueKind != JsonValueKind.Undefined)
        {
            w.WritePropertyName(JsonNames.Id);
            value.WriteTo(w);
        }
    }
}

/// <summary>The protocol's member names, pre-encoded.</summary>
public static class JsonNames
{
    public static readonly JsonEncodedText Execute = JsonEncodedText.Encode("execute");
    public static readonly JsonEncodedText Arguments = JsonEncodedText.Encode("arguments");
    public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    public static readonly JsonEncodedText Return = JsonEncodedText.Encode("return");
    public static readonly JsonEncodedText Error = JsonEncodedText.Encode("error");
    public static readonly JsonEncodedText Class = JsonEncodedText.Encode("class");
    public static readonly JsonEncodedText Desc = JsonEncodedText.Encode("desc");
}
