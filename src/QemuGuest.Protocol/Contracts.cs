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
