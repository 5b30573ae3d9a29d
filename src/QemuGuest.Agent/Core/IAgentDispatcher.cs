using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Core;

/// <summary>One command this build of the agent knows (present on this platform).</summary>
public sealed record AgentCommandInfo(string Name, bool SuccessResponse);

/// <summary>
/// The seam between the hand-written service loop and the generated dispatcher: unmarshal
/// the arguments (QEMU's error texts), call the native handler, marshal its return.
/// </summary>
public interface IAgentDispatcher
{
    /// <summary>Every command registered on this platform, in schema order.</summary>
    IReadOnlyList<AgentCommandInfo> Commands { get; }

    bool TryGetCommand(string name, out AgentCommandInfo info);

    /// <summary>
    /// Runs <paramref name="name"/> with <paramref name="arguments"/> (a JSON object, empty when
    /// the request had none) and writes its return value (one JSON value; <c>{}</c> when the
    /// command declares none) to <paramref name="writer"/>. Argument errors throw
    /// <see cref="QemuGuest.Protocol.QapiUnmarshalException"/>; command failures throw
    /// <see cref="AgentCommandException"/>.
    /// </summary>
    ValueTask DispatchAsync(string name, JsonElement arguments, Utf8JsonWriter writer, CancellationToken cancellationToken);
}
