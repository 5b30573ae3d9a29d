using System;
using System.Text.Json;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Qga;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Fuzz;

/// <summary>
/// The relay's checks of untrusted JSON, both directions, as its sessions run them: the framer
/// with the relay's bounds, <see cref="BoundedJson"/>'s strict parse, then every message as a
/// client request (<c>SchemaValidator.ValidateRequest</c>) and as a guest reply to one command
/// picked by the first input byte (<see cref="ReplyChecker"/>). None of them may throw: bad
/// input is a null parse, a validation error or a problem text.
/// </summary>
public sealed class RelayValidationTarget : IFuzzTarget
{
    private static readonly RelaySchema Schema = new(QgaSchemaDescriptors.Commands);

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var command = Schema.Commands[input[0] % Schema.Commands.Count];
        using var reader = new JsonMessageReader(256 * 1024, 64, 64 * 1024);
        ReadOnlyMemory<byte> rest = input.Slice(1).ToArray();
        while (!rest.IsEmpty)
        {
            JsonFrame frame = reader.Read(rest, out int used);
            rest = rest.Slice(used);
            if (frame.Kind != JsonFrameKind.Message)
            {
                continue;
            }

            using (var request = BoundedJson.TryParse(frame.Message.Span, 64, out string? error))
            {
                if (request is null)
                {
                    if (string.IsNullOrEmpty(error))
                    {
                        throw new InvariantViolation("a refused message without a reason");
                    }

                    continue;
                }

                var invalid = Schema.Validator.ValidateRequest(request.Root);
                if (invalid is not null && (string.IsNullOrEmpty(invalid.Description) || invalid.ErrorClass is not ("GenericError" or "CommandNotFound")))
                {
                    throw new InvariantViolation("a validation error without class or text: " + invalid);
                }
            }

            // ReplyChecker takes ownership of the document it is given.
            var reply = BoundedJson.TryParse(frame.Message.Span, 64, out _)!;
            using GuestOutcome outcome = ReplyChecker.Check(reply, command, 100, out string? problem);
            if (outcome.Kind == OutcomeKind.Return)
            {
                // What passes on is re-written for the client: it must write, as pure ASCII, and parse back equal.
                using var writer = new JsonMessageWriter();
                JsonElement value = outcome.Value;
                ReadOnlyMemory<byte> written = writer.WriteReturn(w => value.WriteTo(w), null);
                foreach (byte b in written.Span)
                {
                    if (b >= 0x80)
                    {
                        throw new InvariantViolation($"non-ASCII byte 0x{b:X2} in a reply passed on");
                    }
                }

                using var again = JsonDocument.Parse(written);
                if (!JsonElement.DeepEquals(again.RootElement.GetProperty("return"), value))
                {
                    throw new InvariantViolation("a return value changed on its way to the client");
                }
            }
            else if (outcome.Kind == OutcomeKind.Error && (problem is not null) != (outcome.Description?.StartsWith("qemuguest-relay: ", StringComparison.Ordinal) ?? false))
            {
                throw new InvariantViolation("a relay error is exactly a reply with a problem: " + problem + " / " + outcome.Description);
            }
        }
    }
}
