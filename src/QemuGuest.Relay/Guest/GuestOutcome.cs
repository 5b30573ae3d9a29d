using System;
using System.Text.Json;
using QemuGuest.Protocol;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Guest;

/// <summary>What the client gets; owns the guest reply document until written.</summary>
public sealed class GuestOutcome : IDisposable
{
    private readonly OwnedJson? _document;

    private GuestOutcome(OutcomeKind kind, OwnedJson? document, JsonElement value, string? errorClass, string? description, QgaInterruption? interruption = null)
    {
        Kind = kind;
        _document = document;
        Value = value;
        ErrorClass = errorClass;
        Description = description;
        Interruption = interruption;
    }

    public OutcomeKind Kind { get; }

    /// <summary>Bytes of the guest message behind <see cref="Value"/> (0 when none).</summary>
    public int Size => _document?.Length ?? 0;

    /// <summary>The checked "return" value (<see cref="OutcomeKind.Return"/>).</summary>
    public JsonElement Value { get; }

    public string? ErrorClass { get; }

    public string? Description { get; }

    /// <summary>Set on a relay error that says the request was interrupted between the relay and the guest.</summary>
    public QgaInterruption? Interruption { get; }

    public static GuestOutcome Return(OwnedJson document, JsonElement value) => new(OutcomeKind.Return, document, value, null, null);

    public static GuestOutcome AgentError(string errorClass, string description) => new(OutcomeKind.Error, null, default, errorClass, description);

    /// <summary>An error the relay makes: always GenericError, always saying it is the relay speaking.</summary>
    public static GuestOutcome RelayError(string description, QgaInterruption? interruption = null) =>
        new(OutcomeKind.Error, null, default, "GenericError", "qemuguest-relay: " + description, interruption);

    public static GuestOutcome NoReply { get; } = new(OutcomeKind.NoReply, null, default, null, null);

    public void Dispose() => _document?.Dispose();
}
