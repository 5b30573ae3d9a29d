using System.Text.Json;
using QemuGuest.Protocol.Marshalling;

namespace QemuGuest.Protocol.Validation;

/// <summary>
/// The request envelope as qemu's qmp_dispatch_check_obj (qapi/qmp-dispatch.c) reads it: only
/// "execute" (a string), "arguments" (an object) and "id" (anything). The agent, the relay's VM
/// endpoints (through <see cref="SchemaValidator"/>) and the relay's control endpoint all read
/// requests here, so one bad envelope gets one answer whoever receives it.
/// </summary>
public readonly struct RequestEnvelope
{
    private RequestEnvelope(string? command, JsonElement? arguments, JsonElement? id, string? error, bool notAnObject = false)
    {
        NotAnObject = notAnObject;
        Command = command;
        Arguments = arguments;
        Id = id;
        Error = error;
    }

    /// <summary>The command name; set whenever <see cref="Error"/> is null.</summary>
    public string? Command { get; }

    /// <summary>The "arguments" object, or null when absent (the command then gets {}).</summary>
    public JsonElement? Arguments { get; }

    /// <summary>
    /// The "id" to echo. qemu takes it before checking the rest, so it is echoed on envelope
    /// errors too; a request that is not an object has none.
    /// </summary>
    public JsonElement? Id { get; }

    /// <summary>The GenericError text the stock agent sends for this envelope, or null when it is well formed.</summary>
    public string? Error { get; }

    /// <summary>True when the request is not a JSON object at all (no envelope, no id).</summary>
    public bool NotAnObject { get; }

    /// <summary>
    /// Reads the envelope. The first offending member in wire order decides the error, and a
    /// missing "execute" is reported only when every member present is acceptable: qemu walks
    /// the members the same way, so {"foo":1} is "member 'foo' is unexpected", not "lacks execute".
    /// </summary>
    public static RequestEnvelope Read(JsonElement request)
    {
        if (request.ValueKind != JsonValueKind.Object)
        {
            return new RequestEnvelope(null, null, null, QapiErrorTexts.InputNotObject, notAnObject: true);
        }

        string? command = null;
        JsonElement? arguments = null;
        JsonElement? id = null;
        string? error = null;
        foreach (JsonProperty member in request.EnumerateObject())
        {
            switch (member.Name)
            {
                case "execute":
                    if (member.Value.ValueKind != JsonValueKind.String)
                    {
                        error ??= QapiErrorTexts.ExecuteNotString;
                    }
                    else
                    {
                        command = member.Value.GetString();
                    }

                    break;
                case "arguments":
                    if (member.Value.ValueKind != JsonValueKind.Object)
                    {
                        error ??= QapiErrorTexts.ArgumentsNotObject;
                    }
                    else
                    {
                        arguments = member.Value;
                    }

                    break;
                case "id":
                    id = member.Value;
                    break;
                default:
                    error ??= QapiErrorTexts.InputMemberUnexpected(member.Name);
                    break;
            }
        }

        if (error is null && command is null)
        {
            error = QapiErrorTexts.InputLacksExecute;
        }

        return error is null ? new RequestEnvelope(command, arguments, id, null) : new RequestEnvelope(null, null, id, error);
    }
}
