using System.Text.Json;
using QemuGuest.Protocol.Validation;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// Turns a guest reply to a known command into what the client may see: a return value that
/// matches the command's declared return type (checked by the generated
/// <see cref="SchemaValidator"/>), an agent error reduced to class + bounded desc, or a relay
/// error saying the reply had the wrong shape. Nothing else of the guest's message survives.
/// </summary>
public static class ReplyChecker
{
    public static GuestOutcome Check(OwnedJson reply, QgaCommandDescriptor command, int maxDescChars, out string? problem)
    {
        var root = reply.Root;
        problem = null;
        JsonElement? value = null;
        JsonElement? error = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problem = "the reply is not a JSON object";
        }
        else
        {
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "return":
                        value = p.Value;
                        break;
                    case "error":
                        error = p.Value;
                        break;
                    case "id":
                        break;
                    default:
                        problem ??= $"unexpected member '{Clip(p.Name, 64)}' in the reply";
                        break;
                }
            }

            if (problem is null && value.HasValue == error.HasValue)
            {
                problem = "the reply must have exactly one of 'return' and 'error'";
            }
        }

        if (problem is null && error is { } e)
        {
            if (e.ValueKind == JsonValueKind.Object
                && e.TryGetProperty("class", out var cls) && cls.ValueKind == JsonValueKind.String
                && e.TryGetProperty("desc", out var desc) && desc.ValueKind == JsonValueKind.String)
            {
                string c = cls.GetString()!;
                if (IsErrorClass(c))
                {
                    string d = desc.GetString()!;
                    reply.Dispose();
                    return GuestOutcome.AgentError(c, Clip(d, maxDescChars));
                }

                problem = "the error class is not an identifier";
            }
            else
            {
                problem = "'error' must be an object with string 'class' and 'desc'";
            }
        }

        if (problem is null)
        {
            problem = SchemaValidator.ValidateReturn(command, value!.Value);
            if (problem is null)
            {
                return GuestOutcome.Return(reply, value.Value);
            }

            problem = "return value: " + problem;
        }

        reply.Dispose();
        problem = Clip(problem, 512);
        return GuestOutcome.RelayError($"the guest agent's reply to {command.Name} does not match the schema ({problem}); not passed on");
    }

    private static bool IsErrorClass(string c)
    {
        if (c.Length is 0 or > 64)
        {
            return false;
        }

        foreach (char ch in c)
        {
            if (!char.IsAsciiLetterOrDigit(ch) && ch != '_')
            {
                return false;
            }
        }

        return true;
    }

    internal static string Clip(string text, int max) => text.Length <= max ? text : text[..max] + "...";
}
