using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol;

// The seam between hand-written protocol code and generated code. Generated client stubs
// call IGuestAgentChannel; generated argument types implement IQgaArguments; generated
// readers throw QapiUnmarshalException with QEMU's own message texts.

/// <summary>A command's arguments: writes its members into an already-open JSON object.</summary>
public interface IQgaArguments
{
    void WriteMembers(Utf8JsonWriter writer);
}

/// <summary>Per-call settings; null fields mean "the channel's default".</summary>
public sealed class QgaCallOptions
{
    public TimeSpan? Timeout { get; set; }
}

/// <summary>Something that runs one command against an agent and returns its "return" value.</summary>
public interface IGuestAgentChannel
{
    /// <summary>
    /// Sends the command and returns the reply's "return" value (an empty object when the
    /// command declares none). Agent errors surface as <see cref="QgaCommandException"/> subclasses.
    /// </summary>
    Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken);

    /// <summary>
    /// For commands with 'success-response': false (guest-shutdown, guest-suspend-*): an error
    /// reply still throws; the channel closing or a quiet timeout counts as success.
    /// </summary>
    Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken);
}

/// <summary>
/// A channel that can hand a reply's "return" value to a reader while the value still lies in
/// the receive buffer, instead of a copy: a 48 MiB guest-file-read's 64 MiB of base64 is then
/// decoded straight into its destination, never cloned. The reader runs on the channel's
/// receive path, once, and only for a call still waiting for its reply (never after a timeout
/// or cancellation completed it); what it throws is what the call throws.
/// </summary>
public interface IGuestAgentInPlaceChannel : IGuestAgentChannel
{
    Task<T> ExecuteAsync<T>(string command, IQgaArguments? arguments, Func<JsonElement, T> readReturn, QgaCallOptions? options, CancellationToken cancellationToken);
}

/// <summary>
/// A JSON value did not match the schema type it was read as. The message is QEMU's text
/// (e.g. "Invalid parameter type for 'count', expected: integer"), so the agent can send it
/// as the GenericError desc unchanged.
/// </summary>
public sealed class QapiUnmarshalException : Exception
{
    public QapiUnmarshalException(string message)
        : base(message)
    {
    }
}

/// <summary>What one bulk transfer moved: the agent's count, and for a read whether it reached the end of the file.</summary>
public readonly struct GuestBulkResult
{
    public GuestBulkResult(long count, bool eof)
    {
        Count = count;
        Eof = eof;
    }

    public long Count { get; }

    public bool Eof { get; }
}

/// <summary>
/// A channel that can run the binary bulk mode (<c>__com.qemuguest_guest-file-bulk</c>,
/// docs/copy.md): the bytes of one open guest file travel as checked binary frames instead of
/// base64 in JSON, and the channel is back to JSON afterwards. Only our agent offers it (the
/// caller asks the agent's capabilities first); a channel that cannot carry frames (a relay
/// older than issue 19's stage 6) refuses the command, and the caller falls back to guest-file-read/write.
/// </summary>
public interface IGuestAgentBulkChannel : IGuestAgentChannel
{
    /// <summary>
    /// Sends exactly <paramref name="count"/> bytes into the handle's file at its position, as
    /// <paramref name="fill"/> produces them (it fills up to count bytes of the buffer from the
    /// offset and returns how many it put there; 0 before the count is reached ends the
    /// transfer early, which the agent reports as an error). <paramref name="idleTimeout"/> bounds every wait for progress.
    /// </summary>
    Task<GuestBulkResult> WriteBulkAsync(long handle, long count, Func<byte[], int, int, Task<int>> fill, TimeSpan idleTimeout, CancellationToken cancellationToken);

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes from the handle's file at its position; each
    /// checked frame goes to <paramref name="sink"/> (buffer, offset, length; valid only during
    /// the call, which runs on the channel's receive path) in order.
    /// </summary>
    Task<GuestBulkResult> ReadBulkAsync(long handle, long count, Action<byte[], int, int> sink, TimeSpan idleTimeout, CancellationToken cancellationToken);
}

/// <summary>Names shared by the bulk mode's users.</summary>
public static class GuestAgentBulk
{
    /// <summary>Set in <see cref="Exception.Data"/> of the error that refused a bulk transfer before it started (nothing moved).</summary>
    public const string RefusedKey = "QemuGuest.BulkRefused";
}
