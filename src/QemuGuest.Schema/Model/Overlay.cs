using System.Collections.Generic;

namespace QemuGuest.Schema;

// The PowerShell overlay: a separate file next to the QAPI schema (schema/qga.powershell.json,
// same single-quoted JSON syntax) so the QAPI file stays pure QAPI. One expression per command:
//
//   { 'command': 'guest-ping', 'cmdlet': 'Test-VMGuestAgent' }
//   { 'command': 'guest-shutdown', 'cmdlet': 'Stop-VMGuest', 'confirm-impact': 'High',
//     'parameters': { 'mode': { 'position': 0 } } }
//   { 'command': 'guest-file-read', 'cmdlet': 'Read-VMGuestFile',
//     'parameters': { 'handle': { 'position': 0, 'aliases': [ 'Id' ] } } }
//
// A command without an entry gets a generated name (see OverlayDefaults in the generator).

/// <summary>
/// One argument's parameter. <c>As</c>: how the PowerShell value differs from the wire value
/// (see <see cref="ParameterForms"/>), null when it is the member's own type. <c>Help</c>: the
/// parameter's help text when the schema's member doc describes the wire form, not the parameter.
/// <c>Example</c>: the PowerShell text the generated help examples give for it (else a $variable).
/// <c>GuestPath</c>: the value is a guest path ('str' or ['str']), which must be absolute: a
/// relative one would mean the agent's working folder.
/// </summary>
public sealed record ParameterOverlay(
    string Member,
    string? Name,
    int? Position,
    EquatableArray<string> Aliases,
    string? As,
    string? Help,
    EquatableArray<string> Values,
    string? Example,
    SourceLocation Location,
    bool GuestPath = false);

/// <summary>The values of a parameter's 'as' key.</summary>
public static class ParameterForms
{
    /// <summary>A SecureString (prompted, masked) sent as the base64 of its UTF-8 text; for 'str' members.</summary>
    public const string SecureBase64 = "secure-base64";

    /// <summary>A [switch] for a required 'bool': always sent, false when not given.</summary>
    public const string Switch = "switch";

    /// <summary>A DateTimeOffset for an integer member counting nanoseconds since 1970-01-01 UTC.</summary>
    public const string DateTimeNanoseconds = "datetime-ns";

    /// <summary>A DateTimeOffset for a number member counting seconds since 1970-01-01 UTC.</summary>
    public const string DateTimeSeconds = "datetime-s";

    public static readonly string[] All = { SecureBase64, Switch, DateTimeNanoseconds, DateTimeSeconds };

    /// <summary>The forms a returned value or member may take ('returns-as', 'output-times').</summary>
    public static readonly string[] Times = { DateTimeNanoseconds, DateTimeSeconds };
}

/// <summary>A member of the returned objects that is a time: written as a local DateTime (<c>Form</c>: a time form).</summary>
public sealed record OutputTimeOverlay(string Member, string Form);

/// <summary>An argument a cmdlet sends with a fixed value instead of a parameter (Restart-VMGuest: mode "reboot").</summary>
public sealed record FixedArgumentOverlay(string Member, string Value);

/// <summary>
/// A -Credential parameter set: the PSCredential's user name goes to <c>UserMember</c> and its
/// password to <c>PasswordMember</c> (which must be 'as': 'secure-base64').
/// </summary>
public sealed record CredentialOverlay(string UserMember, string PasswordMember, SourceLocation Location);

public sealed record CommandOverlay(
    string Command,
    string Verb,
    string Noun,
    string? ConfirmImpact,
    EquatableArray<ParameterOverlay> Parameters,
    CredentialOverlay? Credential,
    string? Synopsis,
    string? ReturnsAs,
    EquatableArray<OutputTimeOverlay> OutputTimes,
    string? Unwrap,
    EquatableArray<FixedArgumentOverlay> Fixed,
    SourceLocation Location)
{
    /// <summary>'no-cmdlet': why the command gets no generated cmdlet (null: it gets one).</summary>
    public string? NoCmdlet { get; init; }
}

public sealed record PowerShellOverlay(EquatableArray<CommandOverlay> Commands)
{
    /// <summary>The command's own entry (the one without 'fixed').</summary>
    public CommandOverlay? Find(string command)
    {
        foreach (var c in Commands)
        {
            if (c.Command == command && c.Fixed.IsEmpty)
            {
                return c;
            }
        }
        return null;
    }

    /// <summary>The command's further cmdlets, each with some arguments fixed ('fixed').</summary>
    public IEnumerable<CommandOverlay> Variants(string command)
    {
        foreach (var c in Commands)
        {
            if (c.Command == command && !c.Fixed.IsEmpty)
            {
                yield return c;
            }
        }
    }
}
